//! `compare`: trains and evaluates a grid of configurations, each a recorded run, reuses the
//! results an earlier comparison stored (typed, by the configuration's key), and finds the one
//! with the least training energy that meets the accuracy target, with the Pareto front of
//! accuracy against energy. The binary's `compare` turns flags into [`CompareOptions`] and the
//! [`Comparison`] into a table and a report.

mod choose;
mod grid;
mod int8;
mod profile;
pub mod repeat;
pub mod search;

pub use choose::choose;
pub use grid::{grid, key, Config, BASELINE, BASELINE_TO_TARGET, GRID_VERSION};
pub use profile::{profile_settings, ProfileRow, SettingsChoice};

use crate::error::{Result, TuneError};
use crate::invalid;
use crate::job::Progress;
use crate::target::{with_margin, TargetSpec};
use crate::train::{load_sets, run_train, JobResults};
use crate::transfer::{run_transfer, weights_path};
use greenai_carbon::CarbonSettings;
use greenai_meter::Provenance;
use greenai_nn::data::bundled_mnist_dir;
use greenai_store::{RunStatus, RunSummary, Store};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What to compare, and where.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// Test accuracy to reach, 0 to 1.
    pub target_accuracy: f64,
    /// Stop a configuration whose predicted training energy exceeds this many joules.
    pub budget_j: Option<f64>,
    /// The longer grid.
    pub full: bool,
    /// Zeus's η: weight of energy against time in the energy-aware choice of settings.
    pub eta: f64,
    /// Retrain everything instead of reusing stored results.
    pub fresh: bool,
    /// An IDX dataset directory; the bundled MNIST by default.
    pub data: Option<PathBuf>,
    pub interval: Duration,
    pub carbon: CarbonSettings,
    /// The run database: each configuration is a run in it, and earlier results are read back.
    pub db: PathBuf,
    /// Runs of every configuration; `None` for the default (see [`repeat`]).
    pub repeat: Option<usize>,
    /// Only these configurations (by name); all of the grid when empty.
    pub only: Vec<String>,
    /// Build the table from the runs already in the database (imported from a Slurm array's
    /// tasks, say) and train nothing: a configuration without a stored result is listed in
    /// [`Comparison::missing`].
    pub collect_only: bool,
    /// The job's identity (Slurm, Kubernetes), added to every run's labels.
    pub labels: BTreeMap<String, String>,
}

fn one() -> usize {
    1
}

