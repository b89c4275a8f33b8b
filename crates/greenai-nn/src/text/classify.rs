//! Text classification on the encoder: a linear head on the sentence vectors (standardised with
//! the training set's statistics), trained on vectors computed once from a frozen encoder
//! ([`train_head`]), or with the encoder's last `N` layers trained too ([`FineTuner`]), from the
//! token states before them, computed once.

use super::backward::{layer_backward, layer_forward_cached, pool_backward, LayerCache};
use super::encoder::{mean_pool, normalize_rows, Encoder, Packed};
use crate::kernels::{gemm, rm, rm_mut, softmax_cross_entropy, tr};
use crate::optim::{Optimizer, OptimizerKind, Schedule};
use crate::params::Params;
use crate::rng::SplitMix64;

/// A linear classifier on standardised vectors: `logits = W · (e − mean) ⊙ inv_std + b`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Head {
    pub width: usize,
    pub classes: usize,
    pub mean: Vec<f32>,
    pub inv_std: Vec<f32>,
    /// `[W (classes × width), b]`.
    pub p: Params,
}

impl Head {
    /// A zero head standardising with `features`' (`n × width`) statistics.
    pub fn new(features: &[f32], width: usize, classes: usize) -> Head {
        let n = (features.len() / width).max(1) as f64;
        let mut mean = vec![0.0f64; width];
        let mut sq = vec![0.0f64; width];
        for row in features.chunks_exact(width) {
            for j in 0..width {
                mean[j] += row[j] as f64;
                sq[j] += (row[j] as f64) * (row[j] as f64);
            }
        }
        let mean: Vec<f64> = mean.iter().map(|m| m / n).collect();
        let inv_std = sq
            .iter()
            .zip(&mean)
            .map(|(s, m)| (1.0 / ((s / n - m * m).max(0.0).sqrt() + 1e-6)) as f32)
            .collect();
        Head {
            width,
            classes,
            mean: mean.iter().map(|&m| m as f32).collect(),
            inv_std,
            p: Params(vec![vec![0.0; classes * width], vec![0.0; classes]]),
        }
    }

    fn standardise(&self, e: &[f32]) -> Vec<f32> {
        let mut z = e.to_vec();
        for row in z.chunks_exact_mut(self.width) {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.inv_std) {
                *v = (*v - m) * s;
            }
        }
        z
    }

    /// `n × classes` logits of `n × width` vectors.
    pub fn logits(&self, e: &[f32]) -> Vec<f32> {
        let n = e.len() / self.width;
        let z = self.standardise(e);
        let mut y = vec![0.0; n * self.classes];
        super::ops::linear(
            &z,
            &self.p.0[0],
            &self.p.0[1],
            n,
            self.width,
            self.classes,
            &mut y,
        );
        y
    }

    /// The most likely class of each vector.
    pub fn predict(&self, e: &[f32]) -> Vec<u32> {
        self.logits(e)
            .chunks_exact(self.classes)
            .map(super::argmax)
            .collect()
    }

    /// Mean cross-entropy over the rows and its gradients: the head's added to `grads`, the
    /// vectors' returned.
    pub fn backward(&self, e: &[f32], labels: &[u8], grads: &mut Params) -> (f64, Vec<f32>) {
        let n = labels.len();
        let (w, c) = (self.width, self.classes);
        let z = self.standardise(e);
        let logits = self.logits(e);
        let mut dl = vec![0.0; n * c];
        let loss = softmax_cross_entropy(&logits, labels, c, 1.0 / n as f32, &mut dl);
        let (gw, gb) = grads.0.split_at_mut(1);
        gemm(c, n, w, tr(&dl, c), rm(&z, w), 1.0, rm_mut(&mut gw[0], w));
        for row in dl.chunks_exact(c) {
            for (g, d) in gb[0].iter_mut().zip(row) {
                *g += d;
            }
        }
        let mut de = vec![0.0; n * w];
        gemm(
            n,
            c,
            w,
            rm(&dl, c),
            rm(&self.p.0[0], w),
            0.0,
            rm_mut(&mut de, w),
        );
        for row in de.chunks_exact_mut(w) {
            for (v, s) in row.iter_mut().zip(&self.inv_std) {
                *v *= s;
            }
        }
        (loss / n as f64, de)
    }
}

