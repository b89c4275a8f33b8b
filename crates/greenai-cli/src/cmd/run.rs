//! `greenai run -- CMD`: measure a command and its process tree.

use crate::cli::RunArgs;
use crate::{render, timefmt};
use anyhow::{bail, Context};
use greenai_meter::{detect, Measurement, Monitor, Provenance};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const WINDOW: &str = "run";

/// One component in the JSON report. Field names are a stable interface (README, "JSON report").
#[derive(Debug, Serialize)]
struct ComponentJson {
    name: String,
    kind: &'static str,
    /// `null` when the sensor gave no reading: never 0 for "unknown".
    energy_j: Option<f64>,
    avg_power_w: Option<f64>,
    peak_power_w: Option<f64>,
    provenance: Provenance,
    sensor: String,
    uncertainty: Option<f64>,
    counted: bool,
    within: Option<String>,
    integrated_energy_j: Option<f64>,
    disagreement: Option<f64>,
}

/// The JSON report of one run.
#[derive(Debug, Serialize)]
struct RunReport {
    run_id: String,
    command: String,
    argv: Vec<String>,
    exit_code: i32,
    signal: Option<i32>,
    started_at: String,
    duration_s: f64,
    energy_j: f64,
    energy_kwh: f64,
    provenance: Provenance,
    uncertainty: Option<f64>,
    components: Vec<ComponentJson>,
    process_energy_j: Option<f64>,
    process_cpu_time_s: Option<f64>,
    process_cpu_share: Option<f64>,
    avg_power_w: f64,
    peak_power_w: Option<f64>,
    cpu_utilisation: Option<f64>,
    missing: Vec<greenai_meter::Missing>,
    labels: BTreeMap<String, String>,
    interval_s: f64,
    samples: u32,
    complete: bool,
}

static CHILD: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    let pid = CHILD.load(Ordering::SeqCst);
    if pid <= 0 {
        return;
    }
    // A terminal's Ctrl-C already reaches the whole foreground process group, the child
    // included; forward only what was sent to greenai alone (kill, a supervisor's SIGTERM).
    // SAFETY: the kernel passes a valid siginfo_t with SA_SIGINFO.
    let code = unsafe { (*info).si_code };
    if code == libc::SI_KERNEL {
        return;
    }
    // SAFETY: kill is async-signal-safe.
    unsafe {
        libc::kill(pid, sig);
    }
}

fn install_forwarding() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
        // SAFETY: a zeroed sigaction with a valid handler and flags is a valid argument.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = forward as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Waits for `pid`, returning its raw status and the CPU time of it and every descendant it
/// waited for.
fn wait_child(pid: i32) -> anyhow::Result<(i32, Duration)> {
    let mut status = 0;
    // SAFETY: rusage is plain data.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to locals.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err).context("waiting for the child process");
        }
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Ok((status, tv(ru.ru_utime) + tv(ru.ru_stime)))
}

