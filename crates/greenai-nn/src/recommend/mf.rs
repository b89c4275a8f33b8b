//! Matrix factorisation trained by stochastic gradient descent, as Surprise's `SVD` (Funk's
//! biased model: r̂ = μ + b_u + b_i + q_i·p_u) and `SVDpp` (Koren's SVD++: the user's vector plus
//! a normalised sum of implicit item vectors, y_j over the items the user rated) do, with their
//! defaults. SGD rather than ALS: it is the method of the library greenai is measured against,
//! so that a difference in energy is the implementation's and not the algorithm's.
//!
//! SVD++ here computes a user's implicit sum once per user per epoch and applies the y updates at
//! the end of the user's ratings (the usual batched form): Surprise recomputes the sum and updates
//! every y_j at each rating, O(|N(u)|·k) per rating.

use crate::rng::SplitMix64;
use serde::{Deserialize, Serialize};

/// A model's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MfConfig {
    pub factors: usize,
    pub epochs: usize,
    pub lr: f32,
    pub reg: f32,
    /// Standard deviation of the normal initial factors.
    pub init_std: f32,
    /// SVD++'s implicit feedback.
    pub implicit: bool,
    pub seed: u64,
}

impl MfConfig {
    /// Surprise's `SVD()` defaults: 100 factors, 20 epochs, rate 0.005, regularisation 0.02.
    pub fn svd() -> MfConfig {
        MfConfig {
            factors: 100,
            epochs: 20,
            lr: 0.005,
            reg: 0.02,
            init_std: 0.1,
            implicit: false,
            seed: 0,
        }
    }

    /// Surprise's `SVDpp()` defaults: 20 factors, 20 epochs, rate 0.007, regularisation 0.02.
    pub fn svdpp() -> MfConfig {
        MfConfig {
            factors: 20,
            epochs: 20,
            lr: 0.007,
            reg: 0.02,
            init_std: 0.1,
            implicit: true,
            seed: 0,
        }
    }
}

/// A trained (or training) model over users and items numbered from 0.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MfModel {
    pub config: MfConfig,
    pub users: usize,
    pub items: usize,
    pub mean: f32,
    pub user_bias: Vec<f32>,
    pub item_bias: Vec<f32>,
    /// users × factors.
    pub p: Vec<f32>,
    /// items × factors.
    pub q: Vec<f32>,
    /// items × factors (SVD++ only).
    pub y: Vec<f32>,
    /// Each user's rated items (SVD++'s N(u); also what top-k leaves out).
    pub rated: Vec<Vec<u32>>,
    /// The lowest and highest rating seen: predictions are clipped to them.
    pub scale: (f32, f32),
}

