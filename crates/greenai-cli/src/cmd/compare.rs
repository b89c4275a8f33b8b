//! `greenai compare`: trains and evaluates a grid of configurations on MNIST, each a recorded run,
//! and finds the one with the least training energy that meets the accuracy target.

use super::train::{load_sets, run_train, JobReport, TrainSpec};
use super::transfer::{run_transfer, weights_path, TransferSpec};
use crate::cli::{CompareArgs, JobArgs, ScheduleName};
use anyhow::Context;
use greenai_meter::{detect, Provenance};
use greenai_nn::data::{bundled_mnist_dir, shuffled, Dataset};
use greenai_nn::models::ModelKind;
use greenai_nn::optim::{Optimizer, OptimizerKind};
use greenai_nn::train::{Model, Runner};
use greenai_store::RunStatus;
use greenai_tune::settings::{self, Profile};
use greenai_tune::{least_energy_meeting, pareto, Outcome};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

/// Bumped when the grid's meaning changes, so stored results of an older grid are not reused.
const GRID_VERSION: &str = "2";

/// One configuration of the grid.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub name: String,
    pub spec: TrainSpec,
    pub threads: usize,
    pub batch: usize,
    /// Take threads and batch from the energy-aware profiling.
    pub tuned: bool,
    /// Also quantize the trained model to int8 (per channel, calibrated) and evaluate it as a row
    /// of its own.
    pub int8: bool,
    /// Transfer learning from EfficientNet-Lite0 instead of training `spec.model` (whose epochs
    /// and rate mirror this for the table and the key).
    pub transfer: Option<TransferSpec>,
}

impl Config {
    /// How each of this configuration's jobs runs: quietly, recorded under the `compare` project.
    fn job_args(&self, args: &CompareArgs) -> JobArgs {
        JobArgs {
            threads: self.threads,
            batch: self.batch,
            interval: args.interval,
            project: "compare".into(),
            no_store: false,
            carbon: args.carbon.clone(),
            json: true,
        }
    }
}

fn spec(model: ModelKind, epochs: usize, lr: f32, schedule: ScheduleName) -> TrainSpec {
    TrainSpec {
        model,
        epochs,
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
    }
}

fn config(name: &str, spec: TrainSpec, threads: usize, batch: usize) -> Config {
    Config {
        name: name.to_string(),
        spec,
        threads,
        batch,
        tuned: false,
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
    };
    Config {
        transfer: Some(t.clone()),
        ..config(
            "transfer-lite0-frozen",
            spec(
                ModelKind::EfficientnetLite0,
                t.epochs,
                t.lr,
                ScheduleName::Cosine,
            ),
            2,
            64,
        )
    }
}

/// The seed's baseline: LightweightNet, f32, Adam 1e-3 at a constant rate, batch 64, 10 epochs.
pub(crate) const BASELINE: &str = "baseline";

/// The default grid (a few minutes on 2 cores) or the whole one.
pub(crate) fn grid(full: bool) -> Vec<Config> {
    use ModelKind::*;
    use ScheduleName::{Constant, Cosine};
    let mut g = vec![
        Config {
            int8: true,
            ..config(BASELINE, spec(Lightweight, 10, 1e-3, Constant), 2, 64)
        },
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
        config("mobilenet-2ep", spec(Mobilenet, 2, 2e-3, Cosine), 2, 64),
        config("shufflenet-2ep", spec(Shufflenet, 2, 2e-3, Cosine), 2, 64),
        config("cnn-1ep", spec(Cnn, 1, 1e-3, Cosine), 2, 64),
        transfer_config(),
    ];
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
            config("mobilenet-10ep", spec(Mobilenet, 10, 1e-3, Cosine), 2, 64),
            config("shufflenet-10ep", spec(Shufflenet, 10, 1e-3, Cosine), 2, 64),
            config("cnn-5ep", spec(Cnn, 5, 1e-3, Cosine), 2, 64),
        ]);
    }
    g
}