fn shell_join(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn new_run_id(started: SystemTime) -> String {
    let ns = started
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!(
        "{:012x}{:06x}",
        (ns / 1000) as u64 & 0xffff_ffff_ffff,
        std::process::id() & 0xff_ffff
    )
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let (builder, _report) = detect::machine_builder();
    let monitor = Arc::new(
        builder
            .interval(args.interval)
            .start()
            .context("starting the energy monitor (see `greenai detect`)")?,
    );
    let started = SystemTime::now();
    install_forwarding();
    monitor.begin_window(WINDOW)?;
    let mut cmd = std::process::Command::new(&args.command[0]);
    cmd.args(&args.command[1..]);
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let _ = monitor.end_window(WINDOW);
            if e.kind() == std::io::ErrorKind::NotFound {
                bail!(
                    "cannot run {:?}: command not found; check its name, or give its path",
                    args.command[0]
                );
            }
            return Err(e).with_context(|| format!("cannot run {:?}", args.command[0]));
        }
    };
    let pid = child.id() as i32;
    CHILD.store(pid, Ordering::SeqCst);
    monitor.track_process(pid as u32);

    let done = Arc::new(AtomicBool::new(false));
    let live = std::io::stderr().is_terminal().then(|| {
        let (monitor, done) = (Arc::clone(&monitor), Arc::clone(&done));
        std::thread::spawn(move || live_line(&monitor, &done))
    });

    let waited = wait_child(pid);
    CHILD.store(0, Ordering::SeqCst);
    done.store(true, Ordering::SeqCst);
    if let Some(t) = live {
        let _ = t.join();
    }
    let (status, cpu) = waited?;
    monitor.set_process_cpu_time(cpu);
    let m = monitor.end_window(WINDOW)?;

    let (exit_code, signal) = if libc::WIFSIGNALED(status) {
        let s = libc::WTERMSIG(status);
        (128 + s, Some(s))
    } else {
        (libc::WEXITSTATUS(status), None)
    };
    let report = build_report(&args, started, exit_code, signal, &m);

    let how = match signal {
        Some(s) => format!("was killed by signal {s}"),
        None => format!("exited with {exit_code}"),
    };
    eprintln!(
        "greenai: `{}` {how} after {:.2} s; used {:.2} ({:.3e} kWh), {}",
        report.command,
        m.duration.as_secs_f64(),
        m.energy,
        m.energy.kwh(),
        m.provenance
    );
    eprint!("{}", render::measurement(&m));
    if args.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    }
    Ok(ExitCode::from(exit_code.clamp(0, 255) as u8))
}

fn live_line(monitor: &Monitor, done: &AtomicBool) {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    while !done.load(Ordering::SeqCst) {
        if let (Some(s), Some(e)) = (monitor.latest(), monitor.window_energy(WINDOW)) {
            bar.set_message(format!("{:.1} now, {:.1} so far", s.total_power, e));
        }
        bar.tick();
        std::thread::sleep(Duration::from_millis(200));
    }
    bar.finish_and_clear();
}

fn build_report(
    args: &RunArgs,
    started: SystemTime,
    exit_code: i32,
    signal: Option<i32>,
    m: &Measurement,
) -> RunReport {
    RunReport {
        run_id: new_run_id(started),
        command: shell_join(&args.command),
        argv: args.command.clone(),
        exit_code,
        signal,
        started_at: timefmt::rfc3339(m.start_unix_s),
        duration_s: m.duration.as_secs_f64(),
        energy_j: m.energy.joules(),
        energy_kwh: m.energy.kwh(),
        provenance: m.provenance,
        uncertainty: m.uncertainty,
        components: m
            .components
            .iter()
            .map(|c| ComponentJson {
                name: c.component.id.clone(),
                kind: c.component.kind.as_str(),
                energy_j: c.energy.map(|e| e.joules()),
                avg_power_w: c.avg_power.map(|p| p.watts()),
                peak_power_w: c.peak_power.map(|p| p.watts()),
                provenance: c.component.provenance,
                sensor: c.component.sensor.clone(),
                uncertainty: c.component.uncertainty,
                counted: c.component.counted,
                within: c.component.within.clone(),
                integrated_energy_j: c.integrated_energy.map(|e| e.joules()),
                disagreement: c.disagreement,
            })
            .collect(),
        process_energy_j: m.process.as_ref().map(|p| p.energy.joules()),
        process_cpu_time_s: m.process.as_ref().map(|p| p.cpu_time.as_secs_f64()),
        process_cpu_share: m.process.as_ref().map(|p| p.cpu_share),
        avg_power_w: m.avg_power.watts(),
        peak_power_w: m.peak_power.map(|p| p.watts()),
        cpu_utilisation: m.cpu_utilisation,
        missing: m.missing.clone(),
        labels: args.labels.iter().cloned().collect(),
        interval_s: args.interval.as_secs_f64(),
        samples: m.samples,
        complete: true,
    }
}
