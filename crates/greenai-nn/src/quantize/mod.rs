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
//!
//! [`quantize`] makes a [`Quantized`] (the int8 layers and the plan of which outputs stay u8);
//! [`Int8`] runs them inside the graph's executor as a [`crate::graph::LayerOverride`], so the
//! graph itself knows nothing of int8. The kernels per instruction set are [`crate::int8`].

mod choose;
mod exec;

pub use choose::keep_faster;
pub use choose::{LayerChoice, SpeedCheck};
pub use exec::Int8;

use crate::graph::{Exec, Graph, Op};
use crate::int8::{self, affine_params, quantize_symmetric, Kernel, PackedWeights};
use crate::params::Params;

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
    /// Which layers the speed check kept int8 and why ([`choose::keep_faster`]); `None` for a
    /// model loaded from a file or quantized without the check.
    pub speed: Option<SpeedCheck>,
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

impl Quantized {
    /// Bytes of the quantized model: int8 weights, their scales and sums, and every tensor that
    /// stays in f32.
    pub fn size_bytes(&self, graph: &Graph, params: &Params) -> usize {
        // The weights as a file would hold them, their scales and the bias (the sums and the
        // activation parameters are recomputable), then every tensor that stays f32.
        let int8: usize = self
            .layers
            .iter()
            .flatten()
            .map(|l| l.w.bytes() + 4 * (l.w_scale.len() + l.bias.len()) + 8)
            .sum();
        let replaced = self.replaced_params(graph);
        int8 + params
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

/// Quantizes the model `g` with parameters `params` and `buffers` (pass a folded model:
/// BatchNorm is not quantized; [`crate::model::Model::quantized`] folds first). Static ranges
/// are calibrated on `calibration`, `n` images of the model's input shape.
#[allow(clippy::too_many_arguments)]
pub fn quantize(
    g: &Graph,
    params: &Params,
    buffers: &Params,
    scheme: WeightScheme,
    range: ActivationRange,
    calibration: &[f32],
    n: usize,
) -> Quantized {
    // Observe each quantized layer's input on the calibration images (f32, inference mode).
    let mut observed: Vec<Option<(f32, f32)>> = vec![None; g.nodes.len()];
    if range != ActivationRange::Dynamic && n > 0 {
        let mut ex = Exec::default();
        ex.forward(
            &crate::backend::Cpu,
            g,
            params,
            buffers,
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
            let (cout, k, w, bias) = weights_of(g, params, i);
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
        kernel: Kernel::active(),
        speed: None,
    }
}
