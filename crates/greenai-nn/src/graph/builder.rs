//! Builds a [`Graph`] layer by layer, checking shapes as it goes.

use super::{Act, Conv, Graph, Init, Node, Op, Shape, TensorSpec};
use crate::{NnError, Result};

/// Builds a [`Graph`] layer by layer, checking shapes as it goes.
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
