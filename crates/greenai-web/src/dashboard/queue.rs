//! The scheduler's queue, read-only: each job's state, deadline, plan, and what scheduling saved.

use super::{layout, ApiFail, Dashboard, Fail};
use axum::extract::State;
use axum::Json;
use greenai_store::queue::QueuedJob;
use maud::{html, Markup};
use std::sync::Arc;

pub async fn api(State(d): State<Arc<Dashboard>>) -> Result<Json<Vec<QueuedJob>>, ApiFail> {
    Ok(Json(d.read(|s| s.queue()).await?))
}

pub async fn page(State(d): State<Arc<Dashboard>>) -> Result<Markup, Fail> {
    let jobs = d.read(|s| s.queue()).await?;
    let body = html! {
        @if jobs.is_empty() {
            p #none { "The queue is empty: " code { "greenai submit" } " adds a job, "
                code { "greenai scheduler" } " runs it in the cleanest hours before its deadline." }
        } @else {
            table #queue {
                thead { tr { th { "job" } th { "name" } th { "state" } th { "deadline" } th { "planned start" }
                    th { "planned intensity" } th { "emissions" } th { "saved" } th { "run" } } }
                tbody { @for j in &jobs { tr {
                    td.n { (j.id) } td { (j.name) } td { (j.state.as_str()) }
                    td { (layout::time(j.deadline_unix_s)) }
                    td { (j.plan.as_ref().and_then(|p| p.first()).map(|w| layout::time(w.0)).unwrap_or_default()) }
                    td.n { (j.planned_g_per_kwh.map(|g| format!("{g:.0} g/kWh")).unwrap_or_default()) }
                    td.n { (j.emissions_g.map(|g| format!("{g:.2} g")).unwrap_or_default()) }
                    td.n { (j.saved_g().map(|g| format!("{g:.2} g")).unwrap_or_default()) }
                    td { @if let Some(r) = &j.run_id { a href=(format!("/runs/{r}")) { code { (r) } } } }
                } } }
            }
        }
    };
    Ok(layout::page("Queue", "queue", body))
}
