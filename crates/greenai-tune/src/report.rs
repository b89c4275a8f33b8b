//! What a training, evaluation or prediction job reports ([`JobReport`], its training part and
//! each epoch's) and what it stores with its run ([`JobResults`]), apart from the jobs themselves
//! in [`crate::train`].

use greenai_meter::Provenance;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochReport {
    pub epoch: usize,
    pub loss: f64,
    pub train_accuracy: f64,
    pub validation_accuracy: Option<f64>,
    pub lr: f32,
    pub energy_j: f64,
    pub duration_s: f64,
    pub provenance: Provenance,
}

/// The JSON report of `train` and `eval`. Field names are a stable interface (README).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobReport {
    pub command: String,
    pub run_id: Option<String>,
    pub model: String,
    pub precision: String,
    pub quantization: String,
    pub dataset: String,
    /// Test-set accuracy, 0 to 1.
    pub accuracy: f64,
    pub test_samples: usize,
    /// The whole job (loading, training, validation, evaluation).
    pub energy_j: f64,
    pub duration_s: f64,
    pub training_energy_j: Option<f64>,
    pub train_samples_per_s: Option<f64>,
    pub inference_samples_per_s: f64,
    pub joules_per_training_sample: Option<f64>,
    pub joules_per_1000_inferences: f64,
    pub params: usize,
    pub flops: u64,
    pub provenance: Provenance,
    pub uncertainty: Option<f64>,
    /// The int8 kernel that ran the quantized layers, for an int8 model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub int8_kernel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub training: Option<TrainingReport>,
    #[serde(flatten)]
    pub carbon: greenai_carbon::CarbonReport,
    /// What was stored with the run (not part of the JSON report).
    #[serde(skip)]
    pub results: JobResults,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainingReport {
    pub epochs: usize,
    pub epochs_run: usize,
    /// `--max-steps`: the steps the job was planned for, its schedule ending there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<u64>,
    /// The optimiser steps the job ran (resumed ones included).
    #[serde(default)]
    pub steps: u64,
    /// `--pca-init`: the layer it set, and from how many images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pca_init: Option<greenai_nn::init::PcaInit>,
    pub stopped_early: bool,
    /// Set when the job paused at this epoch's end as asked ([`crate::job::Progress::pause_requested`]):
    /// `--resume` with its checkpoint continues it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_at_epoch: Option<usize>,
    pub best_epoch: Option<usize>,
    pub batch: usize,
    pub lr: f32,
    pub optimizer: String,
    pub schedule: String,
    pub threads: usize,
    pub train_samples: usize,
    pub validation_samples: usize,
    pub checkpoint: Option<String>,
    /// f16's final loss scale.
    pub loss_scale: Option<f32>,
    /// Steps skipped because their gradients overflowed (f16).
    pub skipped_steps: u64,
    /// Training energy predicted from the first epoch for all planned epochs (carbontracker-style).
    pub predicted_training_energy_j: Option<f64>,
    /// Set when `--budget-j` stopped training because the prediction exceeded it.
    pub stopped_by_budget: Option<f64>,
    /// Energy and time to `--target-accuracy`, when one was set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<crate::target::TargetReport>,
    /// What `--power-tune` measured and chose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_tune: Option<crate::power_tune::PowerTuneReport>,
    pub per_epoch: Vec<EpochReport>,
}

/// What a training or evaluation job stores with its run: the figures `compare` reads back to reuse
/// a result, typed (never parsed out of labels).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobResults {
    pub model: String,
    pub precision: String,
    pub quantization: String,
    /// Test accuracy, 0 to 1.
    pub accuracy: f64,
    /// Energy of the work that produced the model (training epochs, or a transfer's feature pass
    /// and head), and how long it took.
    pub training_energy_j: Option<f64>,
    pub training_duration_s: Option<f64>,
    /// Energy per 1,000 test inferences.
    pub joules_per_1000_inferences: Option<f64>,
    /// Energy spent choosing the settings (compare's profiling), counted with the configuration.
    #[serde(default)]
    pub profiling_energy_j: Option<f64>,
    pub params: u64,
    pub flops: u64,
    /// Epochs this job trained.
    pub epochs: Option<usize>,
    pub threads: usize,
    pub batch: usize,
    /// Set when a budget stopped training: the predicted energy of all its epochs.
    pub stopped_by_budget_predicted_j: Option<f64>,
    /// The int8 kernel that ran the model's quantized layers (`avx512-vnni`, `avx2`, `portable`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub int8_kernel: Option<String>,
    /// Of the quantizable layers, how many run int8 (the rest were faster in f32 here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub int8_layers: Option<(usize, usize)>,
    /// With a target accuracy: whether training stopped at it, and the energy to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_reached: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_to_accuracy_j: Option<f64>,
    /// The learning rate trained with (compare reuses a searched one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f32>,
}
