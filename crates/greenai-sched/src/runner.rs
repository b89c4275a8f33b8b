//! The scheduler: a long-running foreground process that starts each queued job at its planned
//! time as a measured run (`greenai run`), pauses and resumes the jobs that may pause as the grid
//! changes, re-plans when the forecast changes, and records what scheduling saved.
//!
//! Everything it knows is in the run database: killed and restarted, it finds its jobs (by pid and
//! process start time), records those that ended meanwhile, and carries on. One scheduler per
//! database: a second one finds the lock taken and refuses.

use crate::clock::Clock;
use crate::fetch::{FetchError, ForecastSource};
use crate::plan::{self, Forecast, Job};
use crate::process;
use crate::time::rfc3339;
use greenai_store::queue::{JobEnd, JobState, QueuedJob};
use greenai_store::Store;
use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Grams for a log line: milligrams below one gram.
pub fn grams(g: f64) -> String {
    if g.abs() < 1.0 {
        format!("{:.2} mgCO2e", g * 1e3)
    } else {
        format!("{g:.2} gCO2e")
    }
}

/// The exit status of a `greenai train` that paused at an epoch end as asked (EX_TEMPFAIL): its
/// checkpoint continues it.
pub const PAUSED_EXIT: u8 = 75;

/// The checkpoint a `greenai train … --save PATH` command writes, when the scheduler can pause it
/// at an epoch end and resume it with `--resume PATH` (not with `{epoch}` in PATH: which file to
/// resume from would depend on the epoch).
pub fn resumable_checkpoint(argv: &[String]) -> Option<String> {
    let exe = Path::new(argv.first()?).file_name()?.to_str()?;
    if exe != "greenai" || !argv.iter().any(|a| a == "train") {
        return None;
    }
    let save = argv.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix("--save=")
            .map(str::to_string)
            .or_else(|| (a == "--save").then(|| argv.get(i + 1).cloned()).flatten())
    })?;
    (!save.contains("{epoch}")).then_some(save)
}

/// `argv` continuing from `checkpoint`: its `--resume` replaced or added.
fn with_resume(argv: &[String], checkpoint: &str) -> Vec<String> {
    let mut out = Vec::with_capacity(argv.len() + 2);
    let mut skip = false;
    for a in argv {
        if skip {
            skip = false;
            continue;
        }
        if a == "--resume" {
            skip = true;
            continue;
        }
        if a.starts_with("--resume=") {
            continue;
        }
        out.push(a.clone());
    }
    out.extend(["--resume".to_string(), checkpoint.to_string()]);
    out
}

/// Whether an interruptible job should be running now: inside one of its planned windows, past
/// its expected work (it is never paused again), or too close to its deadline to wait.
fn should_run(j: &QueuedJob, now: f64) -> bool {
    let left = j.duration_s - j.worked_s(now);
    let must = left <= 0.0 || j.deadline_unix_s - now <= left;
    must || j
        .plan
        .as_ref()
        .is_some_and(|p| p.iter().any(|w| now >= w.0 && now < w.1))
}

/// The label that ties a run to its queued job.
pub const QUEUE_LABEL: &str = "greenai.queue";

#[derive(Debug, thiserror::Error)]
pub enum SchedError {
    #[error("another scheduler holds {lock} (one scheduler per database); stop it first")]
    Locked { lock: String },
    #[error("cannot take the scheduler lock {lock}: {reason}")]
    Lock { lock: String, reason: String },
    #[error(transparent)]
    Store(#[from] greenai_store::StoreError),
}

/// How the scheduler runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub db: PathBuf,
    /// The `greenai` binary that measures each job (`greenai run`).
    pub greenai: PathBuf,
    /// Extra flags for `greenai run` (`--region FR`).
    pub run_args: Vec<String>,
    pub forecast: ForecastSource,
    /// Real seconds between forecast fetches.
    pub refresh: Duration,
    /// How many jobs may run at once (paused ones do not count).
    pub max_running: usize,
    /// Real time between passes.
    pub tick: Duration,
    pub clock: Clock,
    /// Return once no job is left to run (for batch use and tests).
    pub exit_when_idle: bool,
}

/// The lock file beside the database (never the database itself: SQLite owns its locks).
pub fn lock_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".scheduler-lock");
    PathBuf::from(p)
}

