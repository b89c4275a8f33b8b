//! `greenai serve`: the dashboard over the run database, and its JSON API.
//!
//! Pages are HTML built with `maud`, which escapes every value it is given (a label `<script>`
//! shows as text); charts are SVG drawn here, so that the pages need no network and read without
//! JavaScript; the live page adds a few lines of script over server-sent events. Every read goes
//! through a small pool of read-only SQLite connections on tokio's blocking threads; requests name
//! runs by id only, and no path from a request reaches the filesystem.
//!
//! | page | API |
//! | --- | --- |
//! | `/` runs, filtered, sorted, paged | `/api/runs` |
//! | `/runs/{id}` one run | `/api/runs/{id}`, `/api/runs/{id}/series` |
//! | `/live`, `/live/{id}` runs in progress | `/api/runs/{id}/live` (server-sent events) |
//! | `/compare` comparisons | `/api/compare` |
//! | `/queue` the scheduler's queue | `/api/queue` |

mod compare;
mod layout;
mod live;
mod queue;
mod run;
mod runs;
mod svg;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use greenai_store::{Store, StoreError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Read connections a dashboard keeps.
const CONNECTIONS: usize = 4;

/// The database the dashboard reads, through a few read-only connections.
pub struct Dashboard {
    path: PathBuf,
    pool: Vec<Mutex<Store>>,
}

impl Dashboard {
    /// Opens `db` (migrating it once, as any greenai command would), then the read-only
    /// connections pages are served from.
    pub fn open(db: &Path) -> Result<Dashboard, StoreError> {
        drop(Store::open_for_reading(db)?);
        let pool = (0..CONNECTIONS)
            .map(|_| Store::open_read_only(db).map(Mutex::new))
            .collect::<Result<_, _>>()?;
        Ok(Dashboard {
            path: db.to_path_buf(),
            pool,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on a free connection, off the async workers.
    async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Store) -> greenai_store::Result<T> + Send + 'static,
    ) -> Result<T, Fail> {
        let me = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let free = me.pool.iter().find_map(|m| m.try_lock().ok());
            let store = match free {
                Some(s) => s,
                None => me.pool[0].lock().unwrap_or_else(|e| e.into_inner()),
            };
            f(&store).map_err(Fail::from)
        })
        .await
        .map_err(|_| Fail(StatusCode::INTERNAL_SERVER_ERROR, "the read failed".into()))?
    }
}

/// A request that cannot be answered: its status and a sentence.
#[derive(Debug)]
pub struct Fail(pub StatusCode, pub String);

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => Fail(StatusCode::NOT_FOUND, m),
            other => Fail(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
        }
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        let body = layout::page("error", "", maud::html! { p.error { (self.1) } });
        (self.0, body).into_response()
    }
}

/// A failure of the JSON API: the same, as `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiFail(pub Fail);

impl From<Fail> for ApiFail {
    fn from(f: Fail) -> Self {
        ApiFail(f)
    }
}

impl IntoResponse for ApiFail {
    fn into_response(self) -> Response {
        let body = axum::Json(serde_json::json!({ "error": self.0 .1 }));
        (self.0 .0, body).into_response()
    }
}

/// A run id as a request gives it: hexadecimal, as greenai writes them; anything else is not a
/// run (and never reaches a query).
fn run_id(id: &str) -> Result<String, Fail> {
    if !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(id.to_string())
    } else {
        Err(Fail(StatusCode::NOT_FOUND, format!("no run {id:?}")))
    }
}

async fn not_found() -> Fail {
    Fail(StatusCode::NOT_FOUND, "no such page".into())
}

/// Every page and API route.
pub fn router(d: Arc<Dashboard>) -> Router {
    Router::new()
        .route("/", get(runs::page))
        .route("/api/runs", get(runs::api))
        .route("/runs/{id}", get(run::page))
        .route("/api/runs/{id}", get(run::api))
        .route("/api/runs/{id}/series", get(run::series_api))
        .route("/live", get(live::index))
        .route("/live/{id}", get(live::page))
        .route("/api/runs/{id}/live", get(live::events))
        .route("/compare", get(compare::page))
        .route("/api/compare", get(compare::api))
        .route("/queue", get(queue::page))
        .route("/api/queue", get(queue::api))
        .fallback(not_found)
        .with_state(d)
}

/// Serves the dashboard on `listener` until the process ends. Connections may stay open for
/// hours (a live page's event stream); at most 256 at once.
pub fn serve(listener: std::net::TcpListener, d: Arc<Dashboard>) -> std::io::Result<()> {
    let limits = crate::server::Limits {
        connections: 256,
        header_timeout: Duration::from_secs(5),
        connection_timeout: Duration::from_secs(24 * 3600),
        max_header_bytes: 16 * 1024,
    };
    crate::server::serve(listener, router(d), limits)
}
