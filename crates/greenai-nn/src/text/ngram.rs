//! The from-scratch text baseline, fastText's supervised model (Joulin et al., 2017): words and
//! word bigrams hashed into buckets, each bucket a learned vector, a text the average of its
//! buckets' vectors, then a linear softmax; SGD with the rate falling linearly to zero. No
//! pretrained weights: what training from nothing costs and reaches.

use crate::kernels::softmax_cross_entropy;
use crate::rng::SplitMix64;

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NgramConfig {
    /// Hash buckets for words and bigrams.
    pub buckets: usize,
    pub dim: usize,
    pub epochs: usize,
    pub lr: f32,
    /// 1: words only; 2: words and bigrams.
    pub ngrams: usize,
    pub seed: u64,
}

impl Default for NgramConfig {
    /// fastText's supervised defaults except 2-grams and a larger rate (its tutorials' setting for
    /// small sets).
    fn default() -> Self {
        NgramConfig {
            buckets: 1 << 20,
            dim: 32,
            epochs: 10,
            lr: 0.5,
            ngrams: 2,
            seed: 1,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct NgramModel {
    pub config: NgramConfig,
    pub classes: usize,
    pub emb: Vec<f32>,
    pub w: Vec<f32>,
}

fn fnv(parts: &[&str]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h ^= 0x20;
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        for b in p.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x100_0000_01b3);
        }
    }
    h
}

/// Lower-cased words (runs of letters, digits and apostrophes) and, with `ngrams` 2, their
/// bigrams, hashed into `buckets`.
pub fn features(text: &str, ngrams: usize, buckets: usize) -> Vec<u32> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .collect();
    let mut out: Vec<u32> = words
        .iter()
        .map(|w| (fnv(&[w]) % buckets as u64) as u32)
        .collect();
    if ngrams >= 2 {
        out.extend(
            words
                .windows(2)
                .map(|p| (fnv(&[p[0], p[1]]) % buckets as u64) as u32),
        );
    }
    out
}

impl NgramModel {
    pub fn new(config: NgramConfig, classes: usize) -> NgramModel {
        let mut rng = SplitMix64::new(config.seed);
        let s = 1.0 / config.dim as f32;
        NgramModel {
            config,
            classes,
            emb: (0..config.buckets * config.dim)
                .map(|_| (rng.next_f32() * 2.0 - 1.0) * s)
                .collect(),
            w: vec![0.0; classes * config.dim],
        }
    }

    pub fn params(&self) -> usize {
        self.emb.len() + self.w.len()
    }

    fn hidden(&self, f: &[u32]) -> Vec<f32> {
        let d = self.config.dim;
        let mut h = vec![0.0f32; d];
        for &b in f {
            for (v, e) in h.iter_mut().zip(&self.emb[b as usize * d..][..d]) {
                *v += e;
            }
        }
        let inv = 1.0 / f.len().max(1) as f32;
        h.iter_mut().for_each(|v| *v *= inv);
        h
    }

    fn logits(&self, h: &[f32]) -> Vec<f32> {
        self.w
            .chunks_exact(self.config.dim)
            .map(|row| row.iter().zip(h).map(|(a, b)| a * b).sum())
            .collect()
    }

    pub fn predict(&self, feats: &[Vec<u32>]) -> Vec<u32> {
        feats
            .iter()
            .map(|f| super::argmax(&self.logits(&self.hidden(f))))
            .collect()
    }

    /// Trains on `feats` (from [`features`]) for the configured epochs, one example at a time;
    /// `after_epoch(epoch, &model)` stops training when it returns true.
    pub fn train(
        &mut self,
        feats: &[Vec<u32>],
        labels: &[u32],
        mut after_epoch: impl FnMut(usize, &NgramModel) -> bool,
    ) {
        let (d, c) = (self.config.dim, self.classes);
        let total = (self.config.epochs * feats.len()).max(1) as f32;
        let mut rng = SplitMix64::new(self.config.seed ^ 0x5eed);
        let mut order: Vec<usize> = (0..feats.len()).collect();
        let mut seen = 0usize;
        let mut grad = vec![0.0f32; c];
        for epoch in 0..self.config.epochs {
            rng.shuffle(&mut order);
            for &i in &order {
                let lr = self.config.lr * (1.0 - seen as f32 / total);
                seen += 1;
                let f = &feats[i];
                if f.is_empty() {
                    continue;
                }
                let h = self.hidden(f);
                let z = self.logits(&h);
                softmax_cross_entropy(&z, &[labels[i] as u8], c, 1.0, &mut grad);
                let mut dh = vec![0.0f32; d];
                for (k, g) in grad.iter().enumerate() {
                    let row = &mut self.w[k * d..(k + 1) * d];
                    for j in 0..d {
                        dh[j] += g * row[j];
                        row[j] -= lr * g * h[j];
                    }
                }
                let step = lr / f.len() as f32;
                for &b in f {
                    for (e, g) in self.emb[b as usize * d..][..d].iter_mut().zip(&dh) {
                        *e -= step * g;
                    }
                }
            }
            if after_epoch(epoch, self) {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bigrams_are_hashed_apart_from_their_words() {
        let f = features("Not good, not GOOD", 2, 1 << 20);
        assert_eq!(f.len(), 4 + 3);
        assert_eq!(f[0], f[2]);
        assert_eq!(f[1], f[3]);
        assert_ne!(f[4], f[0]);
        assert!(features("", 2, 16).is_empty());
    }

    #[test]
    fn the_baseline_learns_a_word_rule() {
        let texts: Vec<String> = (0..200)
            .map(|i| {
                let w = ["great", "awful"][i % 2];
                format!("the {w} thing number {}", i % 17)
            })
            .collect();
        let labels: Vec<u32> = (0..200).map(|i| (i % 2) as u32).collect();
        let cfg = NgramConfig {
            buckets: 4096,
            ..NgramConfig::default()
        };
        let feats: Vec<Vec<u32>> = texts.iter().map(|t| features(t, 2, cfg.buckets)).collect();
        let mut m = NgramModel::new(cfg, 2);
        let mut epochs = 0;
        m.train(&feats, &labels, |_, _| {
            epochs += 1;
            false
        });
        assert_eq!(epochs, cfg.epochs);
        let right = m
            .predict(&feats)
            .iter()
            .zip(&labels)
            .filter(|(a, b)| a == b)
            .count();
        assert_eq!(right, 200);
    }
}
