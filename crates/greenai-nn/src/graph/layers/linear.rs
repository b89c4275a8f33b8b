//! A fully connected layer over the flattened input (weight `fout × fin`, then the bias), with its
//! fused activation; forward, backward and FLOPs.

use super::act::Act;
use crate::backend::Backend;
use crate::kernels::{rm, rm_mut, tr};
use crate::params::Params;

/// Operations of `out` outputs: a multiply-add per input, the bias, the activation.
pub fn flops(fin: usize, act: Act, out: u64) -> u64 {
    out * (2 * fin as u64 + 1 + act.flops())
}

/// `out = act(x · Wᵀ + b)` for `n` rows of `fin` inputs; the weight at `weight`, the bias after.
#[allow(clippy::too_many_arguments)]
pub fn forward(
    be: &dyn Backend,
    p: &Params,
    weight: usize,
    x: &[f32],
    out: &mut [f32],
    (fin, fout): (usize, usize),
    act: Act,
    n: usize,
) {
    for row in out.chunks_mut(fout) {
        row.copy_from_slice(&p.0[weight + 1]);
    }
    be.gemm(
        n,
        fin,
        fout,
        rm(x, fin),
        tr(&p.0[weight], fin),
        1.0,
        rm_mut(out, fout),
    );
    act.apply(out);
}

/// Backward (`dy` already through the activation): the weight's and bias's gradients added into
/// `grads`; the input's written into `dx` (`dx_beta` 0) or added to it (1).
#[allow(clippy::too_many_arguments)]
pub fn backward(
    be: &dyn Backend,
    p: &Params,
    weight: usize,
    x: &[f32],
    dy: &[f32],
    grads: &mut Params,
    dx: Option<&mut [f32]>,
    dx_beta: f32,
    (fin, fout): (usize, usize),
    n: usize,
) {
    be.gemm(
        fout,
        n,
        fin,
        tr(dy, fout),
        rm(x, fin),
        1.0,
        rm_mut(&mut grads.0[weight], fin),
    );
    for row in dy.chunks(fout) {
        for (b, d) in grads.0[weight + 1].iter_mut().zip(row) {
            *b += d;
        }
    }
    if let Some(dx) = dx {
        be.gemm(
            n,
            fout,
            fin,
            rm(dy, fout),
            rm(&p.0[weight], fin),
            dx_beta,
            rm_mut(dx, fin),
        );
    }
}