fn normal(rng: &mut SplitMix64, std: f32) -> f32 {
    // Box–Muller.
    let u1 = rng.next_f32().max(1e-7);
    let u2 = rng.next_f32();
    std * (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl MfModel {
    /// A model for `train` (user, item, rating) over `users` and `items`, initialised.
    pub fn new(config: MfConfig, users: usize, items: usize, train: &[(u32, u32, f32)]) -> MfModel {
        let k = config.factors;
        let mut rng = SplitMix64::new(config.seed);
        let mut init = |n: usize| -> Vec<f32> {
            (0..n * k)
                .map(|_| normal(&mut rng, config.init_std))
                .collect()
        };
        let p = init(users);
        let q = init(items);
        let y = if config.implicit {
            init(items)
        } else {
            Vec::new()
        };
        let mut rated = vec![Vec::new(); users];
        let (mut lo, mut hi, mut sum) = (f32::INFINITY, f32::NEG_INFINITY, 0.0f64);
        for &(u, i, r) in train {
            rated[u as usize].push(i);
            lo = lo.min(r);
            hi = hi.max(r);
            sum += r as f64;
        }
        MfModel {
            config,
            users,
            items,
            mean: (sum / train.len().max(1) as f64) as f32,
            user_bias: vec![0.0; users],
            item_bias: vec![0.0; items],
            p,
            q,
            y,
            rated,
            scale: (lo, hi),
        }
    }

    /// The factors a user's predictions use: p_u, plus the normalised implicit sum for SVD++.
    fn user_vector(&self, u: usize, out: &mut [f32]) {
        let k = self.config.factors;
        out.copy_from_slice(&self.p[u * k..(u + 1) * k]);
        if self.config.implicit && !self.rated[u].is_empty() {
            let norm = 1.0 / (self.rated[u].len() as f32).sqrt();
            for &j in &self.rated[u] {
                let yj = &self.y[j as usize * k..(j as usize + 1) * k];
                for f in 0..k {
                    out[f] += norm * yj[f];
                }
            }
        }
    }

    /// The predicted rating, clipped to the scale; an unknown user or item falls back to the
    /// biases that are known.
    pub fn predict(&self, u: u32, i: u32) -> f32 {
        let mut pu = vec![0.0; self.config.factors];
        if (u as usize) < self.users {
            self.user_vector(u as usize, &mut pu);
        }
        self.estimate(&pu, u, i)
    }

    fn estimate(&self, pu: &[f32], u: u32, i: u32) -> f32 {
        let (u, i) = (u as usize, i as usize);
        let k = self.config.factors;
        let mut est = self.mean;
        if u < self.users {
            est += self.user_bias[u];
        }
        if i < self.items {
            est += self.item_bias[i];
        }
        if u < self.users && i < self.items {
            est += dot(pu, &self.q[i * k..(i + 1) * k]);
        }
        est.clamp(self.scale.0, self.scale.1)
    }

    /// One epoch of SGD over `train` in its given order (Surprise's: the training set's). `train`
    /// must be grouped by user for SVD++ (see [`group_by_user`]).
    pub fn epoch(&mut self, train: &[(u32, u32, f32)]) {
        let k = self.config.factors;
        let (lr, reg) = (self.config.lr, self.config.reg);
        let mut pu_imp = vec![0.0f32; k];
        let mut y_grad = vec![0.0f32; k];
        let mut start = 0;
        while start < train.len() {
            let u = train[start].0 as usize;
            let end = if self.config.implicit {
                start
                    + train[start..]
                        .iter()
                        .take_while(|t| t.0 as usize == u)
                        .count()
            } else {
                start + 1
            };
            let norm = if self.config.implicit && !self.rated[u].is_empty() {
                1.0 / (self.rated[u].len() as f32).sqrt()
            } else {
                0.0
            };
            // The implicit part of the user's vector, fixed over the user's ratings.
            pu_imp.iter_mut().for_each(|v| *v = 0.0);
            if self.config.implicit {
                for &j in &self.rated[u] {
                    let yj = &self.y[j as usize * k..(j as usize + 1) * k];
                    for f in 0..k {
                        pu_imp[f] += norm * yj[f];
                    }
                }
                y_grad.iter_mut().for_each(|v| *v = 0.0);
            }
            for &(_, i, r) in &train[start..end] {
                let i = i as usize;
                let (p, q) = (
                    &mut self.p[u * k..(u + 1) * k],
                    &mut self.q[i * k..(i + 1) * k],
                );
                let err = r
                    - (self.mean
                        + self.user_bias[u]
                        + self.item_bias[i]
                        + q.iter()
                            .zip(p.iter().zip(&pu_imp))
                            .map(|(qf, (pf, imp))| qf * (pf + imp))
                            .sum::<f32>());
                self.user_bias[u] += lr * (err - reg * self.user_bias[u]);
                self.item_bias[i] += lr * (err - reg * self.item_bias[i]);
                if self.config.implicit {
                    for (g, qf) in y_grad.iter_mut().zip(q.iter()) {
                        *g += err * norm * qf;
                    }
                }
                // Zipped slices: no bounds checks, so the loop vectorises.
                for ((pf, qf), imp) in p.iter_mut().zip(q.iter_mut()).zip(&pu_imp) {
                    let (p0, q0) = (*pf, *qf);
                    *pf += lr * (err * q0 - reg * p0);
                    *qf += lr * (err * (p0 + imp) - reg * q0);
                }
            }
            if self.config.implicit {
                let n = (end - start) as f32;
                for &j in &self.rated[u] {
                    let yj = &mut self.y[j as usize * k..(j as usize + 1) * k];
                    for f in 0..k {
                        yj[f] += lr * (y_grad[f] - n * reg * yj[f]);
                    }
                }
            }
            start = end;
        }
    }

    /// Every user's vector ([`Self::user_vector`]), users × factors: SVD++'s implicit sums
    /// worked out once for a batch of predictions rather than at each.
    pub fn user_vectors(&self) -> Vec<f32> {
        let k = self.config.factors;
        let mut out = vec![0.0; self.users * k];
        for (u, v) in out.chunks_mut(k.max(1)).enumerate().take(self.users) {
            self.user_vector(u, v);
        }
        out
    }

    /// [`Self::predict`] with the users' vectors given.
    pub fn predict_with(&self, vectors: &[f32], u: u32, i: u32) -> f32 {
        let (uu, k) = (u as usize, self.config.factors);
        let pu = if uu < self.users {
            &vectors[uu * k..(uu + 1) * k]
        } else {
            &[][..]
        };
        self.estimate(pu, u, i)
    }

    /// Root mean squared and mean absolute error over `test`.
    pub fn errors(&self, test: &[(u32, u32, f32)]) -> (f64, f64) {
        let vectors = self.user_vectors();
        let (mut se, mut ae) = (0.0f64, 0.0f64);
        for &(u, i, r) in test {
            let e = (r - self.predict_with(&vectors, u, i)) as f64;
            se += e * e;
            ae += e.abs();
        }
        let n = test.len().max(1) as f64;
        ((se / n).sqrt(), ae / n)
    }

    /// The `k` items with the highest predicted rating that user `u` has not rated, best first.
    pub fn top_k(&self, u: u32, k: usize) -> Vec<(u32, f32)> {
        let seen: std::collections::HashSet<u32> = self
            .rated
            .get(u as usize)
            .map(|v| v.iter().copied().collect())
            .unwrap_or_default();
        let vectors = self.user_vectors();
        let mut all: Vec<(u32, f32)> = (0..self.items as u32)
            .filter(|i| !seen.contains(i))
            .map(|i| (i, self.predict_with(&vectors, u, i)))
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.truncate(k);
        all
    }

    /// Parameters: biases and factor matrices.
    pub fn params(&self) -> usize {
        1 + self.user_bias.len() + self.item_bias.len() + self.p.len() + self.q.len() + self.y.len()
    }
}

/// `triples` ordered by user (stable: each user's ratings keep their order), as Surprise's
/// training set iterates them and as SVD++'s per-user pass needs.
pub fn group_by_user(triples: &mut [(u32, u32, f32)]) {
    triples.sort_by_key(|t| t.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ratings from a known rank-2 model with biases: SGD recovers them (RMSE well under the
    /// spread of the ratings), for both models; predictions stay on the scale.
    fn synthetic() -> Vec<(u32, u32, f32)> {
        let mut rng = SplitMix64::new(3);
        let (users, items) = (60u32, 40u32);
        let uf: Vec<[f32; 2]> = (0..users)
            .map(|_| [rng.next_f32() * 2.0 - 1.0, rng.next_f32() * 2.0 - 1.0])
            .collect();
        let itf: Vec<[f32; 2]> = (0..items)
            .map(|_| [rng.next_f32() * 2.0 - 1.0, rng.next_f32() * 2.0 - 1.0])
            .collect();
        let mut out = Vec::new();
        for u in 0..users {
            for i in 0..items {
                if rng.next_f32() < 0.6 {
                    let d = uf[u as usize][0] * itf[i as usize][0]
                        + uf[u as usize][1] * itf[i as usize][1];
                    out.push((u, i, (3.0 + 1.5 * d + 0.3 * (u % 3) as f32).clamp(1.0, 5.0)));
                }
            }
        }
        out
    }

    #[test]
    fn sgd_learns_a_low_rank_model_and_svdpp_too() {
        let mut all = synthetic();
        group_by_user(&mut all);
        let (train, test): (Vec<_>, Vec<_>) = all.iter().enumerate().partition(|(n, _)| n % 5 != 0);
        let train: Vec<_> = train.into_iter().map(|(_, t)| *t).collect();
        let test: Vec<_> = test.into_iter().map(|(_, t)| *t).collect();
        let mean: f32 = train.iter().map(|t| t.2).sum::<f32>() / train.len() as f32;
        let spread = (test
            .iter()
            .map(|t| ((t.2 - mean) as f64).powi(2))
            .sum::<f64>()
            / test.len() as f64)
            .sqrt();
        for cfg in [
            MfConfig {
                factors: 4,
                epochs: 200,
                lr: 0.02,
                ..MfConfig::svd()
            },
            MfConfig {
                factors: 4,
                epochs: 200,
                lr: 0.02,
                ..MfConfig::svdpp()
            },
        ] {
            let mut m = MfModel::new(cfg, 60, 40, &train);
            let before = m.errors(&test).0;
            for _ in 0..cfg.epochs {
                m.epoch(&train);
            }
            let (rmse, mae) = m.errors(&test);
            assert!(
                rmse < 0.5 * spread && rmse < before,
                "{cfg:?}: {rmse} (spread {spread}, before {before})"
            );
            assert!(mae <= rmse);
            for u in 0..60 {
                for i in 0..40 {
                    let p = m.predict(u, i);
                    assert!((m.scale.0..=m.scale.1).contains(&p));
                }
            }
            // Top-k leaves out what the user rated, best first.
            let top = m.top_k(0, 5);
            assert!(top.windows(2).all(|w| w[0].1 >= w[1].1));
            assert!(top.iter().all(|(i, _)| !m.rated[0].contains(i)));
        }
        // An unknown user gets the item's bias, not a panic.
        let m = MfModel::new(MfConfig::svd(), 60, 40, &train);
        let _ = m.predict(1000, 3);
    }
}
