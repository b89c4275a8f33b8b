//! Compare's int8 rows: a trained configuration's checkpoint quantized per channel and evaluated
//! in a recorded job of its own.

use super::{CompareOptions, Config, Row};
use crate::error::{Result, TuneError};
use crate::job::Progress;
use crate::train::JobResults;
use greenai_meter::Provenance;
use greenai_nn::data::{Dataset, MNIST_MEAN, MNIST_STD};
use greenai_nn::quantize::{ActivationRange, WeightScheme};
use greenai_store::RunSummary;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where a configuration's checkpoint is kept, beside the database: its int8 variant is made
/// from it, now or when an interrupted compare resumes.
pub fn checkpoint_path(state_dir: &Path, name: &str, key: &str) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    state_dir
        .join("greenai-checkpoints")
        .join(format!("{name}-{:016x}.safetensors", h.finish()))
}

/// Training images that calibrate the int8 rows' activation ranges.
const CALIBRATION_IMAGES: usize = 1000;

/// The int8 row of a trained configuration: its checkpoint quantized per channel (static ranges
/// from 1,000 training images) and evaluated on the test set inside a recorded job; or the row an
/// earlier compare stored under `key8`. Training energy is the parent's: the same training
/// produced both.
#[allow(clippy::too_many_arguments)]
pub fn int8_variant(
    c: &Config,
    parent: &Row,
    ckpt: &Path,
    key8: &str,
    previous: Option<(&RunSummary, &JobResults)>,
    train: &Dataset,
    test: &Dataset,
    args: &CompareOptions,
    progress: &dyn Progress,
) -> Result<Row> {
    let name = format!("{}-int8", c.name);
    let kernel = greenai_nn::int8::Kernel::active().name();
    if let Some((prev, r)) = previous {
        progress.note(&format!("  {name}: reused run {}", prev.run_id));
        return Ok(Row {
            config: name,
            precision: "int8".into(),
            quantization: "per-channel".into(),
            accuracy: r.accuracy,
            joules_per_1000_inferences: r.joules_per_1000_inferences.unwrap_or(f64::NAN),
            provenance: prev.provenance.unwrap_or(Provenance::Estimated),
            run_id: Some(prev.run_id.clone()),
            reused: true,
            pareto: false,
            int8_kernel: r.int8_kernel.clone(),
            int8_layers: r.int8_layers,
            target_reached: None,
            energy_to_accuracy_j: None,
            runs: 1,
            training_energy_range_j: None,
            accuracy_range: None,
            reached_runs: None,
            ..parent.clone()
        });
    }
    let ck = greenai_nn::checkpoint::load(ckpt).map_err(TuneError::engine(format!(
        "loading {} to quantize it",
        ckpt.display()
    )))?;
    let n = CALIBRATION_IMAGES.min(train.len());
    let mut calib = Vec::new();
    train.normalised_batch(
        &(0..n).collect::<Vec<_>>(),
        MNIST_MEAN,
        MNIST_STD,
        &mut calib,
    );
    let m = ck
        .model
        .quantized(WeightScheme::PerChannel, ActivationRange::MinMax, &calib, n);
    let int8_layers = m
        .quant
        .as_ref()
        .and_then(|q| q.speed.as_ref())
        .map(|s| s.int8_layers());
    let job_args = c.job_settings(args);
    let labels: BTreeMap<String, String> = [
        ("job", "eval".to_string()),
        ("model", c.spec.model.name().to_string()),
        ("precision", "int8".into()),
        ("quantization", "per-channel".into()),
        ("compare_key", key8.to_string()),
        ("compare_config", name.clone()),
        ("int8_kernel", kernel.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mut job = job_args.start(labels)?;
    let runner = job_args.runner();
    let meter = std::sync::Arc::clone(job.monitor());
    meter.begin_window("eval")?;
    let accuracy = runner.evaluate(&m, test, None);
    let w = meter.end_window("eval")?;
    let per_k = w.energy.joules() * 1000.0 / test.len() as f64;
    job.label("accuracy", format!("{accuracy:.4}"));
    job.set_results(&JobResults {
        model: c.spec.model.name().into(),
        precision: "int8".into(),
        quantization: "per-channel".into(),
        accuracy,
        training_energy_j: None,
        training_duration_s: None,
        joules_per_1000_inferences: Some(per_k),
        profiling_energy_j: None,
        params: parent.params,
        flops: parent.flops,
        epochs: None,
        threads: c.threads,
        batch: c.batch,
        stopped_by_budget_predicted_j: None,
        int8_kernel: Some(kernel.into()),
        int8_layers,
        target_reached: None,
        energy_to_accuracy_j: None,
        lr: None,
    })?;
    let end = job.finish(0, None)?;
    crate::job::tell_end(progress, &end);
    progress.note(&format!(
        "  {name}: accuracy {accuracy:.4}, {per_k:.3} J per 1,000 inferences (f32: {:.3})",
        parent.joules_per_1000_inferences
    ));
    Ok(Row {
        config: name,
        precision: "int8".into(),
        quantization: "per-channel".into(),
        accuracy,
        joules_per_1000_inferences: per_k,
        provenance: w.provenance,
        run_id: end.run_id,
        reused: false,
        pareto: false,
        int8_kernel: Some(kernel.into()),
        int8_layers,
        target_reached: None,
        energy_to_accuracy_j: None,
        runs: 1,
        training_energy_range_j: None,
        accuracy_range: None,
        reached_runs: None,
        ..parent.clone()
    })
}
