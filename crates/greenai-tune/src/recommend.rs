//! `greenai recommend train`: matrix factorisation on a ratings file, cross-validated fold by
//! fold inside meter windows, with RMSE, MAE, the training energy, the energy to a target RMSE
//! (training stops there, checked on ratings held out of the training folds) and the energy per
//! 1,000 predictions; optionally a final model on every rating, saved for `recommend top-k`.

use crate::error::{Result, TuneError};
use crate::invalid;
use crate::job::{combined_uncertainty, JobSettings, Progress};
use greenai_meter::{Measurement, Provenance};
use greenai_nn::recommend::data::{fold_of, split, Ratings};
use greenai_nn::recommend::mf::{group_by_user, MfConfig, MfModel};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What to train and how to judge it.
#[derive(Debug, Clone)]
pub struct RecommendSpec {
    pub model: MfConfig,
    /// Cross-validation folds (2 or more).
    pub folds: usize,
    /// Seed of the fold assignment ([`fold_of`]).
    pub fold_seed: u64,
    /// Stop a fold's training once the RMSE on ratings held out of its training folds (5 %) is
    /// at most this.
    pub target_rmse: Option<f64>,
    /// Train a final model on every rating and save it here.
    pub save: Option<PathBuf>,
}

/// One fold's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FoldReport {
    pub fold: usize,
    pub rmse: f64,
    pub mae: f64,
    pub epochs_run: usize,
    pub training_energy_j: f64,
    pub training_duration_s: f64,
    /// With a target: whether the held-out check reached it, and the energy to that epoch.
    pub target_reached: Option<bool>,
    pub energy_to_target_j: Option<f64>,
}

/// What the job stores with its run (typed, as `train`'s results are).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecommendResults {
    pub model: String,
    pub rmse: f64,
    pub mae: f64,
    pub training_energy_j: f64,
    pub energy_to_target_j: Option<f64>,
    pub joules_per_1000_predictions: f64,
    pub folds: usize,
    pub factors: usize,
    pub epochs: usize,
    pub params: u64,
}

/// The whole job.
#[derive(Debug, Clone, Serialize)]
pub struct RecommendReport {
    pub run_id: Option<String>,
    pub dataset: String,
    pub model: String,
    pub config: MfConfig,
    pub ratings: usize,
    pub users: usize,
    pub items: usize,
    /// Means over the folds, and the folds' range.
    pub rmse: f64,
    pub mae: f64,
    pub rmse_range: (f64, f64),
    pub folds: Vec<FoldReport>,
    pub target_rmse: Option<f64>,
    /// Summed over the folds: every fold trained, every fold's energy to its target when all
    /// reached it.
    pub training_energy_j: f64,
    pub energy_to_target_j: Option<f64>,
    pub joules_per_1000_predictions: f64,
    pub predictions_per_s: f64,
    pub params: u64,
    pub energy_j: f64,
    pub duration_s: f64,
    pub provenance: Provenance,
    pub uncertainty: Option<f64>,
    pub emissions_g: f64,
    pub saved: Option<PathBuf>,
}

/// What `recommend top-k` loads: the model and the ids as the ratings file wrote them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedRecommender {
    pub format: String,
    pub users: Vec<String>,
    pub items: Vec<String>,
    pub model: MfModel,
}

const SAVED_FORMAT: &str = "greenai-mf-1";

pub fn model_name(c: &MfConfig) -> &'static str {
    if c.implicit {
        "svdpp"
    } else {
        "svd"
    }
}

/// Refuses settings no training can run with, before anything is read.
pub fn check(spec: &RecommendSpec) -> Result<()> {
    let m = &spec.model;
    if spec.folds < 2 || spec.folds > 100 {
        invalid!("--folds {} must be from 2 to 100", spec.folds);
    }
    if m.factors == 0 || m.factors > 4096 {
        invalid!("--factors {} must be from 1 to 4096", m.factors);
    }
    if m.epochs == 0 || m.epochs > 10_000 {
        invalid!("--epochs {} must be from 1 to 10,000", m.epochs);
    }
    if !(m.lr.is_finite() && m.lr > 0.0 && m.lr < 1.0) {
        invalid!("--lr {} must be above 0 and below 1", m.lr);
    }
    if !(m.reg.is_finite() && m.reg >= 0.0 && m.reg < 10.0) {
        invalid!("--reg {} must be from 0 to 10", m.reg);
    }
    if let Some(t) = spec.target_rmse.filter(|t| !(t.is_finite() && *t > 0.0)) {
        invalid!("--target-rmse {t} must be above 0");
    }
    Ok(())
}

