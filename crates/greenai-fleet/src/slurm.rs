//! greenai's own work as a Slurm job array: one greenai command per array task, each recording
//! into a database on its node's local disk (SQLite over a network filesystem is how databases get
//! damaged), and exporting its runs as JSON into a shared directory when it ends, for
//! `greenai runs import` on the submitting machine.
//!
//! The submission goes through [`Submit`]: [`Sbatch`] is Slurm's `sbatch --wait`; [`Local`] runs
//! the same batch script once per index with the variables Slurm would set, for the tests and
//! for a machine without Slurm.

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    #[error("{0}")]
    Io(String),
    #[error("sbatch refused the job array: {0}")]
    Refused(String),
}

/// One array task: a name for people (a configuration) and greenai's arguments after `--db`.
#[derive(Debug, Clone)]
pub struct Task {
    pub name: String,
    pub args: Vec<String>,
}

/// A job array of greenai commands.
#[derive(Debug, Clone)]
pub struct ArrayJob {
    /// A directory every node reads and writes (on the shared filesystem the submit directory is
    /// on): the batch script, and each task's log, exit status and exported runs.
    pub dir: PathBuf,
    pub job_name: String,
    /// The greenai each task runs, by an absolute path every node resolves.
    pub greenai: PathBuf,
    /// More sbatch options, passed as given (`--partition=gpu`, `--time=30`).
    pub sbatch_args: Vec<String>,
    /// At most this many tasks at once (`--array=0-N%K`).
    pub max_parallel: Option<usize>,
    pub tasks: Vec<Task>,
}

/// What became of one task.
#[derive(Debug, Clone)]
pub struct TaskOutcome {
    pub index: usize,
    pub name: String,
    /// The greenai command's exit status; `None` when the task never wrote one (it never ran, or
    /// was killed with its shell).
    pub exit_code: Option<i32>,
    /// Its runs, exported from its node-local database (written even when the command failed:
    /// what it recorded is kept).
    pub runs_file: Option<PathBuf>,
    /// Its standard output and error.
    pub log: PathBuf,
}

impl TaskOutcome {
    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// The last non-empty line of the task's log: its error, when it failed.
    pub fn last_log_line(&self) -> Option<String> {
        let text = std::fs::read_to_string(&self.log).ok()?;
        text.lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(str::to_string)
    }
}

/// The array as submitted, and its tasks' outcomes.
#[derive(Debug, Clone)]
pub struct ArrayOutcome {
    /// Slurm's job id (the `Local` runner's is `local`).
    pub job_id: String,
    pub tasks: Vec<TaskOutcome>,
}

