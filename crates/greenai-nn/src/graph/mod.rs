//! A model as a small graph of layers over NCHW tensors, with forward and backward for exactly the
//! layers greenai's models need: convolution (groups, strides; depthwise by a direct kernel,
//! pointwise without im2col), BatchNorm, ReLU/ReLU6, max and average pooling, global average
//! pooling, linear, channel shuffle, residual add and channel concatenation.
//!
//! A [`Graph`] holds shapes and parameter indices only; parameters live in [`Params`], BatchNorm's
//! running statistics in a second [`Params`] (the buffers), and activations in an [`Exec`] per
//! thread. Activations are fused into the convolution, BatchNorm or linear layer before them.
//!
//! The core is here: shapes, the [`Op`] enum, the [`Graph`] and its [`GraphBuilder`]
//! (`builder.rs`), BatchNorm folding (`fold.rs`) and the executor [`Exec`] (`exec.rs`). Each layer
//! kind's forward, backward and FLOPs are in [`layers`]. The graph knows nothing of int8: an
//! inference can hand nodes to a [`LayerOverride`] (the int8 layers of [`crate::quantize`]).
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

mod builder;
mod exec;
mod fold;
pub mod layers;

pub use builder::GraphBuilder;
pub use exec::{BatchStats, Exec, LayerOverride};
pub use layers::act::Act;
pub use layers::conv::Conv;

use crate::params::Params;
use crate::rng::SplitMix64;
use crate::{NnError, Result};

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
                Op::Conv(c) => layers::conv::flops(&c, out),
                Op::BatchNorm { act, .. } => layers::norm::flops(act, out),
                Op::Act(a) => out * a.flops(),
                Op::MaxPool2 => layers::pool::flops_max(out),
                Op::AvgPool { k, .. } => layers::pool::flops_avg(k, out),
                Op::GlobalAvgPool => {
                    layers::pool::flops_global(self.nodes[n.inputs[0]].shape.len() as u64)
                }
                Op::Linear { fin, act, .. } => layers::linear::flops(fin, act, out),
                Op::Shuffle { .. } | Op::Concat | Op::Pad { .. } => 0,
                Op::Add => layers::tensor::flops_add(out),
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
}
