//! Convolution with groups and strides: depthwise by a direct kernel, pointwise (1×1) as one GEMM
//! per group, the rest through im2col and a GEMM; forward, backward and FLOPs.

use super::act::Act;
use crate::backend::{Backend, Scratch};
use crate::graph::Shape;
use crate::kernels::{rm, rm_mut, sum, tr, ConvShape};
use crate::params::Params;

/// A convolution's settings and where its parameters are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv {
    pub cin: usize,
    pub cout: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
    pub groups: usize,
    /// Index of the weight, `cout × cin/groups × k × k`, in the parameters.
    pub weight: usize,
    pub bias: Option<usize>,
    pub act: Act,
}

impl Conv {
    /// One group per channel, as many outputs as inputs.
    pub fn is_depthwise(&self) -> bool {
        self.groups > 1 && self.groups == self.cin && self.groups == self.cout
    }
    /// A 1×1 convolution with stride 1 and no padding: a GEMM over the image, no patches.
    pub fn is_pointwise(&self) -> bool {
        self.k == 1 && self.stride == 1 && self.pad == 0
    }
    /// The kernels' view of this convolution over an input of shape `ins`.
    pub fn shape(&self, ins: Shape) -> ConvShape {
        ConvShape {
            cin: ins.c,
            h: ins.h,
            w: ins.w,
            k: self.k,
            stride: self.stride,
            pad: self.pad,
        }
    }

    /// Rows of one group's patch matrix: each output's inputs.
    pub fn patch(&self) -> usize {
        self.cin / self.groups * self.k * self.k
    }
}

/// Operations of one image's outputs (`out` values): a multiply-add per patch element, the bias,
/// the fused activation.
pub fn flops(c: &Conv, out: u64) -> u64 {
    out * (2 * c.patch() as u64 + c.bias.is_some() as u64 + c.act.flops())
}

#[allow(clippy::too_many_arguments)]
pub fn forward(
    be: &dyn Backend,
    c: &Conv,
    ins: Shape,
    outs: Shape,
    p: &Params,
    x: &[f32],
    out: &mut [f32],
    cols: &mut Vec<f32>,
    ks: &mut Scratch,
    n: usize,
) {
    let s = c.shape(ins);
    let w = &p.0[c.weight];
    let (ohw, ihw) = (outs.plane(), ins.plane());
    let (cin_g, cout_g) = (c.cin / c.groups, c.cout / c.groups);
    let patch = c.patch();
    let beta = if let (Some(b), false) = (c.bias, c.is_depthwise()) {
        for img in 0..n {
            for (o, plane) in out[img * outs.len()..(img + 1) * outs.len()]
                .chunks_mut(ohw)
                .enumerate()
            {
                plane.fill(p.0[b][o]);
            }
        }
        1.0
    } else {
        0.0
    };
    if c.is_depthwise() {
        let one = ConvShape { cin: 1, ..s };
        let kk = c.k * c.k;
        for img in 0..n {
            for ch in 0..c.cin {
                let xi = &x[(img * c.cin + ch) * ihw..(img * c.cin + ch + 1) * ihw];
                let o = (img * c.cout + ch) * ohw;
                // The kernel overwrites; the bias is added afterwards.
                be.depthwise(
                    xi,
                    &w[ch * kk..(ch + 1) * kk],
                    one,
                    &mut out[o..o + ohw],
                    ks,
                );
                if let Some(b) = c.bias {
                    let b = p.0[b][ch];
                    out[o..o + ohw].iter_mut().for_each(|v| *v += b);
                }
            }
        }
    } else if c.is_pointwise() {
        for img in 0..n {
            for gi in 0..c.groups {
                let xs =
                    &x[(img * c.cin + gi * cin_g) * ihw..(img * c.cin + (gi + 1) * cin_g) * ihw];
                let o = (img * c.cout + gi * cout_g) * ohw;
                be.gemm(
                    cout_g,
                    cin_g,
                    ohw,
                    rm(&w[gi * cout_g * patch..(gi + 1) * cout_g * patch], patch),
                    rm(xs, ihw),
                    beta,
                    rm_mut(&mut out[o..o + cout_g * ohw], ohw),
                );
            }
        }
    } else {
        let per = c.groups * patch * ohw;
        cols.resize(n * per, 0.0);
        for img in 0..n {
            let col = &mut cols[img * per..(img + 1) * per];
            be.im2col(&x[img * ins.len()..(img + 1) * ins.len()], s, col, ks);
            for gi in 0..c.groups {
                let o = (img * c.cout + gi * cout_g) * ohw;
                be.gemm(
                    cout_g,
                    patch,
                    ohw,
                    rm(&w[gi * cout_g * patch..(gi + 1) * cout_g * patch], patch),
                    rm(&col[gi * patch * ohw..(gi + 1) * patch * ohw], ohw),
                    beta,
                    rm_mut(&mut out[o..o + cout_g * ohw], ohw),
                );
            }
        }
    }
    c.act.apply(out);
}

