//! Reading the database a page at a time, for the dashboard and its API: runs filtered, sorted
//! and paged by SQL (indexed: 100,000 runs answer in milliseconds), a run's power series cut down
//! to a few hundred points however long it ran, and a running run's newest sample.

use crate::db::{RunSummary, Store};
use crate::error::{Result, StoreError};
use crate::series::StoredSample;
use rusqlite::types::Value;
use serde::Serialize;

/// Which runs a page shows. Every field is a parameter of the query, never part of its text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFilter {
    pub project: Option<String>,
    pub command: Option<String>,
    /// A label and its value.
    pub label: Option<(String, String)>,
    pub since_unix_s: Option<f64>,
    pub until_unix_s: Option<f64>,
}

/// The column a page is sorted by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunSort {
    #[default]
    Started,
    Energy,
    Duration,
    Project,
    Command,
}

impl RunSort {
    pub fn parse(s: &str) -> Option<RunSort> {
        Some(match s {
            "started" => RunSort::Started,
            "energy" => RunSort::Energy,
            "duration" => RunSort::Duration,
            "project" => RunSort::Project,
            "command" => RunSort::Command,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RunSort::Started => "started",
            RunSort::Energy => "energy",
            RunSort::Duration => "duration",
            RunSort::Project => "project",
            RunSort::Command => "command",
        }
    }

    fn column(self) -> &'static str {
        match self {
            RunSort::Started => "started_unix_s",
            RunSort::Energy => "energy_j",
            RunSort::Duration => "duration_s",
            RunSort::Project => "project_name",
            RunSort::Command => "command",
        }
    }
}

/// One page of runs and how many match in all.
#[derive(Debug, Clone)]
pub struct RunPage {
    pub total: u64,
    pub offset: u64,
    pub runs: Vec<RunSummary>,
}

/// Most runs one page holds.
pub const MAX_PAGE: u64 = 1000;

/// Samples read, at most, for a series' power envelope.
pub const ENVELOPE_SAMPLES: i64 = 20_000;

/// One point of a cut-down power series: the total power's mean, least and most over the span
/// the point stands for, and each component's power at the span's first sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesPoint {
    pub elapsed_s: f64,
    pub mean_w: f64,
    pub min_w: f64,
    pub max_w: f64,
    pub components_w: Vec<Option<f64>>,
}

impl RunFilter {
    fn sql(&self) -> (String, Vec<Value>) {
        let mut clauses = vec!["1".to_string()];
        let mut params: Vec<Value> = Vec::new();
        // Each `?` of a clause becomes the next numbered parameter.
        let mut push = |clause: &str, values: Vec<Value>| {
            let mut numbered = String::new();
            let mut values = values.into_iter();
            for ch in clause.chars() {
                match ch {
                    '?' => {
                        params.push(values.next().unwrap_or(Value::Null));
                        numbered.push_str(&format!("?{}", params.len()));
                    }
                    _ => numbered.push(ch),
                }
            }
            clauses.push(numbered);
        };
        if let Some(p) = &self.project {
            push("project_name = ?", vec![p.clone().into()]);
        }
        if let Some(c) = &self.command {
            push("command = ?", vec![c.clone().into()]);
        }
        if let Some((k, v)) = &self.label {
            push(
                "id IN (SELECT run_id FROM run_labels WHERE key = ? AND value = ?)",
                vec![k.clone().into(), v.clone().into()],
            );
        }
        if let Some(t) = self.since_unix_s {
            push("started_unix_s >= ?", vec![t.into()]);
        }
        if let Some(t) = self.until_unix_s {
            push("started_unix_s < ?", vec![t.into()]);
        }
        (clauses.join(" AND "), params)
    }
}

