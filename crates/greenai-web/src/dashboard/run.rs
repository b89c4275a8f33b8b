//! One run: its figures with their provenance, power over time per component, energy per
//! component, the process's share, carbon and where its intensity came from, faults.

use super::{layout, run_id, svg, ApiFail, Dashboard, Fail};
use axum::extract::{Path, Query, State};
use axum::Json;
use greenai_store::browse::SeriesPoint;
use greenai_store::RunReport;
use maud::{html, Markup};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Points a run page's chart holds, however long the run.
pub const CHART_POINTS: usize = 600;

#[derive(Debug, Deserialize)]
pub struct SeriesQuery {
    /// At most this many points (2 to 10,000; 600 by default).
    pub points: Option<usize>,
}

/// A run's power series, cut down ([`greenai_store::Store::series_points`]).
#[derive(Debug, Serialize)]
pub struct SeriesBody {
    pub run_id: String,
    /// The components, in the order of each point's `components_w`.
    pub components: Vec<String>,
    pub points: Vec<SeriesPoint>,
}

/// The series of run `id`, its components named from `report` when the caller has it already.
async fn series(
    d: &Arc<Dashboard>,
    id: String,
    points: usize,
    report: Option<&RunReport>,
) -> Result<SeriesBody, Fail> {
    let rid = id.clone();
    let components = match report {
        Some(r) => r.components.iter().map(|c| c.name.clone()).collect(),
        None => {
            let rid = id.clone();
            let r = d.read(move |s| s.report(&rid)).await?;
            r.components.iter().map(|c| c.name.clone()).collect()
        }
    };
    let points = d.read(move |s| s.series_points(&rid, points)).await?;
    Ok(SeriesBody {
        run_id: id,
        components,
        points,
    })
}

pub async fn api(
    State(d): State<Arc<Dashboard>>,
    Path(id): Path<String>,
) -> Result<Json<RunReport>, ApiFail> {
    let id = run_id(&id)?;
    Ok(Json(d.read(move |s| s.report(&id)).await?))
}

pub async fn series_api(
    State(d): State<Arc<Dashboard>>,
    Path(id): Path<String>,
    Query(q): Query<SeriesQuery>,
) -> Result<Json<SeriesBody>, ApiFail> {
    let id = run_id(&id)?;
    Ok(Json(
        series(&d, id, q.points.unwrap_or(CHART_POINTS), None).await?,
    ))
}

/// The power chart of a series: the total's mean, and each component.
pub fn power_chart(id: &str, s: &SeriesBody) -> Markup {
    let mut lines = vec![svg::Series {
        name: "total".into(),
        points: s.points.iter().map(|p| (p.elapsed_s, p.mean_w)).collect(),
    }];
    for (i, name) in s.components.iter().enumerate() {
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter_map(|p| Some((p.elapsed_s, p.components_w.get(i).copied().flatten()?)))
            .collect();
        if !pts.is_empty() {
            lines.push(svg::Series {
                name: name.clone(),
                points: pts,
            });
        }
    }
    svg::lines(id, &lines, "seconds", "watts")
}

pub async fn page(State(d): State<Arc<Dashboard>>, Path(id): Path<String>) -> Result<Markup, Fail> {
    let id = run_id(&id)?;
    let rid = id.clone();
    let r = d.read(move |s| s.report(&rid)).await?;
    // The report just read names the chart's components: not read a second time.
    let chart = series(&d, id, CHART_POINTS, Some(&r)).await?;
    let body = html! {
        dl #summary {
            dt { "command" } dd { code { (r.argv.join(" ")) } }
            dt { "project" } dd { (r.project_name) }
            dt { "started" } dd { (layout::time(r.started_unix_s)) " on " (r.host.hostname) }
            dt { "status" } dd {
                @if r.complete {
                    "complete"
                    @if let Some(c) = r.exit_code { ", exit " (c) }
                    @if let Some(s) = r.signal { ", signal " (s) }
                } @else {
                    "not complete (figures from its stored samples) · " a href=(format!("/live/{}", r.run_id)) { "live" }
                }
            }
            dt { "duration" } dd { (layout::duration(r.duration_s)) }
            dt { "energy" } dd #energy { (layout::energy_with(Some(r.energy_j), Some(r.provenance), r.uncertainty)) }
            dt { "power" } dd {
                (format!("{:.1} W", r.avg_power_w)) " average"
                @if let Some(p) = r.peak_power_w { (format!(", {p:.1} W peak")) }
                (layout::provenance(Some(r.provenance)))
            }
            @if let Some(e) = r.process_energy_j {
                dt { "the process's share" } dd {
                    (layout::energy(e))
                    @if let Some(s) = r.process_cpu_share { (format!(" ({:.0} % of the machine's CPU time)", s * 100.0)) }
                }
            }
            @if let Some(c) = &r.carbon {
                dt { "emissions" } dd #emissions {
                    (format!("{:.3} gCO2e", c.emissions_g))
                    " at " (format!("{:.0} g/kWh", c.intensity_g_per_kwh))
                    " (" (c.intensity_source) ", " (c.region) ", " (c.intensity_mode) ")"
                    @if c.pue != 1.0 { (format!(", PUE {:.2}", c.pue)) }
                }
                @if let Some(w) = &c.warning { dt { "" } dd.fault { (w) } }
            }
            dt { "machine" } dd { (r.host.cpu_model) ", " (r.host.cpu_count) " CPUs" }
        }
        h2 { "Power over time" }
        @if chart.points.is_empty() { p.muted { "No stored samples." } }
        @else { (power_chart("power", &chart)) }
        h2 { "Energy per component" }
        table #components {
            thead { tr { th { "component" } th { "kind" } th { "energy" } th { "average" } th { "sensor" } th { "counted" } } }
            tbody {
                @for c in &r.components {
                    tr {
                        td { (c.name) }
                        td { (c.kind) }
                        td.n { (layout::energy_with(c.energy_j, Some(c.provenance), c.uncertainty)) }
                        td.n { (c.avg_power_w.map(|p| format!("{p:.1} W")).unwrap_or_default()) }
                        td { code { (c.sensor) } }
                        td { @if c.counted { "yes" } @else { "no" @if let Some(w) = &c.within { " (within " (w) ")" } } }
                    }
                }
            }
        }
        @if !r.missing.is_empty() {
            h2 { "Not measured" }
            ul { @for m in &r.missing { li { (m.kind.as_str()) " (" (m.sensor) "): " (m.reason) } } }
        }
        @if !r.faults.is_empty() {
            h2 { "Faults" }
            ul #faults { @for f in &r.faults { li.fault { (f.describe()) } } }
        }
        @if !r.labels.is_empty() {
            h2 { "Labels" }
            p { @for (k, v) in &r.labels { span.label { (k) "=" (v) } } }
        }
        @if let Some(res) = &r.results {
            h2 { "Results" }
            pre { (serde_json::to_string_pretty(res).unwrap_or_default()) }
        }
        p { a href=(format!("/api/runs/{}", r.run_id)) { "this run as JSON" } }
    };
    Ok(layout::page(&format!("Run {}", r.run_id), "runs", body))
}
