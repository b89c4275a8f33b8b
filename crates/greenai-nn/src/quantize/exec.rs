//! Running a [`Quantized`] model's int8 layers inside the graph's executor: [`Int8`] is a
//! [`LayerOverride`] that takes each int8 node (and each max pooling between u8 activations),
//! quantizing f32 input or reading the u8 its producer wrote, and writing f32 or, where the plan
//! says so ([`super::plan_chain`]), u8 at the next layer's parameters.

use super::{QLayer, Quantized};
use crate::graph::{Act, Graph, LayerOverride, Op, Shape};
use crate::int8::{self, affine_params, k4};
use std::sync::Arc;

/// One thread's int8 state for a [`Quantized`] model: the quantized input and sums it reuses, and
/// the u8 activations handed from one int8 layer to the next.
#[derive(Debug)]
pub struct Int8 {
    q: Arc<Quantized>,
    xq: Vec<u8>,
    acc: Vec<i32>,
    /// Per node: its output as u8, where the plan chains it (its f32 activation is then empty).
    acts_u8: Vec<Vec<u8>>,
}

impl Int8 {
    pub fn new(q: Arc<Quantized>) -> Int8 {
        Int8 {
            q,
            xq: Vec::new(),
            acc: Vec::new(),
            acts_u8: Vec::new(),
        }
    }

    /// The layers it runs.
    pub fn quantized(&self) -> &Arc<Quantized> {
        &self.q
    }
}

impl LayerOverride for Int8 {
    fn run(
        &mut self,
        g: &Graph,
        i: usize,
        acts: &[Vec<f32>],
        out: &mut Vec<f32>,
        n: usize,
    ) -> bool {
        let q = &*self.q;
        let node = &g.nodes[i];
        let src = node.inputs[0];
        let src_u8 = q.chain[src].is_some();
        let layer = q.layers[i].as_ref();
        let takes = match node.op {
            Op::Conv(_) | Op::Linear { .. } => layer.is_some(),
            Op::MaxPool2 => src_u8,
            _ => false,
        };
        if !takes {
            return false;
        }
        self.acts_u8.resize_with(g.nodes.len(), Vec::new);
        let out_len = n * node.shape.len();
        let emit = q.chain[i];
        let mut out8 = std::mem::take(&mut self.acts_u8[i]);
        if emit.is_some() {
            out.clear();
            out8.resize(out_len, 0);
        } else {
            out.resize(out_len, 0.0);
        }
        let ins = g.nodes[src].shape;
        let x = if src_u8 {
            QIn::U8(&self.acts_u8[src])
        } else {
            QIn::F32(&acts[src])
        };
        let dst = match emit {
            Some(p) => QOut::U8(&mut out8, p),
            None => QOut::F32(out.as_mut_slice()),
        };
        match (node.op, layer) {
            (Op::Conv(c), Some(l)) => conv_forward(
                q,
                l,
                &c,
                ins,
                node.shape,
                x,
                dst,
                n,
                &mut self.xq,
                &mut self.acc,
            ),
            (Op::Linear { fin, fout, act, .. }, Some(l)) => {
                linear_forward(q, l, fin, fout, act, x, dst, n, &mut self.xq, &mut self.acc)
            }
            (Op::MaxPool2, _) => {
                debug_assert!(emit.is_some(), "u8 in, u8 out (plan_chain)");
                let QIn::U8(x8) = x else {
                    unreachable!("taken only with u8 input")
                };
                max_pool2_hwc(x8, &mut out8, ins, node.shape, n);
            }
            _ => unreachable!("checked by `takes`"),
        }
        self.acts_u8[i] = out8;
        true
    }
}

