//! The scheduler's queue: jobs submitted with a deadline, planned, run and accounted for. It lives
//! in the run database so that a scheduler killed mid-job finds its jobs again, and so that a
//! run's report can say what its scheduling saved.

use crate::db::Store;
use crate::error::{Result, StoreError};
use rusqlite::{params, OptionalExtension, Row};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for its planned start.
    Queued,
    Running,
    /// Stopped by the scheduler while the grid is dirty (an interruptible job).
    Paused,
    /// Cancelled while running: the scheduler ends its processes.
    Cancelling,
    /// Ended with exit status 0.
    Done,
    /// Ended otherwise, or could not be run.
    Failed,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 7] = [
        JobState::Queued,
        JobState::Running,
        JobState::Paused,
        JobState::Cancelling,
        JobState::Done,
        JobState::Failed,
        JobState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Paused => "paused",
            JobState::Cancelling => "cancelling",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    fn from_str(s: &str) -> Option<JobState> {
        Self::ALL.into_iter().find(|j| j.as_str() == s)
    }

    /// Whether the scheduler still has something to do with it.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            JobState::Queued | JobState::Running | JobState::Paused | JobState::Cancelling
        )
    }

    /// Whether a process of it exists.
    pub fn has_process(self) -> bool {
        matches!(
            self,
            JobState::Running | JobState::Paused | JobState::Cancelling
        )
    }
}

/// What `greenai submit` records.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub name: String,
    pub argv: Vec<String>,
    pub cwd: String,
    /// The environment the command runs in (as `sbatch` exports the submitter's).
    pub env: Vec<(String, String)>,
    pub submitted_unix_s: f64,
    pub deadline_unix_s: f64,
    /// Expected seconds of work.
    pub duration_s: f64,
    /// Expected energy, when earlier runs tell it.
    pub energy_j: Option<f64>,
    pub interruptible: bool,
}

/// A job in the queue.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct QueuedJob {
    pub id: i64,
    pub name: String,
    pub argv: Vec<String>,
    pub cwd: String,
    #[serde(skip)]
    pub env: Vec<(String, String)>,
    pub submitted_unix_s: f64,
    pub deadline_unix_s: f64,
    pub duration_s: f64,
    pub energy_j: Option<f64>,
    pub interruptible: bool,
    pub state: JobState,
    /// The planned windows, `(start, end)` unix seconds.
    pub plan: Option<Vec<(f64, f64)>>,
    pub planned_g_per_kwh: Option<f64>,
    pub pid: Option<i64>,
    /// The process's start time in clock ticks since boot (`/proc/PID/stat` field 22), so that a
    /// reused pid is not taken for the job.
    pub pid_start: Option<i64>,
    pub started_unix_s: Option<f64>,
    pub finished_unix_s: Option<f64>,
    /// The windows it actually ran in (the last one open while it runs: its end is `NaN`).
    pub active: Vec<(f64, f64)>,
    pub run_id: Option<String>,
    pub exit_code: Option<i64>,
    /// Its emissions, and those had it started at submission, from one intensity series.
    pub emissions_g: Option<f64>,
    pub counterfactual_g: Option<f64>,
    pub intensity_source: Option<String>,
    pub note: Option<String>,
    /// Runs of this job before the latest (a job paused at an epoch end and resumed).
    pub prior_runs: Vec<String>,
    /// Their energy, joules.
    pub prior_energy_j: f64,
}

impl QueuedJob {
    /// Paused with no process: it ended its run at a checkpoint and starts again to resume.
    pub fn is_parked(&self) -> bool {
        self.state == JobState::Paused && self.pid.is_none()
    }

    /// Seconds of work done so far, up to `now` for an open window.
    pub fn worked_s(&self, now: f64) -> f64 {
        self.active
            .iter()
            .map(|w| if w.1.is_nan() { now - w.0 } else { w.1 - w.0 })
            .map(|s| s.max(0.0))
            .sum()
    }

    /// The grams saved by scheduling, when both figures are known.
    pub fn saved_g(&self) -> Option<f64> {
        Some(self.counterfactual_g? - self.emissions_g?)
    }
}

