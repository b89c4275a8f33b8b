//! A client for the Prometheus HTTP API (`/api/v1/query`), as Prometheus, Thanos and
//! VictoriaMetrics serve it: instant queries, with the timeouts and the partial answers
//! (`warnings`) reported, not hidden.

use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum PromError {
    #[error("cannot query {url}: {reason}")]
    Unavailable { url: String, reason: String },
    #[error("{url} answered what is not a Prometheus API response: {reason}")]
    Malformed { url: String, reason: String },
    #[error("the query failed: {error_type}: {error}")]
    Query { error_type: String, error: String },
}

/// One series of an instant vector: its labels and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// An instant query's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub points: Vec<Point>,
    /// The server's warnings: a partial answer says so here.
    pub warnings: Vec<String>,
}

pub struct Client {
    base: String,
    timeout: Duration,
}

impl Client {
    /// `base`: `http://prometheus:9090` (a path prefix such as Thanos' is kept).
    pub fn new(base: &str, timeout: Duration) -> Client {
        Client {
            base: base.trim_end_matches('/').to_string(),
            timeout,
        }
    }

    /// Evaluates `query` at `time` (unix seconds).
    pub fn query(&self, query: &str, time: f64) -> Result<Answer, PromError> {
        let url = format!("{}/api/v1/query", self.base);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(self.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        let unavailable = |reason: String| PromError::Unavailable {
            url: url.clone(),
            reason,
        };
        let mut resp = agent
            .get(&url)
            .query("query", query)
            .query("time", format!("{time:.3}"))
            .call()
            .map_err(|e| unavailable(e.to_string()))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .map_err(|e| unavailable(e.to_string()))?;
        parse(&url, status, &body)
    }
}

/// Reads an API response body (exposed for tests of odd answers).
pub fn parse(url: &str, status: u16, body: &str) -> Result<Answer, PromError> {
    let bad = |reason: String| PromError::Malformed {
        url: url.to_string(),
        reason,
    };
    let v: Value = serde_json::from_str(body).map_err(|e| {
        if status >= 400 {
            PromError::Unavailable {
                url: url.to_string(),
                reason: format!("HTTP {status}"),
            }
        } else {
            bad(format!("not JSON ({e})"))
        }
    })?;
    if v["status"] == "error" {
        return Err(PromError::Query {
            error_type: v["errorType"].as_str().unwrap_or("error").to_string(),
            error: v["error"].as_str().unwrap_or("").to_string(),
        });
    }
    if v["status"] != "success" {
        return Err(bad(format!("status {}", v["status"])));
    }
    let warnings = v["warnings"]
        .as_array()
        .map(|w| {
            w.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let data = &v["data"];
    if data["resultType"] != "vector" {
        return Err(bad(format!(
            "a {} where a vector was asked for",
            data["resultType"]
        )));
    }
    let mut points = Vec::new();
    for r in data["result"]
        .as_array()
        .ok_or_else(|| bad("no result array".into()))?
    {
        let labels = r["metric"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let value = r["value"][1]
            .as_str()
            .and_then(|s| s.parse::<f64>().ok())
            .ok_or_else(|| bad(format!("a value that is not a number: {}", r["value"])))?;
        points.push(Point { labels, value });
    }
    Ok(Answer { points, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_errors_and_warnings_are_read() {
        let a = parse(
            "u",
            200,
            r#"{"status":"success","warnings":["store b unreachable"],"data":{"resultType":"vector","result":[{"metric":{"instance":"a:1"},"value":[1700000000,"12.5"]}]}}"#,
        )
        .unwrap();
        assert_eq!(a.points[0].value, 12.5);
        assert_eq!(a.points[0].labels["instance"], "a:1");
        assert_eq!(a.warnings, ["store b unreachable"]);
        let e = parse(
            "u",
            400,
            r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "the query failed: bad_data: parse error");
        assert!(parse("u", 502, "<html>")
            .unwrap_err()
            .to_string()
            .contains("HTTP 502"));
        assert!(parse(
            "u",
            200,
            r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#
        )
        .is_err());
    }
}
