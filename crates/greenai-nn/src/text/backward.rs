//! The encoder layer's training pass: a forward that keeps what the backward needs, and the
//! backward through LayerNorm, the feed-forward block, attention and the stacked query/key/value
//! product; mean pooling and L2 normalisation backward too. Every piece is gradient-checked
//! against finite differences (the tests below).

use super::encoder::{attention, idx, Config, Encoder, Packed, LN_EPS};
use super::ops::{gelu, gelu_backward, layer_norm, layer_norm_backward, linear, linear_backward};
use crate::kernels::gemm;
use crate::params::Params;

/// What one layer's forward keeps for its backward.
#[derive(Debug, Clone, Default)]
pub struct LayerCache {
    x: Vec<f32>,
    qkv: Vec<f32>,
    probs: Vec<f32>,
    ctx: Vec<f32>,
    xhat1: Vec<f32>,
    rstd1: Vec<f32>,
    /// LayerNorm 1's output: the feed-forward block's input.
    a: Vec<f32>,
    /// The first feed-forward product before GELU, and after.
    u: Vec<f32>,
    f: Vec<f32>,
    xhat2: Vec<f32>,
    rstd2: Vec<f32>,
}

/// Layer `l` of `enc` on `x` in place (f32), keeping its intermediates in `cache`.
pub fn layer_forward_cached(
    enc: &Encoder,
    l: usize,
    x: &mut [f32],
    batch: &Packed,
    cache: &mut LayerCache,
) {
    let c = &enc.config;
    let (h, inter, t) = (c.hidden, c.intermediate, batch.tokens());
    let p = &enc.layers[l].p.0;
    cache.x = x.to_vec();
    cache.qkv = vec![0.0; t * 3 * h];
    linear(x, &p[idx::WQKV], &p[idx::BQKV], t, h, 3 * h, &mut cache.qkv);
    cache.ctx = vec![0.0; t * h];
    cache.probs.clear();
    attention(&cache.qkv, batch, c, &mut cache.ctx, Some(&mut cache.probs));
    let mut a = vec![0.0; t * h];
    linear(&cache.ctx, &p[idx::WO], &p[idx::BO], t, h, h, &mut a);
    for (v, r) in a.iter_mut().zip(x.iter()) {
        *v += r;
    }
    cache.xhat1 = vec![0.0; t * h];
    cache.rstd1 = vec![0.0; t];
    let c1 = (&mut cache.xhat1[..], &mut cache.rstd1[..]);
    layer_norm(&mut a, h, &p[idx::LN1G], &p[idx::LN1B], LN_EPS, Some(c1));
    cache.u = vec![0.0; t * inter];
    linear(&a, &p[idx::W1], &p[idx::B1], t, h, inter, &mut cache.u);
    cache.f = cache.u.clone();
    gelu(&mut cache.f);
    linear(&cache.f, &p[idx::W2], &p[idx::B2], t, inter, h, x);
    for (v, r) in x.iter_mut().zip(&a) {
        *v += r;
    }
    cache.a = a;
    cache.xhat2 = vec![0.0; t * h];
    cache.rstd2 = vec![0.0; t];
    let c2 = (&mut cache.xhat2[..], &mut cache.rstd2[..]);
    layer_norm(x, h, &p[idx::LN2G], &p[idx::LN2B], LN_EPS, Some(c2));
}