/// What identifies a configuration's result in the database.
fn key(c: &Config, dataset: &str) -> String {
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
    format!(
        "v{GRID_VERSION};{};{};{};epochs={};lr={};{};{:?};batch={};threads={};validation={};seed={};data={dataset}",
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

/// One line of the result table.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Row {
    pub config: String,
    pub model: String,
    pub precision: String,
    pub quantization: String,
    pub threads: usize,
    pub batch: usize,
    pub epochs: usize,
    pub accuracy: f64,
    pub training_energy_j: f64,
    pub joules_per_1000_inferences: f64,
    pub training_duration_s: f64,
    pub training_emissions_g: f64,
    pub params: u64,
    pub flops: u64,
    pub provenance: Provenance,
    /// Set when the budget stopped it: the predicted energy of all its epochs.
    pub stopped_by_budget_predicted_j: Option<f64>,
    pub run_id: Option<String>,
    /// Whether this result came from an earlier `compare` in the database.
    pub reused: bool,
    pub pareto: bool,
}

/// The whole comparison.
#[derive(Debug, Serialize)]
pub(crate) struct Comparison {
    pub target_accuracy: f64,
    pub budget_j: Option<f64>,
    pub eta: f64,
    pub rows: Vec<Row>,
    pub best: Option<String>,
    pub baseline_training_energy_j: Option<f64>,
    /// Baseline training energy over the best configuration's.
    pub saving_ratio: Option<f64>,
    pub settings_choice: Option<SettingsChoice>,
    pub region: String,
    pub intensity_source: String,
    pub intensity_g_per_kwh: f64,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct SettingsChoice {
    pub model: String,
    pub profiles: Vec<ProfileRow>,
    pub chosen_threads: usize,
    pub chosen_batch: usize,
    pub p_max_w: f64,
    pub profiling_energy_j: f64,
    pub explanation: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ProfileRow {
    pub threads: usize,
    pub batch: usize,
    pub energy_per_sample_j: f64,
    pub time_per_sample_s: f64,
    pub avg_power_w: f64,
    pub cost: f64,
}

fn label_f64(labels: &BTreeMap<String, String>, k: &str) -> Option<f64> {
    labels.get(k).and_then(|v| v.parse().ok())
}

/// Short profiling runs of `model`: `steps` optimiser steps for every thread count and batch
/// size, each in its own meter window.
fn profile_settings(
    model: ModelKind,
    lr: f32,
    train: &Dataset,
    eta: f64,
    interval: std::time::Duration,
) -> anyhow::Result<SettingsChoice> {
    let (builder, _) = detect::machine_builder();
    let meter = builder
        .interval(interval)
        .start()
        .context("starting the energy monitor for profiling")?;
    let mut profiles = Vec::new();
    let mut spent = 0.0;
    let max_threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(4);
    for threads in 1..=max_threads {
        for batch in [32usize, 64, 128] {
            let mut m = Model::new(model, train.rows, train.cols, train.classes().max(2), 0)?;
            let mut opt = Optimizer::new(OptimizerKind::Adam, &m.params, lr);
            let runner = Runner {
                threads,
                batch,
                ..Runner::default()
            };
            // 1,024 images per profile: a tenth of a second or more, several meter samples, and
            // all six profiles together under a tenth of an epoch.
            let order = &shuffled(train.len(), 7)[..1024.min(train.len())];
            meter.begin_window("profile")?;
            let t = Instant::now();
            runner.train_epoch(&mut m, &mut opt, train, order, &mut |_| {});
            let secs = t.elapsed().as_secs_f64();
            let w = meter.end_window("profile")?;
            spent += w.energy.joules();
            let n = order.len() as f64;
            profiles.push(Profile {
                threads,
                batch,
                energy_per_sample_j: w.energy.joules() / n,
                time_per_sample_s: secs / n,
                avg_power_w: w.energy.joules() / secs,
            });
        }
    }
    let choice = settings::choose(&profiles, eta).context("no profile to choose from")?;
    let best = profiles[choice.index];
    let rows = profiles
        .iter()
        .zip(&choice.costs)
        .map(|(p, c)| ProfileRow {
            threads: p.threads,
            batch: p.batch,
            energy_per_sample_j: p.energy_per_sample_j,
            time_per_sample_s: p.time_per_sample_s,
            avg_power_w: p.avg_power_w,
            cost: *c,
        })
        .collect();
    Ok(SettingsChoice {
        model: model.name().into(),
        profiles: rows,
        chosen_threads: best.threads,
        chosen_batch: best.batch,
        p_max_w: choice.p_max_w,
        profiling_energy_j: spent,
        explanation: format!(
            "{} thread(s), batch {}: the least η·E + (1−η)·P_max·T per sample with η = {eta} and \
             P_max = {:.1} W ({:.3} mJ and {:.1} µs per sample)",
            best.threads,
            best.batch,
            choice.p_max_w,
            best.energy_per_sample_j * 1e3,
            best.time_per_sample_s * 1e6
        ),
    })
}

/// Where a configuration's checkpoint is kept, beside the database: its int8 variant is made
/// from it, now or when an interrupted compare resumes.
fn checkpoint_path(db: &Path, name: &str, key: &str) -> std::path::PathBuf {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    db.parent()
        .unwrap_or(Path::new("."))
        .join("greenai-checkpoints")
        .join(format!("{name}-{:016x}.safetensors", h.finish()))
}

/// The int8 row of a trained configuration: its checkpoint quantized per channel (static ranges
/// from 1,000 training images) and evaluated on the test set inside a recorded job. Training
/// energy is the parent's: the same training produced both.
#[allow(clippy::too_many_arguments)]
fn int8_variant(
    c: &Config,
    parent: &Row,
    ckpt: &Path,
    key8: &str,
    previous: Option<&greenai_store::RunSummary>,
    train: &Dataset,
    test: &Dataset,
    args: &CompareArgs,
    db: &Path,
) -> anyhow::Result<Row> {
    let name = format!("{}-int8", c.name);
    if let Some(prev) = previous {
        let l = &prev.labels;
        eprintln!("  {name}: reused run {}", prev.run_id);
        return Ok(Row {
            config: name,
            precision: "int8".into(),
            quantization: "per-channel".into(),
            accuracy: label_f64(l, "accuracy").unwrap_or(0.0),
            joules_per_1000_inferences: label_f64(l, "energy_per_1000_inferences_j").unwrap_or(0.0),
            provenance: prev.provenance.unwrap_or(Provenance::Estimated),
            run_id: Some(prev.run_id.clone()),
            reused: true,
            pareto: false,
            ..parent.clone()
        });
    }
    let ck = greenai_nn::checkpoint::load(ckpt)
        .with_context(|| format!("loading {} to quantize it", ckpt.display()))?;
    let folded = ck.model.folded();
    let n = 1000.min(train.len());
    let mut calib = Vec::new();
    train.normalised_batch(
        &(0..n).collect::<Vec<_>>(),
        greenai_nn::data::MNIST_MEAN,
        greenai_nn::data::MNIST_STD,
        &mut calib,
    );
    let mut m = folded.clone();
    m.quant = Some(std::sync::Arc::new(greenai_nn::quantize::quantize(
        &folded,
        greenai_nn::quantize::WeightScheme::PerChannel,
        greenai_nn::quantize::ActivationRange::MinMax,
        &calib,
        n,
    )));
    let job_args = c.job_args(args);
    let labels: BTreeMap<String, String> = [
        ("job", "eval".to_string()),
        ("model", c.spec.model.name().to_string()),
        ("precision", "int8".into()),
        ("quantization", "per-channel".into()),
        ("compare_key", key8.to_string()),
        ("compare_config", name.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mut job = super::job::Job::start(&job_args, db, labels)?;
    let runner = job_args.runner();
    job.meter.begin_window("eval")?;
    let accuracy = runner.evaluate(&m, test, None);
    let w = job.meter.end_window("eval")?;
    let per_k = w.energy.joules() * 1000.0 / test.len() as f64;
    job.label("accuracy", format!("{accuracy:.4}"));
    job.label("energy_per_1000_inferences_j", format!("{per_k:.6}"));
    let end = job.finish()?;
    eprintln!(
        "  {name}: accuracy {accuracy:.4}, {per_k:.3} J per 1,000 inferences (f32: {:.3})",
        parent.joules_per_1000_inferences
    );
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
        ..parent.clone()
    })
}

fn row_from_report(c: &Config, r: &JobReport, training_emissions_g: f64) -> Row {
    let t = r.training.as_ref();
    Row {
        config: c.name.clone(),
        model: r.model.to_string(),
        precision: r.precision.to_string(),
        quantization: r.quantization.to_string(),
        threads: c.threads,
        batch: c.batch,
        epochs: t.map_or(0, |t| t.epochs_run),
        accuracy: r.accuracy,
        training_energy_j: r.training_energy_j.unwrap_or(0.0),
        joules_per_1000_inferences: r.joules_per_1000_inferences,
        training_duration_s: t.map_or(0.0, |t| t.per_epoch.iter().map(|e| e.duration_s).sum()),
        training_emissions_g,
        params: r.params as u64,
        flops: r.flops,
        provenance: r.provenance,
        stopped_by_budget_predicted_j: t.and_then(|t| t.stopped_by_budget),
        run_id: r.run_id.clone(),
        reused: false,
        pareto: false,
    }
}

pub fn compare(args: CompareArgs, db: &Path) -> anyhow::Result<ExitCode> {
    if !(0.0..=1.0).contains(&args.target_accuracy) {
        anyhow::bail!(
            "--target-accuracy is a fraction between 0 and 1, not {}",
            args.target_accuracy
        );
    }
    if !(0.0..=1.0).contains(&args.eta) {
        anyhow::bail!("--eta is between 0 and 1, not {}", args.eta);
    }
    let settings = args.carbon.settings();
    let resolved = settings.resolve()?;
    let dir = args.data.clone().unwrap_or_else(bundled_mnist_dir);
    let dataset = dir.display().to_string();
    let (train, test) = load_sets(&dir)?;
    let store = super::open_store(db)?;
    let previous: Vec<greenai_store::RunSummary> = if args.fresh {
        Vec::new()
    } else {
        store
            .runs()?
            .into_iter()
            .filter(|r| r.status == RunStatus::Complete && r.labels.contains_key("compare_key"))
            .collect()
    };
    let mut grid = grid(args.full);
    let total_rows = grid.len() + grid.iter().filter(|c| c.int8).count();
    // A tenth of a small training set is held out when it has fewer than 50,000 images.
    for c in &mut grid {
        c.spec.validation = c.spec.validation.min(train.len() / 10);
    }
    let total = grid.len();
    let mut rows: Vec<Row> = Vec::new();
    let mut choice: Option<SettingsChoice> = None;
    // EfficientNet-Lite0's weights, loaded for the first transfer configuration that runs.
    let mut backbone: Option<greenai_nn::train::Model> = None;
    let carbon_of = |joules: f64, secs: f64| {
        greenai_carbon::assess(
            &settings,
            &resolved,
            greenai_units::Energy::from_joules(joules),
            std::time::Duration::from_secs_f64(secs.max(0.0)),
            &[],
        )
    };
    eprintln!(
        "greenai compare: {total} configurations ({total_rows} rows with the int8 variants) on {dataset}, target accuracy {:.3}{}; finished ones \
         are kept in {} and reused by the next run",
        args.target_accuracy,
        args.budget_j.map(|b| format!(", budget {b:.0} J per configuration")).unwrap_or_default(),
        db.display()
    );
    for (i, c) in grid.iter_mut().enumerate() {
        let mut extra: Vec<(String, String)> = Vec::new();
        let mut profiling_j = 0.0;
        if c.tuned {
            let base = key(
                &Config {
                    threads: 0,
                    batch: 0,
                    ..c.clone()
                },
                &dataset,
            );
            extra.push(("compare_tuned_base".into(), base.clone()));
            let earlier = previous
                .iter()
                .rev()
                .find(|r| r.labels.get("compare_tuned_base") == Some(&base));
            if let Some(prev) = earlier {
                // Settings chosen by an earlier compare: reuse them (and its result, below).
                c.threads = label_f64(&prev.labels, "threads").unwrap_or(2.0) as usize;
                c.batch = label_f64(&prev.labels, "batch").unwrap_or(64.0) as usize;
            }
            let ch = match (&choice, earlier) {
                (_, Some(_)) => None,
                (Some(ch), None) => Some(ch.clone()),
                (None, None) => {
                    eprintln!(
                        "[{}/{total}] profiling thread counts and batch sizes for {}",
                        i + 1,
                        c.spec.model.name()
                    );
                    let ch =
                        profile_settings(c.spec.model, c.spec.lr, &train, args.eta, args.interval)?;
                    eprintln!("  chose {}", ch.explanation);
                    choice = Some(ch.clone());
                    Some(ch)
                }
            };
            if let Some(ch) = ch {
                c.threads = ch.chosen_threads;
                c.batch = ch.chosen_batch;
                profiling_j = ch.profiling_energy_j;
                extra.push(("profiling_energy_j".into(), format!("{profiling_j:.6}")));
            }
        }
        let k = key(c, &dataset);
        let k8 = format!("{k};int8=per-channel");
        let ckpt = checkpoint_path(db, &c.name, &k);
        let prev8 = previous
            .iter()
            .rev()
            .find(|r| r.labels.get("compare_key") == Some(&k8));
        let reusable = |r: &&greenai_store::RunSummary| {
            r.labels.get("compare_key") == Some(&k) && (!c.int8 || prev8.is_some() || ckpt.exists())
        };
        if let Some(prev) = previous.iter().rev().find(reusable) {
            let l = &prev.labels;
            // The tuned configuration's profiling counts in its energy.
            let energy = label_f64(l, "training_energy_j").unwrap_or(0.0)
                + label_f64(l, "profiling_energy_j").unwrap_or(0.0);
            let secs = label_f64(l, "training_duration_s").unwrap_or(0.0);
            let row = Row {
                config: c.name.clone(),
                model: l
                    .get("model")
                    .cloned()
                    .unwrap_or_else(|| c.spec.model.name().into()),
                precision: l.get("precision").cloned().unwrap_or_else(|| "f32".into()),
                quantization: l
                    .get("quantization")
                    .cloned()
                    .unwrap_or_else(|| "none".into()),
                threads: c.threads,
                batch: c.batch,
                epochs: c.spec.epochs,
                accuracy: label_f64(l, "accuracy").unwrap_or(0.0),
                training_energy_j: energy,
                joules_per_1000_inferences: label_f64(l, "energy_per_1000_inferences_j")
                    .unwrap_or(0.0),
                training_duration_s: secs,
                training_emissions_g: carbon_of(energy, secs).emissions_g,
                params: label_f64(l, "params").unwrap_or(0.0) as u64,
                flops: label_f64(l, "flops").unwrap_or(0.0) as u64,
                provenance: prev.provenance.unwrap_or(Provenance::Estimated),
                stopped_by_budget_predicted_j: label_f64(l, "stopped_by_budget_predicted_j"),
                run_id: Some(prev.run_id.clone()),
                reused: true,
                pareto: false,
            };
            eprintln!(
                "[{}/{total}] {}: reused run {} (accuracy {:.4}, {:.1} J)",
                i + 1,
                c.name,
                prev.run_id,
                row.accuracy,
                row.training_energy_j
            );
            if c.int8 {
                let r8 = int8_variant(c, &row, &ckpt, &k8, prev8, &train, &test, &args, db)?;
                rows.push(row);
                rows.push(r8);
            } else {
                rows.push(row);
            }
            continue;
        }
        if let Some(t) = &c.transfer {
            if backbone.is_none() {
                let w = weights_path(None);
                if !w.exists() {
                    eprintln!(
                        "[{}/{total}] {}: skipped: {} is missing (python3 \
                         scripts/convert_efficientnet_lite0.py downloads and converts it)",
                        i + 1,
                        c.name,
                        w.display()
                    );
                    continue;
                }
                backbone = Some(greenai_nn::efficientnet::load(&w, t.input_size, false)?);
            }
            eprintln!(
                "[{}/{total}] {}: EfficientNet-Lite0 frozen at {}×{}, features of {} training \
                 images, a linear head for {} epochs",
                i + 1,
                c.name,
                t.input_size,
                t.input_size,
                t.train_samples.min(train.len()),
                t.epochs
            );
            let labels: BTreeMap<String, String> = [
                ("compare_key".to_string(), k),
                ("compare_config".to_string(), c.name.clone()),
            ]
            .into_iter()
            .collect();
            let r = run_transfer(
                t,
                backbone.as_ref().expect("loaded above"),
                &dataset,
                &train,
                &test,
                &c.job_args(&args),
                db,
                labels,
            )
            .with_context(|| format!("configuration {}", c.name))?;
            eprintln!(
                "  accuracy {:.4}, training {:.1} J (features {:.1} J{}) in {:.1} s ({})",
                r.accuracy,
                r.training_energy_j,
                r.train_feature_energy_j,
                if r.feature_cache_hit {
                    ", cached by an earlier run"
                } else {
                    ""
                },
                r.training_duration_s,
                r.provenance
            );
            rows.push(Row {
                config: c.name.clone(),
                model: r.model.clone(),
                precision: r.precision.into(),
                quantization: r.quantization.into(),
                threads: c.threads,
                batch: c.batch,
                epochs: r.epochs,
                accuracy: r.accuracy,
                training_energy_j: r.training_energy_j,
                joules_per_1000_inferences: r.joules_per_1000_inferences,
                training_duration_s: r.training_duration_s,
                training_emissions_g: carbon_of(r.training_energy_j, r.training_duration_s)
                    .emissions_g,
                params: r.params as u64,
                flops: r.flops,
                provenance: r.provenance,
                stopped_by_budget_predicted_j: None,
                run_id: r.run_id,
                reused: false,
                pareto: false,
            });
            continue;
        }
        eprintln!(
            "[{}/{total}] {}: {} for {} epoch(s), batch {}, {} thread(s), lr {}",
            i + 1,
            c.name,
            c.spec.model.name(),
            c.spec.epochs,
            c.batch,
            c.threads,
            c.spec.lr
        );
        let job = c.job_args(&args);
        let mut spec = c.spec.clone();
        spec.budget_j = args.budget_j;
        if c.int8 {
            if let Some(dir) = ckpt.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {} for checkpoints", dir.display()))?;
            }
            spec.save = Some(ckpt.clone());
        }
        let labels: BTreeMap<String, String> = [
            ("compare_key".to_string(), k),
            ("compare_config".to_string(), c.name.clone()),
        ]
        .into_iter()
        .chain(extra)
        .collect();
        let report = run_train(&spec, &dataset, &train, &test, &job, db, labels)
            .with_context(|| format!("configuration {}", c.name))?;
        let mut row = row_from_report(c, &report, 0.0);
        row.training_energy_j += profiling_j;
        row.training_emissions_g =
            carbon_of(row.training_energy_j, row.training_duration_s).emissions_g;
        eprintln!(
            "  accuracy {:.4}, training {:.1} J in {:.1} s ({}){}",
            row.accuracy,
            row.training_energy_j,
            row.training_duration_s,
            row.provenance,
            row.stopped_by_budget_predicted_j
                .map(|p| format!(", stopped: predicted {p:.0} J > budget"))
                .unwrap_or_default()
        );
        if c.int8 && row.stopped_by_budget_predicted_j.is_none() {
            let r8 = int8_variant(c, &row, &ckpt, &k8, None, &train, &test, &args, db)?;
            rows.push(row);
            rows.push(r8);
        } else {
            rows.push(row);
        }
    }

    // Budget-stopped configurations did not finish: they take no part in the choice.
    let outcomes: Vec<Outcome> = rows
        .iter()
        .map(|r| Outcome {
            accuracy: if r.stopped_by_budget_predicted_j.is_some() {
                f64::NAN
            } else {
                r.accuracy
            },
            energy_j: r.training_energy_j,
        })
        .collect();
    for i in pareto::front(&outcomes) {
        rows[i].pareto = true;
    }
    let best = least_energy_meeting(&outcomes, args.target_accuracy);
    let baseline = rows
        .iter()
        .find(|r| r.config == BASELINE && r.stopped_by_budget_predicted_j.is_none());
    let saving = match (best, baseline) {
        (Some(b), Some(base)) if rows[b].training_energy_j > 0.0 => {
            Some(base.training_energy_j / rows[b].training_energy_j)
        }
        _ => None,
    };
    let comparison = Comparison {
        target_accuracy: args.target_accuracy,
        budget_j: args.budget_j,
        eta: args.eta,
        best: best.map(|b| rows[b].config.clone()),
        baseline_training_energy_j: baseline.map(|b| b.training_energy_j),
        saving_ratio: saving,
        settings_choice: choice,
        region: resolved.region.clone(),
        intensity_source: resolved.source.clone(),
        intensity_g_per_kwh: resolved.intensity.g_per_kwh(),
        rows,
    };
    print_table(&comparison);
    if let Some(w) = &resolved.warning {
        eprintln!("greenai: warning: {w}");
    }
    if let Some(path) = &args.report {
        let html = super::report::html(&comparison, &store)?;
        std::fs::write(path, html)
            .with_context(|| format!("writing the report to {}", path.display()))?;
        eprintln!("report: {}", path.display());
    }
    if args.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &comparison)?;
        writeln!(out)?;
    }
    Ok(ExitCode::SUCCESS)
}