/// The share of `labels` that `predicted` gets right.
pub fn accuracy(predicted: &[u32], labels: &[u32]) -> f64 {
    let right = predicted.iter().zip(labels).filter(|(a, b)| a == b).count();
    right as f64 / labels.len().max(1) as f64
}

/// How a head (or a fine-tuning) is trained.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HeadConfig {
    pub epochs: usize,
    pub batch: usize,
    pub lr: f32,
    pub weight_decay: f32,
    pub seed: u64,
}

impl HeadConfig {
    pub fn frozen() -> HeadConfig {
        HeadConfig {
            epochs: 30,
            batch: 32,
            lr: 1e-3,
            weight_decay: 1e-4,
            seed: 1,
        }
    }

    pub fn fine_tune() -> HeadConfig {
        HeadConfig {
            epochs: 3,
            batch: 16,
            lr: 1e-4,
            weight_decay: 0.01,
            seed: 1,
        }
    }
}

fn bytes(labels: &[u32]) -> Vec<u8> {
    labels.iter().map(|&l| l as u8).collect()
}

/// Trains a head on fixed vectors (`n × width`), calling `after_epoch(epoch, &head)` after each
/// epoch; training stops when it returns true.
pub fn train_head(
    features: &[f32],
    labels: &[u32],
    width: usize,
    classes: usize,
    cfg: HeadConfig,
    mut after_epoch: impl FnMut(usize, &Head) -> bool,
) -> Head {
    let mut head = Head::new(features, width, classes);
    let n = labels.len();
    let steps = (cfg.epochs * n.div_ceil(cfg.batch)) as u64;
    let mut opt = Optimizer::new(OptimizerKind::AdamW, &head.p, cfg.lr);
    opt.weight_decay = cfg.weight_decay;
    opt.schedule = Schedule::Cosine { total_steps: steps };
    let mut rng = SplitMix64::new(cfg.seed);
    let mut order: Vec<usize> = (0..n).collect();
    let mut grads = Params::zeros_like(&head.p);
    for epoch in 0..cfg.epochs {
        rng.shuffle(&mut order);
        for chunk in order.chunks(cfg.batch) {
            let e: Vec<f32> = chunk
                .iter()
                .flat_map(|&i| &features[i * width..(i + 1) * width])
                .copied()
                .collect();
            let y: Vec<u8> = chunk.iter().map(|&i| labels[i] as u8).collect();
            grads.fill_zero();
            head.backward(&e, &y, &mut grads);
            opt.step(&mut head.p, &grads);
        }
        if after_epoch(epoch, &head) {
            break;
        }
    }
    head
}

/// Fine-tuning of the encoder's last `tuned` layers with a head, from each text's token states
/// before those layers.
pub struct FineTuner {
    pub encoder: Encoder,
    pub head: Head,
    pub tuned: usize,
    opt: Optimizer,
    rng: SplitMix64,
    cfg: HeadConfig,
}

impl FineTuner {
    /// Starts from `head` (trained on the frozen encoder's vectors first: linear probing, then
    /// fine-tuning, Kumar et al. 2022, so that the tuned layers do not chase a random head);
    /// `steps` is the number of optimiser steps planned (the cosine schedule).
    pub fn new(
        encoder: Encoder,
        tuned: usize,
        head: Head,
        cfg: HeadConfig,
        steps: u64,
    ) -> FineTuner {
        let mut ft = FineTuner {
            encoder,
            head,
            tuned,
            opt: Optimizer::new(OptimizerKind::AdamW, &Params::default(), cfg.lr),
            rng: SplitMix64::new(cfg.seed),
            cfg,
        };
        let all = ft.take();
        ft.opt = Optimizer::new(OptimizerKind::AdamW, &all, cfg.lr);
        ft.opt.weight_decay = cfg.weight_decay;
        ft.opt.schedule = Schedule::Cosine { total_steps: steps };
        ft.put(all);
        ft
    }

    fn first(&self) -> usize {
        self.encoder.config.layers - self.tuned
    }

    /// The trained tensors moved out into one [`Params`]: the tuned layers', then the head's.
    fn take(&mut self) -> Params {
        let first = self.first();
        let mut all = Vec::new();
        for l in &mut self.encoder.layers[first..] {
            all.append(&mut l.p.0);
        }
        all.append(&mut self.head.p.0);
        Params(all)
    }