const COLUMNS: &str = "id, name, argv, cwd, env, submitted_unix_s, deadline_unix_s, duration_s,
    energy_j, interruptible, state, plan, planned_g_per_kwh, pid, pid_start, started_unix_s,
    finished_unix_s, active, run_id, exit_code, emissions_g, counterfactual_g, intensity_source, note,
    prior_runs, prior_energy_j";

fn windows_json(w: &[(f64, f64)]) -> String {
    // NaN (an open window) is not JSON: write it as null.
    let v: Vec<[Option<f64>; 2]> = w
        .iter()
        .map(|w| [Some(w.0), (!w.1.is_nan()).then_some(w.1)])
        .collect();
    serde_json::to_string(&v).expect("numbers serialise")
}

fn windows_from(s: &str) -> Vec<(f64, f64)> {
    serde_json::from_str::<Vec<[Option<f64>; 2]>>(s)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|[a, b]| Some((a?, b.unwrap_or(f64::NAN))))
        .collect()
}

fn job_from(r: &Row) -> rusqlite::Result<QueuedJob> {
    let text = |i: usize| -> rusqlite::Result<String> { r.get(i) };
    let state: String = r.get(10)?;
    Ok(QueuedJob {
        id: r.get(0)?,
        name: r.get(1)?,
        argv: serde_json::from_str(&text(2)?).unwrap_or_default(),
        cwd: r.get(3)?,
        env: serde_json::from_str(&text(4)?).unwrap_or_default(),
        submitted_unix_s: r.get(5)?,
        deadline_unix_s: r.get(6)?,
        duration_s: r.get(7)?,
        energy_j: r.get(8)?,
        interruptible: r.get(9)?,
        state: JobState::from_str(&state).unwrap_or(JobState::Failed),
        plan: r.get::<_, Option<String>>(11)?.map(|p| windows_from(&p)),
        planned_g_per_kwh: r.get(12)?,
        pid: r.get(13)?,
        pid_start: r.get(14)?,
        started_unix_s: r.get(15)?,
        finished_unix_s: r.get(16)?,
        active: windows_from(&text(17)?),
        run_id: r.get(18)?,
        exit_code: r.get(19)?,
        emissions_g: r.get(20)?,
        counterfactual_g: r.get(21)?,
        intensity_source: r.get(22)?,
        note: r.get(23)?,
        prior_runs: serde_json::from_str(&text(24)?).unwrap_or_default(),
        prior_energy_j: r.get(25)?,
    })
}

