//! The exporter's HTTP server: `/metrics` for Prometheus. See the crate documentation.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use greenai_meter::Monitor;
use greenai_store::openmetrics::{self, Format};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;

/// What a scrape shows, rendered in the format asked for.
pub trait Metrics: Send + Sync + 'static {
    fn render(&self, format: Format) -> String;
}

/// A running monitor's metrics: the energy of its window `window` so far (a counter from when
/// the window opened) and the latest sample's power.
pub struct MonitorMetrics {
    pub monitor: Arc<Monitor>,
    pub window: String,
    /// The node's energy split among its jobs, where the exporter attributes it.
    pub jobs: Option<Arc<std::sync::Mutex<greenai_meter::cgroup::Ledger>>>,
}

impl Metrics for MonitorMetrics {
    fn render(&self, format: Format) -> String {
        let comps = self.monitor.components();
        let energy = self
            .monitor
            .window_components(&self.window)
            .unwrap_or_else(|| vec![None; comps.len()]);
        let latest = self.monitor.latest();
        let jobs = self
            .jobs
            .as_ref()
            .map(|l| l.lock().unwrap_or_else(|e| e.into_inner()).clone());
        openmetrics::render_with_jobs(&comps, &energy, latest.as_ref(), jobs.as_ref(), format)
    }
}

/// How much one client may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once; a connection past this is closed at once.
    pub connections: usize,
    /// Time a client has to send a request's headers.
    pub header_timeout: Duration,
    /// Time a connection may stay open, requests and keep-alive together.
    pub connection_timeout: Duration,
    /// The buffer for a request's headers (hyper's minimum is 8 KiB).
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connections: 64,
            header_timeout: Duration::from_secs(2),
            connection_timeout: Duration::from_secs(30),
            max_header_bytes: 16 * 1024,
        }
    }
}

async fn metrics(State(m): State<Arc<dyn Metrics>>, headers: HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = Format::negotiate(accept);
    // Rendering reads the monitor under its lock: off the async workers.
    let body = tokio::task::spawn_blocking(move || m.render(format)).await;
    match body {
        Ok(body) => ([(header::CONTENT_TYPE, format.content_type())], body).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "rendering failed\n").into_response(),
    }
}

async fn elsewhere() -> Response {
    (StatusCode::NOT_FOUND, "greenai serves /metrics\n").into_response()
}

/// The routes: `GET` (and so `HEAD`) `/metrics`; other methods there get 405, other paths 404.
pub fn router(m: Arc<dyn Metrics>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .fallback(elsewhere)
        .with_state(m)
}

/// Answers scrapes on `listener` until the process ends (or the listener fails). Blocks the
/// calling thread, which drives a small runtime of its own.
pub fn serve(
    listener: std::net::TcpListener,
    m: Arc<dyn Metrics>,
    limits: Limits,
) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(accept_loop(listener, m, limits))
}

async fn accept_loop(
    listener: std::net::TcpListener,
    m: Arc<dyn Metrics>,
    limits: Limits,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.connections.max(1)));
    let app = router(m);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            // A client that went away before its accept, or a full descriptor table: go on.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            drop(stream); // over the bound: closed now, not queued behind slow clients
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                // A client may shut its side once its request is sent; it still gets the answer.
                .half_close(true)
                .max_buf_size(limits.max_header_bytes.max(8192))
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(limits.connection_timeout, conn).await;
        });
    }
}
