//! The seed's LightweightNet, exactly: Conv2d(1→16, 3×3, padding 1) → ReLU → flatten →
//! Linear(16·H·W → classes). Forward and backward by hand over the [`crate::kernels`].

use crate::kernels::{
    gemm, im2col, relu, relu_backward, rm, rm_mut, softmax_cross_entropy, sum, tr, ConvShape,
};
use crate::rng::SplitMix64;

/// Output channels of the convolution.
pub const CHANNELS: usize = 16;

/// The network's shape. Parameters live in a [`Params`] beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LightweightNet {
    pub rows: usize,
    pub cols: usize,
    pub classes: usize,
}

/// Parameter tensors in a fixed order: conv weight (16×1×3×3), conv bias (16), linear weight
/// (classes × 16·H·W), linear bias (classes). Gradients use the same type.
#[derive(Debug, Clone, PartialEq)]
pub struct Params(pub Vec<Vec<f32>>);

impl Params {
    pub fn zeros_like(other: &Params) -> Params {
        Params(other.0.iter().map(|t| vec![0.0; t.len()]).collect())
    }
    pub fn fill_zero(&mut self) {
        for t in &mut self.0 {
            t.fill(0.0);
        }
    }
    pub fn add_assign(&mut self, other: &Params) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
    }
    pub fn count(&self) -> usize {
        self.0.iter().map(Vec::len).sum()
    }
}

/// Scratch buffers for a chunk of images, reused across batches.
#[derive(Debug, Default)]
pub struct Workspace {
    cols: Vec<f32>,
    act: Vec<f32>,
    logits: Vec<f32>,
    dlogits: Vec<f32>,
    dact: Vec<f32>,
}

impl LightweightNet {
    fn conv(&self) -> ConvShape {
        ConvShape {
            cin: 1,
            h: self.rows,
            w: self.cols,
            k: 3,
            stride: 1,
            pad: 1,
        }
    }

    fn features(&self) -> usize {
        CHANNELS * self.rows * self.cols
    }

    /// Parameters initialised as PyTorch does by default: weights and biases uniform in
    /// `±1/√fan_in` (Kaiming-uniform with a = √5).
    pub fn init(&self, seed: u64) -> Params {
        let mut rng = SplitMix64::new(seed);
        let mut uniform = |n: usize, fan_in: usize| -> Vec<f32> {
            let bound = 1.0 / (fan_in as f32).sqrt();
            (0..n)
                .map(|_| (rng.next_f32() * 2.0 - 1.0) * bound)
                .collect()
        };
        let f = self.features();
        Params(vec![
            uniform(CHANNELS * 9, 9),
            uniform(CHANNELS, 9),
            uniform(self.classes * f, f),
            uniform(self.classes, f),
        ])
    }

    pub fn param_count(&self) -> usize {
        CHANNELS * 9 + CHANNELS + self.classes * self.features() + self.classes
    }

    /// Floating-point operations of one inference (a multiply-add counts as two).
    pub fn flops(&self) -> u64 {
        let hw = (self.rows * self.cols) as u64;
        let conv = 2 * hw * CHANNELS as u64 * 9 + hw * CHANNELS as u64; // MACs, bias
        let relu = hw * CHANNELS as u64;
        let fc = 2 * self.features() as u64 * self.classes as u64 + self.classes as u64;
        conv + relu + fc
    }

    /// Forward pass of `n` normalised images into `ws.logits` (`n × classes`).
    fn forward(&self, p: &Params, x: &[f32], n: usize, ws: &mut Workspace) {
        let s = self.conv();
        let hw = self.rows * self.cols;
        let f = self.features();
        ws.cols.resize(n * 9 * hw, 0.0);
        ws.act.resize(n * f, 0.0);
        ws.logits.resize(n * self.classes, 0.0);
        for i in 0..n {
            let cols = &mut ws.cols[i * 9 * hw..(i + 1) * 9 * hw];
            im2col(&x[i * hw..(i + 1) * hw], s, cols);
            let act = &mut ws.act[i * f..(i + 1) * f];
            for (c, plane) in act.chunks_mut(hw).enumerate() {
                plane.fill(p.0[1][c]);
            }
            gemm(
                CHANNELS,
                9,
                hw,
                rm(&p.0[0], 9),
                rm(cols, hw),
                1.0,
                rm_mut(act, hw),
            );
        }
        relu(&mut ws.act);
        for row in ws.logits.chunks_mut(self.classes) {
            row.copy_from_slice(&p.0[3]);
        }
        gemm(
            n,
            f,
            self.classes,
            rm(&ws.act, f),
            tr(&p.0[2], f),
            1.0,
            rm_mut(&mut ws.logits, self.classes),
        );
    }

