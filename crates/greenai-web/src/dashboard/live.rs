//! Runs in progress: the list, and one run's power and energy updated every second from the
//! database (the run's own greenai writes its samples there each second) through server-sent
//! events. Without script the page refreshes itself every five seconds instead.

use super::{layout, run, run_id, Dashboard, Fail};
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use greenai_store::RunStatus;
use maud::{html, Markup, PreEscaped};
use serde::Serialize;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// How often the live figure is sent.
pub const TICK: Duration = Duration::from_secs(1);

pub async fn index(State(d): State<Arc<Dashboard>>) -> Result<Markup, Fail> {
    let runs = d.read(|s| s.running_runs()).await?;
    let body = html! {
        @if runs.is_empty() {
            p #none { "No run is in progress. " code { "greenai run -- COMMAND" } " or "
                code { "greenai train" } " starts one; it shows here while it runs." }
        } @else {
            table #running {
                thead { tr { th { "run" } th { "project" } th { "command" } th { "started" } } }
                tbody { @for r in &runs { tr {
                    td { a href=(format!("/live/{}", r.run_id)) { code { (r.run_id) } } }
                    td { (r.project_name) } td { code { (r.command) } }
                    td { (layout::time(r.started_unix_s)) }
                } } }
            }
        }
    };
    Ok(layout::page("Live", "live", body))
}

/// What the stream sends each second.
#[derive(Debug, Serialize)]
pub struct Tick {
    pub seq: Option<i64>,
    pub elapsed_s: Option<f64>,
    pub power_w: Option<f64>,
    pub energy_j: Option<f64>,
    pub status: &'static str,
}

async fn tick(d: &Arc<Dashboard>, id: &str) -> Result<Tick, Fail> {
    let id = id.to_string();
    let (status, latest) = d
        .read(move |s| Ok((s.run_status(&id)?, s.latest_sample(&id)?)))
        .await?;
    Ok(Tick {
        seq: latest.as_ref().map(|s| s.seq),
        elapsed_s: latest.as_ref().map(|s| s.elapsed_s),
        power_w: latest.as_ref().map(|s| s.total_power.watts()),
        energy_j: latest.as_ref().and_then(|s| s.energy.map(|e| e.joules())),
        status: status.as_str(),
    })
}

/// `text/event-stream`: a `tick` event every second while the run goes on; an `end` event once it
/// has finished or stopped, and the stream closes.
pub async fn events(
    State(d): State<Arc<Dashboard>>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Fail> {
    let id = run_id(&id)?;
    // Unknown runs are refused here, not in the stream.
    let first = tick(&d, &id).await?;
    let s = stream::unfold(
        (d, id, Some(first), false),
        |(d, id, pending, done)| async move {
            if done {
                return None;
            }
            let t = match pending {
                Some(t) => t,
                None => {
                    tokio::time::sleep(TICK).await;
                    tick(&d, &id).await.ok()?
                }
            };
            let end = t.status != RunStatus::Running.as_str();
            let data = serde_json::to_string(&t).unwrap_or_default();
            let ev = Event::default()
                .event(if end { "end" } else { "tick" })
                .data(data);
            Some((Ok(ev), (d, id, None, end)))
        },
    );
    Ok(Sse::new(s).keep_alive(KeepAlive::default()))
}

const SCRIPT: &str = r#"
(function () {
  var el = document.getElementById('live'); if (!el || !window.EventSource) return;
  var pts = [];
  var chart = document.getElementById('live-chart');
  function draw() {
    if (!chart || pts.length < 2) return;
    var line = chart.querySelector('polyline[data-series="total"]');
    var d = function (k) { return parseFloat(chart.getAttribute('data-' + k)); };
    var left = d('left'), top = d('top'), width = d('width'), height = d('height');
    var x0 = pts[0][0], x1 = pts[pts.length - 1][0], y1 = 0;
    pts.forEach(function (p) { if (p[1] > y1) y1 = p[1]; });
    y1 = y1 * 1.05 || 1; if (x1 <= x0) x1 = x0 + 1;
    line.setAttribute('points', pts.map(function (p) {
      return (left + (p[0] - x0) / (x1 - x0) * width).toFixed(1) + ',' +
        (top + height - p[1] / y1 * height).toFixed(1);
    }).join(' '));
    line.setAttribute('data-points', pts.length);
  }
  function show(t) {
    if (t.power_w != null) document.getElementById('live-power').textContent = t.power_w.toFixed(1) + ' W';
    if (t.energy_j != null) document.getElementById('live-energy').textContent = t.energy_j.toFixed(1) + ' J';
    if (t.elapsed_s != null) document.getElementById('live-elapsed').textContent = t.elapsed_s.toFixed(1) + ' s';
    if (t.seq != null) document.getElementById('live-samples').textContent = t.seq + 1;
    document.getElementById('live-status').textContent = t.status;
    if (t.elapsed_s != null && t.power_w != null) { pts.push([t.elapsed_s, t.power_w]); if (pts.length > 600) pts.shift(); draw(); }
  }
  var src = new EventSource(el.getAttribute('data-events'));
  src.addEventListener('tick', function (e) { show(JSON.parse(e.data)); });
  src.addEventListener('end', function (e) { show(JSON.parse(e.data)); src.close(); });
})();
"#;

pub async fn page(State(d): State<Arc<Dashboard>>, Path(id): Path<String>) -> Result<Markup, Fail> {
    let id = run_id(&id)?;
    let t = tick(&d, &id).await?;
    let rid = id.clone();
    let r = d.read(move |s| s.report(&rid)).await?;
    let body = html! {
        p { "Run " a href=(format!("/runs/{id}")) { code { (id) } } ": " code { (r.argv.join(" ")) }
            " · " span #live-status { (t.status) } }
        div #live data-events=(format!("/api/runs/{id}/live")) {
            dl {
                dt { "power now" } dd.big {
                    span #live-power { (t.power_w.map(|p| format!("{p:.1} W")).unwrap_or("—".into())) }
                    (layout::provenance(Some(r.provenance)))
                }
                dt { "energy so far" } dd.big {
                    span #live-energy { (t.energy_j.map(|e| format!("{e:.1} J")).unwrap_or("—".into())) }
                    (layout::provenance(Some(r.provenance)))
                }
                dt { "elapsed" } dd #live-elapsed { (t.elapsed_s.map(|e| format!("{e:.1} s")).unwrap_or("—".into())) }
                dt { "samples" } dd #live-samples { (t.seq.map(|s| s + 1).unwrap_or(0)) }
            }
        }
        (run::power_chart("live-chart", &run::SeriesBody { run_id: id.clone(), components: vec![], points: vec![] }))
        script { (PreEscaped(SCRIPT)) }
    };
    let head = html! { noscript { meta http-equiv="refresh" content="5"; } };
    Ok(layout::page_with_head("Live", "live", head, body))
}
