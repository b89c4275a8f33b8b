//! Layers that move values without arithmetic, or nearly: ShuffleNet's channel shuffle, zero
//! padding, the residual add and channel concatenation; forward and backward (gradients added).

use crate::graph::Shape;

/// `(groups, c/groups)` channels transposed to `(c/groups, groups)`.
pub fn shuffle(x: &[f32], out: &mut [f32], ins: Shape, groups: usize, n: usize) {
    let per = ins.c / groups;
    let pl = ins.plane();
    for img in 0..n {
        let base = img * ins.len();
        for gi in 0..groups {
            for j in 0..per {
                let (src, dst) = (gi * per + j, j * groups + gi);
                out[base + dst * pl..base + (dst + 1) * pl]
                    .copy_from_slice(&x[base + src * pl..base + (src + 1) * pl]);
            }
        }
    }
}

pub fn shuffle_backward(dy: &[f32], dx: &mut [f32], ins: Shape, groups: usize, n: usize) {
    let per = ins.c / groups;
    let pl = ins.plane();
    for img in 0..n {
        let base = img * ins.len();
        for gi in 0..groups {
            for j in 0..per {
                let (s, d) = (gi * per + j, j * groups + gi);
                for (a, b) in dx[base + s * pl..base + (s + 1) * pl]
                    .iter_mut()
                    .zip(&dy[base + d * pl..base + (d + 1) * pl])
                {
                    *a += b;
                }
            }
        }
    }
}

/// Each plane of `x` placed at (`top`, `left`) in a zeroed plane of shape `o`.
pub fn pad(
    x: &[f32],
    out: &mut [f32],
    ins: Shape,
    o: Shape,
    (top, left): (usize, usize),
    n: usize,
) {
    out.fill(0.0);
    for pl in 0..n * ins.c {
        for y in 0..ins.h {
            let src = &x[(pl * ins.h + y) * ins.w..(pl * ins.h + y + 1) * ins.w];
            let d = (pl * o.h + y + top) * o.w + left;
            out[d..d + ins.w].copy_from_slice(src);
        }
    }
}

pub fn pad_backward(
    dy: &[f32],
    dx: &mut [f32],
    ins: Shape,
    o: Shape,
    (top, left): (usize, usize),
    n: usize,
) {
    for pl in 0..n * ins.c {
        for y in 0..ins.h {
            let d = (pl * o.h + y + top) * o.w + left;
            let row = &mut dx[(pl * ins.h + y) * ins.w..(pl * ins.h + y + 1) * ins.w];
            for (a, b) in row.iter_mut().zip(&dy[d..d + ins.w]) {
                *a += b;
            }
        }
    }
}

/// `out = a + b`.
pub fn add(a: &[f32], b: &[f32], out: &mut [f32]) {
    for ((o, a), b) in out.iter_mut().zip(a).zip(b) {
        *o = a + b;
    }
}

/// Operations of the residual add: one per output.
pub fn flops_add(out: u64) -> u64 {
    out
}

/// The gradient of a sum, added into one of its inputs' gradients.
pub fn add_backward(dy: &[f32], dx: &mut [f32]) {
    for (a, b) in dx.iter_mut().zip(dy) {
        *a += b;
    }
}

/// Each image's `a` (of `la` values) then its `b` (of `lb`).
pub fn concat(a: &[f32], b: &[f32], out: &mut [f32], (la, lb): (usize, usize), n: usize) {
    for img in 0..n {
        let dst = &mut out[img * (la + lb)..(img + 1) * (la + lb)];
        dst[..la].copy_from_slice(&a[img * la..(img + 1) * la]);
        dst[la..].copy_from_slice(&b[img * lb..(img + 1) * lb]);
    }
}

/// The part of `dy` that came from the input of `l` values at offset `off`, added into `dx`.
pub fn concat_backward(
    dy: &[f32],
    dx: &mut [f32],
    (off, l, total): (usize, usize, usize),
    n: usize,
) {
    for img in 0..n {
        let from = &dy[img * total + off..img * total + off + l];
        for (a, b) in dx[img * l..(img + 1) * l].iter_mut().zip(from) {
            *a += b;
        }
    }
}
