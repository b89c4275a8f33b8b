//! `greenai exporter`: OpenMetrics over HTTP, for Prometheus. Also serves `greenai run
//! --prometheus` while its command runs.

use anyhow::Context;
use greenai_meter::cgroup::{self, Ledger};
use greenai_meter::{detect, Monitor};
use greenai_web::{Limits, MonitorMetrics};
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WINDOW: &str = "exporter";

/// `9100` and `:9100` bind 127.0.0.1; anything else is taken as written.
pub fn parse_addr(s: &str) -> anyhow::Result<SocketAddr> {
    let s = s.trim();
    let full = if let Some(port) = s.strip_prefix(':') {
        format!("127.0.0.1:{port}")
    } else if s.chars().all(|c| c.is_ascii_digit()) {
        format!("127.0.0.1:{s}")
    } else {
        s.to_string()
    };
    full.to_socket_addrs()
        .with_context(|| format!("{s:?} is not an address to listen on (try 127.0.0.1:9875)"))?
        .next()
        .with_context(|| format!("{s:?} resolves to no address"))
}

pub fn bind(addr: &str) -> anyhow::Result<TcpListener> {
    let addr = parse_addr(addr)?;
    let l = TcpListener::bind(addr).with_context(|| {
        format!("cannot listen on {addr}; choose another port with --listen/--prometheus")
    })?;
    if !addr.ip().is_loopback() {
        eprintln!("greenai: serving metrics on {addr}, reachable from other machines");
    }
    Ok(l)
}

/// Answers scrapes until the process ends: `GET /metrics` gets `window`'s energy so far
/// (greenai-web's server: concurrent, bounded, with deadlines).
pub fn serve(
    listener: TcpListener,
    monitor: Arc<Monitor>,
    window: &str,
    jobs: Option<Arc<Mutex<Ledger>>>,
) {
    let metrics = Arc::new(MonitorMetrics {
        monitor,
        window: window.to_string(),
        jobs,
    });
    if let Err(e) = greenai_web::serve(listener, metrics, Limits::default()) {
        eprintln!("greenai: warning: the metrics server stopped: {e}");
    }
}

pub fn exporter(listen: &str, interval: Duration) -> anyhow::Result<ExitCode> {
    let listener = bind(listen)?;
    let (builder, _) = detect::machine_builder();
    let monitor = Arc::new(
        builder
            .interval(interval)
            .start()
            .context("starting the energy monitor (see `greenai detect`)")?,
    );
    monitor.begin_window(WINDOW)?;
    eprintln!(
        "greenai: serving metrics (Prometheus text, or OpenMetrics on request) on http://{}/metrics (Ctrl-C stops)",
        listener.local_addr()?
    );
    let jobs = attribute_jobs(Arc::clone(&monitor), interval);
    serve(listener, monitor, WINDOW, jobs);
    Ok(ExitCode::SUCCESS)
}

/// Splits the node's energy among the jobs of the cgroup tree (`<sysfs>/fs/cgroup`) every
/// interval, in a thread of its own; `None` (said) where there is no cgroup v2 root with
/// `cpu.stat`. The job list is rescanned every ten intervals; usages are read every interval.
fn attribute_jobs(monitor: Arc<Monitor>, interval: Duration) -> Option<Arc<Mutex<Ledger>>> {
    let root = greenai_meter::sysfs::sysfs_root().join("fs/cgroup");
    if cgroup::usage_usec(&root).is_none() {
        eprintln!(
            "greenai: no cgroup v2 root with cpu.stat at {}: the node's energy is not split among jobs",
            root.display()
        );
        return None;
    }
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let out = Arc::clone(&ledger);
    // The GPUs the monitor measures are split by their processes' use (NVML's host pids, mapped
    // to jobs through the host's /proc).
    let components = monitor.components();
    let mut gpus = components
        .iter()
        .any(|c| c.kind == greenai_meter::ComponentKind::Gpu)
        .then(|| {
            let lib = greenai_meter::sensors::nvml::NvmlLibrary::load().ok()?;
            cgroup::gpu::GpuShares::open(&lib, std::path::Path::new("/proc"), &root).ok()
        })
        .flatten();
    std::thread::spawn(move || {
        let mut jobs = Vec::new();
        let mut last = std::time::Instant::now();
        for tick in 0u64.. {
            if tick % 10 == 0 {
                jobs = cgroup::scan(&root);
            }
            let node_j = monitor.window_energy(WINDOW).map(|e| e.joules());
            let node_usage = cgroup::usage_usec(&root);
            let usages: Vec<(cgroup::JobCgroup, u64)> = jobs
                .iter()
                .filter_map(|j| Some((j.clone(), cgroup::usage_usec(&j.path)?)))
                .collect();
            let dt = last.elapsed().as_secs_f64();
            last = std::time::Instant::now();
            let gpu_energy = match &mut gpus {
                Some(g) => {
                    let energies = monitor.window_components(WINDOW).unwrap_or_default();
                    g.energies(&components, &energies, &jobs)
                }
                None => Vec::new(),
            };
            if let (Some(e), Some(u)) = (node_j, node_usage) {
                ledger.lock().unwrap_or_else(|p| p.into_inner()).update(
                    e,
                    u,
                    &usages,
                    dt,
                    &gpu_energy,
                );
            }
            std::thread::sleep(interval);
        }
    });
    Some(out)
}
