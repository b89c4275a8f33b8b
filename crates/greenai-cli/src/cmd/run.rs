//! `greenai run -- CMD`: measure a command and its process tree.

use crate::cli::RunArgs;
use crate::render;
use anyhow::{bail, Context};
use greenai_meter::Monitor;
use greenai_store::{Session, SessionOptions};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

static CHILD: AtomicI32 = AtomicI32::new(0);
/// A signal that arrived after the child was spawned but before its pid was stored; forwarded
/// as soon as it is.
static PENDING: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // A terminal's Ctrl-C already reaches the whole foreground process group, the child
    // included; forward only what was sent to greenai alone (kill, a supervisor's SIGTERM).
    // SAFETY: the kernel passes a valid siginfo_t with SA_SIGINFO.
    let code = unsafe { (*info).si_code };
    if code == libc::SI_KERNEL {
        return;
    }
    let pid = CHILD.load(Ordering::SeqCst);
    if pid <= 0 {
        // Not spawned yet, or spawned and its pid not yet stored: `run` forwards it then.
        PENDING.store(sig, Ordering::SeqCst);
        return;
    }
    // SAFETY: kill is async-signal-safe.
    unsafe {
        libc::kill(pid, sig);
    }
}

fn install_forwarding() {
    // Besides the usual four, every signal whose default would end greenai and lose the run:
    // the command gets it and decides; greenai records how it ended.
    for sig in [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGALRM,
        libc::SIGVTALRM,
        libc::SIGPROF,
        libc::SIGPOLL,
    ] {
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

pub fn run(args: RunArgs, db: &Path) -> anyhow::Result<ExitCode> {
    // Everything that can fail for greenai's own reasons fails before the command starts.
    let prometheus = args
        .prometheus
        .as_deref()
        .map(super::exporter::bind)
        .transpose()?;
    let mut opts = SessionOptions::new(&args.project, args.carbon.settings(), Some(db));
    opts.argv = args.command.clone();
    // The job it runs in (Slurm, a Kubernetes pod), then the user's labels, which win.
    let mut labels = greenai_fleet::identity::current();
    labels.extend(args.labels.iter().cloned());
    opts.labels = labels.into_iter().collect::<BTreeMap<_, _>>();
    opts.interval = args.interval;
    // Caps are set (journaled first) before the command starts and put back when `guard` drops.
    let _guard = super::power::caps(
        args.power_limit.as_deref(),
        args.cpu_max_freq.as_deref(),
        db,
    )?;
    let session = Session::start(opts)?;
    for w in session.sensor_warnings() {
        eprintln!("greenai: warning: {w}");
    }
    let monitor = Arc::clone(session.monitor());
    install_forwarding();
    let mut cmd = std::process::Command::new(&args.command[0]);
    cmd.args(&args.command[1..]);
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            // No command ran: nothing of this run is worth keeping.
            session.discard();
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
    let pending = PENDING.swap(0, Ordering::SeqCst);
    if pending != 0 {
        // SAFETY: kill of our own child with a signal number the kernel gave us.
        unsafe {
            libc::kill(pid, pending);
        }
    }
    monitor.track_process(pid as u32);
    if let Some(listener) = prometheus {
        if let Ok(addr) = listener.local_addr() {
            eprintln!("greenai: serving metrics on http://{addr}/metrics while the command runs");
        }
        let monitor = Arc::clone(&monitor);
        std::thread::spawn(move || {
            super::exporter::serve(listener, monitor, Session::WINDOW, None)
        });
    }

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

    let (exit_code, signal) = if libc::WIFSIGNALED(status) {
        let s = libc::WTERMSIG(status);
        (128 + s, Some(s))
    } else {
        (libc::WEXITSTATUS(status), None)
    };
    let end = session.finish(exit_code, signal)?;
    let (m, report) = (&end.measurement, &end.report);

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
    eprint!("{}", render::report(report));
    for w in &end.warnings {
        eprintln!("greenai: warning: {w}");
    }
    if end.run_id.is_some() {
        eprintln!("  recorded as run {} in {}", report.run_id, db.display());
    }
    if args.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, report)?;
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
        if let (Some(s), Some(e)) = (monitor.latest(), monitor.window_energy(Session::WINDOW)) {
            bar.set_message(format!("{:.1} now, {:.1} so far", s.total_power, e));
        }
        bar.tick();
        std::thread::sleep(Duration::from_millis(200));
    }
    bar.finish_and_clear();
}
