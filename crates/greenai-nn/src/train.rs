//! Training and evaluation, data-parallel over threads: each thread runs forward and backward on
//! its share of a batch with its own gradient buffer; the buffers are summed, then one optimiser
//! step. BatchNorm normalises each thread's share with that share's statistics (as PyTorch's
//! DataParallel without SyncBatchNorm does); with one thread it is exactly the batch's.

use crate::backend::{Backend, Cpu};
use crate::data::Samples;
use crate::graph::{Exec, BN_MOMENTUM};
use crate::kernels::softmax_cross_entropy;
pub use crate::model::{Inference, Model};
use crate::optim::Optimizer;
use crate::params::Params;
use crate::precision::{LossScaler, Precision};

/// One epoch's figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochStats {
    pub mean_loss: f64,
    pub train_accuracy: f64,
    pub samples: usize,
}

struct Worker {
    grads: Params,
    ex: Exec,
    x: Vec<f32>,
    labels: Vec<u8>,
    loss: f64,
    correct: usize,
    stats: Vec<Vec<f32>>,
}

/// How training runs: batch size, threads, and the backend.
#[derive(Clone, Copy)]
pub struct Runner<'a> {
    pub backend: &'a dyn Backend,
    pub batch: usize,
    pub threads: usize,
    /// The compute format of training ([`crate::precision`]); inference is unaffected.
    pub precision: Precision,
}

impl Default for Runner<'_> {
    fn default() -> Self {
        Runner {
            backend: &Cpu,
            batch: 64,
            threads: 1,
            precision: Precision::F32,
        }
    }
}

/// Forward and backward on one chunk: adds `scale ·` the gradient of the summed loss into
/// `grads`; returns `(summed loss, correct predictions)`.
pub fn train_chunk(
    be: &dyn Backend,
    model: &Model,
    x: &[f32],
    labels: &[u8],
    scale: f32,
    grads: &mut Params,
    ex: &mut Exec,
) -> (f64, usize) {
    let n = labels.len();
    let k = model.graph.classes();
    ex.forward(be, &model.graph, &model.params, &model.buffers, x, n, true);
    let correct = count_correct(ex.logits(), labels, k);
    let mut d = std::mem::take(&mut ex.dlogits);
    d.resize(n * k, 0.0);
    let loss = softmax_cross_entropy(ex.logits(), labels, k, scale, &mut d);
    ex.dlogits = d;
    ex.backward(be, &model.graph, &model.params, grads);
    (loss, correct)
}

