//! `greenai compare --task recommend`: a grid of recommendation configurations, each a recorded
//! `recommend train` run (reused from the database by its key unless `fresh`), the Pareto front of
//! RMSE against training energy, and the configuration with the least training energy at the
//! target RMSE, with its saving against Surprise's settings. The choice is compare's own rule
//! ([`crate::pareto::front`], [`crate::least_energy_meeting`]) on −RMSE as the accuracy.

use crate::error::Result;
use crate::job::{JobSettings, Progress};
use crate::recommend::{model_name, run_recommend, RecommendResults, RecommendSpec};
use crate::{least_energy_meeting, pareto, Outcome};
use greenai_meter::Provenance;
use greenai_nn::recommend::data::Ratings;
use greenai_nn::recommend::mf::MfConfig;
use greenai_store::Store;
use serde::Serialize;

/// The grid's version: part of every key, raised when a configuration changes.
const GRID_VERSION: u32 = 1;

/// The configuration whose energy the saving is measured against: Surprise's SVD() settings.
pub const REC_BASELINE: &str = "svd-surprise-settings";

/// One configuration: a name, the model, and whether it stops at the target.
#[derive(Debug, Clone)]
pub struct RecConfig {
    pub name: &'static str,
    pub model: MfConfig,
    pub stop_at_target: bool,
}

/// The grid: Surprise's settings for both models, and settings that train faster, stopped at the
/// target (their epochs are a ceiling).
pub fn grid() -> Vec<RecConfig> {
    let svd = MfConfig::svd();
    let svdpp = MfConfig::svdpp();
    vec![
        RecConfig {
            name: REC_BASELINE,
            model: svd,
            stop_at_target: false,
        },
        RecConfig {
            name: "svd-50f-to-target",
            model: MfConfig {
                factors: 50,
                lr: 0.01,
                reg: 0.05,
                epochs: 40,
                ..svd
            },
            stop_at_target: true,
        },
        RecConfig {
            name: "svd-100f-to-target",
            model: MfConfig {
                lr: 0.01,
                reg: 0.1,
                epochs: 40,
                ..svd
            },
            stop_at_target: true,
        },
        RecConfig {
            name: "svdpp-surprise-settings",
            model: svdpp,
            stop_at_target: false,
        },
        RecConfig {
            name: "svdpp-to-target",
            model: MfConfig {
                lr: 0.01,
                reg: 0.1,
                epochs: 40,
                ..svdpp
            },
            stop_at_target: true,
        },
    ]
}

/// One row of the table.
#[derive(Debug, Clone, Serialize)]
pub struct RecRow {
    pub config: String,
    pub model: String,
    pub factors: usize,
    pub epochs: usize,
    pub rmse: f64,
    pub mae: f64,
    pub training_energy_j: f64,
    pub joules_per_1000_predictions: f64,
    pub provenance: Provenance,
    pub run_id: Option<String>,
    pub reused: bool,
    pub pareto: bool,
}

/// The comparison.
#[derive(Debug, Clone, Serialize)]
pub struct RecComparison {
    pub target_rmse: f64,
    pub dataset: String,
    pub rows: Vec<RecRow>,
    pub best: Option<String>,
    pub baseline_training_energy_j: Option<f64>,
    /// The baseline's training energy over the best's.
    pub saving_ratio: Option<f64>,
}

fn key(c: &RecConfig, target: f64, folds: usize, dataset: &str) -> String {
    format!(
        "rec-v{GRID_VERSION};{};{:?};stop={};target={target};folds={folds};data={dataset}",
        c.name, c.model, c.stop_at_target
    )
}

