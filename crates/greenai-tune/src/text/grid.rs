//! `greenai compare --task text`: the n-gram baseline from scratch and the pretrained encoder
//! frozen (f32 and int8) and fine-tuned (last 1 and 2 layers), each a recorded `text-classify`
//! run (reused from the database by its key unless `fresh`); the Pareto front of accuracy against
//! training energy, the cheapest configuration at the target accuracy, and its saving against the
//! baseline's energy to the baseline's own best accuracy.

use super::classify::{run_classify, ClassifySpec, Method, TextResults};
use super::Dataset;
use crate::error::Result;
use crate::job::{JobSettings, Progress};
use crate::{least_energy_meeting, pareto, Outcome};
use greenai_meter::Provenance;
use greenai_store::Store;
use serde::Serialize;
use std::path::Path;

/// The grid's version: part of every key, raised when a configuration changes.
const GRID_VERSION: u32 = 1;

/// The configuration the saving is measured against.
pub const TEXT_BASELINE: &str = "ngram-from-scratch";

#[derive(Debug, Clone, Copy)]
pub struct TextConfig {
    pub name: &'static str,
    pub method: Method,
    pub tuned_layers: usize,
    pub int8: bool,
}

pub fn grid() -> Vec<TextConfig> {
    let c = |name, method, tuned_layers, int8| TextConfig {
        name,
        method,
        tuned_layers,
        int8,
    };
    vec![
        c(TEXT_BASELINE, Method::Ngram, 0, false),
        c("minilm-frozen", Method::Frozen, 0, false),
        c("minilm-frozen-int8", Method::Frozen, 0, true),
        c("minilm-fine-tune-1", Method::FineTune, 1, false),
        c("minilm-fine-tune-2", Method::FineTune, 2, false),
    ]
}