impl Comparison {
    /// What the table's last column says about a row.
    pub(crate) fn notes(&self, r: &Row) -> Vec<String> {
        let mut notes = Vec::new();
        if Some(&r.config) == self.best.as_ref() {
            notes.push("best".to_string());
        }
        if r.pareto {
            notes.push("pareto".into());
        }
        if let Some(p) = r.stopped_by_budget_predicted_j {
            notes.push(format!("stopped: predicted {p:.0} J > budget"));
        }
        if r.reused {
            notes.push("reused".into());
        }
        notes
    }
}

fn print_table(c: &Comparison) {
    let mut out = String::new();
    // Columns as wide as their longest entry.
    let cw = c
        .rows
        .iter()
        .map(|r| r.config.len())
        .max()
        .unwrap_or(0)
        .max(13);
    let mw = c
        .rows
        .iter()
        .map(|r| r.model.len())
        .max()
        .unwrap_or(0)
        .max(5);
    out.push_str(&format!(
        "\n{:<cw$} {:<mw$} {:<5} {:<11} {:>8} {:>11} {:>10} {:>8} {:>10} {:>9} {:>10} {:<10} {}\n",
        "configuration",
        "model",
        "prec",
        "quant",
        "accuracy",
        "training J",
        "J/1k inf",
        "time s",
        "gCO2e",
        "params",
        "FLOPs",
        "provenance",
        ""
    ));
    for r in &c.rows {
        let notes = c.notes(r);
        out.push_str(&format!(
            "{:<cw$} {:<mw$} {:<5} {:<11} {:>8.4} {:>11.1} {:>10.3} {:>8.1} {:>10.4} {:>9} {:>10} {:<10} {}\n",
            r.config,
            r.model,
            r.precision,
            r.quantization,
            r.accuracy,
            r.training_energy_j,
            r.joules_per_1000_inferences,
            r.training_duration_s,
            r.training_emissions_g,
            r.params,
            r.flops,
            r.provenance.to_string(),
            notes.join(", ")
        ));
    }
    if let Some(ch) = &c.settings_choice {
        out.push_str(&format!(
            "\nenergy-aware settings for {}: {} (profiling used {:.1} J, counted in its configuration)\n",
            ch.model, ch.explanation, ch.profiling_energy_j
        ));
    }
    match (&c.best, c.saving_ratio, c.baseline_training_energy_j) {
        (Some(b), Some(ratio), Some(base)) => out.push_str(&format!(
            "\nleast training energy at accuracy ≥ {:.3}: {b}, {:.1}× less than the seed baseline ({base:.1} J)\n",
            c.target_accuracy, ratio
        )),
        (Some(b), _, _) => out.push_str(&format!(
            "\nleast training energy at accuracy ≥ {:.3}: {b}\n",
            c.target_accuracy
        )),
        (None, _, _) => out.push_str(&format!(
            "\nno configuration reached accuracy {:.3}\n",
            c.target_accuracy
        )),
    }
    eprint!("{out}");
}
