//! A model as a small graph of layers over NCHW tensors, with forward and backward for exactly the
//! layers greenai's models need: convolution (groups, strides; depthwise by a direct kernel,
//! pointwise without im2col), BatchNorm, ReLU/ReLU6, max and average pooling, global average
//! pooling, linear, channel shuffle, residual add and channel concatenation.
//!
//! A [`Graph`] holds shapes and parameter indices only; parameters live in [`Params`], BatchNorm's
//! running statistics in a second [`Params`] (the buffers), and activations in an [`Exec`] per
//! thread. Activations are fused into the convolution, BatchNorm or linear layer before them.
//!
//! ```
//! use greenai_nn::graph::{Act, GraphBuilder};
//! let mut g = GraphBuilder::new(1, 8, 8);
//! let x = g.input();
//! let x = g.conv("conv", x, 4, 3, 1, 1, 1, false, Act::None).unwrap();
//! let x = g.batchnorm("bn", x, Act::Relu6);
//! let x = g.global_avg_pool(x);
//! let logits = g.linear("fc", x, 3, Act::None);
//! let graph = g.finish(logits);
//! assert_eq!(graph.param_count(), 4 * 9 + 2 * 4 + 4 * 3 + 3);
//! ```

use crate::backend::{Backend, Scratch};
use crate::kernels::{rm, rm_mut, sum, sum_sq_dev, tr, ConvShape};
use crate::params::Params;
use crate::rng::SplitMix64;
use crate::{NnError, Result};

/// An activation, fused into the layer that produces its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    None,
    Relu,
    Relu6,
}

impl Act {
    #[inline]
    fn apply(self, x: &mut [f32]) {
        match self {
            Act::None => {}
            Act::Relu => x.iter_mut().for_each(|v| *v = v.max(0.0)),
            Act::Relu6 => x.iter_mut().for_each(|v| *v = v.clamp(0.0, 6.0)),
        }
    }

    /// Zeroes the gradient where the activation was flat, judged from its output `y`.
    #[inline]
    fn backward(self, dy: &mut [f32], y: &[f32]) {
        match self {
            Act::None => {}
            Act::Relu => {
                for (d, v) in dy.iter_mut().zip(y) {
                    *d = if *v > 0.0 { *d } else { 0.0 };
                }
            }
            Act::Relu6 => {
                for (d, v) in dy.iter_mut().zip(y) {
                    *d = if *v > 0.0 && *v < 6.0 { *d } else { 0.0 };
                }
            }
        }
    }

    fn flops(self) -> u64 {
        match self {
            Act::None => 0,
            Act::Relu => 1,
            Act::Relu6 => 2,
        }
    }
}

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
    fn is_pointwise(&self) -> bool {
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

/// One layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Input,
    Conv(Conv),
    /// BatchNorm over each channel; `gamma` then `beta` in the parameters at `param`, `param + 1`;
    /// running mean then running variance in the buffers at `buffer`, `buffer + 1`.
    BatchNorm {
        param: usize,
        buffer: usize,
        act: Act,
    },
    Act(Act),
    /// 2×2 max pooling, stride 2 (odd edges dropped, as PyTorch's default floor).
    MaxPool2,
    /// `k × k` average pooling with zero padding counted in the divisor (PyTorch's default).
    AvgPool {
        k: usize,
        stride: usize,
        pad: usize,
    },
    GlobalAvgPool,
    /// A fully connected layer over the flattened input; weight `fout × fin` at `weight`, bias at
    /// `weight + 1`.
    Linear {
        fin: usize,
        fout: usize,
        weight: usize,
        act: Act,
    },
    /// ShuffleNet's channel shuffle: `(groups, c/groups)` transposed to `(c/groups, groups)`.
    Shuffle {
        groups: usize,
    },
    Add,
    Concat,
    /// Zero padding, possibly uneven (TensorFlow's "same" padding for strided convolutions).
    Pad {
        top: usize,
        bottom: usize,
        left: usize,
        right: usize,
    },
}

impl Op {
    /// The indices of the parameter tensors this layer owns.
    pub fn param_indices(&self) -> Vec<usize> {
        match *self {
            Op::Conv(c) => std::iter::once(c.weight).chain(c.bias).collect(),
            Op::Linear { weight, .. } => vec![weight, weight + 1],
            Op::BatchNorm { param, .. } => vec![param, param + 1],
            _ => Vec::new(),
        }
    }
}

/// The shape of one image's tensor: channels, height, width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub c: usize,
    pub h: usize,
    pub w: usize,
}