/// Layer `l`'s backward: `dy` (the gradient of its output) becomes the gradient of its input;
/// the parameters' gradients are added to `grads` (same order as the layer's [`Params`]).
pub fn layer_backward(
    enc: &Encoder,
    l: usize,
    dy: &mut [f32],
    batch: &Packed,
    cache: &LayerCache,
    grads: &mut Params,
) {
    let c = &enc.config;
    let (h, inter, t) = (c.hidden, c.intermediate, batch.tokens());
    let p = &enc.layers[l].p.0;
    let g = &mut grads.0;
    // LayerNorm 2, then the residual splits the gradient between the block and its input `a`.
    {
        let (lg, lb) = two(g, idx::LN2G, idx::LN2B);
        layer_norm_backward(dy, &cache.xhat2, &cache.rstd2, h, &p[idx::LN2G], lg, lb);
    }
    let mut df = vec![0.0; t * inter];
    {
        let (w, b) = two(g, idx::W2, idx::B2);
        linear_backward(&cache.f, &p[idx::W2], dy, t, inter, h, Some(&mut df), w, b);
    }
    gelu_backward(&mut df, &cache.u);
    let mut da = vec![0.0; t * h];
    {
        let (w, b) = two(g, idx::W1, idx::B1);
        linear_backward(&cache.a, &p[idx::W1], &df, t, h, inter, Some(&mut da), w, b);
    }
    for (v, r) in da.iter_mut().zip(dy.iter()) {
        *v += r;
    }
    {
        let (lg, lb) = two(g, idx::LN1G, idx::LN1B);
        layer_norm_backward(
            &mut da,
            &cache.xhat1,
            &cache.rstd1,
            h,
            &p[idx::LN1G],
            lg,
            lb,
        );
    }
    // `da` is now the gradient of (attention output + x): x's share is `da` itself.
    let mut dctx = vec![0.0; t * h];
    {
        let (w, b) = two(g, idx::WO, idx::BO);
        linear_backward(&cache.ctx, &p[idx::WO], &da, t, h, h, Some(&mut dctx), w, b);
    }
    let mut dqkv = vec![0.0; t * 3 * h];
    attention_backward(&cache.qkv, &cache.probs, &dctx, batch, c, &mut dqkv);
    {
        let (w, b) = two(g, idx::WQKV, idx::BQKV);
        linear_backward(&cache.x, &p[idx::WQKV], &dqkv, t, h, 3 * h, Some(dy), w, b);
    }
    for (v, r) in dy.iter_mut().zip(&da) {
        *v += r;
    }
}

/// Two distinct tensors of `g` mutably.
fn two(g: &mut [Vec<f32>], a: usize, b: usize) -> (&mut [f32], &mut [f32]) {
    debug_assert!(a < b);
    let (lo, hi) = g.split_at_mut(b);
    (&mut lo[a], &mut hi[0])
}

/// Attention's backward: from the context's gradient `dctx` to `dqkv` (query, key, value).
fn attention_backward(
    qkv: &[f32],
    probs: &[f32],
    dctx: &[f32],
    batch: &Packed,
    c: &Config,
    dqkv: &mut [f32],
) {
    let (h, d) = (c.hidden, c.head_dim());
    let (w, hs) = (3 * h as isize, h as isize);
    let scale = 1.0 / (d as f32).sqrt();
    let mut at = 0;
    let (mut dp, mut ds) = (Vec::new(), Vec::new());
    for (a, len) in batch.spans() {
        let l = len as isize;
        dp.resize(len * len, 0.0);
        ds.resize(len * len, 0.0);
        for head in 0..c.heads {
            let p = &probs[at..at + len * len];
            at += len * len;
            let (qo, ko, vo) = (
                a * 3 * h + head * d,
                a * 3 * h + h + head * d,
                a * 3 * h + 2 * h + head * d,
            );
            let dc = &dctx[a * h + head * d..];
            // dP = dctx · Vᵀ; dV = Pᵀ · dctx.
            gemm(
                len,
                d,
                len,
                (dc, hs, 1),
                (&qkv[vo..], 1, w),
                0.0,
                (&mut dp, l, 1),
            );
            gemm(
                len,
                len,
                d,
                (p, 1, l),
                (dc, hs, 1),
                0.0,
                (&mut dqkv[vo..], w, 1),
            );
            // Through the softmax: dS = P ⊙ (dP − Σ_j dP ⊙ P), then the 1/√d scale.
            for r in 0..len {
                let (pr, dpr) = (&p[r * len..(r + 1) * len], &dp[r * len..(r + 1) * len]);
                let dot: f32 = pr.iter().zip(dpr).map(|(a, b)| a * b).sum();
                for j in 0..len {
                    ds[r * len + j] = pr[j] * (dpr[j] - dot) * scale;
                }
            }
            // dQ = dS · K; dK = dSᵀ · Q.
            gemm(
                len,
                len,
                d,
                (&ds, l, 1),
                (&qkv[ko..], w, 1),
                0.0,
                (&mut dqkv[qo..], w, 1),
            );
            gemm(
                len,
                len,
                d,
                (&ds, 1, l),
                (&qkv[qo..], w, 1),
                0.0,
                (&mut dqkv[ko..], w, 1),
            );
        }
    }
}

