//! The runs page and `/api/runs`: filtered by project, command, label and date, sorted by a
//! column, a page at a time.

use super::{layout, ApiFail, Dashboard, Fail};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use greenai_store::browse::{RunFilter, RunSort};
use greenai_store::RunSummary;
use maud::{html, Markup};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The query string of both: every field optional, as a form sends them (empty means unset).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct RunsQuery {
    pub project: Option<String>,
    pub command: Option<String>,
    /// `KEY=VALUE`.
    pub label: Option<String>,
    /// `YYYY-MM-DD` (UTC) or unix seconds.
    pub since: Option<String>,
    pub until: Option<String>,
    /// `started` (default), `energy`, `duration`, `project`, `command`.
    pub sort: Option<String>,
    /// `desc` (default) or `asc`.
    pub order: Option<String>,
    /// From 1.
    pub page: Option<u64>,
    /// Runs a page, at most 1,000; 50 by default.
    pub per: Option<u64>,
}

struct Parsed {
    filter: RunFilter,
    sort: RunSort,
    descending: bool,
    page: u64,
    per: u64,
}

fn bad(msg: String) -> Fail {
    Fail(StatusCode::BAD_REQUEST, msg)
}

fn when(name: &str, s: &str) -> Result<f64, Fail> {
    if let Ok(v) = s.parse::<f64>() {
        return Ok(v);
    }
    let date: jiff::civil::Date = s.parse().map_err(|_| {
        bad(format!(
            "{name}={s:?}: a date is YYYY-MM-DD, or unix seconds"
        ))
    })?;
    date.to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp().as_second() as f64)
        .map_err(|e| bad(format!("{name}={s:?}: {e}")))
}

impl RunsQuery {
    fn set(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }

    fn parse(&self) -> Result<Parsed, Fail> {
        let label = match Self::set(&self.label) {
            Some(l) => match l.split_once('=') {
                Some((k, v)) if !k.is_empty() => Some((k.to_string(), v.to_string())),
                _ => return Err(bad(format!("label={l:?}: write KEY=VALUE"))),
            },
            None => None,
        };
        let sort = match Self::set(&self.sort) {
            Some(s) => RunSort::parse(s).ok_or_else(|| {
                bad(format!(
                    "sort={s:?}: one of started, energy, duration, project, command"
                ))
            })?,
            None => RunSort::Started,
        };
        let descending = match Self::set(&self.order) {
            None | Some("desc") => true,
            Some("asc") => false,
            Some(o) => return Err(bad(format!("order={o:?}: asc or desc"))),
        };
        Ok(Parsed {
            filter: RunFilter {
                project: Self::set(&self.project).map(String::from),
                command: Self::set(&self.command).map(String::from),
                label,
                since_unix_s: Self::set(&self.since)
                    .map(|s| when("since", s))
                    .transpose()?,
                until_unix_s: Self::set(&self.until)
                    .map(|s| when("until", s))
                    .transpose()?,
            },
            sort,
            descending,
            page: self.page.unwrap_or(1).max(1),
            per: self.per.unwrap_or(50).clamp(1, 1000),
        })
    }

    /// This query's string with `page` (and the sort, when given) replaced.
    fn with(&self, page: u64, sort: Option<(&str, &str)>) -> String {
        let mut parts: Vec<(String, String)> = Vec::new();
        for (k, v) in [
            ("project", &self.project),
            ("command", &self.command),
            ("label", &self.label),
            ("since", &self.since),
            ("until", &self.until),
        ] {
            if let Some(v) = Self::set(v) {
                parts.push((k.into(), v.into()));
            }
        }
        let (s, o) = sort.unwrap_or((
            Self::set(&self.sort).unwrap_or("started"),
            Self::set(&self.order).unwrap_or("desc"),
        ));
        parts.push(("sort".into(), s.into()));
        parts.push(("order".into(), o.into()));
        if let Some(p) = self.per {
            parts.push(("per".into(), p.to_string()));
        }
        parts.push(("page".into(), page.to_string()));
        let enc = |s: &str| -> String {
            s.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect()
        };
        let q: Vec<String> = parts
            .iter()
            .map(|(k, v)| format!("{k}={}", enc(v)))
            .collect();
        format!("/?{}", q.join("&"))
    }
}