impl Shape {
    pub fn len(&self) -> usize {
        self.c * self.h * self.w
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn plane(&self) -> usize {
        self.h * self.w
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub op: Op,
    pub inputs: Vec<usize>,
    pub shape: Shape,
}

/// How a parameter tensor starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// Uniform in `±1/√fan_in`: PyTorch's default for convolution and linear layers.
    Uniform {
        fan_in: usize,
    },
    Const(f32),
}

/// A named parameter or buffer tensor with its shape.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSpec {
    pub name: String,
    pub shape: Vec<usize>,
    pub init: Init,
}

impl TensorSpec {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A model: nodes in topological order, the last one the logits.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub params: Vec<TensorSpec>,
    pub buffers: Vec<TensorSpec>,
}

/// BatchNorm's epsilon and running-statistics momentum (PyTorch's defaults).
pub const BN_EPS: f32 = 1e-5;
pub const BN_MOMENTUM: f32 = 0.1;

/// Builds a [`Graph`] layer by layer, checking shapes as it goes.
#[derive(Debug)]
pub struct GraphBuilder {
    g: Graph,
}

impl GraphBuilder {
    pub fn new(c: usize, h: usize, w: usize) -> Self {
        GraphBuilder {
            g: Graph {
                nodes: vec![Node {
                    name: "input".into(),
                    op: Op::Input,
                    inputs: vec![],
                    shape: Shape { c, h, w },
                }],
                params: vec![],
                buffers: vec![],
            },
        }
    }

    pub fn input(&self) -> usize {
        0
    }

    pub fn shape(&self, node: usize) -> Shape {
        self.g.nodes[node].shape
    }

    fn push(&mut self, name: &str, op: Op, inputs: Vec<usize>, shape: Shape) -> usize {
        self.g.nodes.push(Node {
            name: name.to_string(),
            op,
            inputs,
            shape,
        });
        self.g.nodes.len() - 1
    }

    fn param(&mut self, name: String, shape: Vec<usize>, init: Init) -> usize {
        self.g.params.push(TensorSpec { name, shape, init });
        self.g.params.len() - 1
    }

    /// A convolution; fails when the image is too small for it (no output left) or the channels
    /// do not divide into the groups.
    #[allow(clippy::too_many_arguments)]
    pub fn conv(
        &mut self,
        name: &str,
        x: usize,
        cout: usize,
        k: usize,
        stride: usize,
        pad: usize,
        groups: usize,
        bias: bool,
        act: Act,
    ) -> Result<usize> {
        let s = self.shape(x);
        if !s.c.is_multiple_of(groups) || !cout.is_multiple_of(groups) {
            return Err(NnError::Invalid(format!(
                "{name}: {} input and {cout} output channels do not divide into {groups} groups",
                s.c
            )));
        }
        if s.h + 2 * pad < k || s.w + 2 * pad < k {
            return Err(NnError::Invalid(format!(
                "{name}: a {}×{} input is too small for a {k}×{k} convolution; \
                 this model needs larger images",
                s.h, s.w
            )));
        }
        let fan_in = s.c / groups * k * k;
        let weight = self.param(
            format!("{name}.weight"),
            vec![cout, s.c / groups, k, k],
            Init::Uniform { fan_in },
        );
        let bias =
            bias.then(|| self.param(format!("{name}.bias"), vec![cout], Init::Uniform { fan_in }));
        let conv = Conv {
            cin: s.c,
            cout,
            k,
            stride,
            pad,
            groups,
            weight,
            bias,
            act,
        };
        let shape = Shape {
            c: cout,
            h: (s.h + 2 * pad - k) / stride + 1,
            w: (s.w + 2 * pad - k) / stride + 1,
        };
        Ok(self.push(name, Op::Conv(conv), vec![x], shape))
    }

    pub fn batchnorm(&mut self, name: &str, x: usize, act: Act) -> usize {
        let c = self.shape(x).c;
        let param = self.param(format!("{name}.weight"), vec![c], Init::Const(1.0));
        self.param(format!("{name}.bias"), vec![c], Init::Const(0.0));
        let buffer = self.g.buffers.len();
        self.g.buffers.push(TensorSpec {
            name: format!("{name}.running_mean"),
            shape: vec![c],
            init: Init::Const(0.0),
        });
        self.g.buffers.push(TensorSpec {
            name: format!("{name}.running_var"),
            shape: vec![c],
            init: Init::Const(1.0),
        });
        let shape = self.shape(x);
        self.push(name, Op::BatchNorm { param, buffer, act }, vec![x], shape)
    }

