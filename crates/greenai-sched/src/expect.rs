//! What a job is expected to cost, from the runs the database already holds (`--like`).

use greenai_store::{RunStatus, RunSummary, Store};

/// A job's expected duration and energy: medians of earlier complete runs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Expected {
    pub duration_s: f64,
    pub energy_j: Option<f64>,
    /// How many runs the medians are of.
    pub runs: usize,
    /// What matched: `run 1a2b…`, `project train`, `label model=lenet`.
    pub matched: String,
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    })
}

/// The runs `key` names: a run id or unique prefix, else every complete run of the project
/// `key`, else every complete run labelled `KEY=VALUE`.
pub fn like(store: &Store, key: &str) -> Result<Expected, String> {
    let runs = store.runs().map_err(|e| e.to_string())?;
    let complete = |r: &&RunSummary| r.status == RunStatus::Complete && r.duration_s.is_some();
    let (picked, matched): (Vec<&RunSummary>, String) = if let Ok(id) = store.resolve(key) {
        let r: Vec<&RunSummary> = runs
            .iter()
            .filter(|r| r.run_id == id)
            .filter(complete)
            .collect();
        if r.is_empty() {
            return Err(format!("run {id} is not complete: it gives no duration"));
        }
        (r, format!("run {id}"))
    } else {
        let by_project: Vec<&RunSummary> = runs
            .iter()
            .filter(|r| r.project_name == key)
            .filter(complete)
            .collect();
        if !by_project.is_empty() {
            (by_project, format!("project {key}"))
        } else if let Some((k, v)) = key.split_once('=') {
            (
                runs.iter()
                    .filter(|r| r.labels.get(k).map(String::as_str) == Some(v))
                    .filter(complete)
                    .collect(),
                format!("label {key}"),
            )
        } else {
            (Vec::new(), String::new())
        }
    };
    if picked.is_empty() {
        return Err(format!(
            "no complete run matches {key:?} (a run id, a project name or a label KEY=VALUE); \
             `greenai runs list` shows them, or give --duration"
        ));
    }
    Ok(Expected {
        duration_s: median(picked.iter().filter_map(|r| r.duration_s).collect()).unwrap_or(0.0),
        energy_j: median(picked.iter().filter_map(|r| r.energy_j).collect()),
        runs: picked.len(),
        matched,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn medians() {
        assert_eq!(super::median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(super::median(vec![4.0, 1.0]), Some(2.5));
        assert_eq!(super::median(vec![]), None);
    }
}
