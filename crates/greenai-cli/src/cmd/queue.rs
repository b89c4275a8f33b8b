//! `greenai submit`, `greenai queue list|show|cancel` and `greenai scheduler`.

use crate::cli_sched::{QueueCommand, SchedulerArgs, SubmitArgs};
use anyhow::{anyhow, bail};
use greenai_sched::clock::Clock;
use greenai_sched::runner::{grams, Config, Scheduler};
use greenai_sched::time::{human_duration, local_zone, parse_when, rfc3339};
use greenai_store::queue::{NewJob, QueuedJob};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub fn submit(args: SubmitArgs, db: &Path) -> anyhow::Result<ExitCode> {
    let tz = local_zone();
    let now = Clock::from_env().map_err(|e| anyhow!(e))?.now();
    let deadline =
        parse_when(&args.job.deadline, now, &tz).map_err(|e| anyhow!("--deadline: {e}"))?;
    let (duration_s, energy_kwh, _) = super::plan::expected(&args.job, db)?;
    if deadline <= now {
        bail!(
            "the deadline {} has passed (now {})",
            rfc3339(deadline),
            rfc3339(now)
        );
    }
    if deadline - now < duration_s {
        bail!(
            "the job needs {} but only {} remain before the deadline {}",
            human_duration(duration_s),
            human_duration(deadline - now),
            rfc3339(deadline)
        );
    }
    let cwd = std::env::current_dir()?;
    let store = super::open_store(db)?;
    let id = store.submit(&NewJob {
        name: args.name,
        argv: args.command,
        cwd: cwd.display().to_string(),
        env: std::env::vars().collect(),
        submitted_unix_s: now,
        deadline_unix_s: deadline,
        duration_s,
        energy_j: energy_kwh.map(|k| k * 3.6e6),
        interruptible: args.job.interruptible,
    })?;
    println!("{id}");
    eprintln!(
        "greenai: job {id} queued: {} of work by {}; `greenai scheduler` runs it",
        human_duration(duration_s),
        rfc3339(deadline)
    );
    Ok(ExitCode::SUCCESS)
}

fn windows(w: &[(f64, f64)]) -> String {
    w.iter()
        .map(|w| {
            let end = if w.1.is_nan() {
                "…".to_string()
            } else {
                rfc3339(w.1)
            };
            format!("{} to {end}", rfc3339(w.0))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The lines `queue show` and `runs show` print about a job's scheduling.
pub fn describe(j: &QueuedJob) -> Vec<String> {
    let mut out = vec![
        format!("job        {} ({}), {}", j.id, j.name, j.state.as_str()),
        format!("command    {}", j.argv.join(" ")),
        format!(
            "submitted  {}, deadline {}, {} of work{}",
            rfc3339(j.submitted_unix_s),
            rfc3339(j.deadline_unix_s),
            human_duration(j.duration_s),
            if j.interruptible { ", may pause" } else { "" }
        ),
    ];
    if let Some(p) = &j.plan {
        let g = j
            .planned_g_per_kwh
            .map(|g| format!(" ({g:.1} gCO2e/kWh expected)"))
            .unwrap_or_else(|| " (no forecast: as soon as possible)".into());
        out.push(format!("plan       {}{g}", windows(p)));
    }
    if !j.active.is_empty() {
        out.push(format!("ran        {}", windows(&j.active)));
    }
    if let Some(r) = &j.run_id {
        out.push(format!(
            "run        {r} (exit {})",
            j.exit_code.map_or("?".into(), |c| c.to_string())
        ));
    }
    if let (Some(a), Some(b)) = (j.emissions_g, j.counterfactual_g) {
        let pct = if b > 0.0 { 100.0 * (b - a) / b } else { 0.0 };
        out.push(format!(
            "scheduling {} against {} had it started at submission: saved {} ({pct:.1} %), from {}",
            grams(a),
            grams(b),
            grams(b - a),
            j.intensity_source.as_deref().unwrap_or("the forecast")
        ));
    }
    if let Some(n) = &j.note {
        out.push(format!("note       {n}"));
    }
    out
}

pub fn queue(command: QueueCommand, db: &Path) -> anyhow::Result<ExitCode> {
    match command {
        QueueCommand::List { json } => {
            let store = greenai_store::Store::open_for_reading(db)?;
            let jobs = store.queue()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&jobs)?);
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{:>4}  {:<10}  {:<20}  {:<20}  {:>8}  command",
                "id", "state", "start", "deadline", "saved g"
            );
            for j in jobs {
                let start = j
                    .active
                    .first()
                    .or(j.plan.as_ref().and_then(|p| p.first()))
                    .map_or("-".into(), |w| rfc3339(w.0));
                let saved = j.saved_g().map_or("-".into(), |g| format!("{g:.3}"));
                println!(
                    "{:>4}  {:<10}  {:<20}  {:<20}  {:>8}  {}",
                    j.id,
                    j.state.as_str(),
                    start,
                    rfc3339(j.deadline_unix_s),
                    saved,
                    j.argv.join(" ")
                );
            }
        }
        QueueCommand::Show { id, json } => {
            let store = greenai_store::Store::open_for_reading(db)?;
            let j = store.queued_job(id)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&j)?);
            } else {
                for l in describe(&j) {
                    println!("{l}");
                }
            }
        }
        QueueCommand::Cancel { id } => {
            let store = super::open_store(db)?;
            let was = store.cancel_job(id)?;
            if was.has_process() {
                eprintln!(
                    "greenai: job {id} was {}: the scheduler ends it",
                    was.as_str()
                );
            } else {
                eprintln!("greenai: job {id} cancelled");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn scheduler(args: SchedulerArgs, db: &Path) -> anyhow::Result<ExitCode> {
    let forecast = super::plan::source(&args.forecast)?;
    let mut run_args = Vec::new();
    if let Some(r) = &args.region {
        run_args.extend(["--region".to_string(), r.clone()]);
    }
    let cfg = Config {
        db: db.to_path_buf(),
        greenai: std::env::current_exe()?,
        run_args,
        forecast,
        refresh: Duration::from_secs_f64(args.refresh.max(1.0)),
        max_running: args.max_jobs as usize,
        tick: args.tick,
        clock: Clock::from_env().map_err(|e| anyhow!(e))?,
        exit_when_idle: args.exit_when_idle,
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [libc::SIGINT, libc::SIGTERM] {
        signal_stop(sig, Arc::clone(&stop));
    }
    let mut log = |line: &str| println!("{line}");
    let mut s = Scheduler::new(cfg, &mut log)?;
    s.run(&stop)?;
    if stop.load(Ordering::SeqCst) {
        eprintln!(
            "greenai: scheduler stopped; its jobs keep running and the next scheduler finds them"
        );
    }
    Ok(ExitCode::SUCCESS)
}

static STOP: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();

extern "C" fn on_stop(_: libc::c_int) {
    if let Some(s) = STOP.get() {
        s.store(true, Ordering::SeqCst);
    }
}

fn signal_stop(sig: libc::c_int, stop: Arc<AtomicBool>) {
    let _ = STOP.set(stop);
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(sig, on_stop as *const () as libc::sighandler_t);
    }
}
