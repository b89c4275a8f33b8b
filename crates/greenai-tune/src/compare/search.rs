//! Learning rate and batch size chosen by measurement, not by hand: short runs of a model at a few
//! rates and batch sizes, each on the same 8,192 training images in its own meter window, scored
//! by the accuracy they reach on 1,000 held-out images; the most accurate wins (within 0.2 points,
//! the cheaper). Its energy is counted in the configuration that uses the choice (and once more
//! in any later compare that reuses that configuration's result, as the settings profiling is).
//!
//! Equal images, not equal time: a short run shows how fast a rate and batch size learn per image
//! seen, which is what a job stopped at a target pays for; the per-image cost of each batch size
//! is in the energy column and breaks ties.

use crate::error::{Result, TuneError};
use greenai_meter::{detect, Provenance};
use greenai_nn::data::{shuffled, Dataset};
use greenai_nn::models::ModelKind;
use greenai_nn::optim::{Optimizer, OptimizerKind};
use greenai_nn::train::{Model, Runner};
use serde::{Deserialize, Serialize};

/// Training images per candidate run, and held-out images that score it.
pub const SEARCH_IMAGES: usize = 8192;
pub const SCORE_IMAGES: usize = 1000;
/// Accuracies closer than this are a tie, broken by energy.
const TIE: f64 = 0.002;

/// One candidate's short run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Candidate {
    pub lr: f32,
    pub batch: usize,
    pub accuracy: f64,
    pub energy_j: f64,
}

/// The search and its choice.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchChoice {
    pub model: String,
    pub candidates: Vec<Candidate>,
    pub chosen_lr: f32,
    pub chosen_batch: usize,
    pub search_energy_j: f64,
    /// How the search's energy was known (the least certain of its windows).
    pub provenance: Provenance,
    pub explanation: String,
}

/// The rates tried around a model's hand-set one, and the batch sizes.
pub fn candidates(base_lr: f32) -> Vec<(f32, usize)> {
    let mut out = Vec::new();
    for lr in [base_lr / 2.0, base_lr, base_lr * 2.0] {
        for batch in [64usize, 128] {
            out.push((lr, batch));
        }
    }
    out
}

/// The most accurate candidate; within `TIE` (0.2 points) of it, the one that spent least.
pub fn pick(cands: &[Candidate]) -> Option<usize> {
    let best = cands
        .iter()
        .map(|c| c.accuracy)
        .fold(f64::NEG_INFINITY, f64::max);
    cands
        .iter()
        .enumerate()
        .filter(|(_, c)| c.accuracy >= best - TIE)
        .min_by(|(_, a), (_, b)| a.energy_j.total_cmp(&b.energy_j))
        .map(|(i, _)| i)
}

/// Runs the search for `model` around `base_lr` at `threads`, on `train`.
pub fn search(
    model: ModelKind,
    base_lr: f32,
    threads: usize,
    train: &Dataset,
    interval: std::time::Duration,
) -> Result<SearchChoice> {
    let (builder, _) = detect::machine_builder();
    let meter = builder.interval(interval).start()?;
    let perm = shuffled(train.len(), 0x5ea_4c4);
    let score = SCORE_IMAGES.min(train.len() / 10);
    let (held, rest) = perm.split_at(score);
    let images = &rest[..SEARCH_IMAGES.min(rest.len())];
    if images.is_empty() || held.is_empty() {
        return Err(TuneError::Invalid(
            "too few training images to search a learning rate and batch size".into(),
        ));
    }
    let mut cands = Vec::new();
    let mut provenance = Provenance::Measured;
    for (lr, batch) in candidates(base_lr) {
        let mut m = Model::new(model, train.rows, train.cols, train.classes().max(2), 0)?;
        let mut opt = Optimizer::new(OptimizerKind::Adam, &m.params, lr);
        let runner = Runner {
            threads,
            batch,
            ..Runner::default()
        };
        meter.begin_window("search")?;
        runner.train_epoch(&mut m, &mut opt, train, images, &mut |_| {});
        let accuracy = runner.evaluate(&m.folded(), train, Some(held));
        let w = meter.end_window("search")?;
        provenance = provenance.max(w.provenance);
        cands.push(Candidate {
            lr,
            batch,
            accuracy,
            energy_j: w.energy.joules(),
        });
    }
    let i = pick(&cands).expect("six candidates");
    let c = cands[i].clone();
    let spent: f64 = cands.iter().map(|c| c.energy_j).sum();
    Ok(SearchChoice {
        model: model.name().into(),
        explanation: format!(
            "lr {} and batch {}: {:.4} held-out accuracy after {} images ({:.1} J), the most \
             accurate of {} short runs (within 0.2 points, the cheapest)",
            c.lr,
            c.batch,
            c.accuracy,
            images.len(),
            c.energy_j,
            cands.len()
        ),
        chosen_lr: c.lr,
        chosen_batch: c.batch,
        search_energy_j: spent,
        provenance,
        candidates: cands,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(lr: f32, batch: usize, accuracy: f64, energy_j: f64) -> Candidate {
        Candidate {
            lr,
            batch,
            accuracy,
            energy_j,
        }
    }

    #[test]
    fn the_most_accurate_wins_and_a_near_tie_goes_to_the_cheaper() {
        assert_eq!(candidates(0.004).len(), 6);
        assert_eq!(candidates(0.004)[0], (0.002, 64));
        let c = [
            cand(1e-3, 64, 0.95, 5.0),
            cand(2e-3, 64, 0.97, 5.0),
            cand(2e-3, 128, 0.969, 4.0),
            cand(4e-3, 64, 0.90, 3.0),
        ];
        assert_eq!(pick(&c), Some(2));
        let c = [cand(1e-3, 64, 0.95, 5.0), cand(2e-3, 64, 0.97, 5.0)];
        assert_eq!(pick(&c), Some(1));
        assert_eq!(pick(&[]), None);
    }
}
