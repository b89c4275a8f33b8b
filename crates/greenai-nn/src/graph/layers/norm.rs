//! BatchNorm over each channel (training with the batch's statistics, inference with the running
//! ones), with its fused activation; forward, backward and FLOPs.

use crate::graph::{Shape, BN_EPS};
use crate::kernels::{dot, sum, sum_sq_dev};
use crate::params::Params;

/// Operations per output value: a scale and a shift, and the fused activation.
pub fn flops(act: super::act::Act, out: u64) -> u64 {
    out * (2 + act.flops())
}

/// Training: normalises `n` images `x` of shape `ins` with the batch's statistics into `out`,
/// keeping the normalised input in `xhat` and the batch mean, biased variance and 1/σ per
/// channel in `st` for the backward pass.
#[allow(clippy::too_many_arguments)]
pub fn forward_train(
    x: &[f32],
    out: &mut [f32],
    xhat: &mut Vec<f32>,
    st: &mut Vec<f32>,
    gamma: &[f32],
    beta: &[f32],
    ins: Shape,
    n: usize,
) {
    let plane = ins.plane();
    xhat.resize(out.len(), 0.0);
    st.clear();
    st.resize(3 * ins.c, 0.0);
    let m = (n * plane) as f64;
    for c in 0..ins.c {
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for img in 0..n {
            let o = (img * ins.c + c) * plane;
            let v = &x[o..o + plane];
            s1 += sum(v) as f64;
        }
        let mean = s1 / m;
        for img in 0..n {
            let o = (img * ins.c + c) * plane;
            s2 += sum_sq_dev(&x[o..o + plane], mean as f32) as f64;
        }
        let var = s2 / m;
        let inv = 1.0 / (var as f32 + BN_EPS).sqrt();
        st[c] = mean as f32;
        st[ins.c + c] = var as f32;
        st[2 * ins.c + c] = inv;
        let (mu, gm, bt) = (mean as f32, gamma[c], beta[c]);
        for img in 0..n {
            let o = (img * ins.c + c) * plane;
            for ((y, xh), &v) in out[o..o + plane]
                .iter_mut()
                .zip(&mut xhat[o..o + plane])
                .zip(&x[o..o + plane])
            {
                *xh = (v - mu) * inv;
                *y = gm * *xh + bt;
            }
        }
    }
}

/// Inference: `out = x · γ/√(var + ε) + (β − mean · γ/√(var + ε))` with the running `mean`
/// and `var`.
#[allow(clippy::too_many_arguments)]
pub fn forward_infer(
    x: &[f32],
    out: &mut [f32],
    gamma: &[f32],
    beta: &[f32],
    mean: &[f32],
    var: &[f32],
    ins: Shape,
    n: usize,
) {
    let plane = ins.plane();
    for c in 0..ins.c {
        let scale = gamma[c] / (var[c] + BN_EPS).sqrt();
        let shift = beta[c] - mean[c] * scale;
        for img in 0..n {
            let o = (img * ins.c + c) * plane;
            for (y, &v) in out[o..o + plane].iter_mut().zip(&x[o..o + plane]) {
                *y = v * scale + shift;
            }
        }
    }
}

/// Backward of [`forward_train`]: γ's and β's gradients (at `param`, `param + 1`) added into
/// `grads`; the input's written into `dx` (`dx_beta` 0) or added to it (1).
#[allow(clippy::too_many_arguments)]
pub fn backward(
    dy: &[f32],
    xhat: &[f32],
    st: &[f32],
    p: &Params,
    param: usize,
    grads: &mut Params,
    mut dx: Option<&mut [f32]>,
    dx_beta: f32,
    ins: Shape,
    n: usize,
) {
    let plane = ins.plane();
    let m = (n * plane) as f32;
    let gamma = &p.0[param];
    for c in 0..ins.c {
        let (mut dg, mut db) = (0.0f32, 0.0f32);
        for img in 0..n {
            let o = (img * ins.c + c) * plane;
            dg += dot(&dy[o..o + plane], &xhat[o..o + plane]);
            db += sum(&dy[o..o + plane]);
        }
        grads.0[param][c] += dg;
        grads.0[param + 1][c] += db;
        if let Some(dx) = dx.as_deref_mut() {
            let k = gamma[c] * st[2 * ins.c + c] / m;
            for img in 0..n {
                let o = (img * ins.c + c) * plane;
                let it = dx[o..o + plane]
                    .iter_mut()
                    .zip(&dy[o..o + plane])
                    .zip(&xhat[o..o + plane]);
                if dx_beta == 0.0 {
                    for ((d, &g_), &xh) in it {
                        *d = k * (m * g_ - db - xh * dg);
                    }
                } else {
                    for ((d, &g_), &xh) in it {
                        *d += k * (m * g_ - db - xh * dg);
                    }
                }
            }
        }
    }
}