/// A quantized layer's input: f32 (quantized here) or u8 already at the layer's parameters.
pub(crate) enum QIn<'a> {
    F32(&'a [f32]),
    U8(&'a [u8]),
}

/// Where a quantized layer writes: f32 (dequantized, activation applied) or u8 at the next
/// layer's parameters.
pub(crate) enum QOut<'a> {
    F32(&'a mut [f32]),
    U8(&'a mut [u8], (f32, u8)),
}

/// The activation parameters of `x` for layer `l`: calibrated, or measured now.
fn input_params(l: &QLayer, x: &[f32]) -> (f32, u8) {
    l.input.unwrap_or_else(|| {
        let (lo, hi) = int8::min_max(x);
        affine_params(lo, hi)
    })
}

#[inline]
fn finish(acc: i32, l: &QLayer, o: usize, sx: f32, zx: u8) -> f32 {
    sx * l.w_scale[o] * (acc - zx as i32 * l.w_sum[o]) as f32 + l.bias[o]
}

impl QLayer {
    /// Per output channel, for input parameters `(sx, zx)`: the scale of the sums and the
    /// zero-point correction, `v = scale[o] · (acc − corr[o]) + bias[o]` (what [`finish`] computes
    /// one value at a time, in the same order of operations).
    fn epilogue(&self, sx: f32, zx: u8) -> (Vec<f32>, Vec<i32>) {
        (
            self.w_scale.iter().map(|w| sx * w).collect(),
            self.w_sum.iter().map(|s| zx as i32 * s).collect(),
        )
    }
}

/// The input parameters of layer `l` for `x`: calibrated, measured now (f32 input), or the ones u8
/// input was written with (static layers only, see [`plan_chain`]).
fn params_of(l: &QLayer, x: &QIn) -> (f32, u8) {
    match x {
        QIn::F32(x) => input_params(l, x),
        QIn::U8(_) => l
            .input
            .expect("u8 input only reaches layers with static parameters"),
    }
}

/// The int8 forward of convolution node `c` over `n` images.
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv_forward(
    q: &Quantized,
    l: &QLayer,
    c: &crate::graph::Conv,
    ins: crate::graph::Shape,
    outs: crate::graph::Shape,
    x: QIn,
    mut out: QOut,
    n: usize,
    xq: &mut Vec<u8>,
    acc: &mut Vec<i32>,
) {
    let (sx, zx) = params_of(l, &x);
    let inv = 1.0 / sx;
    let m16 = l.w.m16();
    let (hp, wp) = (ins.h + 2 * c.pad, ins.w + 2 * c.pad);
    let cin = c.cin;
    // The image quantized once into channels-last planes bordered with the zero point (which
    // stands for 0.0, so the zero-point correction holds at the border too). The kernel reads
    // each output position's kernel rows in place: one run of k · cin bytes per row (the weights
    // are in that order, see `pack_layer`), its last quad up to 3 bytes past the run; a depthwise
    // convolution reads 16 channels at a time, up to 15 bytes past the last pixel: both inside the
    // 16 spare bytes at the end.
    let plane = hp * wp * cin;
    let slack = 16;
    let mut planes = std::mem::take(xq);
    planes.clear();
    planes.resize(plane + slack + ins.w, zx);
    let (padded_img, line) = planes.split_at_mut(plane + slack);
    let depthwise = c.is_depthwise().then(|| depthwise_taps(l, c.k * c.k));
    // Stride 1: every position of the padded width in one run of the kernel (a position is cin
    // bytes after the previous one; the k − 1 past each row's end are computed and dropped).
    // Otherwise one run per output row.
    let (per_row, rows) = if c.stride == 1 && depthwise.is_none() {
        let rows = int8::Rows {
            n: (outs.h - 1) * wp + outs.w,
            row_stride: cin,
            seg_stride: wp * cin,
        };
        (wp, rows)
    } else {
        let rows = int8::Rows {
            n: outs.w,
            row_stride: c.stride * cin,
            seg_stride: wp * cin,
        };
        (outs.w, rows)
    };
    acc.resize(outs.h * per_row * m16, 0);
    let (scale, corr) = l.epilogue(sx, zx);
    let dequant = int8::Dequant {
        scale: &scale,
        corr: &corr,
        bias: &l.bias,
    };
    let requant = match out {
        QOut::U8(_, next) => Some(int8::Requant::new(dequant, next, c.act)),
        QOut::F32(_) => None,
    };
    let ohw = outs.h * outs.w;
    for img in 0..n {
        match &x {
            // f32 arrives channel-major: quantized a row at a time (straight into place for one
            // channel), scattered channels-last otherwise.
            QIn::F32(x) => {
                for ch in 0..cin {
                    for y in 0..ins.h {
                        let at = (img * cin + ch) * ins.h * ins.w + y * ins.w;
                        let src = &x[at..at + ins.w];
                        let base = ((y + c.pad) * wp + c.pad) * cin + ch;
                        if cin == 1 {
                            int8::quantize_slice(src, &mut padded_img[base..base + ins.w], inv, zx);
                            continue;
                        }
                        int8::quantize_slice(src, line, inv, zx);
                        for (xx, &v) in line.iter().enumerate() {
                            padded_img[base + xx * cin] = v;
                        }
                    }
                }
            }
            // u8 from the previous int8 layer is channels-last already: a copy per image row.
            QIn::U8(x) => {
                let row = ins.w * cin;
                for y in 0..ins.h {
                    let at = (img * ins.h + y) * row;
                    let base = ((y + c.pad) * wp + c.pad) * cin;
                    padded_img[base..base + row].copy_from_slice(&x[at..at + row]);
                }
            }
        }
        if let Some(taps) = &depthwise {
            let g = int8::DepthwiseGeometry {
                k: c.k,
                stride: c.stride,
                wp,
                cin,
                outs,
            };
            int8::depthwise_sums(taps, padded_img, g, acc);
        } else if c.stride == 1 {
            int8::gemm_rows(q.kernel, &l.w, padded_img, rows, acc);
        } else {
            for oy in 0..outs.h {
                let from = oy * c.stride * wp * cin;
                let sums = &mut acc[oy * per_row * m16..(oy + 1) * per_row * m16];
                int8::gemm_rows(q.kernel, &l.w, &padded_img[from..], rows, sums);
            }
        }
        let span = img * outs.len()..(img + 1) * outs.len();
        for oy in 0..outs.h {
            let sums = &acc[oy * per_row * m16..];
            match &mut out {
                QOut::F32(o) => {
                    dequant.transposed(sums, m16, outs.w, &mut o[span.clone()][oy * outs.w..], ohw)
                }
                // Channels-last: each position's channels in a row, as the sums come.
                QOut::U8(o, _) => requant.as_ref().expect("made for u8 output").rows(
                    sums,
                    m16,
                    outs.w,
                    &mut o[span.clone()][oy * outs.w * c.cout..],
                ),
            }
        }
    }
    *xq = planes;
    if let QOut::F32(o) = out {
        c.act.apply(o);
    }
}

/// A depthwise layer's weights tap-major, `taps[t · c16 + ch]`, widened to i32 and zero for the
/// channels past the last (so that sixteen channels at a time need no tail).
fn depthwise_taps(l: &QLayer, taps: usize) -> Vec<i32> {
    let w = l.w.unpack();
    let c16 = l.w.m16();
    let mut out = vec![0i32; taps * c16];
    for ch in 0..l.w.m {
        for t in 0..taps {
            out[t * c16 + ch] = w[ch * taps + t] as i32;
        }
    }
    out
}

/// The int8 forward of a linear layer over `n` rows.
#[allow(clippy::too_many_arguments)]
pub(crate) fn linear_forward(
    q: &Quantized,
    l: &QLayer,
    fin: usize,
    fout: usize,
    act: Act,
    x: QIn,
    out: QOut,
    n: usize,
    xq: &mut Vec<u8>,
    acc: &mut Vec<i32>,
) {
    let (sx, zx) = params_of(l, &x);
    let inv = 1.0 / sx;
    let kq = k4(fin);
    let m16 = l.w.m16();
    acc.resize(n * m16, 0);
    match x {
        // Rows already a multiple of four bytes long are the kernel's layout as they are.
        QIn::U8(x) if kq == fin => int8::gemm_packed(q.kernel, &l.w, n, x, acc),
        x => {
            xq.clear();
            xq.resize(n * kq, zx);
            for j in 0..n {
                let dst = &mut xq[j * kq..j * kq + fin];
                match &x {
                    QIn::F32(x) => int8::quantize_slice(&x[j * fin..(j + 1) * fin], dst, inv, zx),
                    QIn::U8(x) => dst.copy_from_slice(&x[j * fin..(j + 1) * fin]),
                }
            }
            int8::gemm_packed(q.kernel, &l.w, n, xq, acc);
        }
    }
    match out {
        QOut::F32(out) => {
            for j in 0..n {
                for o in 0..fout {
                    out[j * fout + o] = finish(acc[j * m16 + o], l, o, sx, zx);
                }
            }
            act.apply(out);
        }
        QOut::U8(out, next) => {
            let (scale, corr) = l.epilogue(sx, zx);
            let d = int8::Dequant {
                scale: &scale,
                corr: &corr,
                bias: &l.bias,
            };
            int8::Requant::new(d, next, act).rows(acc, m16, n, out);
        }
    }
}

/// 2×2 max pooling with stride 2 of `n` channels-last u8 images (int8 layers hand these on).
pub(crate) fn max_pool2_hwc(x: &[u8], out: &mut [u8], ins: Shape, o: Shape, n: usize) {
    let c = ins.c;
    for img in 0..n {
        let xi = &x[img * ins.len()..(img + 1) * ins.len()];
        let oi = &mut out[img * o.len()..(img + 1) * o.len()];
        for oy in 0..o.h {
            for ox in 0..o.w {
                let at = |y: usize, x: usize| &xi[(y * ins.w + x) * c..(y * ins.w + x + 1) * c];
                let (a, b) = (at(2 * oy, 2 * ox), at(2 * oy, 2 * ox + 1));
                let (d, e) = (at(2 * oy + 1, 2 * ox), at(2 * oy + 1, 2 * ox + 1));
                let dst = &mut oi[(oy * o.w + ox) * c..(oy * o.w + ox + 1) * c];
                for ch in 0..c {
                    dst[ch] = a[ch].max(b[ch]).max(d[ch].max(e[ch]));
                }
            }
        }
    }
}
