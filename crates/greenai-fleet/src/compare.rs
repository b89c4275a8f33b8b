//! `greenai compare --slurm`: the grid as a Slurm job array, one configuration per task, each
//! trained and measured on its node into a node-local database; the tasks' exported runs are
//! imported into this machine's database and the table is built from them by compare's own reuse
//! by key, so that the table, the choice and the report are those of a compare run here.

use crate::slurm::{self, ArrayJob, Submit, Task, TaskOutcome};
use greenai_store::Store;
use greenai_tune::compare::{run_compare, selected, CompareOptions, Comparison};
use greenai_tune::job::Progress;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ArrayCompareError {
    #[error(transparent)]
    Slurm(#[from] slurm::SlurmError),
    #[error(transparent)]
    Tune(#[from] greenai_tune::TuneError),
    #[error(transparent)]
    Store(#[from] greenai_store::StoreError),
    #[error("{0}")]
    Invalid(String),
}

/// Where and how the array runs.
#[derive(Debug, Clone)]
pub struct ArraySettings {
    /// The shared directory for the script, the logs and the tasks' runs.
    pub dir: PathBuf,
    /// The greenai the tasks run.
    pub greenai: PathBuf,
    pub sbatch_args: Vec<String>,
    pub max_parallel: Option<usize>,
}

/// The comparison, the array that produced it (none when every configuration was stored
/// already), and how many runs came back.
#[derive(Debug)]
pub struct ArrayComparison {
    pub comparison: Comparison,
    pub job_id: Option<String>,
    pub tasks: Vec<TaskOutcome>,
    pub imported: usize,
    pub already_here: usize,
}

impl ArrayComparison {
    pub fn failed(&self) -> impl Iterator<Item = &TaskOutcome> {
        self.tasks.iter().filter(|t| !t.succeeded())
    }
}

struct Silent;
impl Progress for Silent {}

/// The command line of the task that compares configuration `name`: the options that decide what
/// is trained and how it is keyed, and the carbon settings its own records use (the table applies
/// this machine's again).
pub fn task_args(opts: &CompareOptions, name: &str) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "compare".into(),
        "--only".into(),
        name.into(),
        "--target-accuracy".into(),
        opts.target_accuracy.to_string(),
        "--eta".into(),
        opts.eta.to_string(),
        "--interval".into(),
        opts.interval.as_secs_f64().to_string(),
    ];
    if let Some(b) = opts.budget_j {
        a.extend(["--budget-j".into(), b.to_string()]);
    }
    if opts.full {
        a.push("--full".into());
    }
    if let Some(d) = &opts.data {
        a.extend(["--data".into(), d.display().to_string()]);
    }
    if let Some(n) = opts.repeat {
        a.extend(["--repeat".into(), n.to_string()]);
    }
    let c = &opts.carbon;
    if let Some(r) = &c.region {
        a.extend(["--region".into(), r.clone()]);
    }
    if let Some(g) = c.intensity_g_per_kwh {
        a.extend(["--intensity".into(), g.to_string()]);
    }
    if let Some(f) = &c.intensity_file {
        let f = std::path::absolute(f).unwrap_or_else(|_| f.clone());
        a.extend(["--intensity-file".into(), f.display().to_string()]);
    }
    if let Some(p) = c.pue {
        a.extend(["--pue".into(), p.to_string()]);
    }
    if let Some(e) = c.erf {
        a.extend(["--erf".into(), e.to_string()]);
    }
    a
}

/// Runs the configurations `opts` selects that the database lacks (all of them with `fresh`) as a
/// job array through `submit`, imports what the tasks recorded, and builds the comparison from
/// the database.
pub fn compare_on_array(
    opts: &CompareOptions,
    array: &ArraySettings,
    submit: &dyn Submit,
    progress: &dyn Progress,
) -> Result<ArrayComparison, ArrayCompareError> {
    let mut opts = opts.clone();
    // The dataset's path is part of each result's key: the same absolute path on every node.
    if let Some(d) = &opts.data {
        let abs = std::fs::canonicalize(d)
            .map_err(|e| ArrayCompareError::Invalid(format!("--data {}: {e}", d.display())))?;
        opts.data = Some(abs);
    }
    let store = Store::open(&opts.db)?;
    let configs = selected(&opts, &Silent)?;
    // What the database already holds is not trained again (unless --fresh): the same dry
    // collection as the final one tells which configurations lack a result.
    let wanted: Vec<String> = if opts.fresh {
        configs.iter().map(|c| c.name.clone()).collect()
    } else {
        let dry = CompareOptions {
            collect_only: true,
            ..opts.clone()
        };
        let missing = run_compare(&dry, &Silent)?.missing;
        configs
            .iter()
            .map(|c| c.name.clone())
            .filter(|n| missing.iter().any(|m| m == n || *m == format!("{n}-int8")))
            .collect()
    };
    let (mut imported, mut already_here) = (0, 0);
    let mut job_id = None;
    let mut tasks = Vec::new();
    if wanted.is_empty() {
        progress.note("greenai compare: every configuration is stored already; nothing to submit");
    } else {
        let job = ArrayJob {
            dir: array.dir.clone(),
            job_name: "greenai-compare".into(),
            greenai: array.greenai.clone(),
            sbatch_args: array.sbatch_args.clone(),
            max_parallel: array.max_parallel,
            tasks: wanted
                .iter()
                .map(|n| Task {
                    name: n.clone(),
                    args: task_args(&opts, n),
                })
                .collect(),
        };
        let dir = array.dir.display().to_string();
        let n = job.tasks.len();
        let out = slurm::run(&job, submit, &|id| {
            progress.note(&format!(
                "greenai compare: job array {id}, {n} task(s), one configuration each; logs and \
                 runs in {dir}. Should this command stop, the array goes on: `greenai runs \
                 import {dir}/task-*.runs.json` then the same compare builds the table"
            ))
        })?;
        for t in &out.tasks {
            let Some(f) = &t.runs_file else { continue };
            for r in greenai_store::export::read_json(f)? {
                if store.import_report(&r)? {
                    imported += 1;
                } else {
                    already_here += 1;
                }
            }
        }
        job_id = Some(out.job_id);
        tasks = out.tasks;
    }
    drop(store);
    let collect = CompareOptions {
        collect_only: true,
        fresh: false,
        ..opts
    };
    let comparison = run_compare(&collect, progress)?;
    Ok(ArrayComparison {
        comparison,
        job_id,
        tasks,
        imported,
        already_here,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The task's command line carries what keys a result (target, data, repeats, budget, grid)
    /// and names exactly one configuration.
    #[test]
    fn a_task_compares_one_configuration_with_the_same_key() {
        let opts = CompareOptions {
            target_accuracy: 0.9,
            budget_j: Some(50.0),
            full: false,
            eta: 0.25,
            fresh: false,
            data: Some("/shared/mnist".into()),
            interval: Duration::from_millis(200),
            carbon: greenai_carbon::CarbonSettings {
                region: Some("FR".into()),
                pue: Some(1.2),
                ..Default::default()
            },
            db: "x.sqlite".into(),
            repeat: Some(2),
            only: vec![],
            collect_only: false,
            labels: Default::default(),
        };
        let a = task_args(&opts, "lenet-1ep");
        let s = a.join(" ");
        assert_eq!(
            s,
            "compare --only lenet-1ep --target-accuracy 0.9 --eta 0.25 --interval 0.2 \
             --budget-j 50 --data /shared/mnist --repeat 2 --region FR --pue 1.2"
        );
    }
}