    pub fn act(&mut self, x: usize, act: Act) -> usize {
        let shape = self.shape(x);
        self.push("act", Op::Act(act), vec![x], shape)
    }

    pub fn max_pool2(&mut self, x: usize) -> Result<usize> {
        let s = self.shape(x);
        if s.h < 2 || s.w < 2 {
            return Err(NnError::Invalid(format!(
                "a {}×{} input is too small for 2×2 max pooling; this model needs larger images",
                s.h, s.w
            )));
        }
        let shape = Shape {
            c: s.c,
            h: s.h / 2,
            w: s.w / 2,
        };
        Ok(self.push("maxpool", Op::MaxPool2, vec![x], shape))
    }

    pub fn avg_pool(&mut self, x: usize, k: usize, stride: usize, pad: usize) -> Result<usize> {
        let s = self.shape(x);
        if s.h + 2 * pad < k || s.w + 2 * pad < k {
            return Err(NnError::Invalid(format!(
                "a {}×{} input is too small for {k}×{k} average pooling",
                s.h, s.w
            )));
        }
        let shape = Shape {
            c: s.c,
            h: (s.h + 2 * pad - k) / stride + 1,
            w: (s.w + 2 * pad - k) / stride + 1,
        };
        Ok(self.push("avgpool", Op::AvgPool { k, stride, pad }, vec![x], shape))
    }

    pub fn global_avg_pool(&mut self, x: usize) -> usize {
        let c = self.shape(x).c;
        self.push("gap", Op::GlobalAvgPool, vec![x], Shape { c, h: 1, w: 1 })
    }

    pub fn linear(&mut self, name: &str, x: usize, fout: usize, act: Act) -> usize {
        let fin = self.shape(x).len();
        let weight = self.param(
            format!("{name}.weight"),
            vec![fout, fin],
            Init::Uniform { fan_in: fin },
        );
        self.param(
            format!("{name}.bias"),
            vec![fout],
            Init::Uniform { fan_in: fin },
        );
        let op = Op::Linear {
            fin,
            fout,
            weight,
            act,
        };
        self.push(
            name,
            op,
            vec![x],
            Shape {
                c: fout,
                h: 1,
                w: 1,
            },
        )
    }

    pub fn shuffle(&mut self, x: usize, groups: usize) -> usize {
        let shape = self.shape(x);
        debug_assert_eq!(shape.c % groups, 0);
        self.push("shuffle", Op::Shuffle { groups }, vec![x], shape)
    }

    pub fn add(&mut self, a: usize, b: usize) -> usize {
        let shape = self.shape(a);
        assert_eq!(shape, self.shape(b), "add: shapes differ");
        self.push("add", Op::Add, vec![a, b], shape)
    }

    pub fn pad(&mut self, x: usize, top: usize, bottom: usize, left: usize, right: usize) -> usize {
        let s = self.shape(x);
        let shape = Shape {
            c: s.c,
            h: s.h + top + bottom,
            w: s.w + left + right,
        };
        let op = Op::Pad {
            top,
            bottom,
            left,
            right,
        };
        self.push("pad", op, vec![x], shape)
    }

    pub fn concat(&mut self, a: usize, b: usize) -> usize {
        let (sa, sb) = (self.shape(a), self.shape(b));
        assert_eq!((sa.h, sa.w), (sb.h, sb.w), "concat: sizes differ");
        let shape = Shape {
            c: sa.c + sb.c,
            ..sa
        };
        self.push("concat", Op::Concat, vec![a, b], shape)
    }

    /// The graph, with `logits` as its output (it must be the last node).
    pub fn finish(self, logits: usize) -> Graph {
        assert_eq!(
            logits,
            self.g.nodes.len() - 1,
            "the output must be the last node"
        );
        self.g
    }
}

fn init_tensors(specs: &[TensorSpec], rng: &mut SplitMix64) -> Params {
    Params(
        specs
            .iter()
            .map(|s| match s.init {
                Init::Const(v) => vec![v; s.len()],
                Init::Uniform { fan_in } => {
                    let bound = 1.0 / (fan_in as f32).sqrt();
                    (0..s.len())
                        .map(|_| (rng.next_f32() * 2.0 - 1.0) * bound)
                        .collect()
                }
            })
            .collect(),
    )
}

impl Graph {
    pub fn input_shape(&self) -> Shape {
        self.nodes[0].shape
    }

