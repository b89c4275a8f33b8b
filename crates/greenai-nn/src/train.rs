//! Training and evaluation, data-parallel over threads: each thread runs forward and backward on
//! its share of a batch with its own gradient buffer; the buffers are summed, then one optimiser
//! step.

use crate::data::{Dataset, MNIST_MEAN, MNIST_STD};
use crate::lightweight::{LightweightNet, Params, Workspace};
use crate::optim::Adam;

/// One epoch's figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochStats {
    pub mean_loss: f64,
    pub train_accuracy: f64,
    pub samples: usize,
}

struct Worker {
    grads: Params,
    ws: Workspace,
    x: Vec<f32>,
    loss: f64,
    correct: usize,
}

/// Trains one epoch over `order` in batches of `batch`, on `threads` threads.
pub fn train_epoch(
    net: &LightweightNet,
    params: &mut Params,
    opt: &mut Adam,
    data: &Dataset,
    order: &[usize],
    batch: usize,
    threads: usize,
) -> EpochStats {
    train_epoch_with(net, params, opt, data, order, batch, threads, &mut |_| {})
}

/// [`train_epoch`], calling `progress` after every batch with the epoch's figures so far.
#[allow(clippy::too_many_arguments)]
pub fn train_epoch_with(
    net: &LightweightNet,
    params: &mut Params,
    opt: &mut Adam,
    data: &Dataset,
    order: &[usize],
    batch: usize,
    threads: usize,
    progress: &mut dyn FnMut(EpochStats),
) -> EpochStats {
    let threads = threads.max(1);
    let mut workers: Vec<Worker> = (0..threads)
        .map(|_| Worker {
            grads: Params::zeros_like(params),
            ws: Workspace::default(),
            x: Vec::new(),
            loss: 0.0,
            correct: 0,
        })
        .collect();
    let (mut loss, mut correct, mut seen) = (0.0, 0, 0);
    for idx in order.chunks(batch.max(1)) {
        let scale = 1.0 / idx.len() as f32;
        let per = idx.len().div_ceil(threads);
        let p: &Params = params;
        std::thread::scope(|s| {
            for (w, part) in workers.iter_mut().zip(idx.chunks(per)) {
                s.spawn(move || {
                    w.grads.fill_zero();
                    data.normalised_batch(part, MNIST_MEAN, MNIST_STD, &mut w.x);
                    let labels: Vec<u8> = part.iter().map(|&i| data.labels[i]).collect();
                    let (l, c) = net.train_chunk(p, &w.x, &labels, scale, &mut w.grads, &mut w.ws);
                    w.loss = l;
                    w.correct = c;
                });
            }
        });
        let used = idx.chunks(per).count();
        let (first, rest) = workers.split_at_mut(1);
        for w in &rest[..used - 1] {
            first[0].grads.add_assign(&w.grads);
        }
        opt.step(params, &first[0].grads);
        loss += workers[..used].iter().map(|w| w.loss).sum::<f64>();
        correct += workers[..used].iter().map(|w| w.correct).sum::<usize>();
        seen += idx.len();
        progress(EpochStats {
            mean_loss: loss / seen as f64,
            train_accuracy: correct as f64 / seen as f64,
            samples: seen,
        });
    }
    EpochStats {
        mean_loss: loss / order.len().max(1) as f64,
        train_accuracy: correct as f64 / order.len().max(1) as f64,
        samples: order.len(),
    }
}

/// Accuracy on every image of `data`, in chunks of `batch`, on `threads` threads.
pub fn evaluate(
    net: &LightweightNet,
    params: &Params,
    data: &Dataset,
    batch: usize,
    threads: usize,
) -> f64 {
    let all: Vec<usize> = (0..data.len()).collect();
    let threads = threads.max(1);
    let per = all.len().div_ceil(threads);
    let correct: usize = std::thread::scope(|s| {
        let handles: Vec<_> = all
            .chunks(per.max(1))
            .map(|part| {
                s.spawn(move || {
                    let (mut ws, mut x, mut pred) = (Workspace::default(), Vec::new(), Vec::new());
                    let mut correct = 0;
                    for c in part.chunks(batch) {
                        data.normalised_batch(c, MNIST_MEAN, MNIST_STD, &mut x);
                        pred.clear();
                        net.predict_chunk(params, &x, c.len(), &mut ws, &mut pred);
                        correct += pred
                            .iter()
                            .zip(c)
                            .filter(|(p, &i)| **p == data.labels[i])
                            .count();
                    }
                    correct
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("evaluation thread"))
            .sum()
    });
    correct as f64 / data.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{bundled_mnist_dir, shuffled, Split};

    /// Gradients of K micro-batches, each scaled by the whole batch's size and summed, equal the
    /// gradient of the whole batch: what the data-parallel split relies on.
    #[test]
    fn micro_batch_gradients_add_up_to_the_batch_gradient() {
        let data = Dataset::load(&bundled_mnist_dir(), Split::Test).unwrap();
        let net = LightweightNet {
            rows: 28,
            cols: 28,
            classes: 10,
        };
        let p = net.init(1);
        let idx: Vec<usize> = (0..64).collect();
        let grad_of = |part: &[usize]| {
            let mut g = Params::zeros_like(&p);
            let mut x = Vec::new();
            data.normalised_batch(part, MNIST_MEAN, MNIST_STD, &mut x);
            let y: Vec<u8> = part.iter().map(|&i| data.labels[i]).collect();
            let loss = net
                .train_chunk(&p, &x, &y, 1.0 / 64.0, &mut g, &mut Workspace::default())
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
        let net = LightweightNet {
            rows: 28,
            cols: 28,
            classes: 10,
        };
        let mut p = net.init(0);
        let mut opt = Adam::new(&p, 1e-3);
        let before = evaluate(&net, &p, &test, 500, 2);
        let order = &shuffled(train.len(), 0)[..12_800];
        let stats = train_epoch(&net, &mut p, &mut opt, &train, order, 64, 2);
        let after = evaluate(&net, &p, &test, 500, 2);
        assert!(before < 0.3, "{before}");
        assert!(
            after > 0.9,
            "200 steps of Adam reach over 90 %: {after} ({stats:?})"
        );
    }
}
