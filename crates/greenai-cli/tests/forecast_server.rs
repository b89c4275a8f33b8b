//! A local stand-in for the forecast services: the fixtures of `data/forecasts/`, served on
//! 127.0.0.1 at the paths and with the authentication the services document. It can be taken
//! down (HTTP 503) and can serve a changed forecast, for the scheduler's tests.

#[path = "loopback.rs"]
mod loopback;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct Shared {
    /// Answer 503 to everything.
    pub down: AtomicBool,
    /// A CSV served at /greenai.csv (changed by tests to make the scheduler re-plan).
    pub csv: Mutex<String>,
    pub hits: Mutex<Vec<String>>,
}

pub struct Server {
    pub base: String,
    pub shared: Arc<Shared>,
    _serving: loopback::Loopback,
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../../data/forecasts/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

type S = State<Arc<Shared>>;

fn gate(s: &Shared, what: &str) -> Result<(), StatusCode> {
    s.hits.lock().unwrap().push(what.to_string());
    if s.down.load(Ordering::SeqCst) {
        return Err(StatusCode::SERVICE_UNAVAILABLE);
    }
    Ok(())
}

fn json(body: String) -> impl IntoResponse {
    ([("content-type", "application/json")], body)
}

async fn sdk(
    State(s): S,
    Query(q): Query<HashMap<String, String>>,
) -> Result<impl IntoResponse, StatusCode> {
    gate(&s, "sdk")?;
    if q.get("location").map(String::as_str) != Some("eastus") {
        return Err(StatusCode::BAD_REQUEST);
    }
    Ok(json(fixture("carbon-aware-sdk.json")))
}

async fn em(State(s): S, h: HeaderMap) -> Result<impl IntoResponse, StatusCode> {
    gate(&s, "em")?;
    if h.get("auth-token").and_then(|v| v.to_str().ok()) != Some("test-token") {
        return Err(StatusCode::UNAUTHORIZED);
    }
    Ok(json(fixture("electricity-maps.json")))
}

async fn watttime(State(s): S, h: HeaderMap) -> Result<impl IntoResponse, StatusCode> {
    gate(&s, "watttime")?;
    if h.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer test-token") {
        return Err(StatusCode::UNAUTHORIZED);
    }
    Ok(json(fixture("watttime.json")))
}

async fn uk(State(s): S) -> Result<impl IntoResponse, StatusCode> {
    gate(&s, "uk")?;
    Ok(json(fixture("uk-carbon-intensity.json")))
}

async fn csv(State(s): S) -> Result<impl IntoResponse, StatusCode> {
    gate(&s, "csv")?;
    let body = s.csv.lock().unwrap().clone();
    Ok(([("content-type", "text/csv")], body))
}

async fn slow() -> impl IntoResponse {
    tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    "late"
}

pub fn start() -> Server {
    let shared = Arc::new(Shared::default());
    *shared.csv.lock().unwrap() = fixture("week-hourly-synthetic.csv");
    let app = Router::new()
        .route("/emissions/forecasts/current", get(sdk))
        .route("/v3/carbon-intensity/forecast", get(em))
        .route("/v3/forecast", get(watttime))
        .route("/intensity/{from}/fw48h", get(uk))
        .route("/greenai.csv", get(csv))
        .route("/slow", get(slow))
        .with_state(Arc::clone(&shared));
    let serving = loopback::serve(app);
    Server {
        base: serving.base.clone(),
        shared,
        _serving: serving,
    }
}