/// Mean pooling and L2 normalisation's backward: from the sentence vectors' gradient `de`
/// (`sequences × width`) to the token states' (`tokens × width`). `pooled` is the mean before
/// normalising.
pub fn pool_backward(de: &[f32], pooled: &[f32], batch: &Packed, width: usize) -> Vec<f32> {
    let mut dx = vec![0.0; batch.tokens() * width];
    for (s, (a, len)) in batch.spans().enumerate() {
        let m = &pooled[s * width..(s + 1) * width];
        let g = &de[s * width..(s + 1) * width];
        let norm = m.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        let e_dot_g: f32 = m.iter().zip(g).map(|(a, b)| a * b).sum::<f32>() / norm;
        let inv = 1.0 / (norm * len.max(1) as f32);
        for row in dx[a * width..(a + len) * width].chunks_exact_mut(width) {
            for j in 0..width {
                row[j] = (g[j] - m[j] / norm * e_dot_g) * inv;
            }
        }
    }
    dx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::encoder::{mean_pool, normalize_rows};

    fn tiny() -> (Encoder, Packed) {
        let config = Config {
            vocab: 20,
            hidden: 8,
            heads: 2,
            intermediate: 12,
            layers: 2,
            max_positions: 16,
        };
        let enc = Encoder::random(config, 7);
        let batch = Packed::new(&[&[1, 5, 3], &[2, 9, 4, 11, 6], &[7]]);
        (enc, batch)
    }

    /// `Σ coef ⊙ normalize(mean_pool(layer 1(layer 0(x))))`: a loss every gradient flows to.
    fn loss(enc: &Encoder, x0: &[f32], batch: &Packed, coef: &[f32]) -> f64 {
        let mut x = x0.to_vec();
        for l in 0..enc.config.layers {
            enc.layer_forward(l, &mut x, batch);
        }
        let mut e = mean_pool(&x, batch, enc.config.hidden);
        normalize_rows(&mut e, enc.config.hidden);
        e.iter().zip(coef).map(|(a, b)| (a * b) as f64).sum()
    }

    #[test]
    fn the_encoder_layer_gradient_checks() {
        let (mut enc, batch) = tiny();
        let h = enc.config.hidden;
        let x0 = enc.embed(&batch);
        let coef: Vec<f32> = (0..batch.len() * h)
            .map(|i| ((i * 7 % 5) as f32 - 2.0) * 0.5)
            .collect();
        // Analytical: forward with caches, then back through pooling and both layers.
        let mut x = x0.clone();
        let mut caches = [LayerCache::default(), LayerCache::default()];
        for (l, cache) in caches.iter_mut().enumerate() {
            layer_forward_cached(&enc, l, &mut x, &batch, cache);
        }
        let pooled = mean_pool(&x, &batch, h);
        let mut dx = pool_backward(&coef, &pooled, &batch, h);
        let mut grads: Vec<Params> = enc
            .layers
            .iter()
            .map(|l| Params::zeros_like(&l.p))
            .collect();
        for l in (0..2).rev() {
            layer_backward(&enc, l, &mut dx, &batch, &caches[l], &mut grads[l]);
        }
        // The cached forward computes what the inference forward does.
        let mut y = x0.clone();
        enc.layer_forward(0, &mut y, &batch);
        enc.layer_forward(1, &mut y, &batch);
        assert_eq!(x, y);
        let eps = 1e-2f32;
        let check = |num: f64, ana: f32, what: &str| {
            assert!(
                (num - ana as f64).abs() <= 3e-3 + 3e-2 * num.abs().max(ana.abs() as f64),
                "{what}: numerical {num}, analytical {ana}"
            );
        };
        // Inputs.
        for i in (0..x0.len()).step_by(3) {
            let (mut p, mut m) = (x0.clone(), x0.clone());
            p[i] += eps;
            m[i] -= eps;
            let num = (loss(&enc, &p, &batch, &coef) - loss(&enc, &m, &batch, &coef))
                / (2.0 * eps as f64);
            check(num, dx[i], &format!("input {i}"));
        }
        // Every tensor of both layers, a spread of entries each.
        for (l, grad) in grads.iter().enumerate() {
            for t in 0..12 {
                let n = enc.layers[l].p.0[t].len();
                for i in (0..n).step_by((n / 6).max(1)) {
                    let orig = enc.layers[l].p.0[t][i];
                    enc.layers[l].p.0[t][i] = orig + eps;
                    let lp = loss(&enc, &x0, &batch, &coef);
                    enc.layers[l].p.0[t][i] = orig - eps;
                    let lm = loss(&enc, &x0, &batch, &coef);
                    enc.layers[l].p.0[t][i] = orig;
                    let num = (lp - lm) / (2.0 * eps as f64);
                    check(
                        num,
                        grad.0[t][i],
                        &format!("layer {l} tensor {t} entry {i}"),
                    );
                }
            }
        }
    }
}