/// Runs (or reuses) every configuration over `ratings` and chooses. `job` records each run;
/// `db`, when given, is where earlier results are looked up.
#[allow(clippy::too_many_arguments)]
pub fn run_grid(
    ratings: &Ratings,
    dataset: &str,
    target_rmse: f64,
    folds: usize,
    fresh: bool,
    job: &JobSettings,
    progress: &dyn Progress,
) -> Result<RecComparison> {
    if !(target_rmse.is_finite() && target_rmse > 0.0) {
        crate::invalid!("--target-rmse {target_rmse} must be above 0");
    }
    let store = job.db.as_deref().map(Store::open).transpose()?;
    let grid = grid();
    let mut rows = Vec::new();
    for (n, c) in grid.iter().enumerate() {
        let k = key(c, target_rmse, folds, dataset);
        let earlier = match (&store, fresh) {
            (Some(s), false) => {
                crate::job::latest_results::<RecommendResults>(s, "rec_compare_key", &k)?
            }
            _ => None,
        };
        if let Some((run_id, provenance, res)) = earlier {
            progress.note(&format!(
                "[{}/{}] {}: reused run {run_id} (RMSE {:.4}, {:.1} J)",
                n + 1,
                grid.len(),
                c.name,
                res.rmse,
                res.training_energy_j
            ));
            rows.push(RecRow {
                config: c.name.into(),
                model: res.model,
                factors: res.factors,
                epochs: res.epochs,
                rmse: res.rmse,
                mae: res.mae,
                training_energy_j: res.training_energy_j,
                joules_per_1000_predictions: res.joules_per_1000_predictions,
                provenance: provenance.unwrap_or(Provenance::Estimated),
                run_id: Some(run_id),
                reused: true,
                pareto: false,
            });
            continue;
        }
        progress.note(&format!(
            "[{}/{}] {}: {}, {} factors, up to {} epochs{}",
            n + 1,
            grid.len(),
            c.name,
            model_name(&c.model),
            c.model.factors,
            c.model.epochs,
            if c.stop_at_target {
                format!(", stopped at RMSE {target_rmse}")
            } else {
                String::new()
            }
        ));
        let mut settings = job.clone();
        settings.labels.insert("rec_compare_key".into(), k);
        settings
            .labels
            .insert("rec_compare_config".into(), c.name.into());
        let spec = RecommendSpec {
            model: c.model,
            folds,
            fold_seed: 0,
            target_rmse: c.stop_at_target.then_some(target_rmse),
            save: None,
        };
        let r = run_recommend(&spec, dataset, ratings, &settings, progress)?;
        rows.push(RecRow {
            config: c.name.into(),
            model: r.model,
            factors: r.config.factors,
            epochs: r.config.epochs,
            rmse: r.rmse,
            mae: r.mae,
            training_energy_j: r.training_energy_j,
            joules_per_1000_predictions: r.joules_per_1000_predictions,
            provenance: r.provenance,
            run_id: r.run_id,
            reused: false,
            pareto: false,
        });
    }
    Ok(choose(rows, target_rmse, dataset))
}

/// The front, the best at the target, the saving against [`REC_BASELINE`].
pub fn choose(mut rows: Vec<RecRow>, target_rmse: f64, dataset: &str) -> RecComparison {
    let outcomes: Vec<Outcome> = rows
        .iter()
        .map(|r| Outcome {
            accuracy: -r.rmse,
            energy_j: r.training_energy_j,
        })
        .collect();
    for i in pareto::front(&outcomes) {
        rows[i].pareto = true;
    }
    let best = least_energy_meeting(&outcomes, -target_rmse);
    let baseline = rows
        .iter()
        .find(|r| r.config == REC_BASELINE)
        .map(|r| r.training_energy_j);
    let saving = match (best, baseline) {
        (Some(b), Some(base)) if rows[b].training_energy_j > 0.0 => {
            Some(base / rows[b].training_energy_j)
        }
        _ => None,
    };
    RecComparison {
        target_rmse,
        dataset: dataset.to_string(),
        best: best.map(|b| rows[b].config.clone()),
        baseline_training_energy_j: baseline,
        saving_ratio: saving,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, rmse: f64, j: f64) -> RecRow {
        RecRow {
            config: name.into(),
            model: "svd".into(),
            factors: 10,
            epochs: 20,
            rmse,
            mae: rmse * 0.8,
            training_energy_j: j,
            joules_per_1000_predictions: 0.01,
            provenance: Provenance::Estimated,
            run_id: None,
            reused: false,
            pareto: false,
        }
    }

    /// Lower RMSE is better: the best is the cheapest at or under the target, the front holds
    /// the rows nothing beats on both, the saving is the baseline's energy over the best's.
    #[test]
    fn the_cheapest_row_at_the_target_rmse_wins() {
        let c = choose(
            vec![
                row(REC_BASELINE, 0.939, 20.0),
                row("cheap-but-poor", 0.95, 2.0),
                row("good", 0.932, 5.0),
                row("better", 0.915, 12.0),
                row("dominated", 0.94, 15.0),
            ],
            0.934,
            "d",
        );
        assert_eq!(c.best.as_deref(), Some("good"));
        assert_eq!(c.saving_ratio, Some(4.0));
        let front: Vec<&str> = c
            .rows
            .iter()
            .filter(|r| r.pareto)
            .map(|r| r.config.as_str())
            .collect();
        assert_eq!(front, ["cheap-but-poor", "good", "better"]);
        // Nothing at the target: no best, no saving.
        let c = choose(vec![row(REC_BASELINE, 0.95, 20.0)], 0.9, "d");
        assert!(c.best.is_none() && c.saving_ratio.is_none());
    }

    #[test]
    fn every_configuration_has_its_own_key() {
        let keys: std::collections::BTreeSet<String> =
            grid().iter().map(|c| key(c, 0.934, 5, "ml")).collect();
        assert_eq!(keys.len(), grid().len());
    }
}
