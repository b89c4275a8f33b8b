//! Comparisons: the configurations `greenai compare` stored (the newest result of each), accuracy
//! against training energy with the Pareto front, the least energy at the target and the saving
//! against the seed's recipe. The choice is compare's own rule ([`greenai_tune::pareto::front`],
//! [`greenai_tune::least_energy_meeting`]).

use super::{layout, svg, ApiFail, Dashboard, Fail};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use greenai_meter::Provenance;
use greenai_tune::train::JobResults;
use greenai_tune::Outcome;
use maud::{html, Markup};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, Deserialize)]
pub struct CompareQuery {
    /// The target accuracy, 0 to 1 (0.98 by default).
    pub target: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct CompareRow {
    pub config: String,
    pub run_id: String,
    pub model: String,
    pub precision: String,
    pub quantization: String,
    pub accuracy: f64,
    /// Training energy with the energy spent choosing its settings; `None` for rows that did not
    /// train (int8 evaluations).
    pub training_energy_j: Option<f64>,
    pub joules_per_1000_inferences: Option<f64>,
    pub provenance: Option<Provenance>,
    pub pareto: bool,
}

#[derive(Debug, Serialize)]
pub struct CompareBody {
    pub target_accuracy: f64,
    pub rows: Vec<CompareRow>,
    pub best: Option<String>,
    pub baseline_training_energy_j: Option<f64>,
    pub saving_ratio: Option<f64>,
}

async fn build(d: &Arc<Dashboard>, target: f64) -> Result<CompareBody, Fail> {
    if !(0.0..=1.0).contains(&target) {
        return Err(Fail(
            StatusCode::BAD_REQUEST,
            format!("target={target}: an accuracy between 0 and 1"),
        ));
    }
    let runs = d.read(|s| s.runs_with_label("compare_config")).await?;
    // The newest first run of each configuration (repeats are medians in compare's table; here
    // each configuration shows the run it reuses).
    let mut newest: BTreeMap<String, CompareRow> = BTreeMap::new();
    for r in runs {
        if r.labels.contains_key("compare_repeat") {
            continue;
        }
        let Some(res) = r
            .results
            .clone()
            .and_then(|v| serde_json::from_value::<JobResults>(v).ok())
        else {
            continue;
        };
        let config = r.labels["compare_config"].clone();
        let trained = res
            .training_energy_j
            .map(|t| t + res.profiling_energy_j.unwrap_or(0.0));
        newest.insert(
            config.clone(),
            CompareRow {
                config,
                run_id: r.run_id,
                model: res.model,
                precision: res.precision,
                quantization: res.quantization,
                accuracy: res.accuracy,
                training_energy_j: trained,
                joules_per_1000_inferences: res.joules_per_1000_inferences,
                provenance: r.provenance,
                pareto: false,
            },
        );
    }
    let mut rows: Vec<CompareRow> = newest.into_values().collect();
    rows.sort_by(|a, b| {
        a.training_energy_j
            .unwrap_or(f64::INFINITY)
            .total_cmp(&b.training_energy_j.unwrap_or(f64::INFINITY))
    });
    let outcomes: Vec<Outcome> = rows
        .iter()
        .map(|r| Outcome {
            accuracy: r.accuracy,
            energy_j: r.training_energy_j.unwrap_or(f64::NAN),
        })
        .collect();
    for i in greenai_tune::pareto::front(&outcomes) {
        rows[i].pareto = true;
    }
    let best = greenai_tune::least_energy_meeting(&outcomes, target);
    let baseline = rows
        .iter()
        .find(|r| r.config == greenai_tune::compare::BASELINE)
        .and_then(|r| r.training_energy_j);
    let saving = match (best.and_then(|b| rows[b].training_energy_j), baseline) {
        (Some(b), Some(base)) if b > 0.0 => Some(base / b),
        _ => None,
    };
    Ok(CompareBody {
        target_accuracy: target,
        best: best.map(|b| rows[b].config.clone()),
        baseline_training_energy_j: baseline,
        saving_ratio: saving,
        rows,
    })
}

pub async fn api(
    State(d): State<Arc<Dashboard>>,
    Query(q): Query<CompareQuery>,
) -> Result<Json<CompareBody>, ApiFail> {
    Ok(Json(build(&d, q.target.unwrap_or(0.98)).await?))
}

pub async fn page(
    State(d): State<Arc<Dashboard>>,
    Query(q): Query<CompareQuery>,
) -> Result<Markup, Fail> {
    let c = build(&d, q.target.unwrap_or(0.98)).await?;
    let points: Vec<svg::Point> = c
        .rows
        .iter()
        .filter_map(|r| {
            Some(svg::Point {
                name: r.config.clone(),
                x: r.training_energy_j?,
                y: r.accuracy,
                marked: r.pareto,
            })
        })
        .collect();
    let body = html! {
        @if c.rows.is_empty() {
            p #none { "No comparison is stored yet: " code { "greenai compare" } " runs one." }
        } @else {
            form method="get" action="/compare" {
                "target accuracy " input name="target" value=(c.target_accuracy) size="5";
                " " button type="submit" { "Choose" }
            }
            p #choice {
                @match (&c.best, c.saving_ratio, c.baseline_training_energy_j) {
                    (Some(b), Some(s), Some(base)) => {
                        "Least training energy at accuracy ≥ " (c.target_accuracy) ": " b { (b) } ", "
                        (format!("{s:.1}×")) " less than the seed baseline (" (layout::energy(base)) ")."
                    }
                    (Some(b), _, _) => { "Least training energy at accuracy ≥ " (c.target_accuracy) ": " b { (b) } "." }
                    _ => { "No configuration reaches accuracy " (c.target_accuracy) "." }
                }
            }
            (svg::scatter("pareto", &points, "training energy (J)", "accuracy"))
            table #compare {
                thead { tr { th { "configuration" } th { "model" } th { "precision" } th { "accuracy" }
                    th { "training energy" } th { "J / 1,000 inferences" } th { "" } } }
                tbody { @for r in &c.rows { tr data-config=(r.config) {
                    td { a href=(format!("/runs/{}", r.run_id)) { (r.config) } }
                    td { (r.model) } td { (r.precision) " " (r.quantization) }
                    td.n { (format!("{:.4}", r.accuracy)) }
                    td.n { (layout::energy_with(r.training_energy_j, r.provenance, None)) }
                    td.n { (r.joules_per_1000_inferences.map(|j| format!("{j:.3}")).unwrap_or_default()) }
                    td {
                        @if Some(&r.config) == c.best.as_ref() { "best " }
                        @if r.pareto { "pareto" }
                    }
                } } }
            }
        }
    };
    Ok(layout::page("Comparisons", "compare", body))
}