impl Store {
    /// The runs `filter` selects, sorted by `sort` (newest, largest first when `descending`), from
    /// `offset`, at most `limit` (capped at [`MAX_PAGE`]).
    pub fn runs_page(
        &self,
        filter: &RunFilter,
        sort: RunSort,
        descending: bool,
        offset: u64,
        limit: u64,
    ) -> Result<RunPage> {
        let (clause, params) = filter.sql();
        let total: i64 = self
            .conn
            .query_row(
                &format!("SELECT count(*) FROM runs WHERE {clause}"),
                rusqlite::params_from_iter(params.iter()),
                |r| r.get(0),
            )
            .map_err(StoreError::write)?;
        // The page's rows are chosen on the index alone (column, then rowid: the index's own
        // order), and only they are read whole: a deep page skips index entries, not runs.
        let dir = if descending { "DESC" } else { "ASC" };
        let order = format!("ORDER BY {} {dir}, rowid {dir}", sort.column());
        let n = params.len();
        let page = format!(
            "rowid IN (SELECT rowid FROM runs WHERE {clause} {order} LIMIT ?{} OFFSET ?{})",
            n + 1,
            n + 2
        );
        let mut all = params;
        all.push((limit.min(MAX_PAGE) as i64).into());
        all.push((offset.min(i64::MAX as u64) as i64).into());
        let runs = self.runs_query(&page, &order, rusqlite::params_from_iter(all))?;
        Ok(RunPage {
            total: total.max(0) as u64,
            offset,
            runs,
        })
    }

    /// The runs whose label `key` exists, oldest first.
    pub fn runs_with_label(&self, key: &str) -> Result<Vec<RunSummary>> {
        self.runs_query(
            "id IN (SELECT run_id FROM run_labels WHERE key = ?1)",
            "ORDER BY started_unix_s, id",
            [key],
        )
    }

    /// The runs whose greenai process is still alive (on this machine).
    pub fn running_runs(&self) -> Result<Vec<RunSummary>> {
        Ok(self
            .runs_query("complete = 0", "ORDER BY started_unix_s DESC, id", [])?
            .into_iter()
            .filter(|r| r.status == crate::RunStatus::Running)
            .collect())
    }