/// Holds the scheduler's lock until dropped (the kernel releases it if the process dies).
pub struct Lock(#[allow(dead_code)] std::fs::File);

pub fn take_lock(db: &Path) -> Result<Lock, SchedError> {
    use std::os::fd::AsRawFd;
    let path = lock_path(db);
    let lock = path.display().to_string();
    // std opens with O_CLOEXEC: the jobs the scheduler starts do not inherit the lock.
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| SchedError::Lock {
            lock: lock.clone(),
            reason: e.to_string(),
        })?;
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            SchedError::Locked { lock }
        } else {
            SchedError::Lock {
                lock,
                reason: e.to_string(),
            }
        });
    }
    Ok(Lock(f))
}

/// The forecast in use: the last good one, kept while the service is down.
struct Current {
    forecast: Option<Forecast>,
    steps_key: Vec<(u64, u64)>,
    fetched: Option<Instant>,
}

pub struct Scheduler<'a> {
    cfg: Config,
    store: Store,
    _lock: Lock,
    current: Current,
    children: HashMap<i64, Child>,
    /// Jobs asked to pause at their next epoch end (SIGUSR1 sent), not yet ended.
    asked: std::collections::HashSet<i64>,
    log: &'a mut dyn FnMut(&str),
}

impl<'a> Scheduler<'a> {
    pub fn new(cfg: Config, log: &'a mut dyn FnMut(&str)) -> Result<Scheduler<'a>, SchedError> {
        let lock = take_lock(&cfg.db)?;
        let store = Store::open(&cfg.db)?;
        Ok(Scheduler {
            cfg,
            store,
            _lock: lock,
            current: Current {
                forecast: None,
                steps_key: Vec::new(),
                fetched: None,
            },
            children: HashMap::new(),
            asked: Default::default(),
            log,
        })
    }

    fn say(&mut self, msg: String) {
        let now = rfc3339(self.cfg.clock.now());
        (self.log)(&format!("{now} {msg}"));
    }

    /// Runs until `stop` is set (or, with `exit_when_idle`, until the queue is empty).
    pub fn run(&mut self, stop: &AtomicBool) -> Result<(), SchedError> {
        self.refresh_forecast()?;
        while !stop.load(Ordering::SeqCst) {
            let idle = self.pass()?;
            if idle && self.cfg.exit_when_idle {
                break;
            }
            std::thread::sleep(self.cfg.tick);
            if self
                .current
                .fetched
                .is_none_or(|t| t.elapsed() >= self.cfg.refresh)
            {
                self.refresh_forecast()?;
            }
        }
        Ok(())
    }

    /// Fetches the forecast; on failure keeps the last good one. Re-plans when it changed.
    fn refresh_forecast(&mut self) -> Result<(), SchedError> {
        self.current.fetched = Some(Instant::now());
        match self.cfg.forecast.load() {
            Ok(series) => {
                let f = Forecast::new(&series);
                let key: Vec<(u64, u64)> = series
                    .steps(f.signal)
                    .iter()
                    .map(|p| (p.0.to_bits(), p.1.to_bits()))
                    .collect();
                if key != self.current.steps_key {
                    let changed = !self.current.steps_key.is_empty();
                    self.say(format!(
                        "forecast {}: {} to {}",
                        if changed { "changed" } else { "loaded" },
                        rfc3339(f.start()),
                        rfc3339(f.end())
                    ));
                    self.current.forecast = Some(f);
                    self.current.steps_key = key;
                    if changed {
                        self.replan_all()?;
                    }
                }
            }
            Err(e) => {
                let kept = if self.current.forecast.is_some() {
                    "keeping the last good one"
                } else {
                    "no forecast yet: jobs run as soon as they can, to meet their deadlines"
                };
                let what = match e {
                    FetchError::Unavailable { .. } => "unavailable",
                    FetchError::Invalid(_) => "unreadable",
                };
                self.say(format!("forecast {what} ({e}); {kept}"));
            }
        }
        Ok(())
    }

    /// The forecast if it still covers now; an expired one is no guide.
    fn forecast(&self, now: f64) -> Option<&Forecast> {
        self.current.forecast.as_ref().filter(|f| f.end() > now)
    }

    fn job_of(j: &QueuedJob, now: f64) -> Job {
        Job {
            duration_s: (j.duration_s - j.worked_s(now)).max(1.0),
            earliest: now.max(j.submitted_unix_s),
            deadline: j.deadline_unix_s,
            interruptible: j.interruptible,
        }
    }

    /// A plan for `j` from now: the forecast's, or (no forecast, or none possible any more) now.
    fn plan_job(&mut self, j: &QueuedJob, now: f64) -> Result<(), SchedError> {
        let job = Self::job_of(j, now);
        let (windows, g) = match self.forecast(now).map(|f| plan::plan(f, &job)) {
            Some(Ok(p)) => (p.windows.clone(), Some(p.mean_g_per_kwh)),
            Some(Err(e)) => {
                self.say(format!("job {}: {e}; it runs now", j.id));
                (vec![(now, now + job.duration_s)], None)
            }
            None => (vec![(now, now + job.duration_s)], None),
        };
        self.store.set_plan(j.id, &windows, g)?;
        Ok(())
    }

    fn replan_all(&mut self) -> Result<(), SchedError> {
        let now = self.cfg.clock.now();
        for j in self.store.live_jobs()? {
            let replan = j.state == JobState::Queued
                || (j.interruptible && matches!(j.state, JobState::Running | JobState::Paused));
            if replan {
                self.plan_job(&j, now)?;
            }
        }
        Ok(())
    }

    /// One pass over the queue. Returns whether nothing is left to do.
    pub fn pass(&mut self) -> Result<bool, SchedError> {
        let now = self.cfg.clock.now();
        let jobs = self.store.live_jobs()?;
        let mut running = 0;
        for j in &jobs {
            if j.is_parked() {
                continue;
            }
            if j.state.has_process() {
                if self.reap(j, now)? {
                    continue;
                }
                if j.state == JobState::Cancelling {
                    if let Some(pid) = j.pid {
                        process::terminate_group(pid);
                    }
                    continue;
                }
                if j.interruptible {
                    self.pause_or_resume(j, now)?;
                }
                let j = self.store.queued_job(j.id)?;
                if j.state == JobState::Running {
                    running += 1;
                }
            }
        }
        for j in &jobs {
            if j.is_parked() {
                // Resumed from its checkpoint in its next window, or when the deadline presses.
                if should_run(j, now) && running < self.cfg.max_running {
                    if let Some(ck) = resumable_checkpoint(&j.argv) {
                        let argv = with_resume(&j.argv, &ck);
                        self.start(j, &argv, now, JobState::Paused)?;
                        running += 1;
                    }
                }
                continue;
            }
            if j.state != JobState::Queued {
                continue;
            }
            if j.plan.is_none() {
                self.plan_job(j, now)?;
            }
            let j = self.store.queued_job(j.id)?;
            let start = j.plan.as_ref().and_then(|p| p.first()).map_or(now, |w| w.0);
            let must = j.deadline_unix_s - now <= j.duration_s;
            if j.state == JobState::Queued
                && (now >= start || must)
                && running < self.cfg.max_running
            {
                self.start(&j, &j.argv, now, JobState::Queued)?;
                running += 1;
            }
        }
        Ok(self.store.live_jobs()?.is_empty())
    }

    /// Starts `argv` for `j` (its own, or continuing from a checkpoint), if it is still `from`.
    fn start(
        &mut self,
        j: &QueuedJob,
        argv: &[String],
        now: f64,
        from: JobState,
    ) -> Result<(), SchedError> {
        let out = Path::new(&j.cwd).join(format!("greenai-job-{}.out", j.id));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&out);
        let (stdout, stderr) = match log.and_then(|f| Ok((f.try_clone()?, f))) {
            Ok((a, b)) => (Stdio::from(a), Stdio::from(b)),
            Err(_) => (Stdio::null(), Stdio::null()),
        };
        let mut cmd = Command::new(&self.cfg.greenai);
        cmd.arg("--db")
            .arg(&self.cfg.db)
            .args(["run", "--project", &j.name, "--label"])
            .arg(format!("{QUEUE_LABEL}={}", j.id))
            .args(&self.cfg.run_args)
            .arg("--")
            .args(argv)
            .current_dir(&j.cwd)
            .env_clear()
            .envs(j.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0);
        match cmd.spawn() {
            Ok(child) => {
                let pid = child.id() as i64;
                let ticks = process::start_ticks(pid).unwrap_or(0);
                let mut active = j.active.clone();
                active.push((now, f64::NAN));
                if self.store.set_job_process(
                    j.id,
                    JobState::Running,
                    Some((pid, ticks)),
                    Some(now),
                    &active,
                    &[from],
                )? {
                    let how = if from == JobState::Paused {
                        "resumed from its checkpoint"
                    } else {
                        "started"
                    };
                    self.say(format!(
                        "job {} {how} (pid {pid}): {}",
                        j.id,
                        argv.join(" ")
                    ));
                } else {
                    // Cancelled between the read and the start.
                    process::terminate_group(pid);
                }
                self.children.insert(j.id, child);
            }
            Err(e) => {
                self.say(format!("job {} cannot start: {e}", j.id));
                self.store.finish_job(
                    j.id,
                    &JobEnd {
                        state: JobState::Failed,
                        finished_unix_s: now,
                        active: Vec::new(),
                        run_id: None,
                        exit_code: None,
                        emissions_g: None,
                        counterfactual_g: None,
                        intensity_source: None,
                        note: Some(format!("cannot start {}: {e}", self.cfg.greenai.display())),
                    },
                )?;
            }
        }
        Ok(())
    }

