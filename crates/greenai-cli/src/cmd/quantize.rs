//! `greenai quantize`: a checkpoint's model in f32 and in int8, evaluated side by side in one
//! recorded job, each evaluation in its own meter window.

use super::job::Job;
use super::train::check_size;
use crate::cli::{CalibrationMethod, QuantMode, QuantizeArgs};
use anyhow::{bail, Context};
use greenai_meter::Provenance;
use greenai_nn::checkpoint;
use greenai_nn::data::{bundled_mnist_dir, Dataset, Split, MNIST_MEAN, MNIST_STD};
use greenai_nn::quantize::{quantize as quantize_model, ActivationRange, WeightScheme};
use greenai_nn::train::{Model, Runner};
use serde::Serialize;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Serialize)]
struct Side {
    precision: &'static str,
    quantization: String,
    accuracy: f64,
    size_bytes: usize,
    inference_samples_per_s: f64,
    joules_per_1000_inferences: f64,
    energy_j: f64,
    provenance: Provenance,
}

#[derive(Debug, Serialize)]
struct QuantizeReport {
    model: &'static str,
    mode: &'static str,
    calibration_images: usize,
    method: Option<&'static str>,
    kernel: &'static str,
    params: usize,
    flops: u64,
    before: Side,
    after: Side,
    accuracy_change: f64,
    speedup: f64,
    energy_ratio: f64,
    run_id: Option<String>,
}

fn measure(
    job: &Job,
    runner: &Runner,
    model: &Model,
    test: &Dataset,
    window: &str,
) -> anyhow::Result<(f64, f64, greenai_meter::Measurement)> {
    job.meter.begin_window(window)?;
    let t = Instant::now();
    let acc = runner.evaluate(model, test, None);
    let secs = t.elapsed().as_secs_f64();
    let m = job.meter.end_window(window)?;
    Ok((acc, test.len() as f64 / secs, m))
}

pub fn quantize(args: QuantizeArgs, db: &Path) -> anyhow::Result<ExitCode> {
    let ck = checkpoint::load(&args.checkpoint)
        .with_context(|| format!("loading {}", args.checkpoint.display()))?;
    if ck.model.quant.is_some() {
        bail!(
            "{} is already an int8 model; quantize the f32 checkpoint it came from",
            args.checkpoint.display()
        );
    }
    let dir = args.data.clone().unwrap_or_else(bundled_mnist_dir);
    let test = Dataset::load(&dir, Split::Test).context("loading the test set")?;
    check_size(&ck.model, test.rows, test.cols, "the test images")?;
    let (scheme, range, method) = match (args.mode, args.method) {
        (QuantMode::Dynamic, _) => (WeightScheme::PerChannel, ActivationRange::Dynamic, None),
        (m, CalibrationMethod::Minmax) => (scheme_of(m), ActivationRange::MinMax, Some("minmax")),
        (m, CalibrationMethod::Percentile) => (
            scheme_of(m),
            ActivationRange::Percentile(99.99),
            Some("percentile"),
        ),
    };
    let calib_n = if range == ActivationRange::Dynamic {
        0
    } else {
        args.calibration
    };
    let mut calib = Vec::new();
    if calib_n > 0 {
        let train = Dataset::load(&dir, Split::Train).context("loading calibration images")?;
        if calib_n > train.len() {
            bail!(
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
    } else if range != ActivationRange::Dynamic {
        bail!("--calibration must be at least 1 for static quantization (or use --mode dynamic)");
    }
    let mode = match args.mode {
        QuantMode::PerTensor => "per-tensor",
        QuantMode::PerChannel => "per-channel",
        QuantMode::Dynamic => "dynamic",
    };
    let labels = super::job::labels(&[
        ("job", "quantize"),
        ("model", ck.model.kind.name()),
        ("quantization", mode),
    ]);
    let mut job = Job::start(&args.job, db, labels)?;
    let runner = args.job.runner();
    let folded = ck.model.folded();
    let (acc32, sps32, m32) = measure(&job, &runner, &folded, &test, "f32")?;
    let q = quantize_model(&folded, scheme, range, &calib, calib_n);
    let kernel = q.kernel.name();
    let size8 = q.size_bytes(&folded);
    let mut int8 = folded.clone();
    int8.quant = Some(Arc::new(q));
    let (acc8, sps8, m8) = measure(&job, &runner, &int8, &test, "int8")?;
    if let Some(path) = &args.save {
        checkpoint::save_quantized(
            path,
            &int8,
            &[("source", args.checkpoint.display().to_string())],
        )
        .with_context(|| format!("saving the int8 model to {}", path.display()))?;
        eprintln!("int8 model written to {}", path.display());
    }
    job.label("accuracy_f32", format!("{acc32:.4}"));
    job.label("accuracy", format!("{acc8:.4}"));
    let end = job.finish()?;
    let per_k = |m: &greenai_meter::Measurement| m.energy.joules() * 1000.0 / test.len() as f64;
    let report = QuantizeReport {
        model: ck.model.kind.name(),
        mode,
        calibration_images: calib_n,
        method,
        kernel,
        params: folded.graph.param_count(),
        flops: folded.graph.flops(),
        before: Side {
            precision: "f32",
            quantization: "none".into(),
            accuracy: acc32,
            size_bytes: 4 * folded.params.count(),
            inference_samples_per_s: sps32,
            joules_per_1000_inferences: per_k(&m32),
            energy_j: m32.energy.joules(),
            provenance: m32.provenance,
        },
        after: Side {
            precision: "int8",
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
    };
    eprintln!(
        "{} {mode} int8 ({kernel}): accuracy {:.4} → {:.4}, size {} → {} bytes, {:.0} → {:.0} inferences/s \
         ({:.2}×), {:.3} → {:.3} J per 1,000 inferences ({})",
        report.model,
        acc32,
        acc8,
        report.before.size_bytes,
        size8,
        sps32,
        sps8,
        report.speedup,
        report.before.joules_per_1000_inferences,
        report.after.joules_per_1000_inferences,
        m8.provenance
    );
    if args.job.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn scheme_of(m: QuantMode) -> WeightScheme {
    match m {
        QuantMode::PerTensor => WeightScheme::PerTensor,
        _ => WeightScheme::PerChannel,
    }
}
