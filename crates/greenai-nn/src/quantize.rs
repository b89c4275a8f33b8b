//! Post-training int8 quantization of a folded model (BatchNorm already in the convolutions):
//! convolutions with one group and linear layers run on int8 weights and u8 activations with i32
//! accumulation ([`crate::int8`]); depthwise and grouped convolutions, pooling and the rest stay
//! in f32.
//!
//! - Weights: symmetric, one scale per tensor (`per-tensor`, the seed's "global") or per output
//!   channel (`per-channel`, the seed's "local").
//! - Activations: affine u8 (a zero point, so ReLU outputs and signed inputs both fit), either
//!   calibrated once on a calibration subset (static: min-max or a percentile of the observed
//!   values) or measured on each batch at run time (`dynamic`).
//!
//! A layer's output is `s_x · s_w[o] · (Σ w_q·x_q − z_x · Σ w_q) + bias[o]`, then its activation.

use crate::graph::{Act, Exec, Graph, Op};
use crate::int8::{self, affine_params, k4, quantize_symmetric, Kernel, PackedWeights};
use crate::params::Params;
use crate::train::Model;

/// How weights are scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightScheme {
    PerTensor,
    PerChannel,
}

/// How activation ranges are found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ActivationRange {
    /// Calibrated once: the observed min and max.
    MinMax,
    /// Calibrated once: the given percentile of |x| on each side (e.g. 99.99), clipping outliers.
    Percentile(f32),
    /// Measured on every batch at run time.
    Dynamic,
}

/// One quantized layer.
#[derive(Debug, Clone)]
pub struct QLayer {
    /// `cout × k` int8 weights, packed for the kernel.
    pub w: PackedWeights,
    /// Per output channel (the same value repeated for per-tensor).
    pub w_scale: Vec<f32>,
    /// `Σ_k w_q[o][k]`, for the zero-point correction.
    pub w_sum: Vec<i32>,
    pub bias: Vec<f32>,
    /// Static activation parameters `(scale, zero point)`; `None` for dynamic.
    pub input: Option<(f32, u8)>,
    /// A linear layer whose weights read a chained convolution's channels-last output (see
    /// [`chain_layers`]); the file keeps them in PyTorch's order.
    pub hwc_input: bool,
}

/// A model's int8 layers, by node index.
#[derive(Debug, Clone)]
pub struct Quantized {
    pub layers: Vec<Option<QLayer>>,
    pub scheme: WeightScheme,
    pub range: ActivationRange,
    pub kernel: Kernel,
    /// Per node: the `(scale, zero point)` its output is written with as u8 instead of f32,
    /// because its one consumer (an int8 layer with calibrated input, or a max pooling that
    /// itself writes u8) would quantize it with exactly these ([`plan_chain`]). Clearing it gives
    /// the same results, slower.
    pub chain: Vec<Option<(f32, u8)>>,
}

/// Which node outputs stay u8 between int8 layers. An int8 layer writes u8 when its only consumer
/// is an int8 layer with static input parameters (or a max pooling feeding one: the maximum of
/// quantized values is the quantized maximum); the last node stays f32. Dynamic layers measure
/// their input's range, so nothing feeds them u8.
pub fn plan_chain(g: &Graph, layers: &[Option<QLayer>]) -> Vec<Option<(f32, u8)>> {
    let len = g.nodes.len();
    let consumers = consumers(g);
    // What each node's consumer would quantize it with, decided from the end.
    let mut want: Vec<Option<(f32, u8)>> = vec![None; len];
    for i in (1..len.saturating_sub(1)).rev() {
        if let [c] = consumers[i][..] {
            want[i] = match g.nodes[c].op {
                Op::MaxPool2 => want[c],
                _ => layers[c].as_ref().and_then(|l| l.input),
            };
        }
    }
    let mut emit: Vec<Option<(f32, u8)>> = vec![None; len];
    for i in 1..len {
        emit[i] = match g.nodes[i].op {
            Op::MaxPool2 => want[i].filter(|_| emit[g.nodes[i].inputs[0]] == want[i]),
            _ if layers[i].is_some() => want[i],
            _ => None,
        };
    }
    emit
}

/// Per node, the nodes that read its output.
fn consumers(g: &Graph) -> Vec<Vec<usize>> {
    let mut consumers = vec![Vec::new(); g.nodes.len()];
    for (i, node) in g.nodes.iter().enumerate() {
        for &j in &node.inputs {
            consumers[j].push(i);
        }
    }
    consumers
}

/// int8 weights `cout × (cin, spatial)` (PyTorch's order, the file's) reordered to
/// `cout × (spatial, cin)`. For a convolution (`spatial` = k·k) that is the order of patches
/// gathered from channels-last planes, where one kernel row of every channel is one contiguous
/// run of `k · cin` bytes; for a linear layer over a chained convolution's output (`spatial` =
/// h·w), the order of that output, which stays channels-last.
pub fn to_channels_last(w: &[i8], cout: usize, cin: usize, spatial: usize) -> Vec<i8> {
    reorder(w, cout, cin, spatial, true)
}