/// One line of the result table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub config: String,
    pub model: String,
    pub precision: String,
    pub quantization: String,
    pub threads: usize,
    pub batch: usize,
    pub epochs: usize,
    pub accuracy: f64,
    pub training_energy_j: f64,
    pub joules_per_1000_inferences: f64,
    pub training_duration_s: f64,
    pub training_emissions_g: f64,
    pub params: u64,
    pub flops: u64,
    pub provenance: Provenance,
    /// Set when the budget stopped it: the predicted energy of all its epochs.
    pub stopped_by_budget_predicted_j: Option<f64>,
    pub run_id: Option<String>,
    /// Whether this result came from an earlier `compare` in the database.
    pub reused: bool,
    /// Under compare's stopping rule: whether training stopped at the target (`None`: no rule,
    /// the seed's recipe as written, transfer, int8 rows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_reached: Option<bool>,
    /// The job's energy to the check that reached the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_to_accuracy_j: Option<f64>,
    /// How many runs the row's figures are the medians of, their ranges, and how many of those
    /// runs stopped at the target.
    #[serde(default = "one")]
    pub runs: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_energy_range_j: Option<(f64, f64)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_range: Option<(f64, f64)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reached_runs: Option<usize>,
    /// At the target, with an energy range overlapping the best's: not told apart from it.
    #[serde(default)]
    pub tie: bool,
    pub pareto: bool,
    /// The int8 kernel that ran an int8 row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub int8_kernel: Option<String>,
    /// Of the quantizable layers, how many run int8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub int8_layers: Option<(usize, usize)>,
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Comparison {
    pub target_accuracy: f64,
    pub budget_j: Option<f64>,
    pub eta: f64,
    pub rows: Vec<Row>,
    pub best: Option<String>,
    pub baseline_training_energy_j: Option<f64>,
    /// Baseline training energy over the best configuration's.
    pub saving_ratio: Option<f64>,
    /// The saving's range over the repeated runs (the baseline's range over the best's).
    #[serde(default)]
    pub saving_range: Option<(f64, f64)>,
    /// The seed's recipe under the stopping rule (`baseline-to-target`), when it met the target:
    /// its training energy, and that over the best configuration's.
    #[serde(default)]
    pub stopped_baseline_training_energy_j: Option<f64>,
    #[serde(default)]
    pub saving_vs_stopped_baseline: Option<f64>,
    pub settings_choice: Option<SettingsChoice>,
    /// The measured learning rate and batch size search, when a configuration ran one.
    #[serde(default)]
    pub search_choice: Option<search::SearchChoice>,
    pub region: String,
    pub intensity_source: String,
    pub intensity_g_per_kwh: f64,
    /// Set when the intensity is a fallback (no region given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carbon_warning: Option<String>,
    /// Configurations the table lacks: collected from a Slurm array whose task did not store them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

impl Row {
    /// The row of configuration `c` from a job's stored results (its training energy counting the
    /// profiling that chose its settings), the run that holds them and their provenance.
    fn new(
        c: &Config,
        r: &JobResults,
        run_id: Option<String>,
        provenance: Provenance,
        reused: bool,
    ) -> Row {
        Row {
            config: c.name.clone(),
            model: r.model.clone(),
            precision: r.precision.clone(),
            quantization: r.quantization.clone(),
            threads: c.threads,
            batch: c.batch,
            epochs: r.epochs.unwrap_or(c.spec.epochs),
            accuracy: r.accuracy,
            training_energy_j: r.training_energy_j.unwrap_or(0.0)
                + r.profiling_energy_j.unwrap_or(0.0),
            joules_per_1000_inferences: r.joules_per_1000_inferences.unwrap_or(f64::NAN),
            training_duration_s: r.training_duration_s.unwrap_or(0.0),
            training_emissions_g: 0.0,
            params: r.params,
            flops: r.flops,
            provenance,
            stopped_by_budget_predicted_j: r.stopped_by_budget_predicted_j,
            run_id,
            reused,
            pareto: false,
            int8_kernel: r.int8_kernel.clone(),
            int8_layers: r.int8_layers,
            target_reached: r.target_reached,
            energy_to_accuracy_j: r.energy_to_accuracy_j,
            runs: 1,
            training_energy_range_j: None,
            accuracy_range: None,
            reached_runs: None,
            tie: false,
        }
    }
}

/// Where compare keeps its files (checkpoints for the int8 rows): beside the database.
pub fn state_dir(db: &Path) -> PathBuf {
    db.parent().unwrap_or(Path::new(".")).to_path_buf()
}

/// The configurations `args` selects on this machine (the grid, less those `--only` leaves out);
/// an unknown name in `--only` is refused, naming the grid.
pub fn selected(args: &CompareOptions, progress: &dyn Progress) -> Result<Vec<Config>> {
    let mut grid = grid::for_this_machine(args.full, progress);
    if let Some(unknown) = args
        .only
        .iter()
        .find(|n| !grid.iter().any(|c| &c.name == *n))
    {
        let names: Vec<&str> = grid.iter().map(|c| c.name.as_str()).collect();
        invalid!(
            "--only {unknown}: no such configuration in this grid ({})",
            names.join(", ")
        );
    }
    if !args.only.is_empty() {
        grid.retain(|c| args.only.contains(&c.name));
    }
    Ok(grid)
}

/// Runs stored by earlier comparisons, with their typed results, oldest first.
struct Earlier(Vec<(RunSummary, JobResults)>);

impl Earlier {
    fn load(store: &Store) -> Result<Earlier> {
        Ok(Earlier(
            store
                .runs()?
                .into_iter()
                .filter(|r| r.status == RunStatus::Complete && r.labels.contains_key("compare_key"))
                .filter_map(|r| {
                    let res = serde_json::from_value(r.results.clone()?).ok()?;
                    Some((r, res))
                })
                .collect(),
        ))
    }

    /// The newest run whose label `label` starts with `prefix`.
    fn find_prefix(&self, label: &str, prefix: &str) -> Option<(&RunSummary, &JobResults)> {
        self.0
            .iter()
            .rev()
            .find(|(r, _)| r.labels.get(label).is_some_and(|v| v.starts_with(prefix)))
            .map(|(r, res)| (r, res))
    }

    /// The newest run whose label `label` is `value`.
    fn find(&self, label: &str, value: &str) -> Option<(&RunSummary, &JobResults)> {
        self.0
            .iter()
            .rev()
            .find(|(r, _)| r.labels.get(label).map(String::as_str) == Some(value))
            .map(|(r, res)| (r, res))
    }
}

/// Held-out images each of compare's checks evaluates: twice `train`'s default, so that the margin
/// is smaller (0.31 points at 98 %), at about 6 % of the training work (checks every 348 steps at
/// batch 64, about two an epoch of MNIST).
pub const COMPARE_CHECK_IMAGES: usize = 2000;

/// Trains and evaluates the grid (reusing what earlier comparisons stored unless `fresh`), and
/// chooses. Each configuration is a recorded run in `args.db`.
pub fn run_compare(args: &CompareOptions, progress: &dyn Progress) -> Result<Comparison> {
    if !(0.0..=1.0).contains(&args.target_accuracy) {
        invalid!(
            "--target-accuracy is a fraction between 0 and 1, not {}",
            args.target_accuracy
        );
    }
    if !(0.0..=1.0).contains(&args.eta) {
        invalid!("--eta is between 0 and 1, not {}", args.eta);
    }
    if let Some(b) = args.budget_j.filter(|b| !(b.is_finite() && *b > 0.0)) {
        invalid!("--budget-j {b} is not a finite amount of joules above 0");
    }
    let resolved = args
        .carbon
        .resolve()
        .map_err(|e| TuneError::Invalid(e.to_string()))?;
    let dir = args.data.clone().unwrap_or_else(bundled_mnist_dir);
    let dataset = dir.display().to_string();
    let (train, test) = load_sets(&dir)?;
    let store = Store::open(&args.db)?;
    let earlier = if args.fresh {
        Earlier(Vec::new())
    } else {
        Earlier::load(&store)?
    };
    let mut grid = selected(args, progress)?;
    let mut missing: Vec<String> = Vec::new();
    let total_rows = grid.len() + grid.iter().filter(|c| c.int8).count();
    // A tenth of a small training set is held out when it has fewer than 50,000 images. Every
    // configuration but the seed's recipe as written stops at the target: checked on up to
    // COMPARE_CHECK_IMAGES held-out images against the target plus one standard error of the check.
    for c in &mut grid {
        c.spec.validation = c.spec.validation.min(train.len() / 10);
        if c.name != BASELINE && c.transfer.is_none() {
            let images = COMPARE_CHECK_IMAGES.min(c.spec.validation);
            c.spec.target = (images > 0).then(|| TargetSpec {
                accuracy: with_margin(args.target_accuracy, images),
                check_every: None,
                check_images: Some(images),
            });
        }
    }
    let total = grid.len();
    let mut rows: Vec<Row> = Vec::new();
    let mut choice: Option<SettingsChoice> = None;
    let mut searched: Option<search::SearchChoice> = None;
    // EfficientNet-Lite0's weights, loaded for the first transfer configuration that runs.
    let mut backbone: Option<greenai_nn::train::Model> = None;
    let carbon_of = |joules: f64, secs: f64| {
        greenai_carbon::assess(
            &args.carbon,
            &resolved,
            greenai_units::Energy::from_joules(joules),
            Duration::from_secs_f64(secs.max(0.0)),
            &[],
        )
        .emissions_g
    };
    progress.note(&format!(
        "greenai compare: {total} configurations ({total_rows} rows with the int8 variants) on {dataset}, target accuracy {:.3}{}; finished ones \
         are kept in {} and reused by the next run",
        args.target_accuracy,
        args.budget_j.map(|b| format!(", budget {b:.0} J per configuration")).unwrap_or_default(),
        args.db.display()
    ));
    // Further runs of a configuration (see `repeat`), reused from earlier comparisons where stored.
    let lookup = |k: &str| {
        earlier
            .find("compare_key", k)
            .map(|(s, r)| (s.clone(), r.clone()))
    };
    let repeat_into = |c: &Config, row: &mut Row, profiling_j: Option<f64>| -> Result<()> {
        let runs = repeat::planned(args, row);
        let (data, ctx) = ((dataset.as_str(), &train, &test), (args, progress));
        let more = repeat::run_more(c, runs, profiling_j, &lookup, data, ctx)
            .map_err(|e| in_config(&c.name, e))?;
        repeat::aggregate(row, &more);
        Ok(())
    };
    for (i, c) in grid.iter_mut().enumerate() {
        let n = i + 1;
        let mut extra: Vec<(String, String)> = Vec::new();
        let mut profiling_j = None;
        if c.tuned {
            let base = key(
                &Config {
                    threads: 0,
                    batch: 0,
                    ..c.clone()
                },
                &dataset,
            );
            extra.push(("compare_tuned_base".into(), base.clone()));
            let before = earlier.find("compare_tuned_base", &base);
            if let Some((_, r)) = before {
                // Settings chosen by an earlier compare: reuse them (and its result, below).
                c.threads = r.threads;
                c.batch = r.batch;
            } else if args.collect_only {
                missing.push(c.name.clone());
                continue;
            } else {
                let ch = match &choice {
                    Some(ch) => ch.clone(),
                    None => {
                        progress.note(&format!(
                            "[{n}/{total}] profiling thread counts and batch sizes for {}",
                            c.spec.model.name()
                        ));
                        let ch = profile_settings(
                            c.spec.model,
                            c.spec.lr,
                            &train,
                            args.eta,
                            args.interval,
                        )?;
                        progress.note(&format!("  chose {}", ch.explanation));
                        choice = Some(ch.clone());
                        ch
                    }
                };
                c.threads = ch.chosen_threads;
                c.batch = ch.chosen_batch;
                profiling_j = Some(ch.profiling_energy_j);
            }
        }
        if c.searched {
            // The search's base: this configuration with neither rate nor batch size.
            let base = key(
                &Config {
                    batch: 0,
                    spec: crate::train::TrainSpec {
                        lr: 0.0,
                        ..c.spec.clone()
                    },
                    ..c.clone()
                },
                &dataset,
            );
            extra.push(("compare_searched_base".into(), base.clone()));
            match earlier.find("compare_searched_base", &base) {
                Some((_, r)) if r.lr.is_some() && (!args.full || args.collect_only) => {
                    // Chosen by an earlier compare: reuse it (and its result, below); --full
                    // searches again.
                    c.spec.lr = r.lr.unwrap_or(c.spec.lr);
                    c.batch = r.batch;
                }
                _ if args.collect_only => {
                    missing.push(c.name.clone());
                    continue;
                }
                _ => {
                    progress.note(&format!(
                        "[{n}/{total}] searching the learning rate and batch size for {}",
                        c.spec.model.name()
                    ));
                    let s =
                        search::search(c.spec.model, c.spec.lr, c.threads, &train, args.interval)?;
                    progress.note(&format!(
                        "  chose {} ({:.1} J of short runs, {}, counted in its configuration)",
                        s.explanation, s.search_energy_j, s.provenance
                    ));
                    c.spec.lr = s.chosen_lr;
                    c.batch = s.chosen_batch;
                    profiling_j = Some(s.search_energy_j);
                    searched = Some(s);
                }
            }
        }
        let k = key(c, &dataset);
        // The kernel is part of the int8 key: a row measured with another kernel (another
        // machine, or a forced one) is measured again, not reused.
        let k8 = format!(
            "{k};int8=per-channel;kernel={}",
            greenai_nn::int8::Kernel::active().name()
        );
        let job = c.job_settings(args);
        let ckpt = int8::checkpoint_path(&job.state_dir, &c.name, &k);
        // Collected from other nodes, the int8 row is whatever kernel their CPU ran.
        let prev8 = if args.collect_only {
            earlier.find_prefix("compare_key", &format!("{k};int8=per-channel;kernel="))
        } else {
            earlier.find("compare_key", &k8)
        };
        let prev = earlier
            .find("compare_key", &k)
            .filter(|_| !c.int8 || prev8.is_some() || ckpt.exists() || args.collect_only);
        if let Some((prev, r)) = prev {
            let provenance = prev.provenance.unwrap_or(Provenance::Estimated);
            let mut row = Row::new(c, r, Some(prev.run_id.clone()), provenance, true);
            if c.transfer.is_none() {
                repeat_into(c, &mut row, r.profiling_energy_j)?;
            }
            row.training_emissions_g = carbon_of(row.training_energy_j, row.training_duration_s);
            progress.note(&format!(
                "[{n}/{total}] {}: reused run {} (accuracy {:.4}, {:.1} J)",
                c.name, prev.run_id, row.accuracy, row.training_energy_j
            ));
            if c.int8 && prev8.is_none() && args.collect_only {
                missing.push(format!("{}-int8", c.name));
            }
            let r8 = (c.int8 && (prev8.is_some() || !args.collect_only))
                .then(|| {
                    int8::int8_variant(c, &row, &ckpt, &k8, prev8, &train, &test, args, progress)
                })
                .transpose()?;
            rows.push(row);
            rows.extend(r8);
            continue;
        }
        if args.collect_only {
            missing.push(c.name.clone());
            continue;
        }
        let labels: BTreeMap<String, String> = [
            ("compare_key".to_string(), k.clone()),
            ("compare_config".to_string(), c.name.clone()),
        ]
        .into_iter()
        .chain(extra)
        .collect();
        if let Some(t) = &c.transfer {
            if backbone.is_none() {
                let w = weights_path(None);
                if !w.exists() {
                    progress.note(&format!(
                        "[{n}/{total}] {}: skipped: {} is missing (python3 \
                         scripts/convert_efficientnet_lite0.py downloads and converts it)",
                        c.name,
                        w.display()
                    ));
                    continue;
                }
                backbone = Some(
                    greenai_nn::efficientnet::load(&w, t.input_size, false)
                        .map_err(TuneError::engine(format!("loading {}", w.display())))?,
                );
            }
            progress.note(&format!(
                "[{n}/{total}] {}: EfficientNet-Lite0 frozen at {}×{}, features of {} training \
                 images, a linear head for {} epochs",
                c.name,
                t.input_size,
                t.input_size,
                t.train_samples.min(train.len()),
                t.epochs
            ));
            let bb = backbone.as_ref().expect("loaded above");
            let r = run_transfer(t, bb, &dataset, &train, &test, &job, labels, progress)
                .map_err(|e| in_config(&c.name, e))?;
            progress.note(&format!(
                "  accuracy {:.4}, training {:.1} J (features {:.1} J{}) in {:.1} s ({})",
                r.accuracy,
                r.training_energy_j,
                r.train_feature_energy_j,
                if r.feature_cache_hit {
                    ", cached by an earlier run"
                } else {
                    ""
                },
                r.training_duration_s,
                r.provenance
            ));
            let mut row = Row::new(c, &r.results, r.run_id.clone(), r.provenance, false);
            row.training_emissions_g = carbon_of(row.training_energy_j, row.training_duration_s);
            rows.push(row);
            continue;
        }
        progress.note(&format!(
            "[{n}/{total}] {}: {} for {} epoch(s), batch {}, {} thread(s), lr {}",
            c.name,
            c.spec.model.name(),
            c.spec.epochs,
            c.batch,
            c.threads,
            c.spec.lr
        ));
        let mut spec = c.spec.clone();
        spec.budget_j = args.budget_j;
        spec.profiling_energy_j = profiling_j;
        if c.int8 {
            if let Some(dir) = ckpt.parent() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    TuneError::Io(format!("creating {} for checkpoints: {e}", dir.display()))
                })?;
            }
            spec.save = Some(ckpt.clone());
        }
        let report = run_train(&spec, &dataset, &train, &test, &job, labels, progress)
            .map_err(|e| in_config(&c.name, e))?;
        let mut row = Row::new(
            c,
            &report.results,
            report.run_id.clone(),
            report.provenance,
            false,
        );
        repeat_into(c, &mut row, spec.profiling_energy_j)?;
        row.training_emissions_g = carbon_of(row.training_energy_j, row.training_duration_s);
        progress.note(&format!(
            "  accuracy {:.4}, training {:.1} J in {:.1} s ({}){}",
            row.accuracy,
            row.training_energy_j,
            row.training_duration_s,
            row.provenance,
            row.stopped_by_budget_predicted_j
                .map(|p| format!(", stopped: predicted {p:.0} J > budget"))
                .unwrap_or_default()
        ));
        let r8 = (c.int8 && row.stopped_by_budget_predicted_j.is_none())
            .then(|| int8::int8_variant(c, &row, &ckpt, &k8, None, &train, &test, args, progress))
            .transpose()?;
        rows.push(row);
        rows.extend(r8);
    }
    if !missing.is_empty() {
        progress.note(&format!(
            "greenai compare: no stored result for {}: not in the table",
            missing.join(", ")
        ));
    }
    let mut c = choose(args, rows, choice, &resolved);
    c.search_choice = searched;
    c.missing = missing;
    Ok(c)
}

