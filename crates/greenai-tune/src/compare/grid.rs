//! The grid of configurations `compare` runs, and the key each result is stored under.

use crate::job::JobSettings;
use crate::train::{ScheduleKind, TrainSpec};
use crate::transfer::TransferSpec;
use greenai_nn::models::ModelKind;
use greenai_nn::optim::OptimizerKind;

/// Bumped when the grid's meaning changes, so stored results of an older grid are not reused
/// (3: results stored typed; runs of grid 2 kept theirs in labels; 4: configurations stop at the
/// target accuracy; 5: a check too near the end of a job's plan to pay for itself is skipped).
pub const GRID_VERSION: &str = "5";

/// One configuration of the grid.
#[derive(Debug, Clone)]
pub struct Config {
    pub name: String,
    pub spec: TrainSpec,
    pub threads: usize,
    pub batch: usize,
    /// Take threads and batch from the energy-aware profiling.
    pub tuned: bool,
    /// Take the learning rate and batch size from a measured search ([`super::search`]) around
    /// `spec.lr`.
    pub searched: bool,
    /// Also quantize the trained model to int8 (per channel, calibrated) and evaluate it as a row
    /// of its own.
    pub int8: bool,
    /// Transfer learning from EfficientNet-Lite0 instead of training `spec.model` (whose epochs
    /// and rate mirror this for the table and the key).
    pub transfer: Option<TransferSpec>,
}

impl Config {
    /// How each of this configuration's jobs runs: recorded under the `compare` project.
    pub fn job_settings(&self, args: &super::CompareOptions) -> JobSettings {
        JobSettings {
            threads: self.threads,
            batch: self.batch,
            interval: args.interval,
            project: "compare".into(),
            db: Some(args.db.clone()),
            state_dir: super::state_dir(&args.db),
            carbon: args.carbon.clone(),
            labels: args.labels.clone(),
        }
    }
}

/// A grid entry's training: Adam, f32, seed 0, 5,000 validation images.
pub fn spec(model: ModelKind, epochs: usize, lr: f32, schedule: ScheduleKind) -> TrainSpec {
    TrainSpec {
        model,
        epochs,
        max_steps: None,
        lr,
        optimizer: OptimizerKind::Adam,
        schedule,
        weight_decay: None,
        validation: 5000,
        patience: None,
        precision: greenai_nn::precision::Precision::F32,
        save: None,
        resume: None,
        seed: 0,
        budget_j: None,
        profiling_energy_j: None,
        target: None,
        power_tune: None,
        pca_init: false,
    }
}

/// A configuration of `spec` at `threads` and `batch`.
pub fn config(name: &str, spec: TrainSpec, threads: usize, batch: usize) -> Config {
    Config {
        name: name.to_string(),
        spec,
        threads,
        batch,
        tuned: false,
        searched: false,
        int8: false,
        transfer: None,
    }
}

/// Transfer learning in the grid: EfficientNet-Lite0's frozen ImageNet features of 64×64 copies
/// of 5,000 training images, a new linear head trained for 30 epochs, the whole test set.
fn transfer_config() -> Config {
    let t = TransferSpec {
        input_size: 64,
        train_samples: 5000,
        test_samples: usize::MAX,
        epochs: 30,
        lr: 1e-3,
        fine_tune_last: 0,
        int8: false,
        seed: 0,
        validation: 0,
        target: None,
    };
    Config {
        transfer: Some(t.clone()),
        ..config(
            "transfer-lite0-frozen",
            spec(
                ModelKind::EfficientnetLite0,
                t.epochs,
                t.lr,
                ScheduleKind::Cosine,
            ),
            2,
            64,
        )
    }
}

/// The seed's baseline: LightweightNet, f32, Adam 1e-3 at a constant rate, batch 64, 10 epochs,
/// trained as the seed wrote it (all ten epochs).
pub const BASELINE: &str = "baseline";
/// The same recipe under compare's stopping rule (it stops at the target, as every other
/// configuration does), so that what the rule saves and what the better configuration saves are
/// told apart.
pub const BASELINE_TO_TARGET: &str = "baseline-to-target";

/// The default grid (a few minutes on 2 cores) or the whole one.
/// The power-tuned configuration's name (in the grid only where a power knob is writable).
pub const POWER_TUNED: &str = "lenet-1ep-power-tuned";