impl Runner<'_> {
    /// Trains one epoch over `order` (f16 with a loss scaler of its own for the epoch; use
    /// [`Runner::train_epoch_scaled`] to keep one across epochs).
    pub fn train_epoch(
        &self,
        model: &mut Model,
        opt: &mut Optimizer,
        data: &dyn Samples,
        order: &[usize],
        progress: &mut dyn FnMut(EpochStats),
    ) -> EpochStats {
        self.train_epoch_scaled(model, opt, data, order, &mut LossScaler::new(), progress)
    }

    /// Trains one epoch over `order`; with f16, `scaler` scales the loss and skips the steps
    /// whose gradients overflow.
    pub fn train_epoch_scaled(
        &self,
        model: &mut Model,
        opt: &mut Optimizer,
        data: &dyn Samples,
        order: &[usize],
        scaler: &mut LossScaler,
        progress: &mut dyn FnMut(EpochStats),
    ) -> EpochStats {
        self.train_epoch_until(model, opt, data, order, scaler, progress, &mut |_| false)
    }

    /// [`Runner::train_epoch_scaled`], asking `stop` after every step, with the model as that
    /// step left it, whether to end here (a target accuracy reached): the statistics then cover
    /// the samples trained so far.
    #[allow(clippy::too_many_arguments)]
    pub fn train_epoch_until(
        &self,
        model: &mut Model,
        opt: &mut Optimizer,
        data: &dyn Samples,
        order: &[usize],
        scaler: &mut LossScaler,
        progress: &mut dyn FnMut(EpochStats),
        stop: &mut dyn FnMut(&Model) -> bool,
    ) -> EpochStats {
        let precision = self.precision;
        let scaled = precision == Precision::F16;
        // Reduced precision computes with a rounded copy of the master weights.
        let mut compute = (precision != Precision::F32).then(|| model.clone());
        let threads = self.threads.max(1);
        let be = self.backend;
        let mut workers: Vec<Worker> = (0..threads)
            .map(|_| Worker {
                grads: Params::zeros_like(&model.params),
                ex: Exec::default(),
                x: Vec::new(),
                labels: Vec::new(),
                loss: 0.0,
                correct: 0,
                stats: Vec::new(),
            })
            .collect();
        let has_bn = !model.graph.buffers.is_empty();
        // The threads beside this one, kept for the epoch: a thread spawned per step costs
        // tens of microseconds, a task handed to a waiting thread a few.
        let pool = (threads > 1)
            .then(|| {
                rayon_core::ThreadPoolBuilder::new()
                    .num_threads(threads - 1)
                    .thread_name(|i| format!("greenai-train-{i}"))
                    .build()
                    .ok()
            })
            .flatten();
        let (mut loss, mut correct, mut seen) = (0.0, 0, 0);
        for idx in order.chunks(self.batch.max(1)) {
            let loss_scale = if scaled { scaler.scale } else { 1.0 };
            let scale = loss_scale / idx.len() as f32;
            let per = idx.len().div_ceil(threads);
            if let Some(c) = &mut compute {
                for (dst, src) in c.params.0.iter_mut().zip(&model.params.0) {
                    dst.copy_from_slice(src);
                    precision.round(dst);
                }
                c.buffers = model.buffers.clone();
            }
            let m: &Model = compute.as_ref().unwrap_or(model);
            let run = |w: &mut Worker, part: &[usize]| {
                crate::kernels::flush_denormals();
                w.ex.precision = precision;
                w.grads.fill_zero();
                data.inputs(part, &mut w.x);
                w.labels.clear();
                w.labels.extend(part.iter().map(|&i| data.label(i)));
                let (l, c) = train_chunk(be, m, &w.x, &w.labels, scale, &mut w.grads, &mut w.ex);
                w.loss = l;
                w.correct = c;
                if has_bn {
                    w.stats = w.ex.batch_stats(&m.graph);
                }
            };
            let used = idx.chunks(per).count();
            if used == 1 {
                run(&mut workers[0], idx);
            } else if let Some(pool) = &pool {
                pool.in_place_scope(|s| {
                    let mut it = workers.iter_mut().zip(idx.chunks(per));
                    let (w0, p0) = it.next().expect("one chunk at least");
                    for (w, part) in it {
                        s.spawn(move |_| run(w, part));
                    }
                    run(w0, p0);
                });
            } else {
                // No pool (its threads could not be started): the same parts, one after another.
                for (w, part) in workers.iter_mut().zip(idx.chunks(per)) {
                    run(w, part);
                }
            }
            let (first, rest) = workers.split_at_mut(1);
            for w in &rest[..used - 1] {
                first[0].grads.add_assign(&w.grads);
            }
            let take_step = if precision == Precision::F32 {
                true
            } else {
                let finite = first[0].grads.all_finite();
                if scaled {
                    scaler.update(finite)
                } else {
                    finite
                }
            };
            if !take_step {
                // An overflow: no step, no running statistics; the scale is lower next time.
                seen += idx.len();
                continue;
            }
            if loss_scale != 1.0 {
                let inv = 1.0 / loss_scale;
                for t in &mut first[0].grads.0 {
                    t.iter_mut().for_each(|g| *g *= inv);
                }
            }
            opt.step(&mut model.params, &first[0].grads);
            if has_bn {
                // Running statistics move towards the mean of the threads' batch statistics.
                for (b, buf) in model.buffers.0.iter_mut().enumerate() {
                    for (c, r) in buf.iter_mut().enumerate() {
                        let avg = workers[..used].iter().map(|w| w.stats[b][c]).sum::<f32>()
                            / used as f32;
                        *r = (1.0 - BN_MOMENTUM) * *r + BN_MOMENTUM * avg;
                    }
                }
            }
            loss += workers[..used].iter().map(|w| w.loss).sum::<f64>();
            correct += workers[..used].iter().map(|w| w.correct).sum::<usize>();
            seen += idx.len();
            progress(EpochStats {
                mean_loss: loss / seen as f64,
                train_accuracy: correct as f64 / seen as f64,
                samples: seen,
            });
            if stop(model) {
                break;
            }
        }
        EpochStats {
            mean_loss: loss / seen.max(1) as f64,
            train_accuracy: correct as f64 / seen.max(1) as f64,
            samples: seen,
        }
    }

    /// Predicted classes of the images `which` of `data`, in order, with the model in inference
    /// mode (pass [`Model::folded`] for the fused path).
    pub fn predict(&self, model: &Model, data: &dyn Samples, which: &[usize]) -> Vec<u8> {
        let threads = self.threads.max(1);
        let per = which.len().div_ceil(threads).max(1);
        let be = self.backend;
        let k = model.graph.classes();
        std::thread::scope(|s| {
            let handles: Vec<_> = which
                .chunks(per)
                .map(|part| {
                    s.spawn(move || {
                        crate::kernels::flush_denormals();
                        let (mut inf, mut x, mut out) =
                            (Inference::default(), Vec::new(), Vec::new());
                        for c in part.chunks(self.batch.max(1)) {
                            data.inputs(c, &mut x);
                            let logits = inf.run(be, model, &x, c.len());
                            out.extend(logits.chunks(k).map(argmax));
                        }
                        out
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("inference thread"))
                .collect()
        })
    }

    /// Accuracy over the images `which` of `data` (all of them when `None`).
    pub fn evaluate(&self, model: &Model, data: &dyn Samples, which: Option<&[usize]>) -> f64 {
        let all: Vec<usize>;
        let which = match which {
            Some(w) => w,
            None => {
                all = (0..data.count()).collect();
                &all
            }
        };
        let pred = self.predict(model, data, which);
        let correct = pred
            .iter()
            .zip(which)
            .filter(|(p, &i)| **p == data.label(i))
            .count();
        correct as f64 / which.len().max(1) as f64
    }

    /// Accuracy over all of `data`, one batch of `self.batch` at a time with every thread on it
    /// (the batch split across the threads, joined before the next): the latency-bound way a
    /// framework's intra-op threads run one batch, where [`Runner::evaluate`] gives each thread
    /// batches of its own. Benchmarks time both ways on both sides.
    pub fn evaluate_one_batch_at_a_time(&self, model: &Model, data: &dyn Samples) -> f64 {
        let threads = self.threads.max(1);
        let split = Runner {
            batch: self.batch.max(1).div_ceil(threads),
            ..*self
        };
        let all: Vec<usize> = (0..data.count()).collect();
        let mut correct = 0usize;
        for chunk in all.chunks(self.batch.max(1)) {
            let pred = split.predict(model, data, chunk);
            correct += pred
                .iter()
                .zip(chunk)
                .filter(|(p, &i)| **p == data.label(i))
                .count();
        }
        correct as f64 / all.len().max(1) as f64
    }
}

pub fn argmax(row: &[f32]) -> u8 {
    let mut best = 0;
    for (j, v) in row.iter().enumerate() {
        if *v > row[best] {
            best = j;
        }
    }
    best as u8
}

fn count_correct(logits: &[f32], labels: &[u8], k: usize) -> usize {
    logits
        .chunks(k)
        .zip(labels)
        .filter(|(row, &y)| argmax(row) == y)
        .count()
}

/// Stops training when the validation accuracy has not improved by more than `min_delta` for
/// `patience` epochs in a row.
#[derive(Debug, Clone, PartialEq)]
pub struct EarlyStopping {
    pub patience: usize,
    pub min_delta: f64,
    pub best: f64,
    pub best_epoch: usize,
    stale: usize,
}

impl EarlyStopping {
    pub fn new(patience: usize, min_delta: f64) -> Self {
        EarlyStopping {
            patience,
            min_delta,
            best: f64::NEG_INFINITY,
            best_epoch: 0,
            stale: 0,
        }
    }

    /// Records `epoch`'s validation accuracy; true when training should stop.
    pub fn update(&mut self, epoch: usize, accuracy: f64) -> bool {
        if accuracy > self.best + self.min_delta {
            self.best = accuracy;
            self.best_epoch = epoch;
            self.stale = 0;
        } else {
            self.stale += 1;
        }
        self.stale >= self.patience
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{bundled_mnist_dir, shuffled, Dataset, Split, MNIST_MEAN, MNIST_STD};
    use crate::models::ModelKind;

    /// Gradients of K micro-batches, each scaled by the whole batch's size and summed, equal the
    /// gradient of the whole batch: what the data-parallel split relies on (no BatchNorm here).
    #[test]
    fn micro_batch_gradients_add_up_to_the_batch_gradient() {
        let data = Dataset::load(&bundled_mnist_dir(), Split::Test).unwrap();
        let model = Model::new(ModelKind::Lightweight, 28, 28, 10, 1).unwrap();
        let idx: Vec<usize> = (0..64).collect();
        let grad_of = |part: &[usize]| {
            let mut g = Params::zeros_like(&model.params);
            let mut x = Vec::new();
            data.normalised_batch(part, MNIST_MEAN, MNIST_STD, &mut x);
            let y: Vec<u8> = part.iter().map(|&i| data.labels[i]).collect();
            let loss = train_chunk(
                &Cpu,
                &model,
                &x,
                &y,
                1.0 / 64.0,
                &mut g,
                &mut Exec::default(),
            )
            .0;
            (g, loss)
        };
        let (whole, loss) = grad_of(&idx);
        let (mut parts, l1) = grad_of(&idx[..23]);
        let (rest, l2) = grad_of(&idx[23..]);
        parts.add_assign(&rest);
        assert!((loss - (l1 + l2)).abs() < 1e-3);
        for (a, b) in whole.0.iter().zip(&parts.0) {
            let scale = a.iter().fold(0f32, |m, v| m.max(v.abs()));
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() <= 1e-5 * scale.max(1e-6), "{x} vs {y}");
            }
        }
    }

    #[test]
    fn a_few_hundred_steps_learn_mnist() {
        let train = Dataset::load(&bundled_mnist_dir(), Split::Train).unwrap();
        let test = Dataset::load(&bundled_mnist_dir(), Split::Test).unwrap();
        let mut model = Model::new(ModelKind::Lightweight, 28, 28, 10, 0).unwrap();
        let mut opt = Optimizer::adam(&model.params, 1e-3);
        let r = Runner {
            threads: 2,
            ..Runner::default()
        };
        let before = r.evaluate(&model, &test, None);
        let order = &shuffled(train.len(), 0)[..12_800];
        let stats = r.train_epoch(&mut model, &mut opt, &train, order, &mut |_| {});
        let after = r.evaluate(&model, &test, None);
        // The benchmarks' second way of running inference sees the same predictions, with a
        // batch that does not split evenly and a last batch that is short.
        let odd = Runner {
            threads: 3,
            batch: 50,
            ..r
        };
        assert_eq!(odd.evaluate_one_batch_at_a_time(&model, &test), after);
        assert!(before < 0.3, "{before}");
        assert!(
            after > 0.9,
            "200 steps of Adam reach over 90 %: {after} ({stats:?})"
        );
    }

    #[test]
    fn early_stopping_waits_for_patience() {
        let mut es = EarlyStopping::new(2, 0.001);
        assert!(!es.update(1, 0.90));
        assert!(!es.update(2, 0.95));
        assert!(!es.update(3, 0.9505)); // within min_delta: stale 1
        assert!(es.update(4, 0.94)); // stale 2
        assert_eq!((es.best, es.best_epoch), (0.95, 2));
    }
}