    fn put(&mut self, all: Params) {
        let mut it = all.0.into_iter();
        let first = self.first();
        for l in &mut self.encoder.layers[first..] {
            l.p.0 = it.by_ref().take(12).collect();
        }
        self.head.p.0 = it.collect();
    }

    /// Sentence vectors of texts from their token states before the tuned layers.
    pub fn vectors(&self, states: &[&[f32]], threads: usize) -> Vec<f32> {
        vectors_from_states(&self.encoder, states, self.first(), threads)
    }

    /// Loss and gradients (tuned layers', then the head's) of one batch.
    fn gradients(&self, states: &[f32], batch: &Packed, labels: &[u8]) -> (f64, Params) {
        let h = self.encoder.config.hidden;
        let first = self.first();
        let mut caches = vec![LayerCache::default(); self.tuned];
        let mut x = states.to_vec();
        for (k, cache) in caches.iter_mut().enumerate() {
            layer_forward_cached(&self.encoder, first + k, &mut x, batch, cache);
        }
        let pooled = mean_pool(&x, batch, h);
        let mut e = pooled.clone();
        normalize_rows(&mut e, h);
        let mut head_g = Params::zeros_like(&self.head.p);
        let (loss, de) = self.head.backward(&e, labels, &mut head_g);
        let mut dx = pool_backward(&de, &pooled, batch, h);
        let mut layer_g: Vec<Params> = self.encoder.layers[first..]
            .iter()
            .map(|l| Params::zeros_like(&l.p))
            .collect();
        for k in (0..self.tuned).rev() {
            layer_backward(
                &self.encoder,
                first + k,
                &mut dx,
                batch,
                &caches[k],
                &mut layer_g[k],
            );
        }
        let mut all: Vec<Vec<f32>> = layer_g.into_iter().flat_map(|p| p.0).collect();
        all.extend(head_g.0);
        (loss, Params(all))
    }

    /// One epoch over `states` (each text's token states) with their labels, each batch split
    /// over `threads` threads; `after_step(step)` is called after each optimiser step and stops
    /// the epoch when it returns true. Returns the mean loss.
    pub fn epoch(
        &mut self,
        states: &[&[f32]],
        labels: &[u32],
        threads: usize,
        mut after_step: impl FnMut(&FineTuner) -> bool,
    ) -> f64 {
        let h = self.encoder.config.hidden;
        let mut order: Vec<usize> = (0..states.len()).collect();
        self.rng.shuffle(&mut order);
        let (mut loss_sum, mut batches) = (0.0, 0usize);
        let labels8 = bytes(labels);
        for chunk in order.chunks(self.cfg.batch) {
            let parts: Vec<&[usize]> = chunk.chunks(chunk.len().div_ceil(threads.max(1))).collect();
            let run = |part: &[usize]| {
                let lens: Vec<usize> = part.iter().map(|&i| states[i].len() / h).collect();
                let batch = packed_lengths(&lens);
                let x: Vec<f32> = part
                    .iter()
                    .flat_map(|&i| states[i].iter().copied())
                    .collect();
                let y: Vec<u8> = part.iter().map(|&i| labels8[i]).collect();
                let (l, mut g) = self.gradients(&x, &batch, &y);
                // Each part's mean, weighted to the batch's mean.
                let w = part.len() as f32 / chunk.len() as f32;
                for t in &mut g.0 {
                    t.iter_mut().for_each(|v| *v *= w);
                }
                (l * w as f64, g)
            };
            let results: Vec<(f64, Params)> = if parts.len() == 1 {
                vec![run(parts[0])]
            } else {
                std::thread::scope(|s| {
                    let hs: Vec<_> = parts.iter().map(|p| s.spawn(|| run(p))).collect();
                    hs.into_iter()
                        .map(|h| h.join().expect("a thread panicked"))
                        .collect()
                })
            };
            let mut it = results.into_iter();
            let (mut loss, mut g) = it.next().expect("a part");
            for (l, gi) in it {
                loss += l;
                g.add_assign(&gi);
            }
            let mut all = self.take();
            self.opt.step(&mut all, &g);
            self.put(all);
            loss_sum += loss;
            batches += 1;
            if after_step(self) {
                break;
            }
        }
        loss_sum / batches.max(1) as f64
    }
}