/// The grid; `power_tunable` adds LeNet-5 with `--power-tune` (η 0.5), which only a machine with
/// a writable power knob can run as more than a copy of `lenet-1ep`.
pub fn grid(full: bool, power_tunable: bool) -> Vec<Config> {
    use ModelKind::*;
    use ScheduleKind::{Constant, Cosine};
    let mut g = vec![
        Config {
            int8: true,
            ..config(BASELINE, spec(Lightweight, 10, 1e-3, Constant), 2, 64)
        },
        config(
            BASELINE_TO_TARGET,
            spec(Lightweight, 10, 1e-3, Constant),
            2,
            64,
        ),
        config(
            "lightweight-2ep-cosine",
            spec(Lightweight, 2, 2e-3, Cosine),
            2,
            64,
        ),
        Config {
            int8: true,
            ..config("lenet-1ep", spec(Lenet, 1, 5e-3, Cosine), 2, 64)
        },
        config(
            "lenet-1ep-bf16",
            TrainSpec {
                precision: greenai_nn::precision::Precision::Bf16,
                ..spec(Lenet, 1, 5e-3, Cosine)
            },
            2,
            64,
        ),
        Config {
            tuned: true,
            ..config("lenet-1ep-tuned", spec(Lenet, 1, 5e-3, Cosine), 2, 64)
        },
        Config {
            searched: true,
            ..config("lenet-1ep-searched", spec(Lenet, 1, 5e-3, Cosine), 2, 64)
        },
        // The strided net at batch 32 (bench/NOTES.md, "A net that learns MNIST in a fraction of
        // an epoch"): one epoch stopped at the target, and a schedule planned for 1,000 steps
        // (32,000 images) that anneals to zero there.
        config("strided-1ep", spec(Strided, 1, 3e-3, Cosine), 2, 32),
        config(
            "strided-1000steps",
            TrainSpec {
                max_steps: Some(1000),
                ..spec(Strided, 1, 5e-3, Cosine)
            },
            2,
            32,
        ),
        // The same from PCA filters: 700 steps at a higher rate reach what 1,000 did from random
        // filters. Its plan ends inside the first epoch, so the epoch-end validation is its one
        // evaluation: it holds out the 2,000 images compare's checks read, not 5,000 (seeds 0-4:
        // 0.9812-0.9841 on the test set).
        config(
            "strided-700steps-pca",
            TrainSpec {
                max_steps: Some(700),
                pca_init: true,
                validation: super::COMPARE_CHECK_IMAGES,
                ..spec(Strided, 1, 7e-3, Cosine)
            },
            2,
            32,
        ),
        config("mobilenet-2ep", spec(Mobilenet, 2, 2e-3, Cosine), 2, 64),
        config("shufflenet-2ep", spec(Shufflenet, 2, 2e-3, Cosine), 2, 64),
        config("cnn-1ep", spec(Cnn, 1, 1e-3, Cosine), 2, 64),
        transfer_config(),
    ];
    if power_tunable {
        g.push(config(
            POWER_TUNED,
            TrainSpec {
                power_tune: Some(crate::train::PowerTuneSpec {
                    eta: 0.5,
                    steps: crate::power_tune::STEPS_PER_CANDIDATE,
                }),
                ..spec(Lenet, 1, 5e-3, Cosine)
            },
            2,
            64,
        ));
    }
    if full {
        g.extend([
            config(
                "lightweight-10ep-cosine",
                spec(Lightweight, 10, 1e-3, Cosine),
                2,
                64,
            ),
            config(
                "lightweight-2ep-1thread",
                spec(Lightweight, 2, 2e-3, Cosine),
                1,
                64,
            ),
            config(
                "lightweight-2ep-batch128",
                spec(Lightweight, 2, 3e-3, Cosine),
                2,
                128,
            ),
            config("lenet-3ep", spec(Lenet, 3, 3e-3, Cosine), 2, 64),
            config("strided-3ep", spec(Strided, 3, 3e-3, Cosine), 2, 32),
            config("mobilenet-10ep", spec(Mobilenet, 10, 1e-3, Cosine), 2, 64),
            config("shufflenet-10ep", spec(Shufflenet, 10, 1e-3, Cosine), 2, 64),
            config("cnn-5ep", spec(Cnn, 5, 1e-3, Cosine), 2, 64),
        ]);
    }
    g
}

/// [`grid`] on this machine: the power-tuned configuration where a power knob is writable, and a
/// note saying why not elsewhere.
pub fn for_this_machine(full: bool, progress: &dyn crate::job::Progress) -> Vec<Config> {
    let tunable = crate::power_tune::tunable();
    if let Err(why) = &tunable {
        progress.note(&format!("greenai: {POWER_TUNED} is not in the grid: {why}"));
    }
    grid(full, tunable.is_ok())
}

/// What identifies a configuration's result in the database.
pub fn key(c: &Config, dataset: &str) -> String {
    let s = &c.spec;
    if let Some(t) = &c.transfer {
        return format!(
            "v{GRID_VERSION};{};transfer;size={};train={};test={};epochs={};lr={};last={};batch={};threads={};seed={};data={dataset}",
            c.name,
            t.input_size,
            t.train_samples,
            t.test_samples,
            t.epochs,
            t.lr,
            t.fine_tune_last,
            c.batch,
            c.threads,
            t.seed
        );
    }
    let power = s.power_tune.map_or(String::new(), |p| {
        format!(";power_tune={};steps={}", p.eta, p.steps)
    });
    let target = s.target.map_or(String::new(), |t| {
        format!(
            ";target={};check_images={:?};check_every={:?}",
            t.accuracy, t.check_images, t.check_every
        )
    });
    let steps = s
        .max_steps
        .map_or(String::new(), |n| format!(";max_steps={n}"))
        + if s.pca_init { ";pca_init" } else { "" };
    format!(
        "v{GRID_VERSION};{};{};{};epochs={}{steps};lr={};{};{:?};batch={};threads={};validation={};seed={}{target}{power};data={dataset}",
        c.name,
        s.model.name(),
        s.precision.name(),
        s.epochs,
        s.lr,
        s.optimizer.name(),
        s.schedule,
        c.batch,
        c.threads,
        s.validation,
        s.seed
    )
}
