//! `greenai exporter`: OpenMetrics over HTTP, for Prometheus. Also serves `greenai run
//! --prometheus` while its command runs.

use anyhow::Context;
use greenai_meter::{detect, Monitor};
use greenai_store::openmetrics;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
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

/// Answers scrapes until the process ends: `GET /metrics` gets the window's energy so far.
pub fn serve(listener: TcpListener, monitor: Arc<Monitor>, window: &'static str) {
    for stream in listener.incoming().flatten() {
        let _ = answer(stream, &monitor, window);
    }
}

fn answer(mut stream: TcpStream, monitor: &Monitor, window: &str) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    // Skip the headers.
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let (status, ctype, body) =
        if request.starts_with("GET ") && (path == "/metrics" || path.starts_with("/metrics?")) {
            let comps = monitor.components();
            let energy = monitor
                .window_components(window)
                .unwrap_or_else(|| vec![None; comps.len()]);
            let latest = monitor.latest();
            (
                "200 OK",
                openmetrics::CONTENT_TYPE,
                openmetrics::render(&comps, &energy, latest.as_ref()),
            )
        } else {
            (
                "404 Not Found",
                "text/plain; charset=utf-8",
                "greenai serves /metrics\n".to_string(),
            )
        };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
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
        "greenai: serving OpenMetrics on http://{}/metrics (Ctrl-C stops)",
        listener.local_addr()?
    );
    serve(listener, monitor, WINDOW);
    Ok(ExitCode::SUCCESS)
}