    /// A run's power series in at most about `points` points: every sample when there are fewer,
    /// else one point per span of samples: the total power's mean and range over the span's
    /// samples (all of them for runs of up to [`ENVELOPE_SAMPLES`], else an even subsample of
    /// that many: a 24-hour run at 10 Hz reads one sample in 44), each component's power at the
    /// span's first sample.
    pub fn series_points(&self, run_id: &str, points: usize) -> Result<Vec<SeriesPoint>> {
        let points = points.clamp(2, 10_000) as i64;
        // Each end by itself: SQLite answers a lone min() or max() from the key, both at once by
        // reading every sample.
        let end = |order: &str| -> Result<Option<i64>> {
            self.conn
                .query_row(
                    &format!(
                        "SELECT seq FROM samples WHERE run_id = ?1 ORDER BY seq {order} LIMIT 1"
                    ),
                    [run_id],
                    |r| r.get(0),
                )
                .map(Some)
                .or_else(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(None),
                    e => Err(StoreError::write(e)),
                })
        };
        let (first, last) = (end("ASC")?, end("DESC")?);
        let (Some(first), Some(last)) = (first, last) else {
            return Ok(Vec::new());
        };
        let step = ((last - first + 1) + points - 1) / points;
        let step = step.max(1);
        // The span heads by their keys (a few hundred lookups), not by reading every sample.
        let heads = self.samples_query(
            run_id,
            "AND seq IN (WITH RECURSIVE h(x) AS (SELECT ?2 UNION ALL SELECT x + ?3 FROM h \
             WHERE x + ?3 <= ?4) SELECT x FROM h) ORDER BY seq",
            &[first, step, last],
        )?;
        // The envelope: every sample's total power up to ENVELOPE_SAMPLES (a scan of the power
        // index, not of the readings), else an even subsample of that many, read by key.
        let n = last - first + 1;
        let sub = (n + ENVELOPE_SAMPLES - 1) / ENVELOPE_SAMPLES;
        let (sql, params) = if sub <= 1 {
            (
                "SELECT seq, total_power_w FROM samples WHERE run_id = ?1 ORDER BY seq",
                vec![Value::from(run_id.to_string())],
            )
        } else {
            (
                "SELECT seq, total_power_w FROM samples WHERE run_id = ?1 AND seq IN \
                 (WITH RECURSIVE h(x) AS (SELECT ?2 UNION ALL SELECT x + ?3 FROM h \
                 WHERE x + ?3 <= ?4) SELECT x FROM h) ORDER BY seq",
                vec![
                    Value::from(run_id.to_string()),
                    first.into(),
                    sub.into(),
                    last.into(),
                ],
            )
        };
        let mut stmt = self.conn.prepare(sql).map_err(StoreError::write)?;
        let mut spans: Vec<(i64, f64, f64, f64, u32)> = Vec::new();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params), |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, f64>(1)?))
            })
            .map_err(StoreError::write)?;
        for row in rows {
            let (seq, w) = row.map_err(StoreError::write)?;
            let span = (seq - first) / step;
            match spans.last_mut() {
                Some(s) if s.0 == span => {
                    s.1 += w;
                    s.2 = s.2.min(w);
                    s.3 = s.3.max(w);
                    s.4 += 1;
                }
                _ => spans.push((span, w, w, w, 1)),
            }
        }
        let spans: Vec<(i64, f64, f64, f64)> = spans
            .into_iter()
            .map(|(k, sum, lo, hi, c)| (k, sum / c as f64, lo, hi))
            .collect();
        Ok(heads
            .iter()
            .map(|h| {
                let span = (h.seq - first) / step;
                let (mean, min, max) = spans
                    .binary_search_by_key(&span, |s| s.0)
                    .map(|i| (spans[i].1, spans[i].2, spans[i].3))
                    .unwrap_or((
                        h.total_power.watts(),
                        h.total_power.watts(),
                        h.total_power.watts(),
                    ));
                SeriesPoint {
                    elapsed_s: h.elapsed_s,
                    mean_w: mean,
                    min_w: min,
                    max_w: max,
                    components_w: h.readings.iter().map(|r| r.1.map(|p| p.watts())).collect(),
                }
            })
            .collect())
    }

    /// Whether a run finished, is running, or stopped without finishing (one row read).
    pub fn run_status(&self, run_id: &str) -> Result<crate::RunStatus> {
        let (complete, pid): (bool, i64) = self
            .conn
            .query_row(
                "SELECT complete, greenai_pid FROM runs WHERE id = ?1",
                [run_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => {
                    StoreError::NotFound(format!("no run {run_id:?}"))
                }
                e => StoreError::write(e),
            })?;
        Ok(if complete {
            crate::RunStatus::Complete
        } else if crate::db::pid_alive(pid) {
            crate::RunStatus::Running
        } else {
            crate::RunStatus::Incomplete
        })
    }

    /// A run's newest sample.
    pub fn latest_sample(&self, run_id: &str) -> Result<Option<StoredSample>> {
        Ok(self
            .samples_query(run_id, "ORDER BY seq DESC LIMIT 1", &[])?
            .pop())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_parameters_in_order() {
        let f = RunFilter {
            project: Some("p".into()),
            label: Some(("mo\"del".into(), "x".into())),
            since_unix_s: Some(5.0),
            ..Default::default()
        };
        let (sql, params) = f.sql();
        assert_eq!(
            sql,
            "1 AND project_name = ?1 AND id IN (SELECT run_id FROM run_labels WHERE key = ?2 \
             AND value = ?3) AND started_unix_s >= ?4"
        );
        assert_eq!(params.len(), 4);
        assert_eq!(params[1], Value::Text("mo\"del".into()));
    }
}