    pub fn classes(&self) -> usize {
        self.nodes.last().map_or(0, |n| n.shape.len())
    }

    /// Parameters drawn with `seed` as PyTorch initialises them by default.
    pub fn init(&self, seed: u64) -> Params {
        init_tensors(&self.params, &mut SplitMix64::new(seed))
    }

    /// Fresh BatchNorm running statistics (mean 0, variance 1).
    pub fn init_buffers(&self) -> Params {
        init_tensors(&self.buffers, &mut SplitMix64::new(0))
    }

    pub fn param_count(&self) -> usize {
        self.params.iter().map(TensorSpec::len).sum()
    }

    /// Floating-point operations of one inference, a multiply-add counted as two; BatchNorm as
    /// two per element (it folds into the convolution at inference, but is counted as trained).
    pub fn flops(&self) -> u64 {
        let mut total = 0u64;
        for n in &self.nodes {
            let out = n.shape.len() as u64;
            total += match n.op {
                Op::Input => 0,
                Op::Conv(c) => {
                    out * (2 * c.patch() as u64 + c.bias.is_some() as u64 + c.act.flops())
                }
                Op::BatchNorm { act, .. } => out * (2 + act.flops()),
                Op::Act(a) => out * a.flops(),
                Op::MaxPool2 => out * 3,
                Op::AvgPool { k, .. } => out * (k * k) as u64,
                Op::GlobalAvgPool => self.nodes[n.inputs[0]].shape.len() as u64,
                Op::Linear { fin, act, .. } => out * (2 * fin as u64 + 1 + act.flops()),
                Op::Shuffle { .. } | Op::Concat | Op::Pad { .. } => 0,
                Op::Add => out,
            };
        }
        total
    }

    /// Checks that `p` and `b` have this graph's tensors, naming the first one that does not.
    pub fn check(&self, p: &Params, b: &Params) -> Result<()> {
        for (specs, t, what) in [(&self.params, p, "parameter"), (&self.buffers, b, "buffer")] {
            if specs.len() != t.0.len() {
                return Err(NnError::Invalid(format!(
                    "the model has {} {what} tensors, the file {}",
                    specs.len(),
                    t.0.len()
                )));
            }
            for (s, v) in specs.iter().zip(&t.0) {
                if s.len() != v.len() {
                    return Err(NnError::Invalid(format!(
                        "{what} {} should have {} values (shape {:?}), not {}",
                        s.name,
                        s.len(),
                        s.shape,
                        v.len()
                    )));
                }
            }
        }
        Ok(())
    }

    /// The inference graph with every BatchNorm that directly follows a convolution (its only
    /// consumer) folded into that convolution's weight and bias, and its activation fused into
    /// the convolution. Returns the folded graph and its parameters; it has no BatchNorm buffers
    /// left to read for the folded layers.
    pub fn fold_batchnorm(&self, p: &Params, b: &Params) -> (Graph, Params, Params) {
        let mut consumers = vec![0usize; self.nodes.len()];
        for n in &self.nodes {
            for &i in &n.inputs {
                consumers[i] += 1;
            }
        }
        let mut params = p.clone();
        let mut specs = self.params.clone();
        let mut nodes: Vec<Node> = Vec::with_capacity(self.nodes.len());
        let mut remap = vec![0usize; self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            if let Op::BatchNorm { param, buffer, act } = n.op {
                let src = n.inputs[0];
                if let Op::Conv(c) = self.nodes[src].op {
                    if consumers[src] == 1 && c.act == Act::None {
                        let conv_new = remap[src];
                        let bias = match c.bias {
                            Some(bi) => bi,
                            None => {
                                params.0.push(vec![0.0; c.cout]);
                                specs.push(TensorSpec {
                                    name: format!("{}.bias", self.nodes[src].name),
                                    shape: vec![c.cout],
                                    init: Init::Const(0.0),
                                });
                                params.0.len() - 1
                            }
                        };
                        let per = c.patch();
                        for o in 0..c.cout {
                            let gamma = p.0[param][o];
                            let beta = p.0[param + 1][o];
                            let mean = b.0[buffer][o];
                            let var = b.0[buffer + 1][o];
                            let scale = gamma / (var + BN_EPS).sqrt();
                            for w in &mut params.0[c.weight][o * per..(o + 1) * per] {
                                *w *= scale;
                            }
                            let old = params.0[bias][o];
                            params.0[bias][o] = beta + (old - mean) * scale;
                        }
                        if let Op::Conv(ref mut nc) = nodes[conv_new].op {
                            nc.bias = Some(bias);
                            nc.act = act;
                        }
                        remap[i] = conv_new;
                        continue;
                    }
                }
            }
            let mut m = n.clone();
            m.inputs = n.inputs.iter().map(|&j| remap[j]).collect();
            nodes.push(m);
            remap[i] = nodes.len() - 1;
        }
        let g = Graph {
            nodes,
            params: specs,
            buffers: self.buffers.clone(),
        };
        (g, params, b.clone())
    }
}

