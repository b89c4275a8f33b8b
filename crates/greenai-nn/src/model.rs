//! A model: its architecture ([`crate::graph::Graph`]), parameters and BatchNorm running
//! statistics, and optionally int8 layers for inference; [`Inference`] runs one on a thread.

use crate::backend::{Backend, Cpu};
use crate::graph::{Exec, Graph};
use crate::models::ModelKind;
use crate::params::Params;
use crate::quantize::{ActivationRange, Int8, Quantized, WeightScheme};
use crate::Result;
use std::sync::Arc;

/// Whether [`Model::quantized_with`] times the layers (see [`crate::quantize::SpeedCheck`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpeedRule {
    /// int8 only where it is faster on this CPU: what users get.
    KeepFaster,
    /// Every quantizable layer int8: for tests of the int8 path itself, whose layer set must not
    /// depend on timing.
    EveryLayer,
}

/// A model's architecture with its parameters and BatchNorm running statistics.
#[derive(Debug, Clone)]
pub struct Model {
    pub kind: ModelKind,
    pub graph: Graph,
    pub params: Params,
    pub buffers: Params,
    /// int8 layers for inference ([`crate::quantize`]); `None` runs everything in f32.
    pub quant: Option<Arc<Quantized>>,
}

impl Model {
    /// A freshly initialised `kind` for `rows × cols` single-channel images.
    pub fn new(
        kind: ModelKind,
        rows: usize,
        cols: usize,
        classes: usize,
        seed: u64,
    ) -> Result<Model> {
        let graph = kind.build(1, rows, cols, classes)?;
        let params = graph.init(seed);
        let buffers = graph.init_buffers();
        Ok(Model {
            kind,
            graph,
            params,
            buffers,
            quant: None,
        })
    }

    /// The int8 form: folded ([`Model::folded`]), then quantized with `scheme` and activation
    /// ranges calibrated on the `n` inputs of `calibration` (unless `range` is dynamic), each
    /// layer int8 only where that is faster on this CPU (timed on the calibration inputs; see
    /// [`crate::quantize::SpeedCheck`]). The one way every caller (`quantize`, compare's int8
    /// rows, transfer's int8 backbone) quantizes.
    pub fn quantized(
        &self,
        scheme: WeightScheme,
        range: ActivationRange,
        calibration: &[f32],
        n: usize,
    ) -> Model {
        self.quantized_with(scheme, range, calibration, n, SpeedRule::KeepFaster)
    }

    /// [`Model::quantized`], with every quantizable layer int8 whatever its speed
    /// ([`SpeedRule::EveryLayer`]) or only where it is faster ([`SpeedRule::KeepFaster`]).
    pub fn quantized_with(
        &self,
        scheme: WeightScheme,
        range: ActivationRange,
        calibration: &[f32],
        n: usize,
        rule: SpeedRule,
    ) -> Model {
        let mut m = self.folded();
        let mut q = crate::quantize::quantize(
            &m.graph,
            &m.params,
            &m.buffers,
            scheme,
            range,
            calibration,
            n,
        );
        if rule == SpeedRule::KeepFaster {
            q = crate::quantize::keep_faster(&m.graph, &m.params, &m.buffers, q, calibration, n);
        }
        m.quant = Some(Arc::new(q));
        m
    }

    /// How its inference runs: `none` (f32), `dynamic`, `per-tensor` or `per-channel`.
    pub fn quantization_name(&self) -> &'static str {
        match self.quant.as_deref() {
            None => "none",
            Some(q) if q.range == ActivationRange::Dynamic => "dynamic",
            Some(q) if q.scheme == WeightScheme::PerTensor => "per-tensor",
            Some(_) => "per-channel",
        }
    }

    /// The inference form: BatchNorm folded into the convolutions before it, activations fused.
    pub fn folded(&self) -> Model {
        let (graph, params, buffers) = self.graph.fold_batchnorm(&self.params, &self.buffers);
        // An int8 model is folded already: when folding changes nothing, its layers stay valid.
        let quant = (graph == self.graph).then(|| self.quant.clone()).flatten();
        Model {
            kind: self.kind,
            graph,
            params,
            buffers,
            quant,
        }
    }
}

/// One thread's inference of models: the f32 executor and, for an int8 model, its int8 layers'
/// state, both reused from batch to batch.
#[derive(Debug, Default)]
pub struct Inference {
    ex: Exec,
    int8: Option<Int8>,
}

impl Inference {
    /// The outputs of `n` inputs `x` through `model` (its int8 layers where it has them), `n ×`
    /// the last node's size.
    pub fn run(&mut self, be: &dyn Backend, model: &Model, x: &[f32], n: usize) -> &[f32] {
        let (g, p, b) = (&model.graph, &model.params, &model.buffers);
        match &model.quant {
            Some(q) => {
                if !self
                    .int8
                    .as_ref()
                    .is_some_and(|s| Arc::ptr_eq(s.quantized(), q))
                {
                    self.int8 = Some(Int8::new(Arc::clone(q)));
                }
                let alt = self.int8.as_mut().expect("set above");
                self.ex.forward_with(be, g, p, b, x, n, alt);
            }
            None => self.ex.forward(be, g, p, b, x, n, false),
        }
        self.ex.logits()
    }

    /// [`Inference::run`] on the CPU backend.
    pub fn infer(&mut self, model: &Model, x: &[f32], n: usize) -> &[f32] {
        self.run(&Cpu, model, x, n)
    }

    /// The executor of the last pass (its activations).
    pub fn exec(&self) -> &Exec {
        &self.ex
    }
}