#[allow(clippy::too_many_arguments)]
pub fn backward(
    be: &dyn Backend,
    c: &Conv,
    ins: Shape,
    outs: Shape,
    p: &Params,
    x: &[f32],
    dy: &[f32],
    cols: &[f32],
    scratch: &mut Vec<f32>,
    ks: &mut Scratch,
    grads: &mut Params,
    mut dx: Option<&mut Vec<f32>>,
    dx_beta: f32,
    n: usize,
) {
    let s = c.shape(ins);
    let (ohw, ihw) = (outs.plane(), ins.plane());
    let (cin_g, cout_g) = (c.cin / c.groups, c.cout / c.groups);
    let patch = c.patch();
    if let Some(b) = c.bias {
        for img in 0..n {
            for (o, plane) in dy[img * outs.len()..(img + 1) * outs.len()]
                .chunks(ohw)
                .enumerate()
            {
                grads.0[b][o] += sum(plane);
            }
        }
    }
    let w = &p.0[c.weight];
    let dw = &mut grads.0[c.weight];
    if c.is_depthwise() {
        let one = ConvShape { cin: 1, ..s };
        let kk = c.k * c.k;
        for img in 0..n {
            for ch in 0..c.cin {
                let xo = (img * c.cin + ch) * ihw;
                let yo = (img * c.cout + ch) * ohw;
                be.depthwise_backward(
                    &x[xo..xo + ihw],
                    &w[ch * kk..(ch + 1) * kk],
                    &dy[yo..yo + ohw],
                    one,
                    &mut dw[ch * kk..(ch + 1) * kk],
                    dx.as_deref_mut().map(|d| &mut d[xo..xo + ihw]),
                    ks,
                );
            }
        }
    } else if c.is_pointwise() {
        for img in 0..n {
            for gi in 0..c.groups {
                let xo = (img * c.cin + gi * cin_g) * ihw;
                let yo = (img * c.cout + gi * cout_g) * ohw;
                let wg = gi * cout_g * patch..(gi + 1) * cout_g * patch;
                be.gemm(
                    cout_g,
                    ohw,
                    cin_g,
                    rm(&dy[yo..yo + cout_g * ohw], ohw),
                    tr(&x[xo..xo + cin_g * ihw], ihw),
                    1.0,
                    rm_mut(&mut dw[wg.clone()], patch),
                );
                if let Some(d) = dx.as_deref_mut() {
                    be.gemm(
                        cin_g,
                        cout_g,
                        ohw,
                        tr(&w[wg], patch),
                        rm(&dy[yo..yo + cout_g * ohw], ohw),
                        dx_beta,
                        rm_mut(&mut d[xo..xo + cin_g * ihw], ihw),
                    );
                }
            }
        }
    } else {
        let per = c.groups * patch * ohw;
        if dx.is_some() {
            scratch.resize(per, 0.0);
        }
        for img in 0..n {
            let col = &cols[img * per..(img + 1) * per];
            for gi in 0..c.groups {
                let yo = (img * c.cout + gi * cout_g) * ohw;
                let wg = gi * cout_g * patch..(gi + 1) * cout_g * patch;
                be.gemm(
                    cout_g,
                    ohw,
                    patch,
                    rm(&dy[yo..yo + cout_g * ohw], ohw),
                    tr(&col[gi * patch * ohw..(gi + 1) * patch * ohw], ohw),
                    1.0,
                    rm_mut(&mut dw[wg.clone()], patch),
                );
                if dx.is_some() {
                    be.gemm(
                        patch,
                        cout_g,
                        ohw,
                        tr(&w[wg], patch),
                        rm(&dy[yo..yo + cout_g * ohw], ohw),
                        0.0,
                        rm_mut(&mut scratch[gi * patch * ohw..(gi + 1) * patch * ohw], ohw),
                    );
                }
            }
            if let Some(d) = dx.as_deref_mut() {
                be.col2im_add(
                    scratch,
                    s,
                    &mut d[img * ins.len()..(img + 1) * ins.len()],
                    ks,
                );
            }
        }
    }
}