/// One thread's activations, gradients and scratch, reused from batch to batch.
#[derive(Debug, Default)]
pub struct Exec {
    n: usize,
    acts: Vec<Vec<f32>>,
    grads: Vec<Vec<f32>>,
    /// Per node: im2col patches (convolutions), normalised input (BatchNorm).
    aux: Vec<Vec<f32>>,
    /// Per node: max pooling's argmax.
    idx: Vec<Vec<u32>>,
    /// Per BatchNorm node: batch mean, biased variance, 1/σ.
    stats: Vec<Vec<f32>>,
    scratch: Vec<f32>,
    ks: Scratch,
    pub dlogits: Vec<f32>,
    /// The format layer outputs and gradients are rounded to ([`crate::precision`]).
    pub precision: crate::precision::Precision,
    /// int8 layers to run instead of their f32 form (inference only).
    pub quant: Option<std::sync::Arc<crate::quantize::Quantized>>,
    xq: Vec<u8>,
    acc: Vec<i32>,
    /// Per node: the output as u8, where int8 layers pass it on without f32 in between
    /// ([`crate::quantize::plan_chain`]); that node's f32 activation is then empty.
    acts_u8: Vec<Vec<u8>>,
}

/// Mean and unbiased variance of each BatchNorm's batch, in buffer order, for the running
/// statistics.
pub type BatchStats = Vec<Vec<f32>>;

impl Exec {
    /// The logits of the last forward pass, `n × classes`.
    pub fn logits(&self) -> &[f32] {
        self.acts.last().map_or(&[], |v| v.as_slice())
    }

    pub fn batch(&self) -> usize {
        self.n
    }

    /// Node `i`'s output from the last forward pass (empty for a node whose int8 output was
    /// handed on as u8, see [`crate::quantize::plan_chain`]; never the logits).
    pub fn activation(&self, i: usize) -> &[f32] {
        &self.acts[i]
    }

