//! The quantization job: a checkpoint's model in f32 and in int8, evaluated side by side in one
//! recorded run, each evaluation in its own meter window.

use crate::error::{Result, TuneError};
use crate::invalid;
use crate::job::{labels, JobSettings, Progress};
use crate::train::check_size;
use greenai_meter::{Monitor, Provenance};
use greenai_nn::checkpoint;
use greenai_nn::data::{Dataset, Split, MNIST_MEAN, MNIST_STD};
use greenai_nn::model::SpeedRule;
use greenai_nn::quantize::{ActivationRange, WeightScheme};
use greenai_nn::train::{Model, Runner};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How to quantize.
#[derive(Debug, Clone)]
pub struct QuantizeSpec {
    pub scheme: WeightScheme,
    pub range: ActivationRange,
    /// Training images that calibrate static activation ranges (ignored for dynamic ranges).
    pub calibration: usize,
    /// Where to write the int8 model, if anywhere.
    pub save: Option<PathBuf>,
    /// Every quantizable layer int8 ([`SpeedRule::EveryLayer`]), or only the faster ones.
    pub rule: SpeedRule,
}

impl QuantizeSpec {
    /// `per-tensor`, `per-channel` or `dynamic`.
    pub fn mode(&self) -> &'static str {
        match (self.range, self.scheme) {
            (ActivationRange::Dynamic, _) => "dynamic",
            (_, WeightScheme::PerTensor) => "per-tensor",
            _ => "per-channel",
        }
    }

    fn method(&self) -> Option<&'static str> {
        match self.range {
            ActivationRange::Dynamic => None,
            ActivationRange::MinMax => Some("minmax"),
            _ => Some("percentile"),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Side {
    pub precision: String,
    pub quantization: String,
    pub accuracy: f64,
    pub size_bytes: usize,
    pub inference_samples_per_s: f64,
    pub joules_per_1000_inferences: f64,
    pub energy_j: f64,
    pub provenance: Provenance,
}

/// One quantizable layer: int8 or f32, and why (the quantizer's speed check on this CPU).
#[derive(Debug, Clone, Serialize)]
pub struct LayerReport {
    pub layer: String,
    pub int8: bool,
    /// Time per image on each path, from the check's timing passes.
    pub f32_us: f64,
    pub int8_us: f64,
    pub reason: String,
}

impl LayerReport {
    /// The layers of a speed check, in graph order.
    pub fn from_check(s: &greenai_nn::quantize::SpeedCheck) -> Vec<LayerReport> {
        s.layers
            .iter()
            .map(|l| LayerReport {
                layer: l.layer.clone(),
                int8: l.int8,
                f32_us: l.f32_us,
                int8_us: l.int8_us,
                reason: l.reason.clone(),
            })
            .collect()
    }
}

#[derive(Debug, Serialize)]
pub struct QuantizeReport {
    pub model: String,
    pub mode: String,
    pub calibration_images: usize,
    pub method: Option<String>,
    pub kernel: String,
    /// Each quantizable layer's verdict (int8 only where it is faster here).
    pub layers: Vec<LayerReport>,
    /// Set when int8 was slower as a whole on this CPU, so the model stayed f32.
    pub all_f32: bool,
    pub params: usize,
    pub flops: u64,
    pub before: Side,
    pub after: Side,
    pub accuracy_change: f64,
    pub speedup: f64,
    pub energy_ratio: f64,
    pub run_id: Option<String>,
}

fn measure(
    meter: &Monitor,
    runner: &Runner,
    model: &Model,
    test: &Dataset,
    window: &str,
) -> Result<(f64, f64, greenai_meter::Measurement)> {
    meter.begin_window(window)?;
    let t = Instant::now();
    let acc = runner.evaluate(model, test, None);
    let secs = t.elapsed().as_secs_f64();
    let m = meter.end_window(window)?;
    Ok((acc, test.len() as f64 / secs, m))
}

/// Quantizes the checkpoint at `path` and measures both forms on the test set of `dir`.
pub fn run_quantize(
    path: &Path,
    dir: &Path,
    spec: &QuantizeSpec,
    job_args: &JobSettings,
    progress: &dyn Progress,
) -> Result<QuantizeReport> {
    let ck =
        checkpoint::load(path).map_err(TuneError::engine(format!("loading {}", path.display())))?;
    if ck.model.quant.is_some() {
        invalid!(
            "{} is already an int8 model; quantize the f32 checkpoint it came from",
            path.display()
        );
    }
    let test =
        Dataset::load(dir, Split::Test).map_err(TuneError::engine("loading the test set"))?;
    check_size(&ck.model, test.rows, test.cols, "the test images")?;
    let dynamic = spec.range == ActivationRange::Dynamic;
    let calib_n = if dynamic { 0 } else { spec.calibration };
    let mut calib = Vec::new();
    if calib_n > 0 {
        let train = Dataset::load(dir, Split::Train)
            .map_err(TuneError::engine("loading calibration images"))?;
        if calib_n > train.len() {
            invalid!(
                "--calibration {calib_n}: the training set has {} images",
                train.len()
            );
        }
        train.normalised_batch(
            &(0..calib_n).collect::<Vec<_>>(),
            MNIST_MEAN,
            MNIST_STD,
            &mut calib,
        );
    } else if !dynamic {
        invalid!(
            "--calibration must be at least 1 for static quantization (or use --mode dynamic)"
        );
    }
    let mode = spec.mode();
    let mut job = job_args.start(labels(&[
        ("job", "quantize"),
        ("model", ck.model.kind.name()),
        ("quantization", mode),
    ]))?;
    let meter = std::sync::Arc::clone(job.monitor());
    let runner = job_args.runner();
    let folded = ck.model.folded();
    let (acc32, sps32, m32) = measure(&meter, &runner, &folded, &test, "f32")?;
    let int8 = ck
        .model
        .quantized_with(spec.scheme, spec.range, &calib, calib_n, spec.rule);
    let q = int8
        .quant
        .as_deref()
        .expect("quantized() sets the int8 layers");
    let kernel = q.kernel.name();
    let size8 = q.size_bytes(&folded.graph, &folded.params);
    let (acc8, sps8, m8) = measure(&meter, &runner, &int8, &test, "int8")?;
    if let Some(out) = &spec.save {
        checkpoint::save_quantized(out, &int8, &[("source", path.display().to_string())]).map_err(
            |e| TuneError::Io(format!("saving the int8 model to {}: {e}", out.display())),
        )?;
        progress.note(&format!("int8 model written to {}", out.display()));
    }
    job.label("accuracy_f32", format!("{acc32:.4}"));
    job.label("accuracy", format!("{acc8:.4}"));
    let end = job.finish(0, None)?;
    crate::job::tell_end(progress, &end);
    let per_k = |m: &greenai_meter::Measurement| m.energy.joules() * 1000.0 / test.len() as f64;
    Ok(QuantizeReport {
        model: ck.model.kind.name().into(),
        mode: mode.into(),
        calibration_images: calib_n,
        method: spec.method().map(Into::into),
        kernel: kernel.into(),
        layers: q
            .speed
            .as_ref()
            .map(LayerReport::from_check)
            .unwrap_or_default(),
        all_f32: q.speed.as_ref().is_some_and(|s| s.all_f32),
        params: folded.graph.param_count(),
        flops: folded.graph.flops(),
        before: Side {
            precision: "f32".into(),
            quantization: "none".into(),
            accuracy: acc32,
            size_bytes: 4 * folded.params.count(),
            inference_samples_per_s: sps32,
            joules_per_1000_inferences: per_k(&m32),
            energy_j: m32.energy.joules(),
            provenance: m32.provenance,
        },
        after: Side {
            precision: "int8".into(),
            quantization: mode.into(),
            accuracy: acc8,
            size_bytes: size8,
            inference_samples_per_s: sps8,
            joules_per_1000_inferences: per_k(&m8),
            energy_j: m8.energy.joules(),
            provenance: m8.provenance,
        },
        accuracy_change: acc8 - acc32,
        speedup: sps8 / sps32,
        energy_ratio: per_k(&m32) / per_k(&m8).max(f64::MIN_POSITIVE),
        run_id: end.run_id,
    })
}
