//! The quantizer never makes a model slower: on this CPU, with the int8 kernel that will run it,
//! each int8 layer is timed against its f32 layer on a calibration batch and stays f32 where it is
//! slower; then the whole model is timed, and every layer goes back to f32 if int8 is still slower
//! as a whole. What was decided, and the times behind it, is kept with the model
//! ([`SpeedCheck`]) for the reports.
//!
//! A node's time is read between the executor's offers of consecutive nodes ([`Stopwatch`]), so
//! it is the node's whole cost on either path: quantizing f32 input or reading u8, the product,
//! and writing f32 or u8. The minimum of a few passes after a warm-up is kept (the least
//! disturbed by the other core's work).

use super::{chain_layers, Int8, Quantized};
use crate::graph::{Exec, Graph, LayerOverride, Op};
use crate::params::Params;
use std::sync::Arc;
use std::time::Instant;

/// Timed passes per path (after one warm-up).
const PASSES: usize = 3;
/// About how many FLOPs a timing pass should do: enough to time, little beside calibration.
const PASS_FLOPS: u64 = 200_000_000;
/// The most images a timing pass takes.
const MAX_IMAGES: usize = 64;

/// One quantizable layer's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerChoice {
    /// Its node in the graph.
    pub node: usize,
    /// What it is: `conv 5×5 6→16`, `linear 400→120`, ...
    pub layer: String,
    /// Whether it runs int8.
    pub int8: bool,
    /// Its time per image on each path, in microseconds.
    pub f32_us: f64,
    pub int8_us: f64,
    /// Why it runs as it does.
    pub reason: String,
}

/// The quantizer's speed check: per layer, and for the whole model once the layers were chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeedCheck {
    /// The int8 kernel the times were taken with.
    pub kernel: String,
    /// Images per timing pass.
    pub images: usize,
    pub layers: Vec<LayerChoice>,
    /// The whole model's time per image, f32 and with the chosen int8 layers.
    pub model_f32_us: f64,
    pub model_int8_us: f64,
    /// Set when int8 was slower as a whole, so every layer went back to f32.
    pub all_f32: bool,
}

impl SpeedCheck {
    /// How many layers run int8, of those that could.
    pub fn int8_layers(&self) -> (usize, usize) {
        (
            self.layers.iter().filter(|l| l.int8).count(),
            self.layers.len(),
        )
    }
}

/// Marks the moment each node is offered, passing the offer on to `inner`.
struct Stopwatch<'a> {
    inner: Option<&'a mut dyn LayerOverride>,
    marks: Vec<Option<Instant>>,
}

impl LayerOverride for Stopwatch<'_> {
    fn run(
        &mut self,
        g: &Graph,
        i: usize,
        acts: &[Vec<f32>],
        out: &mut Vec<f32>,
        n: usize,
    ) -> bool {
        self.marks[i] = Some(Instant::now());
        self.inner
            .as_deref_mut()
            .is_some_and(|a| a.run(g, i, acts, out, n))
    }
}

/// Each node's time (seconds, best of [`PASSES`]), and the whole pass's, on `n` images `x`.
fn node_times(
    g: &Graph,
    params: &Params,
    buffers: &Params,
    q: Option<&Arc<Quantized>>,
    x: &[f32],
    n: usize,
) -> (Vec<f64>, f64) {
    let len = g.nodes.len();
    let mut best = vec![f64::INFINITY; len];
    let mut whole = f64::INFINITY;
    let mut ex = Exec::default();
    let mut int8 = q.map(|q| Int8::new(Arc::clone(q)));
    for pass in 0..=PASSES {
        let mut sw = Stopwatch {
            inner: int8.as_mut().map(|i| i as &mut dyn LayerOverride),
            marks: vec![None; len],
        };
        let start = Instant::now();
        ex.forward_with(&crate::backend::Cpu, g, params, buffers, x, n, &mut sw);
        let end = Instant::now();
        if pass == 0 {
            continue; // warm-up: buffers sized, caches filled
        }
        whole = whole.min((end - start).as_secs_f64());
        for (i, best) in best.iter_mut().enumerate().skip(1) {
            let (Some(from), to) = (sw.marks[i], sw.marks.get(i + 1).copied().flatten()) else {
                continue;
            };
            *best = best.min((to.unwrap_or(end) - from).as_secs_f64());
        }
    }
    (best, whole)
}