/// A configuration's error, saying which configuration.
fn in_config(name: &str, e: TuneError) -> TuneError {
    TuneError::Invalid(format!("configuration {name}: {e}"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn options() -> CompareOptions {
        CompareOptions {
            target_accuracy: 0.98,
            budget_j: None,
            full: false,
            eta: 0.5,
            fresh: false,
            data: None,
            interval: Duration::from_millis(100),
            carbon: CarbonSettings::default(),
            db: PathBuf::from("unused.sqlite"),
            repeat: None,
            only: Vec::new(),
            collect_only: false,
            labels: BTreeMap::new(),
        }
    }

    fn results(accuracy: f64, training_j: f64) -> JobResults {
        JobResults {
            model: "lenet".into(),
            precision: "f32".into(),
            quantization: "none".into(),
            accuracy,
            training_energy_j: Some(training_j),
            training_duration_s: Some(1.0),
            joules_per_1000_inferences: Some(0.5),
            epochs: Some(1),
            threads: 2,
            batch: 64,
            ..JobResults::default()
        }
    }

    pub(crate) fn row(name: &str, accuracy: f64, training_j: f64) -> Row {
        let c = grid::config(
            name,
            grid::spec(
                greenai_nn::models::ModelKind::Lenet,
                1,
                1e-3,
                crate::train::ScheduleKind::Cosine,
            ),
            2,
            64,
        );
        Row::new(
            &c,
            &results(accuracy, training_j),
            None,
            Provenance::Estimated,
            false,
        )
    }

    /// A stored result reads back as the row it was: profiling energy counted in, the provenance
    /// and run id of the run that holds it, marked reused.
    #[test]
    fn a_reused_row_counts_its_profiling_energy() {
        let c = grid::config(
            "lenet-1ep-tuned",
            grid::spec(
                greenai_nn::models::ModelKind::Lenet,
                1,
                5e-3,
                crate::train::ScheduleKind::Cosine,
            ),
            1,
            32,
        );
        let stored = JobResults {
            profiling_energy_j: Some(7.5),
            ..results(0.986, 60.0)
        };
        let back: JobResults =
            serde_json::from_value(serde_json::to_value(&stored).unwrap()).unwrap();
        let r = Row::new(&c, &back, Some("abc".into()), Provenance::Measured, true);
        assert_eq!(r.training_energy_j, 67.5);
        assert_eq!((r.threads, r.batch), (1, 32));
        assert_eq!(r.run_id.as_deref(), Some("abc"));
        assert!(r.reused && r.provenance == Provenance::Measured);
    }
}