    fn pause_or_resume(&mut self, j: &QueuedJob, now: f64) -> Result<(), SchedError> {
        let Some(pid) = j.pid else { return Ok(()) };
        let run = should_run(j, now);
        let mut active = j.active.clone();
        match j.state {
            JobState::Running if !run && resumable_checkpoint(&j.argv).is_some() => {
                // A training job stops at its next epoch end with a checkpoint (SIGUSR1 through
                // `greenai run`); it is parked when it exits. Asked once.
                let first = self.asked.insert(j.id);
                let sent = first
                    // SAFETY: kill has no memory effects.
                    && unsafe { libc::kill(pid as libc::pid_t, libc::SIGUSR1) } == 0;
                let id = j.id;
                let msg = format!("job {id} asked to pause at its next epoch end");
                sent.then(|| self.say(msg));
            }
            JobState::Running if !run => {
                if let Some(last) = active.last_mut().filter(|w| w.1.is_nan()) {
                    last.1 = now;
                }
                if self.store.set_job_process(
                    j.id,
                    JobState::Paused,
                    None,
                    None,
                    &active,
                    &[JobState::Running],
                )? {
                    process::pause_group(pid);
                    self.say(format!(
                        "job {} paused (the grid is dirty until its next window)",
                        j.id
                    ));
                }
            }
            JobState::Paused if run => {
                active.push((now, f64::NAN));
                if self.store.set_job_process(
                    j.id,
                    JobState::Running,
                    None,
                    None,
                    &active,
                    &[JobState::Paused],
                )? {
                    process::resume_group(pid);
                    self.say(format!("job {} resumed", j.id));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Whether the job's process has ended; if so records it. A job started by an earlier
    /// scheduler is watched by pid and start time.
    fn reap(&mut self, j: &QueuedJob, now: f64) -> Result<bool, SchedError> {
        let status = match self.children.get_mut(&j.id) {
            Some(child) => match child.try_wait() {
                Ok(Some(s)) => Some(s.code().map(i64::from)),
                Ok(None) => return Ok(false),
                Err(_) => Some(None),
            },
            None => {
                let alive = j
                    .pid
                    .zip(j.pid_start)
                    .is_some_and(|(p, s)| process::alive(p, s));
                if alive {
                    return Ok(false);
                }
                None
            }
        };
        self.children.remove(&j.id);
        let run = self.store.run_labelled(QUEUE_LABEL, &j.id.to_string())?;
        let exit = status
            .flatten()
            .or(run.as_ref().and_then(|r| r.exit_code.map(i64::from)));
        let mut active = j.active.clone();
        if let Some(last) = active.last_mut().filter(|w| w.1.is_nan()) {
            last.1 = now;
        }
        self.asked.remove(&j.id);
        let run_energy = run.as_ref().and_then(|r| r.energy_j);
        if exit == Some(i64::from(PAUSED_EXIT))
            && j.state != JobState::Cancelling
            && resumable_checkpoint(&j.argv).is_some()
        {
            let rid = run.as_ref().map(|r| r.run_id.clone());
            self.store
                .park_job(j.id, &active, rid.as_deref(), run_energy.unwrap_or(0.0))?;
            self.say(format!(
                "job {} paused at an epoch end (run {}); its checkpoint resumes it",
                j.id,
                rid.as_deref().unwrap_or("?")
            ));
            return Ok(true);
        }
        let energy_j = run_energy.map(|e| e + j.prior_energy_j);
        let (emissions, counterfactual, source) = match (energy_j, self.forecast_any()) {
            (Some(e), Some(f)) => {
                let kwh = e / 3.6e6;
                let worked: f64 = active.iter().map(|w| w.1 - w.0).sum();
                let actual = f.mean_over(&active);
                let counter = f.mean(j.submitted_unix_s, j.submitted_unix_s + worked);
                (
                    Some(kwh * actual),
                    Some(kwh * counter),
                    Some(f.source.clone()),
                )
            }
            _ => (None, None, None),
        };
        let state = match (j.state, exit) {
            (JobState::Cancelling, _) => JobState::Cancelled,
            (_, Some(0)) => JobState::Done,
            _ => JobState::Failed,
        };
        let note = match (&run, status.is_none()) {
            (None, _) => Some(
                "no run was recorded for it (greenai run did not start, or was killed)".to_string(),
            ),
            (Some(_), true) => {
                Some("started by an earlier scheduler; its exit status is its run's".to_string())
            }
            _ => None,
        };
        self.store.finish_job(
            j.id,
            &JobEnd {
                state,
                finished_unix_s: now,
                active,
                run_id: run.map(|r| r.run_id),
                exit_code: exit,
                emissions_g: emissions,
                counterfactual_g: counterfactual,
                intensity_source: source,
                note,
            },
        )?;
        let saved = match (emissions, counterfactual) {
            (Some(a), Some(b)) => format!(
                "; {} against {} had it started at submission",
                grams(a),
                grams(b)
            ),
            _ => String::new(),
        };
        self.say(format!("job {} {}{saved}", j.id, state.as_str()));
        Ok(true)
    }

    /// The forecast for accounting: the last good one even if expired (the same series for a
    /// job's emissions and its counterfactual is what matters).
    fn forecast_any(&self) -> Option<&Forecast> {
        self.current.forecast.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn only_a_greenai_train_that_saves_one_checkpoint_is_resumed_from_it() {
        assert_eq!(
            resumable_checkpoint(&argv("/usr/bin/greenai train --save ck.st --epochs 3")),
            Some("ck.st".into())
        );
        assert_eq!(
            resumable_checkpoint(&argv("greenai --db x train --save=ck.st")),
            Some("ck.st".into())
        );
        assert_eq!(
            resumable_checkpoint(&argv("greenai train --epochs 3")),
            None
        );
        assert_eq!(
            resumable_checkpoint(&argv("greenai train --save ck-{epoch}.st")),
            None
        );
        assert_eq!(
            resumable_checkpoint(&argv("python train.py --save ck.st")),
            None
        );
        assert_eq!(
            resumable_checkpoint(&argv("greenai eval --save ck.st")),
            None
        );
        assert_eq!(
            with_resume(&argv("greenai train --resume old.st --save ck.st"), "ck.st"),
            argv("greenai train --save ck.st --resume ck.st")
        );
        assert_eq!(
            with_resume(&argv("greenai train --resume=old.st --save ck.st"), "ck.st"),
            argv("greenai train --save ck.st --resume ck.st")
        );
    }

    #[test]
    fn grams_read_as_people_read_them() {
        assert_eq!(grams(0.0123), "12.30 mgCO2e");
        assert_eq!(grams(12.3), "12.30 gCO2e");
    }

    #[test]
    fn a_second_lock_on_one_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("g.sqlite");
        let first = take_lock(&db).unwrap();
        let e = take_lock(&db).err().unwrap();
        assert!(matches!(e, SchedError::Locked { .. }), "{e}");
        drop(first);
        take_lock(&db).unwrap();
    }
}