/// A shell word that stays one word, whatever it holds: single quotes, each `'` closed, escaped
/// and reopened. (Four lines; a crate for it would be a dependency for one function.)
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn quoted(words: &[String]) -> String {
    words
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The batch script: the task's arguments chosen by `SLURM_ARRAY_TASK_ID`, a database in a fresh
/// directory on the node's local disk, the runs exported to `dir` when the task ends (killed by a
/// time limit included: `TERM` ends the shell through its `EXIT` trap), the exit status beside
/// them.
pub fn batch_script(job: &ArrayJob) -> String {
    let dir = shell_quote(&job.dir.display().to_string());
    let greenai = shell_quote(&job.greenai.display().to_string());
    let mut s = String::from(
        "#!/bin/bash\n\
         # Written by greenai: one greenai command per array task. Each records into a database\n\
         # on its node's local disk and exports its runs into this directory when it ends.\n\
         set -u\n",
    );
    s.push_str(&format!("dir={dir}\ngreenai={greenai}\n"));
    s.push_str("i=${SLURM_ARRAY_TASK_ID:?this script runs as a task of a Slurm job array}\n");
    s.push_str("case \"$i\" in\n");
    for (i, t) in job.tasks.iter().enumerate() {
        s.push_str(&format!("  {i}) set -- {} ;;\n", quoted(&t.args)));
    }
    s.push_str("  *) echo \"greenai: no task $i in this array\" >&2; exit 2 ;;\nesac\n");
    s.push_str(
        "local_dir=$(mktemp -d \"${SLURM_TMPDIR:-${TMPDIR:-/tmp}}/greenai-task-$i.XXXXXX\") || exit 2\n\
         finish() {\n\
         \x20 rc=$?\n\
         \x20 if \"$greenai\" --db \"$local_dir/runs.sqlite\" runs export --format json > \"$dir/task-$i.runs.json.part\"; then\n\
         \x20   mv \"$dir/task-$i.runs.json.part\" \"$dir/task-$i.runs.json\"\n\
         \x20 fi\n\
         \x20 echo \"$rc\" > \"$dir/task-$i.rc\"\n\
         \x20 rm -rf \"$local_dir\"\n\
         }\n\
         trap finish EXIT\n\
         trap 'exit 143' TERM INT\n\
         \"$greenai\" --db \"$local_dir/runs.sqlite\" \"$@\"\n",
    );
    s
}

/// How an array is submitted and waited for.
pub trait Submit {
    /// Submits `script` as an array over `array` (`0-3`, `0-3%2`), calls `submitted` with the
    /// job's id once it is accepted, and returns the id once every task has ended.
    fn submit_and_wait(
        &self,
        script: &Path,
        job: &ArrayJob,
        array: &str,
        submitted: &dyn Fn(&str),
    ) -> Result<String, SlurmError>;
}

/// Slurm: `sbatch --parsable --wait --array=…`. sbatch's own exit status is the worst of the
/// tasks': a failed task is read from its files, not from it.
pub struct Sbatch;

impl Submit for Sbatch {
    fn submit_and_wait(
        &self,
        script: &Path,
        job: &ArrayJob,
        array: &str,
        submitted: &dyn Fn(&str),
    ) -> Result<String, SlurmError> {
        use std::io::{BufRead, Read};
        let mut child = Command::new("sbatch")
            .arg("--parsable")
            .arg("--wait")
            .arg(format!("--array={array}"))
            .arg(format!("--job-name={}", job.job_name))
            .arg(format!(
                "--output={}",
                job.dir.join("task-%a.out").display()
            ))
            .args(&job.sbatch_args)
            .arg(script)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => SlurmError::Io(
                    "sbatch is not on PATH: --slurm runs where Slurm's commands are (a login node)"
                        .into(),
                ),
                _ => SlurmError::Io(format!("cannot run sbatch: {e}")),
            })?;
        // `--parsable` prints `jobid[;cluster]` as soon as the job is accepted; `--wait` then
        // holds until every task has ended. Its exit status is the worst task's: a failed task
        // is read from its own files, not from it.
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = std::io::BufReader::new(out).read_line(&mut line);
        }
        let id = line
            .split(';')
            .next()
            .map(str::trim)
            .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()))
            .map(str::to_string);
        if let Some(id) = &id {
            submitted(id);
        }
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        let _ = child.wait();
        id.ok_or_else(|| {
            SlurmError::Refused(
                err.lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("no job id and no error")
                    .to_string(),
            )
        })
    }
}

/// The script run once per index, one after another, with the variables a Slurm array task has;
/// `node_tmp` stands for the node's local disk (`SLURM_TMPDIR`, which the script prefers to
/// `TMPDIR`).
#[derive(Debug, Clone, Default)]
pub struct Local {
    pub node_tmp: Option<PathBuf>,
}

impl Submit for Local {
    fn submit_and_wait(
        &self,
        script: &Path,
        job: &ArrayJob,
        _array: &str,
        submitted: &dyn Fn(&str),
    ) -> Result<String, SlurmError> {
        submitted("local");
        for i in 0..job.tasks.len() {
            let log =
                std::fs::File::create(job.dir.join(format!("task-{i}.out"))).map_err(|e| {
                    SlurmError::Io(format!("cannot write in {}: {e}", job.dir.display()))
                })?;
            let err = log.try_clone().map_err(|e| SlurmError::Io(e.to_string()))?;
            let mut cmd = Command::new("bash");
            if let Some(t) = &self.node_tmp {
                cmd.env("SLURM_TMPDIR", t);
            }
            cmd.arg(script)
                .env("SLURM_ARRAY_TASK_ID", i.to_string())
                .env("SLURM_ARRAY_JOB_ID", "local")
                .stdout(log)
                .stderr(err)
                .status()
                .map_err(|e| SlurmError::Io(format!("cannot run bash: {e}")))?;
        }
        Ok("local".into())
    }
}