    /// Forward pass of `n` images `x` (`n × c × h × w`). In training, BatchNorm normalises with
    /// the batch's statistics; otherwise with the running ones in `buffers`.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &mut self,
        be: &dyn Backend,
        g: &Graph,
        p: &Params,
        buffers: &Params,
        x: &[f32],
        n: usize,
        training: bool,
    ) {
        let len = g.nodes.len();
        self.n = n;
        self.acts.resize_with(len, Vec::new);
        self.aux.resize_with(len, Vec::new);
        self.idx.resize_with(len, Vec::new);
        self.stats.resize_with(len, Vec::new);
        debug_assert_eq!(x.len(), n * g.nodes[0].shape.len());
        self.acts[0].clear();
        self.acts[0].extend_from_slice(x);
        self.acts_u8.resize_with(len, Vec::new);
        // Inference with int8 layers may pass u8 activations from one to the next.
        let chain = if training { None } else { self.quant.clone() };
        for i in 1..len {
            let node = &g.nodes[i];
            let out_len = n * node.shape.len();
            let emit = chain.as_deref().and_then(|q| q.chain[i]);
            let src_u8 = chain
                .as_deref()
                .is_some_and(|q| q.chain[node.inputs[0]].is_some());
            let mut out = std::mem::take(&mut self.acts[i]);
            let mut out8 = std::mem::take(&mut self.acts_u8[i]);
            if emit.is_some() {
                out.clear();
                out8.resize(out_len, 0);
            } else {
                out.resize(out_len, 0.0);
            }
            let ins = g.nodes[node.inputs[0]].shape;
            let x = &self.acts[node.inputs[0]];
            let x8 = &self.acts_u8[node.inputs[0]];
            let qin = || {
                if src_u8 {
                    crate::quantize::QIn::U8(x8)
                } else {
                    crate::quantize::QIn::F32(x)
                }
            };
            match node.op {
                Op::Input => unreachable!("only node 0 is the input"),
                Op::Conv(c) => match self
                    .quant
                    .as_deref()
                    .and_then(|q| Some((q, q.layers[i].as_ref()?)))
                {
                    Some((q, l)) if !training => crate::quantize::conv_forward(
                        q,
                        l,
                        &c,
                        ins,
                        node.shape,
                        qin(),
                        match emit {
                            Some(p) => crate::quantize::QOut::U8(&mut out8, p),
                            None => crate::quantize::QOut::F32(&mut out),
                        },
                        n,
                        &mut self.xq,
                        &mut self.acc,
                    ),
                    _ => conv_forward(
                        be,
                        &c,
                        ins,
                        node.shape,
                        p,
                        x,
                        &mut out,
                        &mut self.aux[i],
                        &mut self.ks,
                        n,
                    ),
                },
                Op::BatchNorm { param, buffer, act } => {
                    let (gamma, beta) = (&p.0[param], &p.0[param + 1]);
                    let plane = ins.plane();
                    if training {
                        let xhat = &mut self.aux[i];
                        xhat.resize(out_len, 0.0);
                        let st = &mut self.stats[i];
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
                    } else {
                        let (mean, var) = (&buffers.0[buffer], &buffers.0[buffer + 1]);
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
                    act.apply(&mut out);
                }
                Op::Act(a) => {
                    out.copy_from_slice(x);
                    a.apply(&mut out);
                }
                Op::MaxPool2 if src_u8 => {
                    debug_assert!(emit.is_some(), "u8 in, u8 out (plan_chain)");
                    max_pool2_hwc(x8, &mut out8, ins, node.shape, n);
                }
                // Inference needs no argmax: a branch-free maximum.
                Op::MaxPool2 if !training => {
                    max_pool2(x, &mut out, ins, node.shape, n);
                }
                Op::MaxPool2 => {
                    let o = node.shape;
                    let idx = &mut self.idx[i];
                    idx.resize(out_len, 0);
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
                Op::AvgPool { k, stride, pad } => {
                    let (s, ones) = avg_pool_as_depthwise(ins, k, stride, pad);
                    let o = node.shape;
                    for pl in 0..n * ins.c {
                        be.depthwise(
                            &x[pl * ins.plane()..(pl + 1) * ins.plane()],
                            &ones,
                            s,
                            &mut out[pl * o.plane()..(pl + 1) * o.plane()],
                            &mut self.ks,
                        );
                    }
                }
                Op::GlobalAvgPool => {
                    let inv = 1.0 / ins.plane() as f32;
                    for (pl, y) in out.iter_mut().enumerate() {
                        *y = sum(&x[pl * ins.plane()..(pl + 1) * ins.plane()]) * inv;
                    }
                }
                Op::Linear {
                    fin,
                    fout,
                    weight,
                    act,
                } if training || self.quant.as_ref().is_none_or(|q| q.layers[i].is_none()) => {
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
                        rm_mut(&mut out, fout),
                    );
                    act.apply(&mut out);
                }
                Op::Linear { fin, fout, act, .. } => {
                    let q = self.quant.as_deref().expect("checked by the arm above");
                    let l = q.layers[i].as_ref().expect("checked by the arm above");
                    crate::quantize::linear_forward(
                        q,
                        l,
                        fin,
                        fout,
                        act,
                        qin(),
                        match emit {
                            Some(p) => crate::quantize::QOut::U8(&mut out8, p),
                            None => crate::quantize::QOut::F32(&mut out),
                        },
                        n,
                        &mut self.xq,
                        &mut self.acc,
                    );
                }
                Op::Shuffle { groups } => {
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
                Op::Pad { top, left, .. } => {
                    let o = node.shape;
                    out.fill(0.0);
                    for pl in 0..n * ins.c {
                        for y in 0..ins.h {
                            let src = &x[(pl * ins.h + y) * ins.w..(pl * ins.h + y + 1) * ins.w];
                            let d = (pl * o.h + y + top) * o.w + left;
                            out[d..d + ins.w].copy_from_slice(src);
                        }
                    }
                }
                Op::Add => {
                    let y = &self.acts[node.inputs[1]];
                    for ((o, a), b) in out.iter_mut().zip(x).zip(y) {
                        *o = a + b;
                    }
                }
                Op::Concat => {
                    let y = &self.acts[node.inputs[1]];
                    let (la, lb) = (ins.len(), g.nodes[node.inputs[1]].shape.len());
                    for img in 0..n {
                        let dst = &mut out[img * (la + lb)..(img + 1) * (la + lb)];
                        dst[..la].copy_from_slice(&x[img * la..(img + 1) * la]);
                        dst[la..].copy_from_slice(&y[img * lb..(img + 1) * lb]);
                    }
                }
            }
            self.precision.round(&mut out);
            self.acts[i] = out;
            self.acts_u8[i] = out8;
        }
    }

    /// BatchNorm batch statistics of the last training forward pass, in buffer order: mean then
    /// unbiased variance for each BatchNorm layer.
    pub fn batch_stats(&self, g: &Graph) -> BatchStats {
        let mut out = vec![Vec::new(); g.buffers.len()];
        for (i, node) in g.nodes.iter().enumerate() {
            if let Op::BatchNorm { buffer, .. } = node.op {
                let c = node.shape.c;
                let st = &self.stats[i];
                let m = (self.n * node.shape.plane()) as f32;
                let unbiased = if m > 1.0 { m / (m - 1.0) } else { 1.0 };
                out[buffer] = st[..c].to_vec();
                out[buffer + 1] = st[c..2 * c].iter().map(|v| v * unbiased).collect();
            }
        }
        out
    }

    /// Backward from `self.dlogits` (the gradient of the loss with respect to the logits), adding
    /// the parameter gradients into `grads`.
    pub fn backward(&mut self, be: &dyn Backend, g: &Graph, p: &Params, grads: &mut Params) {
        let len = g.nodes.len();
        let n = self.n;
        self.grads.resize_with(len, Vec::new);
        // Gradient buffers are not cleared: the first consumer to reach a buffer overwrites it
        // (a GEMM with beta 0, an assignment) or clears it, later ones add. Clearing every
        // activation's gradient up front cost a tenth of a LightweightNet step in memset.
        let mut fresh = vec![true; len];
        for (i, node) in g.nodes.iter().enumerate() {
            if i > 0 {
                self.grads[i].resize(n * node.shape.len(), 0.0);
            }
        }
        self.grads[len - 1].copy_from_slice(&self.dlogits);
        for i in (1..len).rev() {
            let node = &g.nodes[i];
            let mut dy = std::mem::take(&mut self.grads[i]);
            self.precision.round(&mut dy);
            let src = node.inputs[0];
            let ins = g.nodes[src].shape;
            // The input image needs no gradient.
            let need_dx = src != 0;
            // Whether src's buffer still holds garbage; ops that cannot overwrite clear it.
            let overwrite = fresh[src];
            let writes_whole = match node.op {
                Op::Linear { .. } | Op::BatchNorm { .. } => true,
                Op::Conv(c) => c.is_pointwise(),
                _ => false,
            };
            for &j in &node.inputs {
                if j != 0 && fresh[j] && !(j == src && writes_whole) {
                    self.grads[j].fill(0.0);
                }
                fresh[j] = false;
            }
            let dx_beta = if overwrite && writes_whole { 0.0 } else { 1.0 };
            let y = &self.acts[i];
            let x = &self.acts[src];
            match node.op {
                Op::Input => unreachable!(),
                Op::Conv(c) => {
                    c.act.backward(&mut dy, y);
                    let dx = need_dx.then(|| &mut self.grads[src]);
                    conv_backward(
                        be,
                        &c,
                        ins,
                        node.shape,
                        p,
                        x,
                        &dy,
                        &self.aux[i],
                        &mut self.scratch,
                        &mut self.ks,
                        grads,
                        dx,
                        dx_beta,
                        n,
                    );
                }
                Op::BatchNorm { param, act, .. } => {
                    act.backward(&mut dy, y);
                    let plane = ins.plane();
                    let xhat = &self.aux[i];
                    let st = &self.stats[i];
                    let m = (n * plane) as f32;
                    let gamma = &p.0[param];
                    for c in 0..ins.c {
                        let (mut dg, mut db) = (0.0f32, 0.0f32);
                        for img in 0..n {
                            let o = (img * ins.c + c) * plane;
                            dg += crate::kernels::dot(&dy[o..o + plane], &xhat[o..o + plane]);
                            db += sum(&dy[o..o + plane]);
                        }
                        grads.0[param][c] += dg;
                        grads.0[param + 1][c] += db;
                        if need_dx {
                            let k = gamma[c] * st[2 * ins.c + c] / m;
                            let dx = &mut self.grads[src];
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
                Op::Act(a) => {
                    a.backward(&mut dy, y);
                    if need_dx {
                        for (d, v) in self.grads[src].iter_mut().zip(&dy) {
                            *d += v;
                        }
                    }
                }
                Op::MaxPool2 => {
                    if need_dx {
                        let o = node.shape;
                        let dx = &mut self.grads[src];
                        for pl in 0..n * ins.c {
                            for j in 0..o.plane() {
                                let k = pl * o.plane() + j;
                                dx[pl * ins.plane() + self.idx[i][k] as usize] += dy[k];
                            }
                        }
                    }
                }
                Op::AvgPool { k, stride, pad } => {
                    if need_dx {
                        let (s, ones) = avg_pool_as_depthwise(ins, k, stride, pad);
                        let mut dw = vec![0.0; k * k];
                        let o = node.shape;
                        let dx = &mut self.grads[src];
                        for pl in 0..n * ins.c {
                            be.depthwise_backward(
                                &x[pl * ins.plane()..(pl + 1) * ins.plane()],
                                &ones,
                                &dy[pl * o.plane()..(pl + 1) * o.plane()],
                                s,
                                &mut dw,
                                Some(&mut dx[pl * ins.plane()..(pl + 1) * ins.plane()]),
                                &mut self.ks,
                            );
                        }
                    }
                }
                Op::GlobalAvgPool => {
                    if need_dx {
                        let inv = 1.0 / ins.plane() as f32;
                        let dx = &mut self.grads[src];
                        for (pl, d) in dy.iter().enumerate() {
                            for v in &mut dx[pl * ins.plane()..(pl + 1) * ins.plane()] {
                                *v += d * inv;
                            }
                        }
                    }
                }
                Op::Linear {
                    fin,
                    fout,
                    weight,
                    act,
                } => {
                    act.backward(&mut dy, y);
                    be.gemm(
                        fout,
                        n,
                        fin,
                        tr(&dy, fout),
                        rm(x, fin),
                        1.0,
                        rm_mut(&mut grads.0[weight], fin),
                    );
                    for row in dy.chunks(fout) {
                        for (b, d) in grads.0[weight + 1].iter_mut().zip(row) {
                            *b += d;
                        }
                    }
                    if need_dx {
                        be.gemm(
                            n,
                            fout,
                            fin,
                            rm(&dy, fout),
                            rm(&p.0[weight], fin),
                            dx_beta,
                            rm_mut(&mut self.grads[src], fin),
                        );
                    }
                }
                Op::Shuffle { groups } => {
                    if need_dx {
                        let per = ins.c / groups;
                        let pl = ins.plane();
                        let dx = &mut self.grads[src];
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
                }
                Op::Pad { top, left, .. } => {
                    if need_dx {
                        let o = node.shape;
                        let dx = &mut self.grads[src];
                        for pl in 0..n * ins.c {
                            for y in 0..ins.h {
                                let d = (pl * o.h + y + top) * o.w + left;
                                let row =
                                    &mut dx[(pl * ins.h + y) * ins.w..(pl * ins.h + y + 1) * ins.w];
                                for (a, b) in row.iter_mut().zip(&dy[d..d + ins.w]) {
                                    *a += b;
                                }
                            }
                        }
                    }
                }
                Op::Add => {
                    for &j in &node.inputs {
                        if j != 0 {
                            for (a, b) in self.grads[j].iter_mut().zip(&dy) {
                                *a += b;
                            }
                        }
                    }
                }
                Op::Concat => {
                    let other = node.inputs[1];
                    let (la, lb) = (ins.len(), g.nodes[other].shape.len());
                    for (j, off, l) in [(src, 0, la), (other, la, lb)] {
                        if j == 0 {
                            continue;
                        }
                        let dx = &mut self.grads[j];
                        for img in 0..n {
                            let from = &dy[img * (la + lb) + off..img * (la + lb) + off + l];
                            for (a, b) in dx[img * l..(img + 1) * l].iter_mut().zip(from) {
                                *a += b;
                            }
                        }
                    }
                }
            }
            self.grads[i] = dy;
        }
    }
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

/// 2×2 max pooling with stride 2 of `n` channels-last u8 images (int8 layers hand these on).
fn max_pool2_hwc(x: &[u8], out: &mut [u8], ins: Shape, o: Shape, n: usize) {
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

/// 2×2 max pooling with stride 2 over `n × c` planes, without the argmax.
fn max_pool2(x: &[f32], out: &mut [f32], ins: Shape, o: Shape, n: usize) {
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

#[allow(clippy::too_many_arguments)]
fn conv_forward(
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
            be.im2col(&x[img * ins.len()..(img + 1) * ins.len()], s, col);
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
fn conv_backward(
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
                be.col2im_add(scratch, s, &mut d[img * ins.len()..(img + 1) * ins.len()]);
            }
        }
    }
}
