//! The exporter's HTTP server: `/metrics` for Prometheus. See the crate documentation.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use greenai_meter::Monitor;
use greenai_store::openmetrics::{self, Format};
use std::sync::Arc;

pub use crate::server::Limits;

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
    crate::server::serve(listener, router(m), limits)
}