/// The inverse of [`to_channels_last`].
pub fn from_channels_last(w: &[i8], cout: usize, cin: usize, spatial: usize) -> Vec<i8> {
    reorder(w, cout, cin, spatial, false)
}

fn reorder(w: &[i8], cout: usize, cin: usize, spatial: usize, to_last: bool) -> Vec<i8> {
    let per = cin * spatial;
    let mut out = vec![0i8; w.len()];
    for o in 0..cout {
        for ch in 0..cin {
            for t in 0..spatial {
                let (first, last) = (o * per + ch * spatial + t, o * per + t * cin + ch);
                if to_last {
                    out[last] = w[first];
                } else {
                    out[first] = w[last];
                }
            }
        }
    }
    out
}

/// A layer's int8 weights (`cout × k`, PyTorch's order, the file's) packed for the kernel: a
/// convolution's reordered channels-last (see [`to_channels_last`]) in one segment per kernel row,
/// which the kernel reads in place from a padded channels-last image; a depthwise convolution's and
/// a linear layer's as they are.
pub fn pack_layer(op: &Op, w: &[i8]) -> PackedWeights {
    match op {
        // Read back by `depthwise_sums` as they are.
        Op::Conv(c) if c.is_depthwise() => PackedWeights::pack(w, c.cout, c.k * c.k),
        Op::Conv(c) => {
            let w = to_channels_last(w, c.cout, c.cin, c.k * c.k);
            PackedWeights::pack_segments(&w, c.cout, c.cin * c.k * c.k, c.k)
        }
        Op::Linear { fout, fin, .. } => PackedWeights::pack(w, *fout, *fin),
        _ => unreachable!("only convolutions and linear layers are quantized"),
    }
}

/// [`plan_chain`], and the weights of linear layers that will read a chained convolution's
/// channels-last output reordered to match. u8 activations between int8 layers are channels-last:
/// a convolution's sums come out one position at a time, so writing them so needs no transpose.
pub fn chain_layers(g: &Graph, layers: &mut [Option<QLayer>]) -> Vec<Option<(f32, u8)>> {
    let chain = plan_chain(g, layers);
    for (i, node) in g.nodes.iter().enumerate() {
        if let (Op::Linear { .. }, Some(l)) = (node.op, layers[i].as_mut()) {
            let ins = g.nodes[node.inputs[0]].shape;
            if chain[node.inputs[0]].is_some() && ins.plane() > 1 {
                l.set_hwc_input(g, i, true);
            }
        }
    }
    chain
}

impl QLayer {
    /// Reorders linear layer `i`'s weights to read its input channels-last (`hwc`) or
    /// channel-major; nothing when they already do.
    fn set_hwc_input(&mut self, g: &Graph, i: usize, hwc: bool) {
        if self.hwc_input == hwc {
            return;
        }
        let Op::Linear { fout, fin, .. } = g.nodes[i].op else {
            return;
        };
        let ins = g.nodes[g.nodes[i].inputs[0]].shape;
        let w = reorder(&self.w.unpack(), fout, ins.c, ins.plane(), hwc);
        self.w = PackedWeights::pack(&w, fout, fin);
        self.hwc_input = hwc;
    }
}

