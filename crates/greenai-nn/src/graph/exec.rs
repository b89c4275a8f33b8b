//! The executor: one thread's activations, gradients and scratch, and the forward and backward
//! passes over a [`Graph`], each node dispatched to its layer's module ([`super::layers`]).

use super::layers::{act, conv, linear, norm, pool, tensor};
use super::{Graph, Op};
use crate::backend::{Backend, Scratch};
use crate::params::Params;

/// Runs some nodes of an inference in a form of its own (the int8 layers of
/// [`crate::quantize`]): the executor offers it every node first. An implementation may hand a
/// node's output on in its own representation; that node's f32 activation is then left empty, and
/// only the implementation reads it.
pub trait LayerOverride {
    /// Runs node `i` of `g` if this override takes it, reading its input from the f32
    /// activations `acts` (or its own) and writing `out` (sized by it: empty when the output is
    /// handed on in the override's own form). Returns `false` to leave the node to its f32 layer.
    fn run(&mut self, g: &Graph, i: usize, acts: &[Vec<f32>], out: &mut Vec<f32>, n: usize)
        -> bool;
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

    /// Node `i`'s output from the last forward pass (empty for a node a [`LayerOverride`] handed
    /// on in its own form; never the logits).
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
        self.run(be, g, p, buffers, x, n, training, None);
    }

    /// An inference forward pass in which `alt` runs the nodes it takes (int8 layers).
    #[allow(clippy::too_many_arguments)]
    pub fn forward_with(
        &mut self,
        be: &dyn Backend,
        g: &Graph,
        p: &Params,
        buffers: &Params,
        x: &[f32],
        n: usize,
        alt: &mut dyn LayerOverride,
    ) {
        self.run(be, g, p, buffers, x, n, false, Some(alt));
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        be: &dyn Backend,
        g: &Graph,
        p: &Params,
        buffers: &Params,
        x: &[f32],
        n: usize,
        training: bool,
        mut alt: Option<&mut dyn LayerOverride>,
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
        for i in 1..len {
            let node = &g.nodes[i];
            let mut out = std::mem::take(&mut self.acts[i]);
            let taken = alt
                .as_deref_mut()
                .is_some_and(|a| a.run(g, i, &self.acts, &mut out, n));
            if !taken {
                out.resize(n * node.shape.len(), 0.0);
                self.layer_forward(be, g, i, p, buffers, &mut out, n, training);
            }
            self.precision.round(&mut out);
            self.acts[i] = out;
        }
    }

    /// Node `i`'s f32 layer, writing `out`.
    #[allow(clippy::too_many_arguments)]
    fn layer_forward(
        &mut self,
        be: &dyn Backend,
        g: &Graph,
        i: usize,
        p: &Params,
        buffers: &Params,
        out: &mut [f32],
        n: usize,
        training: bool,
    ) {
        let node = &g.nodes[i];
        let ins = g.nodes[node.inputs[0]].shape;
        let o = node.shape;
        let x = &self.acts[node.inputs[0]];
        match node.op {
            Op::Input => unreachable!("only node 0 is the input"),
            Op::Conv(c) => {
                conv::forward(be, &c, ins, o, p, x, out, &mut self.aux[i], &mut self.ks, n)
            }
            Op::BatchNorm { param, buffer, act } => {
                let (gamma, beta) = (&p.0[param], &p.0[param + 1]);
                if training {
                    let (xhat, st) = (&mut self.aux[i], &mut self.stats[i]);
                    norm::forward_train(x, out, xhat, st, gamma, beta, ins, n);
                } else {
                    let (mean, var) = (&buffers.0[buffer], &buffers.0[buffer + 1]);
                    norm::forward_infer(x, out, gamma, beta, mean, var, ins, n);
                }
                act.apply(out);
            }
            Op::Act(a) => act::forward(a, x, out),
            // Inference needs no argmax: a branch-free maximum.
            Op::MaxPool2 if !training => pool::max_pool2(x, out, ins, o, n),
            Op::MaxPool2 => pool::max_pool2_train(x, out, &mut self.idx[i], ins, o, n),
            Op::AvgPool { k, stride, pad } => {
                pool::avg_pool(be, x, out, &mut self.ks, ins, o, (k, stride, pad), n)
            }
            Op::GlobalAvgPool => pool::global_avg_pool(x, out, ins),
            Op::Linear {
                fin,
                fout,
                weight,
                act,
            } => linear::forward(be, p, weight, x, out, (fin, fout), act, n),
            Op::Shuffle { groups } => tensor::shuffle(x, out, ins, groups, n),
            Op::Pad { top, left, .. } => tensor::pad(x, out, ins, o, (top, left), n),
            Op::Add => tensor::add(x, &self.acts[node.inputs[1]], out),
            Op::Concat => {
                let lb = g.nodes[node.inputs[1]].shape.len();
                tensor::concat(x, &self.acts[node.inputs[1]], out, (ins.len(), lb), n)
            }
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
            self.layer_backward(be, g, i, p, grads, &mut dy, dx_beta);
            self.grads[i] = dy;
        }
    }

    /// Node `i`'s backward: parameter gradients into `grads`, its inputs' into their buffers
    /// (the input image needs none).
    #[allow(clippy::too_many_arguments)]
    fn layer_backward(
        &mut self,
        be: &dyn Backend,
        g: &Graph,
        i: usize,
        p: &Params,
        grads: &mut Params,
        dy: &mut [f32],
        dx_beta: f32,
    ) {
        let n = self.n;
        let node = &g.nodes[i];
        let src = node.inputs[0];
        let ins = g.nodes[src].shape;
        let o = node.shape;
        let y = &self.acts[i];
        let x = &self.acts[src];
        let dx = (src != 0).then_some(&mut self.grads[src]);
        match node.op {
            Op::Input => unreachable!(),
            Op::Conv(c) => {
                c.act.backward(dy, y);
                conv::backward(
                    be,
                    &c,
                    ins,
                    o,
                    p,
                    x,
                    dy,
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
                act.backward(dy, y);
                let (xhat, st) = (&self.aux[i], &self.stats[i]);
                let dx = dx.map(|d| d.as_mut_slice());
                norm::backward(dy, xhat, st, p, param, grads, dx, dx_beta, ins, n);
            }
            Op::Act(a) => act::backward(a, dy, y, dx.map(|d| d.as_mut_slice())),
            Op::MaxPool2 => {
                if let Some(dx) = dx {
                    pool::max_pool2_backward(dy, &self.idx[i], dx, ins, o, n);
                }
            }
            Op::AvgPool { k, stride, pad } => {
                if let Some(dx) = dx {
                    let kernel = (k, stride, pad);
                    pool::avg_pool_backward(be, x, dy, dx, &mut self.ks, ins, o, kernel, n);
                }
            }
            Op::GlobalAvgPool => {
                if let Some(dx) = dx {
                    pool::global_avg_pool_backward(dy, dx, ins);
                }
            }
            Op::Linear {
                fin,
                fout,
                weight,
                act,
            } => {
                act.backward(dy, y);
                let dx = dx.map(|d| d.as_mut_slice());
                linear::backward(be, p, weight, x, dy, grads, dx, dx_beta, (fin, fout), n);
            }
            Op::Shuffle { groups } => {
                if let Some(dx) = dx {
                    tensor::shuffle_backward(dy, dx, ins, groups, n);
                }
            }
            Op::Pad { top, left, .. } => {
                if let Some(dx) = dx {
                    tensor::pad_backward(dy, dx, ins, o, (top, left), n);
                }
            }
            Op::Add => {
                for &j in &node.inputs {
                    if j != 0 {
                        tensor::add_backward(dy, &mut self.grads[j]);
                    }
                }
            }
            Op::Concat => {
                let other = node.inputs[1];
                let (la, lb) = (ins.len(), g.nodes[other].shape.len());
                for (j, off, l) in [(src, 0, la), (other, la, lb)] {
                    if j != 0 {
                        tensor::concat_backward(dy, &mut self.grads[j], (off, l, la + lb), n);
                    }
                }
            }
        }
    }
}