fn describe(op: &Op) -> String {
    match op {
        Op::Conv(c) if c.is_depthwise() => format!("depthwise conv {0}×{0} {1}", c.k, c.cin),
        Op::Conv(c) => format!("conv {0}×{0} {1}→{2}", c.k, c.cin, c.cout),
        Op::Linear { fin, fout, .. } => format!("linear {fin}→{fout}"),
        other => format!("{other:?}"),
    }
}

/// How many of the `n` calibration images a timing pass takes.
pub(crate) fn timing_images(g: &Graph, n: usize) -> usize {
    let per_image = g.flops().max(1);
    ((PASS_FLOPS / per_image) as usize)
        .clamp(1, MAX_IMAGES)
        .min(n)
}

/// Keeps int8 only where it is faster on this CPU (see the module's text). `x` holds `n` images
/// of the model's input shape; with none, nothing can be timed and every layer stays int8.
pub fn keep_faster(
    g: &Graph,
    params: &Params,
    buffers: &Params,
    mut q: Quantized,
    x: &[f32],
    n: usize,
) -> Quantized {
    let n = timing_images(g, n);
    if n == 0 || q.layers.iter().all(Option::is_none) {
        return q;
    }
    let x = &x[..n * g.nodes[0].shape.len()];
    let per = |s: f64| s * 1e6 / n as f64;
    let (f32_t, f32_whole) = node_times(g, params, buffers, None, x, n);
    let all = Arc::new(q.clone());
    let (i8_t, _) = node_times(g, params, buffers, Some(&all), x, n);
    let mut layers = Vec::new();
    for (i, l) in q.layers.iter_mut().enumerate() {
        if l.is_none() {
            continue;
        }
        let (f, e) = (per(f32_t[i]), per(i8_t[i]));
        let int8 = e <= f;
        if !int8 {
            *l = None;
        }
        layers.push(LayerChoice {
            node: i,
            layer: describe(&g.nodes[i].op),
            int8,
            f32_us: f,
            int8_us: e,
            reason: if int8 {
                format!("int8 {:.2}× faster", f / e.max(1e-9))
            } else {
                format!("f32 kept: int8 {:.2}× slower here", e / f.max(1e-9))
            },
        });
    }
    relink(g, &mut q);
    // The whole model with the chosen layers: never slower than f32 as a whole.
    let chosen = Arc::new(q.clone());
    let (_, i8_whole) = node_times(g, params, buffers, Some(&chosen), x, n);
    let all_f32 = i8_whole > f32_whole;
    if all_f32 {
        q.layers.iter_mut().for_each(|l| *l = None);
        for c in &mut layers {
            if c.int8 {
                c.int8 = false;
                c.reason = "f32 kept: the int8 model was slower as a whole".into();
            }
        }
        relink(g, &mut q);
    }
    q.speed = Some(SpeedCheck {
        kernel: q.kernel.name().into(),
        images: n,
        layers,
        model_f32_us: per(f32_whole),
        model_int8_us: per(if all_f32 { f32_whole } else { i8_whole }),
        all_f32,
    });
    q
}

/// Plans the u8 hand-over again for the layers left (a linear layer reads channels-last input
/// only when a u8 chain brings it so).
fn relink(g: &Graph, q: &mut Quantized) {
    for (i, l) in q.layers.iter_mut().enumerate() {
        if let Some(l) = l {
            l.set_hwc_input(g, i, false);
        }
    }
    q.chain = chain_layers(g, &mut q.layers);
}
