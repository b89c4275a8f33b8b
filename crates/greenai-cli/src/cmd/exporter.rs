//! `greenai exporter`: OpenMetrics over HTTP, for Prometheus. Also serves `greenai run
//! --prometheus` while its command runs.

use anyhow::Context;
use greenai_meter::{detect, Monitor};
use greenai_web::{Limits, MonitorMetrics};
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::Arc;
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
pub fn serve(listener: TcpListener, monitor: Arc<Monitor>, window: &str) {
    let metrics = Arc::new(MonitorMetrics {
        monitor,
        window: window.to_string(),
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
    serve(listener, monitor, WINDOW);
    Ok(ExitCode::SUCCESS)
}