impl Store {
    /// Adds a job to the queue; returns its id.
    pub fn submit(&self, j: &NewJob) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO queue (name, argv, cwd, env, submitted_unix_s, deadline_unix_s,
                     duration_s, energy_j, interruptible, state)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'queued')",
                params![
                    j.name,
                    serde_json::to_string(&j.argv).expect("strings serialise"),
                    j.cwd,
                    serde_json::to_string(&j.env).expect("strings serialise"),
                    j.submitted_unix_s,
                    j.deadline_unix_s,
                    j.duration_s,
                    j.energy_j,
                    j.interruptible,
                ],
            )
            .map_err(StoreError::write)?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Every job, oldest first.
    pub fn queue(&self) -> Result<Vec<QueuedJob>> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM queue ORDER BY id"))
            .map_err(StoreError::write)?;
        let rows = stmt
            .query_map([], job_from)
            .map_err(StoreError::write)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(StoreError::write)?;
        Ok(rows)
    }

    /// The jobs the scheduler still has something to do with.
    pub fn live_jobs(&self) -> Result<Vec<QueuedJob>> {
        Ok(self
            .queue()?
            .into_iter()
            .filter(|j| j.state.is_live())
            .collect())
    }

    pub fn queued_job(&self, id: i64) -> Result<QueuedJob> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM queue WHERE id = ?1"),
                [id],
                job_from,
            )
            .optional()
            .map_err(StoreError::write)?
            .ok_or_else(|| StoreError::NotFound(format!("no job {id} in the queue")))
    }

    /// The job a run was started for, if the scheduler started it.
    pub fn job_of_run(&self, run_id: &str) -> Result<Option<QueuedJob>> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM queue WHERE run_id = ?1"),
                [run_id],
                job_from,
            )
            .optional()
            .map_err(StoreError::write)
    }

    /// Cancels a job: at once if it has not started, else marks it for the scheduler to end.
    /// Returns the state it was in.
    pub fn cancel_job(&self, id: i64) -> Result<JobState> {
        let j = self.queued_job(id)?;
        let next = match j.state {
            JobState::Queued => JobState::Cancelled,
            s if s.has_process() => JobState::Cancelling,
            s => {
                return Err(StoreError::Invalid(format!(
                    "job {id} is {} already: nothing to cancel",
                    s.as_str()
                )))
            }
        };
        self.conn
            .execute(
                "UPDATE queue SET state = ?2 WHERE id = ?1 AND state = ?3",
                params![id, next.as_str(), j.state.as_str()],
            )
            .map_err(StoreError::write)?;
        Ok(j.state)
    }

    /// Records a (re)plan of a job that has not finished.
    pub fn set_plan(&self, id: i64, windows: &[(f64, f64)], g_per_kwh: Option<f64>) -> Result<()> {
        self.conn
            .execute(
                "UPDATE queue SET plan = ?2, planned_g_per_kwh = ?3 WHERE id = ?1",
                params![id, windows_json(windows), g_per_kwh],
            )
            .map_err(StoreError::write)?;
        Ok(())
    }

    /// Records a job's process and its state (`running` or `paused`), with the windows it ran in.
    /// Only a job still in one of `from` is changed (a cancel in between wins); returns whether it
    /// was.
    pub fn set_job_process(
        &self,
        id: i64,
        state: JobState,
        pid: Option<(i64, i64)>,
        started: Option<f64>,
        active: &[(f64, f64)],
        from: &[JobState],
    ) -> Result<bool> {
        let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
        let n = self
            .conn
            .execute(
                "UPDATE queue SET state = ?2, pid = COALESCE(?3, pid), pid_start = COALESCE(?4, pid_start),
                     started_unix_s = COALESCE(started_unix_s, ?5), active = ?6
                 WHERE id = ?1 AND state IN (SELECT value FROM json_each(?7))",
                params![
                    id,
                    state.as_str(),
                    pid.map(|p| p.0),
                    pid.map(|p| p.1),
                    started,
                    windows_json(active),
                    serde_json::to_string(&from).expect("strings serialise"),
                ],
            )
            .map_err(StoreError::write)?;
        Ok(n == 1)
    }

    /// Parks a job whose run ended at a checkpoint: paused, no process, its run and energy kept.
    pub fn park_job(
        &self,
        id: i64,
        active: &[(f64, f64)],
        run_id: Option<&str>,
        energy_j: f64,
    ) -> Result<()> {
        let j = self.queued_job(id)?;
        let mut runs = j.prior_runs;
        runs.extend(run_id.map(str::to_string));
        self.conn
            .execute(
                "UPDATE queue SET state = 'paused', pid = NULL, pid_start = NULL, active = ?2,
                     prior_runs = ?3, prior_energy_j = prior_energy_j + ?4
                 WHERE id = ?1 AND state IN ('running', 'paused')",
                params![
                    id,
                    windows_json(active),
                    serde_json::to_string(&runs).expect("strings serialise"),
                    energy_j
                ],
            )
            .map_err(StoreError::write)?;
        Ok(())
    }

    /// Records how a job ended.
    pub fn finish_job(&self, id: i64, end: &JobEnd) -> Result<()> {
        self.conn
            .execute(
                "UPDATE queue SET state = ?2, finished_unix_s = ?3, active = ?4, run_id = ?5,
                     exit_code = ?6, emissions_g = ?7, counterfactual_g = ?8, intensity_source = ?9,
                     note = ?10
                 WHERE id = ?1",
                params![
                    id,
                    end.state.as_str(),
                    end.finished_unix_s,
                    windows_json(&end.active),
                    end.run_id,
                    end.exit_code,
                    end.emissions_g,
                    end.counterfactual_g,
                    end.intensity_source,
                    end.note,
                ],
            )
            .map_err(StoreError::write)?;
        Ok(())
    }

    /// The run whose label `key` is `value`, the latest if several.
    pub fn run_labelled(&self, key: &str, value: &str) -> Result<Option<crate::RunSummary>> {
        Ok(self.runs_labelled(key, value)?.pop())
    }
}