fn triples(r: &Ratings, idx: &[usize]) -> Vec<(u32, u32, f32)> {
    let mut t: Vec<_> = idx.iter().map(|&i| r.triples[i]).collect();
    group_by_user(&mut t);
    t
}

/// Trains `model` for up to its epochs, each epoch a meter window; stops at `target` on `val`.
/// Returns the epochs' measurements and the energy to the target.
fn fit(
    model: &mut MfModel,
    train: &[(u32, u32, f32)],
    val: &[(u32, u32, f32)],
    target: Option<f64>,
    meter: &greenai_meter::Monitor,
) -> Result<(Vec<Measurement>, Option<bool>, Option<f64>)> {
    let mut epochs = Vec::new();
    for _ in 0..model.config.epochs {
        meter.begin_window("epoch")?;
        model.epoch(train);
        epochs.push(meter.end_window("epoch")?);
        if let Some(t) = target {
            if model.errors(val).0 <= t {
                let j = epochs.iter().map(|m| m.energy.joules()).sum();
                return Ok((epochs, Some(true), Some(j)));
            }
        }
    }
    Ok((epochs, target.map(|_| false), None))
}

/// Runs the job over `ratings` (named `dataset`).
pub fn run_recommend(
    spec: &RecommendSpec,
    dataset: &str,
    ratings: &Ratings,
    job_args: &JobSettings,
    progress: &dyn Progress,
) -> Result<RecommendReport> {
    check(spec)?;
    if let Some(dir) = spec.save.as_ref().and_then(|p| p.parent()) {
        if !dir.as_os_str().is_empty() && !dir.is_dir() {
            invalid!("--save: the directory {} does not exist", dir.display());
        }
    }
    let (users, items) = (ratings.users.len(), ratings.items.len());
    let name = model_name(&spec.model);
    let labels: BTreeMap<String, String> = [
        ("job", "recommend".to_string()),
        ("model", name.to_string()),
        ("factors", spec.model.factors.to_string()),
        ("epochs", spec.model.epochs.to_string()),
        ("folds", spec.folds.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mut job = job_args.start(labels)?;
    let meter = std::sync::Arc::clone(job.monitor());
    let mut folds = Vec::new();
    let mut all_ms: Vec<Measurement> = Vec::new();
    let (mut predicted, mut predict_s) = (0usize, 0.0f64);
    let mut eval_j = 0.0;
    let mut params = 0u64;
    for fold in 0..spec.folds {
        let (train_idx, test_idx) = split(ratings.triples.len(), spec.folds, fold, spec.fold_seed);
        // With a target, 5 % of the training folds check it; the rest train.
        let (fit_idx, val_idx): (Vec<usize>, Vec<usize>) = match spec.target_rmse {
            Some(_) => train_idx
                .iter()
                .partition(|&&i| fold_of(i, 20, spec.fold_seed.wrapping_add(1)) != 0),
            None => (train_idx.clone(), Vec::new()),
        };
        let (train, val, test) = (
            triples(ratings, &fit_idx),
            triples(ratings, &val_idx),
            triples(ratings, &test_idx),
        );
        let mut model = MfModel::new(spec.model, users, items, &train);
        params = model.params() as u64;
        let t = Instant::now();
        let (epochs, reached, to_target) = fit(&mut model, &train, &val, spec.target_rmse, &meter)?;
        let train_s = t.elapsed().as_secs_f64();
        meter.begin_window("predict")?;
        let t = Instant::now();
        let (rmse, mae) = model.errors(&test);
        predict_s += t.elapsed().as_secs_f64();
        let m = meter.end_window("predict")?;
        eval_j += m.energy.joules();
        predicted += test.len();
        let training_j: f64 = epochs.iter().map(|m| m.energy.joules()).sum();
        progress.note(&format!(
            "fold {}/{}: RMSE {rmse:.4}, MAE {mae:.4} after {} epoch(s), {training_j:.1} J{}",
            fold + 1,
            spec.folds,
            epochs.len(),
            match reached {
                Some(true) => " (stopped at the target)",
                Some(false) => " (target not reached)",
                None => "",
            }
        ));
        folds.push(FoldReport {
            fold,
            rmse,
            mae,
            epochs_run: epochs.len(),
            training_energy_j: training_j,
            training_duration_s: train_s,
            target_reached: reached,
            energy_to_target_j: to_target,
        });
        all_ms.extend(epochs);
        all_ms.push(m);
    }
    let mut saved = None;
    if let Some(path) = &spec.save {
        let mut all: Vec<(u32, u32, f32)> = ratings.triples.clone();
        group_by_user(&mut all);
        let mut model = MfModel::new(spec.model, users, items, &all);
        meter.begin_window("final")?;
        for _ in 0..spec.model.epochs {
            model.epoch(&all);
        }
        all_ms.push(meter.end_window("final")?);
        let s = SavedRecommender {
            format: SAVED_FORMAT.into(),
            users: ratings.users.clone(),
            items: ratings.items.clone(),
            model,
        };
        let text = serde_json::to_string(&s).map_err(|e| TuneError::Io(e.to_string()))?;
        std::fs::write(path, text)
            .map_err(|e| TuneError::Io(format!("writing {}: {e}", path.display())))?;
        saved = Some(path.clone());
    }
    let n = folds.len() as f64;
    let rmse = folds.iter().map(|f| f.rmse).sum::<f64>() / n;
    let mae = folds.iter().map(|f| f.mae).sum::<f64>() / n;
    let lo = folds.iter().map(|f| f.rmse).fold(f64::INFINITY, f64::min);
    let hi = folds
        .iter()
        .map(|f| f.rmse)
        .fold(f64::NEG_INFINITY, f64::max);
    let training_j: f64 = folds.iter().map(|f| f.training_energy_j).sum();
    let to_target: Option<f64> = folds.iter().map(|f| f.energy_to_target_j).sum();
    let per_k = eval_j * 1000.0 / predicted.max(1) as f64;
    job.label("rmse", format!("{rmse:.4}"));
    job.set_results(&RecommendResults {
        model: name.into(),
        rmse,
        mae,
        training_energy_j: training_j,
        energy_to_target_j: to_target,
        joules_per_1000_predictions: per_k,
        folds: spec.folds,
        factors: spec.model.factors,
        epochs: spec.model.epochs,
        params,
    })?;
    let end = job.finish(0, None)?;
    crate::job::tell_end(progress, &end);
    let provenance = crate::job::weakest_provenance(&all_ms, &end.measurement);
    Ok(RecommendReport {
        run_id: end.run_id.clone(),
        dataset: dataset.to_string(),
        model: name.into(),
        config: spec.model,
        ratings: ratings.triples.len(),
        users,
        items,
        rmse,
        mae,
        rmse_range: (lo, hi),
        folds,
        target_rmse: spec.target_rmse,
        training_energy_j: training_j,
        energy_to_target_j: to_target,
        joules_per_1000_predictions: per_k,
        predictions_per_s: predicted as f64 / predict_s.max(1e-9),
        params,
        energy_j: end.measurement.energy.joules(),
        duration_s: end.measurement.duration.as_secs_f64(),
        provenance,
        uncertainty: combined_uncertainty(std::iter::once(&end.measurement)),
        emissions_g: end.carbon.emissions_g,
        saved,
    })
}

/// A model `recommend train --save` wrote.
pub fn load(path: &Path) -> Result<SavedRecommender> {
    let text = greenai_meter::sysfs::read_bounded(path, 1 << 30)
        .map_err(|e| TuneError::Io(format!("cannot read {}: {e}", path.display())))?;
    let s: SavedRecommender = serde_json::from_str(&text).map_err(|e| {
        TuneError::Invalid(format!(
            "{} is not a model `greenai recommend train --save` wrote: {e}",
            path.display()
        ))
    })?;
    let m = &s.model;
    let k = m.config.factors;
    let fits = s.format == SAVED_FORMAT
        && s.users.len() == m.users
        && s.items.len() == m.items
        && m.user_bias.len() == m.users
        && m.item_bias.len() == m.items
        && m.p.len() == m.users * k
        && m.q.len() == m.items * k
        && (m.y.is_empty() || m.y.len() == m.items * k)
        && (!m.config.implicit || !m.y.is_empty())
        && m.rated.len() == m.users
        && m.rated.iter().flatten().all(|&i| (i as usize) < m.items);
    if !fits {
        invalid!(
            "{}: its tables do not fit together (a damaged or edited file)",
            path.display()
        );
    }
    Ok(s)
}

/// The `k` best items for user `user` (its id as in the ratings file): (item id, rating).
pub fn top_k(saved: &SavedRecommender, user: &str, k: usize) -> Result<Vec<(String, f32)>> {
    let Some(u) = saved.users.iter().position(|x| x == user) else {
        invalid!("no user {user:?} in this model's ratings");
    };
    Ok(saved
        .model
        .top_k(u as u32, k)
        .into_iter()
        .map(|(i, r)| (saved.items[i as usize].clone(), r))
        .collect())
}