impl Quantized {
    /// The same layers handing f32 from one to the next: slower, the same results (tested).
    pub fn without_chain(&self, g: &Graph) -> Quantized {
        let mut q = self.clone();
        for (i, l) in q.layers.iter_mut().enumerate() {
            if let Some(l) = l {
                l.set_hwc_input(g, i, false);
            }
        }
        q.chain.iter_mut().for_each(|c| *c = None);
        q
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

impl Quantized {
    /// Bytes of the quantized model: int8 weights, their scales and sums, and every tensor that
    /// stays in f32.
    pub fn size_bytes(&self, model: &Model) -> usize {
        // The weights as a file would hold them, their scales and the bias (the sums and the
        // activation parameters are recomputable), then every tensor that stays f32.
        let int8: usize = self
            .layers
            .iter()
            .flatten()
            .map(|l| l.w.bytes() + 4 * (l.w_scale.len() + l.bias.len()) + 8)
            .sum();
        let replaced = self.replaced_params(&model.graph);
        int8 + model
            .params
            .0
            .iter()
            .enumerate()
            .filter(|(i, _)| !replaced.contains(i))
            .map(|(_, t)| 4 * t.len())
            .sum::<usize>()
    }

    /// The f32 parameter tensors the int8 layers stand in for.
    pub fn replaced_params(&self, graph: &Graph) -> std::collections::HashSet<usize> {
        self.layers
            .iter()
            .enumerate()
            .filter(|(_, l)| l.is_some())
            .flat_map(|(i, _)| graph.nodes[i].op.param_indices())
            .collect()
    }
}

/// Which nodes take the int8 path: convolutions with one group (a one-channel first layer too:
/// the kernel reads its kernel rows in place, so a short product costs no gathering), depthwise
/// convolutions (so that a MobileNet's chain of int8 layers is not broken at each of them) and
/// linear layers. Grouped convolutions (ShuffleNet's) stay f32. PyTorch's dynamic quantization
/// leaves every convolution in f32.
pub(crate) fn quantizable(op: &Op) -> bool {
    match op {
        Op::Conv(c) => c.groups == 1 || c.is_depthwise(),
        Op::Linear { .. } => true,
        _ => false,
    }
}

fn weights_of(g: &Graph, p: &Params, i: usize) -> (usize, usize, Vec<f32>, Vec<f32>) {
    match g.nodes[i].op {
        Op::Conv(c) => {
            let k = c.patch();
            let bias = c.bias.map_or(vec![0.0; c.cout], |b| p.0[b].clone());
            (c.cout, k, p.0[c.weight].clone(), bias)
        }
        Op::Linear {
            fin, fout, weight, ..
        } => (fout, fin, p.0[weight].clone(), p.0[weight + 1].clone()),
        _ => unreachable!("only convolutions and linear layers are quantized"),
    }
}

/// The value at `pct` percent of `|values|`, by partial sort.
fn percentile_abs(values: &mut [f32], pct: f32) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let k = (((pct / 100.0) * (values.len() - 1) as f32).round() as usize).min(values.len() - 1);
    let (_, v, _) = values.select_nth_unstable_by(k, |a, b| a.abs().total_cmp(&b.abs()));
    v.abs()
}

/// Quantizes `model` (pass a folded model: BatchNorm is not quantized). Static ranges are
/// calibrated on `calibration`, `n` images of the model's input shape.
pub fn quantize(
    model: &Model,
    scheme: WeightScheme,
    range: ActivationRange,
    calibration: &[f32],
    n: usize,
) -> Quantized {
    let g = &model.graph;
    // Observe each quantized layer's input on the calibration images (f32, inference mode).
    let mut observed: Vec<Option<(f32, f32)>> = vec![None; g.nodes.len()];
    if range != ActivationRange::Dynamic && n > 0 {
        let mut ex = Exec::default();
        ex.forward(
            &crate::backend::Cpu,
            g,
            &model.params,
            &model.buffers,
            calibration,
            n,
            false,
        );
        for (i, node) in g.nodes.iter().enumerate() {
            if !quantizable(&node.op) {
                continue;
            }
            let x = ex.activation(node.inputs[0]);
            observed[i] = Some(match range {
                ActivationRange::MinMax => int8::min_max(x),
                ActivationRange::Percentile(pct) => {
                    let mut neg: Vec<f32> = x.iter().copied().filter(|v| *v < 0.0).collect();
                    let mut pos: Vec<f32> = x.iter().copied().filter(|v| *v > 0.0).collect();
                    (
                        -percentile_abs(&mut neg, pct),
                        percentile_abs(&mut pos, pct),
                    )
                }
                ActivationRange::Dynamic => unreachable!(),
            });
        }
    }
    let consumers = consumers(g);
    let layers: Vec<Option<QLayer>> = g
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            // A depthwise layer is a small product: in int8 it pays only by keeping the u8 chain
            // going, so it stays f32 where its output cannot chain: in dynamic mode (measured on
            // the MobileNet-style net: 0.67× f32 with it, 0.85× without) and where its consumer
            // is not an int8 layer (ShuffleNet's grouped convolutions: 0.94× with it).
            let breaks_chain = range == ActivationRange::Dynamic
                || consumers[i].iter().any(|&c| !quantizable(&g.nodes[c].op));
            let lone_depthwise = matches!(node.op, Op::Conv(c) if c.is_depthwise()) && breaks_chain;
            if !quantizable(&node.op) || lone_depthwise {
                return None;
            }
            let (cout, k, w, bias) = weights_of(g, &model.params, i);
            let mut q = vec![0i8; cout * k];
            let mut w_scale = vec![0.0; cout];
            match scheme {
                WeightScheme::PerChannel => {
                    for o in 0..cout {
                        w_scale[o] =
                            quantize_symmetric(&w[o * k..(o + 1) * k], &mut q[o * k..(o + 1) * k]);
                    }
                }
                WeightScheme::PerTensor => {
                    let s = quantize_symmetric(&w, &mut q);
                    w_scale.fill(s);
                }
            }
            let w_sum = (0..cout)
                .map(|o| q[o * k..(o + 1) * k].iter().map(|&v| v as i32).sum())
                .collect();
            Some(QLayer {
                w: pack_layer(&node.op, &q),
                w_scale,
                w_sum,
                bias,
                input: observed[i].map(|(lo, hi)| affine_params(lo, hi)),
                hwc_input: false,
            })
        })
        .collect();
    let mut layers = layers;
    Quantized {
        chain: chain_layers(g, &mut layers),
        layers,
        scheme,
        range,
        kernel: Kernel::detect(),
    }
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
        act_apply(c.act, o);
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
            act_apply(act, out);
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

fn act_apply(a: Act, x: &mut [f32]) {
    match a {
        Act::None => {}
        Act::Relu => x.iter_mut().for_each(|v| *v = v.max(0.0)),
        Act::Relu6 => x.iter_mut().for_each(|v| *v = v.clamp(0.0, 6.0)),
    }
}