/// A run in the API's list.
#[derive(Debug, Serialize)]
pub struct RunItem {
    pub run_id: String,
    pub project: String,
    pub command: String,
    pub started_unix_s: f64,
    pub duration_s: Option<f64>,
    pub energy_j: Option<f64>,
    pub provenance: Option<greenai_meter::Provenance>,
    pub status: &'static str,
    pub exit_code: Option<i32>,
    pub labels: std::collections::BTreeMap<String, String>,
}

impl From<RunSummary> for RunItem {
    fn from(r: RunSummary) -> Self {
        RunItem {
            status: r.status.as_str(),
            run_id: r.run_id,
            project: r.project_name,
            command: r.command,
            started_unix_s: r.started_unix_s,
            duration_s: r.duration_s,
            energy_j: r.energy_j,
            provenance: r.provenance,
            exit_code: r.exit_code,
            labels: r.labels,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RunList {
    pub total: u64,
    pub offset: u64,
    pub runs: Vec<RunItem>,
}

async fn list(d: &Arc<Dashboard>, q: &RunsQuery) -> Result<RunList, Fail> {
    let p = q.parse()?;
    let offset = (p.page - 1).saturating_mul(p.per);
    let page = d
        .read(move |s| s.runs_page(&p.filter, p.sort, p.descending, offset, p.per))
        .await?;
    Ok(RunList {
        total: page.total,
        offset: page.offset,
        runs: page.runs.into_iter().map(RunItem::from).collect(),
    })
}

pub async fn api(
    State(d): State<Arc<Dashboard>>,
    Query(q): Query<RunsQuery>,
) -> Result<Json<RunList>, ApiFail> {
    Ok(Json(list(&d, &q).await?))
}

fn header(q: &RunsQuery, key: &str, name: &str) -> Markup {
    let current = RunsQuery::set(&q.sort).unwrap_or("started");
    let order = RunsQuery::set(&q.order).unwrap_or("desc");
    let next = if current == key && order == "desc" {
        "asc"
    } else {
        "desc"
    };
    let mark = match (current == key, order) {
        (true, "asc") => " ▲",
        (true, _) => " ▼",
        _ => "",
    };
    html! { th { a href=(q.with(1, Some((key, next)))) { (name) (mark) } } }
}

pub async fn page(
    State(d): State<Arc<Dashboard>>,
    Query(q): Query<RunsQuery>,
) -> Result<Markup, Fail> {
    let list = list(&d, &q).await?;
    let per = q.per.unwrap_or(50).clamp(1, 1000);
    let page = q.page.unwrap_or(1).max(1);
    let last = list.total.div_ceil(per).max(1);
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let body = html! {
        form.filters method="get" action="/" {
            input name="project" placeholder="project" value=(v(&q.project));
            input name="command" placeholder="command" value=(v(&q.command));
            input name="label" placeholder="label=value" value=(v(&q.label));
            input name="since" placeholder="since YYYY-MM-DD" value=(v(&q.since));
            input name="until" placeholder="until YYYY-MM-DD" value=(v(&q.until));
            button type="submit" { "Filter" }
            a href="/" { "clear" }
        }
        p #count {
            @if list.runs.is_empty() { "No run matches." }
            @else {
                "Runs " (list.offset + 1) "–" (list.offset + list.runs.len() as u64)
                " of " (list.total) "."
            }
        }
        table #runs {
            thead { tr {
                (header(&q, "started", "started"))
                th { "run" }
                (header(&q, "project", "project"))
                (header(&q, "command", "command"))
                (header(&q, "duration", "duration"))
                (header(&q, "energy", "energy"))
                th { "status" }
                th { "labels" }
            } }
            tbody {
                @for r in &list.runs {
                    tr data-run=(r.run_id) {
                        td { (layout::time(r.started_unix_s)) }
                        td { a href=(format!("/runs/{}", r.run_id)) { code { (r.run_id) } } }
                        td { (r.project) }
                        td { code { (r.command) } }
                        td.n { (r.duration_s.map(layout::duration).unwrap_or_default()) }
                        td.n { (layout::energy_with(r.energy_j, r.provenance, None)) }
                        td {
                            @if r.status == "running" { a href=(format!("/live/{}", r.run_id)) { "running" } }
                            @else { (r.status) }
                        }
                        td { @for (k, v) in &r.labels { span.label { (k) "=" (v) } } }
                    }
                }
            }
        }
        p {
            @if page > 1 { a #prev href=(q.with(page - 1, None)) { "← previous" } " " }
            "page " (page) " of " (last)
            @if page < last { " " a #next href=(q.with(page + 1, None)) { "next →" } }
        }
    };
    Ok(layout::page("Runs", "runs", body))
}
