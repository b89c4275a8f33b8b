//! Pooling: 2×2 max pooling with stride 2 (with its argmax in training, branch-free at inference),
//! `k × k` average pooling (as a depthwise convolution) and global average pooling; forward,
//! backward and FLOPs.

use crate::backend::{Backend, Scratch};
use crate::graph::Shape;
use crate::kernels::{sum, ConvShape};

/// Operations of each pooling kind over `out` outputs (global pooling: its `inputs`).
pub fn flops_max(out: u64) -> u64 {
    out * 3
}
pub fn flops_avg(k: usize, out: u64) -> u64 {
    out * (k * k) as u64
}
pub fn flops_global(inputs: u64) -> u64 {
    inputs
}

/// Average pooling is a depthwise convolution of one plane with every tap `1/k²`.
fn avg_pool_as_depthwise(ins: Shape, k: usize, stride: usize, pad: usize) -> (ConvShape, Vec<f32>) {
    let s = ConvShape {
        cin: 1,
        h: ins.h,
        w: ins.w,
        k,
        stride,
        pad,
    };
    (s, vec![1.0 / (k * k) as f32; k * k])
}

/// Training's max pooling: the maximum of each 2×2 window, and where it was (`idx`, within the
/// plane) for the backward pass.
pub fn max_pool2_train(
    x: &[f32],
    out: &mut [f32],
    idx: &mut Vec<u32>,
    ins: Shape,
    o: Shape,
    n: usize,
) {
    idx.resize(out.len(), 0);
    for pl in 0..n * ins.c {
        let src = &x[pl * ins.plane()..(pl + 1) * ins.plane()];
        for oy in 0..o.h {
            for ox in 0..o.w {
                let base = 2 * oy * ins.w + 2 * ox;
                let mut best = base;
                for cand in [base + 1, base + ins.w, base + ins.w + 1] {
                    if src[cand] > src[best] {
                        best = cand;
                    }
                }
                let j = pl * o.plane() + oy * o.w + ox;
                out[j] = src[best];
                idx[j] = best as u32;
            }
        }
    }
}

/// 2×2 max pooling with stride 2 over `n × c` planes, without the argmax.
pub fn max_pool2(x: &[f32], out: &mut [f32], ins: Shape, o: Shape, n: usize) {
    for pl in 0..n * ins.c {
        let src = &x[pl * ins.plane()..(pl + 1) * ins.plane()];
        let dst = &mut out[pl * o.plane()..(pl + 1) * o.plane()];
        for oy in 0..o.h {
            let r0 = &src[2 * oy * ins.w..2 * oy * ins.w + 2 * o.w];
            let r1 = &src[(2 * oy + 1) * ins.w..(2 * oy + 1) * ins.w + 2 * o.w];
            for ((d, a), b) in dst[oy * o.w..(oy + 1) * o.w]
                .iter_mut()
                .zip(r0.chunks_exact(2))
                .zip(r1.chunks_exact(2))
            {
                *d = a[0].max(a[1]).max(b[0].max(b[1]));
            }
        }
    }
}

/// Backward of [`max_pool2_train`]: each output's gradient added where its maximum was.
pub fn max_pool2_backward(dy: &[f32], idx: &[u32], dx: &mut [f32], ins: Shape, o: Shape, n: usize) {
    for pl in 0..n * ins.c {
        for j in 0..o.plane() {
            let k = pl * o.plane() + j;
            dx[pl * ins.plane() + idx[k] as usize] += dy[k];
        }
    }
}

/// `k × k` average pooling of `n × c` planes, zero padding counted in the divisor.
#[allow(clippy::too_many_arguments)]
pub fn avg_pool(
    be: &dyn Backend,
    x: &[f32],
    out: &mut [f32],
    ks: &mut Scratch,
    ins: Shape,
    o: Shape,
    (k, stride, pad): (usize, usize, usize),
    n: usize,
) {
    let (s, ones) = avg_pool_as_depthwise(ins, k, stride, pad);
    for pl in 0..n * ins.c {
        be.depthwise(
            &x[pl * ins.plane()..(pl + 1) * ins.plane()],
            &ones,
            s,
            &mut out[pl * o.plane()..(pl + 1) * o.plane()],
            ks,
        );
    }
}

/// Backward of [`avg_pool`], added into `dx`.
#[allow(clippy::too_many_arguments)]
pub fn avg_pool_backward(
    be: &dyn Backend,
    x: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    ks: &mut Scratch,
    ins: Shape,
    o: Shape,
    (k, stride, pad): (usize, usize, usize),
    n: usize,
) {
    let (s, ones) = avg_pool_as_depthwise(ins, k, stride, pad);
    let mut dw = vec![0.0; k * k];
    for pl in 0..n * ins.c {
        be.depthwise_backward(
            &x[pl * ins.plane()..(pl + 1) * ins.plane()],
            &ones,
            &dy[pl * o.plane()..(pl + 1) * o.plane()],
            s,
            &mut dw,
            Some(&mut dx[pl * ins.plane()..(pl + 1) * ins.plane()]),
            ks,
        );
    }
}

/// The mean of each plane.
pub fn global_avg_pool(x: &[f32], out: &mut [f32], ins: Shape) {
    let inv = 1.0 / ins.plane() as f32;
    for (pl, y) in out.iter_mut().enumerate() {
        *y = sum(&x[pl * ins.plane()..(pl + 1) * ins.plane()]) * inv;
    }
}

/// Backward of [`global_avg_pool`], added into `dx`.
pub fn global_avg_pool_backward(dy: &[f32], dx: &mut [f32], ins: Shape) {
    let inv = 1.0 / ins.plane() as f32;
    for (pl, d) in dy.iter().enumerate() {
        for v in &mut dx[pl * ins.plane()..(pl + 1) * ins.plane()] {
            *v += d * inv;
        }
    }
}