/// How a job ended, for [`Store::finish_job`].
#[derive(Debug, Clone, PartialEq)]
pub struct JobEnd {
    pub state: JobState,
    pub finished_unix_s: f64,
    pub active: Vec<(f64, f64)>,
    pub run_id: Option<String>,
    pub exit_code: Option<i64>,
    pub emissions_g: Option<f64>,
    pub counterfactual_g: Option<f64>,
    pub intensity_source: Option<String>,
    pub note: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> NewJob {
        NewJob {
            name: "train".into(),
            argv: vec!["sleep".into(), "1".into()],
            cwd: "/tmp".into(),
            env: vec![("A".into(), "b".into())],
            submitted_unix_s: 100.0,
            deadline_unix_s: 1000.0,
            duration_s: 60.0,
            energy_j: Some(5.0),
            interruptible: true,
        }
    }

    #[test]
    fn a_job_goes_from_queued_to_done_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.sqlite");
        let s = Store::open(&path).unwrap();
        let id = s.submit(&job()).unwrap();
        s.set_plan(id, &[(200.0, 230.0), (300.0, 330.0)], Some(120.0))
            .unwrap();
        assert!(s
            .set_job_process(
                id,
                JobState::Running,
                Some((42, 7)),
                Some(200.0),
                &[(200.0, f64::NAN)],
                &[JobState::Queued]
            )
            .unwrap());
        drop(s);
        let s = Store::open(&path).unwrap();
        let j = s.queued_job(id).unwrap();
        assert_eq!(j.state, JobState::Running);
        assert_eq!((j.pid, j.pid_start), (Some(42), Some(7)));
        assert_eq!(j.env, vec![("A".to_string(), "b".to_string())]);
        assert_eq!(
            j.plan.as_deref(),
            Some(&[(200.0, 230.0), (300.0, 330.0)][..])
        );
        assert!(j.active[0].1.is_nan());
        assert_eq!(j.worked_s(210.0), 10.0);
        s.finish_job(
            id,
            &JobEnd {
                state: JobState::Done,
                finished_unix_s: 260.0,
                active: vec![(200.0, 230.0), (240.0, 260.0)],
                run_id: Some("r1".into()),
                exit_code: Some(0),
                emissions_g: Some(1.0),
                counterfactual_g: Some(3.0),
                intensity_source: Some("f.csv".into()),
                note: None,
            },
        )
        .unwrap();
        let j = s.job_of_run("r1").unwrap().unwrap();
        assert_eq!(j.saved_g(), Some(2.0));
        assert_eq!(j.worked_s(1e9), 50.0);
        assert!(s.live_jobs().unwrap().is_empty());
    }

    #[test]
    fn cancel_ends_a_queued_job_and_marks_a_running_one() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("g.sqlite")).unwrap();
        let a = s.submit(&job()).unwrap();
        let b = s.submit(&job()).unwrap();
        s.set_job_process(
            b,
            JobState::Running,
            Some((1, 1)),
            Some(1.0),
            &[],
            &[JobState::Queued],
        )
        .unwrap();
        assert_eq!(s.cancel_job(a).unwrap(), JobState::Queued);
        assert_eq!(s.queued_job(a).unwrap().state, JobState::Cancelled);
        assert_eq!(s.cancel_job(b).unwrap(), JobState::Running);
        assert_eq!(s.queued_job(b).unwrap().state, JobState::Cancelling);
        // A cancel wins over a scheduler that meant to pause it.
        assert!(!s
            .set_job_process(b, JobState::Paused, None, None, &[], &[JobState::Running])
            .unwrap());
        let e = s.cancel_job(a).unwrap_err();
        assert_eq!(
            e.to_string(),
            "job 1 is cancelled already: nothing to cancel"
        );
        assert!(s
            .queued_job(99)
            .unwrap_err()
            .to_string()
            .contains("no job 99"));
    }
}
