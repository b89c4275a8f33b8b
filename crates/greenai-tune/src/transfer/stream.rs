//! Transfer learning to a target accuracy, at the same granularity as training from scratch: the
//! frozen backbone's features are computed a chunk of training images at a time, the head trains
//! on each chunk as it arrives, and the target is checked on held-out validation features every N
//! steps, so the job stops having paid the backbone only for the images it used. Later epochs
//! reuse the features already computed. Every pass counts: the validation images' features, every
//! chunk's, the head's steps and the checks, in the job's energy to the check that reached it.

use crate::error::Result;
use crate::target::Checker;
use greenai_meter::Monitor;
use greenai_nn::data::{shuffled, Dataset, Tensors};
use greenai_nn::optim::Optimizer;
use greenai_nn::precision::LossScaler;
use greenai_nn::train::{Model, Runner};
use greenai_nn::transfer::{features, PassCost, Standardise};
use greenai_units::Energy;
use std::time::Instant;

/// Steps' worth of training images whose features are computed before the head trains on them
/// (1,024 images at batch 64): the granularity of the stream's cost, finer than a check's.
pub const CHUNK_STEPS: usize = 16;

/// What streaming cost and left.
pub struct Streamed {
    /// The backbone over the training images streamed.
    pub features: PassCost,
    /// The head's training and the checks.
    pub head: PassCost,
    /// Training images whose features were computed (and trained on).
    pub samples: usize,
    /// The statistics the head's inputs were standardised with (the first chunk's).
    pub standard: Standardise,
}

/// Where the streamed job runs: its meter, the job's energy so far, and the training setting.
pub struct Stream<'a> {
    /// The frozen part, and the training set whose images it reads.
    pub frozen: &'a Model,
    pub train: &'a Dataset,
    pub meter: &'a Monitor,
    pub energy: &'a dyn Fn() -> Option<Energy>,
    pub runner: Runner<'a>,
    pub input_size: usize,
    pub threads: usize,
    pub seed: u64,
    pub epochs: usize,
}

impl Stream<'_> {
    /// Trains `head` on the frozen part's features of `pool` (indices into the training set), computed
    /// chunk by chunk in the first epoch and reused after, checked by `checker` against
    /// `validation`: the frozen part's raw features of the held-out images, which this
    /// standardises with the first chunk's statistics (as every training feature is).
    pub fn run(
        &self,
        pool: &[usize],
        validation: &mut Tensors,
        head: &mut Model,
        opt: &mut Optimizer,
        checker: &mut Checker,
    ) -> Result<Streamed> {
        let (frozen, train) = (self.frozen, self.train);
        let width = frozen.graph.classes();
        let mut seen = Tensors {
            width,
            values: Vec::new(),
            labels: Vec::new(),
        };
        // (joules, seconds) of the backbone's passes and of the head's training.
        let (mut feature_cost, mut head_cost) = ((0.0, 0.0), (0.0, 0.0));
        let add = |c: &mut (f64, f64), j: f64, s: f64| {
            c.0 += j;
            c.1 += s;
        };
        let mut standard: Option<Standardise> = None;
        let mut scaler = LossScaler::new();
        'epochs: for epoch in 1..=self.epochs.max(1) {
            let chunks: Vec<&[usize]> = if epoch == 1 {
                pool.chunks(CHUNK_STEPS * self.runner.batch.max(1))
                    .collect()
            } else {
                vec![&pool[..seen.labels.len()]]
            };
            for (k, chunk) in chunks.into_iter().enumerate() {
                let range = if epoch == 1 {
                    // The backbone over this chunk, standardised with the first chunk's statistics.
                    self.meter.begin_window("features-train")?;
                    let t = Instant::now();
                    let f = features(frozen, train, chunk, self.input_size, self.threads);
                    let labels = chunk.iter().map(|&i| train.labels[i]).collect();
                    let mut part = Tensors::new(width, f, labels)?;
                    let w = self.meter.end_window("features-train")?;
                    add(
                        &mut feature_cost,
                        w.energy.joules(),
                        t.elapsed().as_secs_f64(),
                    );
                    let s = standard.get_or_insert_with(|| {
                        let s = Standardise::fit(&part);
                        s.apply(validation);
                        s
                    });
                    s.apply(&mut part);
                    let from = seen.labels.len();
                    seen.values.extend_from_slice(&part.values);
                    seen.labels.extend_from_slice(&part.labels);
                    from..seen.labels.len()
                } else {
                    0..seen.labels.len()
                };
                let order: Vec<usize> =
                    shuffled(range.len(), self.seed ^ ((epoch * 7919 + k) as u64))
                        .into_iter()
                        .map(|i| range.start + i)
                        .collect();
                self.meter.begin_window("train")?;
                let t = Instant::now();
                self.runner.train_epoch_until(
                    head,
                    opt,
                    &seen,
                    &order,
                    &mut scaler,
                    &mut |_| {},
                    &mut |m| {
                        checker.after_step(
                            epoch,
                            m,
                            &self.runner,
                            &*validation,
                            self.meter,
                            self.energy,
                        )
                    },
                );
                let w = self.meter.end_window("train")?;
                add(&mut head_cost, w.energy.joules(), t.elapsed().as_secs_f64());
                if let Some(e) = checker.error.take() {
                    return Err(e.into());
                }
                if checker.reached() {
                    break 'epochs;
                }
            }
        }
        let standard = match standard {
            Some(s) => s,
            None => Standardise::fit(&seen),
        };
        let cost = |c: (f64, f64)| PassCost {
            energy_j: c.0,
            duration_s: c.1,
        };
        Ok(Streamed {
            features: cost(feature_cost),
            head: cost(head_cost),
            samples: seen.labels.len(),
            standard,
        })
    }
}