    /// Forward and backward on a chunk of `labels.len()` images. Adds `scale ·` the gradient of the
    /// summed loss into `g` and returns `(summed loss, correct predictions)`.
    pub fn train_chunk(
        &self,
        p: &Params,
        x: &[f32],
        labels: &[u8],
        scale: f32,
        g: &mut Params,
        ws: &mut Workspace,
    ) -> (f64, usize) {
        let n = labels.len();
        let hw = self.rows * self.cols;
        let f = self.features();
        let k = self.classes;
        self.forward(p, x, n, ws);
        let correct = count_correct(&ws.logits, labels, k);
        ws.dlogits.resize(n * k, 0.0);
        let loss = softmax_cross_entropy(&ws.logits, labels, k, scale, &mut ws.dlogits);

        // Linear: dW += dYᵀ·A, db += Σ dY, dA = dY·W.
        gemm(
            k,
            n,
            f,
            tr(&ws.dlogits, k),
            rm(&ws.act, f),
            1.0,
            rm_mut(&mut g.0[2], f),
        );
        for row in ws.dlogits.chunks(k) {
            for (b, d) in g.0[3].iter_mut().zip(row) {
                *b += d;
            }
        }
        ws.dact.resize(n * f, 0.0);
        gemm(
            n,
            k,
            f,
            rm(&ws.dlogits, k),
            rm(&p.0[2], f),
            0.0,
            rm_mut(&mut ws.dact, f),
        );
        relu_backward(&mut ws.dact, &ws.act);
        // Convolution: dW += dOut·colsᵀ, db += Σ dOut. The input needs no gradient.
        for i in 0..n {
            let dout = &ws.dact[i * f..(i + 1) * f];
            let cols = &ws.cols[i * 9 * hw..(i + 1) * 9 * hw];
            gemm(
                CHANNELS,
                hw,
                9,
                rm(dout, hw),
                tr(cols, hw),
                1.0,
                rm_mut(&mut g.0[0], 9),
            );
            for (c, plane) in dout.chunks(hw).enumerate() {
                g.0[1][c] += sum(plane);
            }
        }
        (loss, correct)
    }

    /// Predicted classes of `n` normalised images.
    pub fn predict_chunk(
        &self,
        p: &Params,
        x: &[f32],
        n: usize,
        ws: &mut Workspace,
        out: &mut Vec<u8>,
    ) {
        self.forward(p, x, n, ws);
        out.extend(ws.logits.chunks(self.classes).map(argmax));
    }
}

fn argmax(row: &[f32]) -> u8 {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Central finite differences on every tensor of a small net against the analytic gradient.
    #[test]
    fn gradients_match_finite_differences() {
        let net = LightweightNet {
            rows: 5,
            cols: 4,
            classes: 3,
        };
        let p = net.init(3);
        let mut rng = SplitMix64::new(9);
        let n = 4;
        let x: Vec<f32> = (0..n * 20).map(|_| rng.next_f32() * 2.0 - 1.0).collect();
        let y = [0u8, 2, 1, 2];
        let mut g = Params::zeros_like(&p);
        let mut ws = Workspace::default();
        net.train_chunk(&p, &x, &y, 1.0, &mut g, &mut ws);
        let loss = |q: &Params| {
            let mut scratch = Params::zeros_like(q);
            net.train_chunk(q, &x, &y, 1.0, &mut scratch, &mut Workspace::default())
                .0
        };
        for t in 0..4 {
            for idx in [0, p.0[t].len() / 2, p.0[t].len() - 1] {
                let h = 1e-3f32;
                let (mut plus, mut minus) = (p.clone(), p.clone());
                plus.0[t][idx] += h;
                minus.0[t][idx] -= h;
                let numeric = (loss(&plus) - loss(&minus)) / (2.0 * h as f64);
                let analytic = g.0[t][idx] as f64;
                assert!(
                    (numeric - analytic).abs() <= 2e-2 * numeric.abs().max(analytic.abs()) + 2e-4,
                    "tensor {t}[{idx}]: numeric {numeric} vs analytic {analytic}"
                );
            }
        }
    }

    #[test]
    fn the_seed_net_has_its_size() {
        let net = LightweightNet {
            rows: 28,
            cols: 28,
            classes: 10,
        };
        assert_eq!(net.param_count(), 16 * 9 + 16 + 10 * 16 * 784 + 10);
        assert_eq!(net.init(0).count(), net.param_count());
    }
}