/// Writes the batch script into `job.dir`, submits the array (calling `submitted` with its id) and
/// waits for it, and reads what each task left.
pub fn run(
    job: &ArrayJob,
    submit: &dyn Submit,
    submitted: &dyn Fn(&str),
) -> Result<ArrayOutcome, SlurmError> {
    if job.tasks.is_empty() {
        return Err(SlurmError::Io("no task to submit".into()));
    }
    std::fs::create_dir_all(&job.dir)
        .map_err(|e| SlurmError::Io(format!("cannot create {}: {e}", job.dir.display())))?;
    let script = job.dir.join("greenai-array.sh");
    std::fs::write(&script, batch_script(job))
        .map_err(|e| SlurmError::Io(format!("cannot write {}: {e}", script.display())))?;
    let last = job.tasks.len() - 1;
    let array = match job.max_parallel {
        Some(k) => format!("0-{last}%{}", k.max(1)),
        None => format!("0-{last}"),
    };
    let job_id = submit.submit_and_wait(&script, job, &array, submitted)?;
    Ok(ArrayOutcome {
        job_id,
        tasks: outcomes(job),
    })
}

/// What each task left in `job.dir`.
pub fn outcomes(job: &ArrayJob) -> Vec<TaskOutcome> {
    job.tasks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let runs = job.dir.join(format!("task-{i}.runs.json"));
            TaskOutcome {
                index: i,
                name: t.name.clone(),
                exit_code: std::fs::read_to_string(job.dir.join(format!("task-{i}.rc")))
                    .ok()
                    .and_then(|s| s.trim().parse().ok()),
                runs_file: runs.exists().then_some(runs),
                log: job.dir.join(format!("task-{i}.out")),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(dir: &Path, greenai: &Path, tasks: &[(&str, &[&str])]) -> ArrayJob {
        ArrayJob {
            dir: dir.to_path_buf(),
            job_name: "t".into(),
            greenai: greenai.to_path_buf(),
            sbatch_args: vec![],
            max_parallel: None,
            tasks: tasks
                .iter()
                .map(|(n, a)| Task {
                    name: n.to_string(),
                    args: a.iter().map(|s| s.to_string()).collect(),
                })
                .collect(),
        }
    }

    #[test]
    fn quoting_keeps_every_word_whole() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
    }

    /// The script, run by bash as each task, passes its own arguments (spaces, quotes and `$`
    /// intact) after a node-local `--db`, exports into the shared directory, records the exit
    /// status and removes the local directory; a failed task still exports what it recorded.
    #[test]
    fn each_task_runs_its_own_arguments_and_leaves_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        // A stand-in greenai: records its arguments; `runs export` prints them back as JSON;
        // `fail` exits 3.
        let fake = dir.path().join("greenai");
        std::fs::write(
            &fake,
            "#!/bin/bash\n\
             db=$2; shift 2\n\
             if [ \"$1\" = runs ]; then printf '[\"%s\"]' \"$(cat \"$db.args\")\"; exit 0; fi\n\
             printf '%s|' \"$@\" > \"$db.args\"\n\
             [ \"$1\" = fail ] && exit 3\n\
             exit 0\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let shared = dir.path().join("array");
        let j = job(
            &shared,
            &fake,
            &[
                ("one", &["compare", "--only", "it's $HOME", "a b"]),
                ("two", &["fail"]),
            ],
        );
        let local = Local {
            node_tmp: Some(tmp.path().to_path_buf()),
        };
        let out = run(&j, &local, &|_| {}).unwrap();
        assert_eq!(out.tasks.len(), 2);
        let one = &out.tasks[0];
        assert!(one.succeeded(), "{:?} {:?}", one, one.last_log_line());
        let runs = std::fs::read_to_string(one.runs_file.as_ref().unwrap()).unwrap();
        assert_eq!(runs, r#"["compare|--only|it's $HOME|a b|"]"#);
        let two = &out.tasks[1];
        assert_eq!(two.exit_code, Some(3));
        assert!(
            two.runs_file.is_some(),
            "a failed task exports what it recorded"
        );
        // Nothing is left on the node's disk.
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }

    /// A task index the script does not know (an array resubmitted by hand, wider) fails, saying so.
    #[test]
    fn an_unknown_index_fails() {
        let dir = tempfile::tempdir().unwrap();
        let j = job(dir.path(), Path::new("/bin/true"), &[("one", &["x"])]);
        let script = dir.path().join("s.sh");
        std::fs::write(&script, batch_script(&j)).unwrap();
        let o = Command::new("bash")
            .arg(&script)
            .env("SLURM_ARRAY_TASK_ID", "5")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains("no task 5"));
    }
}