/// Sentence vectors (`texts × hidden`) from each text's token states before layer `first`: the
/// rest of the encoder, pooling and normalisation, batched by length over `threads` threads.
pub fn vectors_from_states(
    enc: &Encoder,
    states: &[&[f32]],
    first: usize,
    threads: usize,
) -> Vec<f32> {
    let h = enc.config.hidden;
    let lens: Vec<usize> = states.iter().map(|s| s.len() / h).collect();
    let rows = super::batched_by(&lens, threads, 2048, |group| {
        let glens: Vec<usize> = group.iter().map(|&i| lens[i]).collect();
        let b = packed_lengths(&glens);
        let mut x: Vec<f32> = group
            .iter()
            .flat_map(|&i| states[i].iter().copied())
            .collect();
        for l in first..enc.config.layers {
            enc.layer_forward(l, &mut x, &b);
        }
        let mut e = mean_pool(&x, &b, h);
        normalize_rows(&mut e, h);
        e.chunks_exact(h).map(<[f32]>::to_vec).collect::<Vec<_>>()
    });
    rows.concat()
}

/// A [`Packed`] of sequences of these lengths (the ids unused: the states are given).
pub fn packed_lengths(lens: &[usize]) -> Packed {
    let mut starts = vec![0];
    for l in lens {
        starts.push(starts.last().copied().unwrap_or(0) + l);
    }
    Packed {
        ids: vec![0; *starts.last().unwrap_or(&0)],
        starts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::encoder::Config;

    #[test]
    fn a_head_learns_separable_vectors() {
        let mut rng = SplitMix64::new(3);
        let (n, w) = (200, 6);
        let mut f = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let c = (i % 3) as u32;
            for j in 0..w {
                let centre = if j == c as usize { 2.0 } else { 0.0 };
                f.push(centre + rng.next_f32() - 0.5);
            }
            y.push(c);
        }
        let head = train_head(&f, &y, w, 3, HeadConfig::frozen(), |_, _| false);
        assert!(accuracy(&head.predict(&f), &y) > 0.97);
    }

    #[test]
    fn fine_tuning_lowers_the_loss_and_stops_when_asked() {
        let config = Config {
            vocab: 30,
            hidden: 8,
            heads: 2,
            intermediate: 16,
            layers: 2,
            max_positions: 16,
        };
        let enc = Encoder::random(config, 5);
        // Class = whether token 3 is in the text.
        let mut rng = SplitMix64::new(9);
        let mut seqs = Vec::new();
        let mut labels = Vec::new();
        for i in 0..64 {
            let len = 3 + rng.below(6);
            let mut s: Vec<u32> = (0..len).map(|_| 4 + rng.below(20) as u32).collect();
            if i % 2 == 0 {
                s[rng.below(len)] = 3;
            }
            labels.push((i % 2 == 0) as u32);
            seqs.push(s);
        }
        let owned: Vec<Vec<f32>> = seqs
            .iter()
            .map(|s| enc.states_through(&Packed::new(&[s]), 1))
            .collect();
        let states: Vec<&[f32]> = owned.iter().map(Vec::as_slice).collect();
        let feats: Vec<f32> = seqs
            .iter()
            .flat_map(|s| enc.encode(&Packed::new(&[s])))
            .collect();
        let cfg = HeadConfig {
            lr: 3e-3,
            batch: 8,
            ..HeadConfig::fine_tune()
        };
        let head = Head::new(&feats, 8, 2);
        let mut ft = FineTuner::new(enc.clone(), 1, head, cfg, 400);
        // Batched vectors from the states equal the whole encoder's, before any training.
        let v = ft.vectors(&states, 2);
        let diff = v
            .iter()
            .zip(&feats)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(diff < 1e-5, "{diff}");
        let first = ft.epoch(&states, &labels, 2, |_| false);
        let mut last = first;
        for _ in 0..40 {
            last = ft.epoch(&states, &labels, 2, |_| false);
        }
        assert!(last < 0.5 * first, "loss {first} → {last}");
        // The frozen first layer is untouched; the tuned one moved.
        assert_eq!(ft.encoder.layers[0].p, enc.layers[0].p);
        assert_ne!(ft.encoder.layers[1].p, enc.layers[1].p);
        let mut steps = 0;
        ft.epoch(&states, &labels, 1, |_| {
            steps += 1;
            steps == 3
        });
        assert_eq!(steps, 3);
    }
}