#[derive(Debug, Clone, Serialize)]
pub struct TextRow {
    pub config: String,
    pub accuracy: f64,
    pub training_energy_j: f64,
    pub energy_to_accuracy_j: Option<f64>,
    pub energy_to_best_j: Option<f64>,
    pub joules_per_1000_sentences: f64,
    pub provenance: Provenance,
    pub run_id: Option<String>,
    pub reused: bool,
    pub pareto: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct TextComparison {
    pub dataset: String,
    pub target_accuracy: f64,
    pub rows: Vec<TextRow>,
    pub best: Option<String>,
    /// The baseline's energy to its own best accuracy.
    pub baseline_energy_to_best_j: Option<f64>,
    /// That over the best configuration's training energy.
    pub saving_ratio: Option<f64>,
}

fn key(c: &TextConfig, dataset: &str, folds: usize) -> String {
    format!(
        "text-v{GRID_VERSION};{};{:?};tuned={};int8={};folds={folds};data={dataset}",
        c.name, c.method, c.tuned_layers, c.int8
    )
}

/// Runs (or reuses) the configurations named in `only` (all when empty) on `data`.
#[allow(clippy::too_many_arguments)]
pub fn run_grid(
    data: &Dataset,
    model_dir: &Path,
    target: f64,
    only: &[String],
    fresh: bool,
    job: &JobSettings,
    progress: &dyn Progress,
) -> Result<TextComparison> {
    if !(target > 0.0 && target <= 1.0) {
        crate::invalid!("--target-accuracy {target} must be above 0 and at most 1");
    }
    let grid: Vec<TextConfig> = grid()
        .into_iter()
        .filter(|c| only.is_empty() || only.iter().any(|o| o == c.name))
        .collect();
    if let Some(o) = only
        .iter()
        .find(|o| !grid.iter().any(|c| c.name == o.as_str()))
    {
        crate::invalid!(
            "--only {o}: the text grid's configurations are {}",
            self::grid()
                .iter()
                .map(|c| c.name)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let store = job.db.as_deref().map(Store::open).transpose()?;
    let mut rows = Vec::new();
    for (n, c) in grid.iter().enumerate() {
        let k = key(c, &data.name, 10);
        let earlier = match (&store, fresh) {
            (Some(s), false) => {
                crate::job::latest_results::<TextResults>(s, "text_compare_key", &k)?
            }
            _ => None,
        };
        if let Some((run_id, provenance, res)) = earlier {
            progress.note(&format!(
                "[{}/{}] {}: reused run {run_id} (accuracy {:.4}, {:.1} J)",
                n + 1,
                grid.len(),
                c.name,
                res.accuracy,
                res.training_energy_j
            ));
            rows.push(TextRow {
                config: c.name.into(),
                accuracy: res.accuracy,
                training_energy_j: res.training_energy_j,
                energy_to_accuracy_j: res.energy_to_accuracy_j,
                energy_to_best_j: res.energy_to_best_j,
                joules_per_1000_sentences: res.joules_per_1000_sentences,
                provenance: provenance.unwrap_or(Provenance::Estimated),
                run_id: Some(run_id),
                reused: true,
                pareto: false,
            });
            continue;
        }
        progress.note(&format!("[{}/{}] {}", n + 1, grid.len(), c.name));
        let mut settings = job.clone();
        settings.labels.insert("text_compare_key".into(), k);
        settings
            .labels
            .insert("text_compare_config".into(), c.name.into());
        let spec = ClassifySpec {
            method: c.method,
            tuned_layers: c.tuned_layers,
            model_dir: model_dir.to_path_buf(),
            int8: c.int8,
            epochs: None,
            lr: None,
            folds: 10,
            seed: 1,
            target_accuracy: Some(target),
        };
        let r = run_classify(&spec, data, &settings, progress)?;
        rows.push(TextRow {
            config: c.name.into(),
            accuracy: r.accuracy,
            training_energy_j: r.training_energy_j,
            energy_to_accuracy_j: r.energy_to_accuracy_j,
            energy_to_best_j: Some(r.energy_to_best_j),
            joules_per_1000_sentences: r.joules_per_1000_sentences,
            provenance: r.provenance,
            run_id: r.run_id,
            reused: false,
            pareto: false,
        });
    }
    Ok(choose(rows, target, &data.name))
}

/// The front, the cheapest row at the target, the saving against [`TEXT_BASELINE`].
pub fn choose(mut rows: Vec<TextRow>, target: f64, dataset: &str) -> TextComparison {
    let outcomes: Vec<Outcome> = rows
        .iter()
        .map(|r| Outcome {
            accuracy: r.accuracy,
            energy_j: r.training_energy_j,
        })
        .collect();
    for i in pareto::front(&outcomes) {
        rows[i].pareto = true;
    }
    let best = least_energy_meeting(&outcomes, target);
    let baseline = rows
        .iter()
        .find(|r| r.config == TEXT_BASELINE)
        .and_then(|r| r.energy_to_best_j);
    let saving = match (best, baseline) {
        (Some(b), Some(base)) if rows[b].training_energy_j > 0.0 => {
            Some(base / rows[b].training_energy_j)
        }
        _ => None,
    };
    TextComparison {
        dataset: dataset.to_string(),
        target_accuracy: target,
        best: best.map(|b| rows[b].config.clone()),
        baseline_energy_to_best_j: baseline,
        saving_ratio: saving,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, acc: f64, j: f64, best_j: f64) -> TextRow {
        TextRow {
            config: name.into(),
            accuracy: acc,
            training_energy_j: j,
            energy_to_accuracy_j: None,
            energy_to_best_j: Some(best_j),
            joules_per_1000_sentences: 1.0,
            provenance: Provenance::Estimated,
            run_id: None,
            reused: false,
            pareto: false,
        }
    }

    #[test]
    fn the_cheapest_row_at_the_target_wins_against_the_baselines_best() {
        let c = choose(
            vec![
                row(TEXT_BASELINE, 0.93, 40.0, 30.0),
                row("minilm-frozen", 0.96, 15.0, 15.0),
                row("minilm-fine-tune-1", 0.975, 60.0, 50.0),
                row("minilm-fine-tune-2", 0.972, 90.0, 80.0),
            ],
            0.971,
            "r8",
        );
        assert_eq!(c.best.as_deref(), Some("minilm-fine-tune-1"));
        assert_eq!(c.saving_ratio, Some(0.5));
        let front: Vec<&str> = c
            .rows
            .iter()
            .filter(|r| r.pareto)
            .map(|r| r.config.as_str())
            .collect();
        assert_eq!(front, ["minilm-frozen", "minilm-fine-tune-1"]);
        let none = choose(vec![row(TEXT_BASELINE, 0.9, 1.0, 1.0)], 0.95, "d");
        assert!(none.best.is_none() && none.saving_ratio.is_none());
    }

    #[test]
    fn every_configuration_has_its_own_key() {
        let keys: std::collections::BTreeSet<String> =
            grid().iter().map(|c| key(c, "uci", 10)).collect();
        assert_eq!(keys.len(), grid().len());
    }
}
