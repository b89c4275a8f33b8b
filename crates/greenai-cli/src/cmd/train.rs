//! `greenai train`, `greenai eval` and `greenai predict`: the engine's jobs, each metered from
//! start to end and recorded as a run; every epoch and the evaluation in their own windows.

use super::job::{Job, JobEnd};
use crate::cli::{
    EvalArgs, JobArgs, OptimizerName, PrecisionName, PredictArgs, ScheduleName, TrainArgs,
};
use anyhow::{bail, Context};
use greenai_meter::{Measurement, Provenance};
use greenai_nn::checkpoint;
use greenai_nn::data::{bundled_mnist_dir, idx, shuffled, Dataset, Split};
use greenai_nn::models::ModelKind;
use greenai_nn::optim::{Optimizer, OptimizerKind, Schedule};
use greenai_nn::precision::{LossScaler, Precision};
use greenai_nn::train::{EarlyStopping, Model, Runner};
use greenai_tune::budget::Forecast;
use greenai_units::Energy;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct EpochReport {
    pub(crate) epoch: usize,
    pub(crate) loss: f64,
    pub(crate) train_accuracy: f64,
    pub(crate) validation_accuracy: Option<f64>,
    pub(crate) lr: f32,
    pub(crate) energy_j: f64,
    pub(crate) duration_s: f64,
    pub(crate) provenance: Provenance,
}

/// The JSON report of `train` and `eval`. Field names are a stable interface (README).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct JobReport {
    pub(crate) command: &'static str,
    pub(crate) run_id: Option<String>,
    pub(crate) model: &'static str,
    pub(crate) precision: &'static str,
    pub(crate) quantization: &'static str,
    pub(crate) dataset: String,
    /// Test-set accuracy, 0 to 1.
    pub(crate) accuracy: f64,
    pub(crate) test_samples: usize,
    /// The whole job (loading, training, validation, evaluation).
    pub(crate) energy_j: f64,
    pub(crate) duration_s: f64,
    pub(crate) training_energy_j: Option<f64>,
    pub(crate) train_samples_per_s: Option<f64>,
    pub(crate) inference_samples_per_s: f64,
    pub(crate) joules_per_training_sample: Option<f64>,
    pub(crate) joules_per_1000_inferences: f64,
    pub(crate) params: usize,
    pub(crate) flops: u64,
    pub(crate) provenance: Provenance,
    pub(crate) uncertainty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) training: Option<TrainingReport>,
    #[serde(flatten)]
    pub(crate) carbon: greenai_carbon::CarbonReport,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct TrainingReport {
    pub(crate) epochs: usize,
    pub(crate) epochs_run: usize,
    pub(crate) stopped_early: bool,
    pub(crate) best_epoch: Option<usize>,
    pub(crate) batch: usize,
    pub(crate) lr: f32,
    pub(crate) optimizer: &'static str,
    pub(crate) schedule: &'static str,
    pub(crate) threads: usize,
    pub(crate) train_samples: usize,
    pub(crate) validation_samples: usize,
    pub(crate) checkpoint: Option<String>,
    /// f16's final loss scale.
    pub(crate) loss_scale: Option<f32>,
    /// Steps skipped because their gradients overflowed (f16).
    pub(crate) skipped_steps: u64,
    /// Training energy predicted from the first epoch for all planned epochs (carbontracker-style).
    pub(crate) predicted_training_energy_j: Option<f64>,
    /// Set when `--budget-j` stopped training because the prediction exceeded it.
    pub(crate) stopped_by_budget: Option<f64>,
    pub(crate) per_epoch: Vec<EpochReport>,
}

pub(crate) fn load_sets(dir: &Path) -> anyhow::Result<(Dataset, Dataset)> {
    let train = Dataset::load(dir, Split::Train).context("loading the training set")?;
    let test = Dataset::load(dir, Split::Test).context("loading the test set")?;
    if (train.rows, train.cols) != (test.rows, test.cols) {
        bail!(
            "training images are {}×{} but test images {}×{}: the sets do not belong together",
            train.rows,
            train.cols,
            test.rows,
            test.cols
        );
    }
    if train.is_empty() || test.is_empty() {
        bail!("{} has an empty training or test set", dir.display());
    }
    Ok((train, test))
}

/// Checks that images fit a checkpoint's model.
pub(crate) fn check_size(
    model: &Model,
    rows: usize,
    cols: usize,
    what: &str,
) -> anyhow::Result<()> {
    let s = model.graph.input_shape();
    if (s.h, s.w) != (rows, cols) {
        bail!(
            "{what} are {rows}×{cols} but the checkpoint's {} model was trained on {}×{} images",
            model.kind.name(),
            s.h,
            s.w
        );
    }
    Ok(())
}

fn bar(len: usize) -> Option<indicatif::ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(len as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    })
}

/// The uncertainty of a sum of measurements, as a fraction of the sum.
fn combined_uncertainty<'a>(ms: impl Iterator<Item = &'a Measurement>) -> Option<f64> {
    let (mut band, mut total) = (Some(0.0), 0.0);
    for m in ms {
        band = band.and_then(|b| m.uncertainty.map(|u| b + u * m.energy.joules()));
        total += m.energy.joules();
    }
    band.filter(|_| total > 0.0).map(|b| b / total)
}

fn print_summary(r: &JobReport) {
    let train = match (
        r.training_energy_j,
        r.train_samples_per_s,
        r.joules_per_training_sample,
    ) {
        (Some(e), Some(sps), Some(jps)) => format!(
            "training {:.1} ({:.3} mJ per sample, {sps:.0} samples/s), ",
            Energy::from_joules(e),
            jps * 1e3
        ),
        _ => String::new(),
    };
    eprintln!(
        "{}: test accuracy {:.4} on {} images; {train}inference {:.3} J per 1,000 ({:.0}/s); \
         job {:.1} in {:.1} s, {}; {} parameters, {} FLOPs per inference; {}{}",
        r.model,
        r.accuracy,
        r.test_samples,
        r.joules_per_1000_inferences,
        r.inference_samples_per_s,
        Energy::from_joules(r.energy_j),
        r.duration_s,
        greenai_units::Emissions::from_grams(r.carbon.emissions_g),
        r.params,
        r.flops,
        r.provenance,
        r.uncertainty
            .map(|u| format!(" ±{:.0}%", u * 100.0))
            .unwrap_or_default(),
    );
    if let Some(id) = &r.run_id {
        eprintln!("  recorded as run {id}");
    }
}

pub(crate) fn emit(r: &JobReport, json: bool) -> anyhow::Result<()> {
    print_summary(r);
    if json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, r)?;
        writeln!(out)?;
    }
    Ok(())
}

/// `--save` with `{epoch}` in it keeps one file per epoch.
fn checkpoint_path(template: &Path, epoch: usize) -> std::path::PathBuf {
    let s = template.to_string_lossy();
    if s.contains("{epoch}") {
        s.replace("{epoch}", &epoch.to_string()).into()
    } else {
        template.to_path_buf()
    }
}

/// What to train, whoever asks (`greenai train`, `greenai compare`).
#[derive(Debug, Clone)]
pub(crate) struct TrainSpec {
    pub model: ModelKind,
    pub epochs: usize,
    pub lr: f32,
    pub optimizer: OptimizerKind,
    pub schedule: ScheduleName,
    pub weight_decay: Option<f32>,
    pub validation: usize,
    pub patience: Option<usize>,
    pub precision: Precision,
    pub save: Option<std::path::PathBuf>,
    pub resume: Option<std::path::PathBuf>,
    pub seed: u64,
    /// Stop when the training energy predicted after an epoch exceeds this many joules.
    pub budget_j: Option<f64>,
}

pub fn train(args: TrainArgs, db: &Path) -> anyhow::Result<ExitCode> {
    let optimizer = match args.optimizer {
        OptimizerName::Adam => OptimizerKind::Adam,
        OptimizerName::Adamw => OptimizerKind::AdamW,
        OptimizerName::Sgd => OptimizerKind::Sgd,
    };
    let spec = TrainSpec {
        model: args.model.kind(),
        epochs: args.epochs,
        lr: args.lr.unwrap_or(optimizer.default_lr()),
        optimizer,
        schedule: args.schedule,
        weight_decay: args.weight_decay,
        validation: args.validation,
        patience: args.patience,
        precision: match args.precision {
            PrecisionName::F32 => Precision::F32,
            PrecisionName::Bf16 => Precision::Bf16,
            PrecisionName::F16 => Precision::F16,
        },
        save: args.save.clone(),
        resume: args.resume.clone(),
        seed: args.seed,
        budget_j: None,
    };
    let dir = args.data.clone().unwrap_or_else(bundled_mnist_dir);
    let (train, test) = load_sets(&dir)?;
    let report = run_train(
        &spec,
        &dir.display().to_string(),
        &train,
        &test,
        &args.job,
        db,
        BTreeMap::new(),
    )?;
    emit(&report, args.job.json)?;
    Ok(ExitCode::SUCCESS)
}

/// Trains `spec` on `train`, evaluates on `test`, all inside one recorded job.
pub(crate) fn run_train(
    spec: &TrainSpec,
    dataset: &str,
    train: &Dataset,
    test: &Dataset,
    job_args: &JobArgs,
    db: &Path,
    extra_labels: BTreeMap<String, String>,
) -> anyhow::Result<JobReport> {
    let args = spec;
    if args.epochs == 0 {
        bail!("--epochs must be at least 1");
    }
    let kind = args.optimizer;
    let lr = args.lr;
    if !(lr > 0.0 && lr.is_finite()) {
        bail!("--lr {lr} is not a positive learning rate");
    }
    if args.validation >= train.len() {
        bail!(
            "--validation {} leaves no training images (the set has {})",
            args.validation,
            train.len()
        );
    }
    let classes = train.classes().max(test.classes());
    let (mut model, mut opt, first_epoch) = match &args.resume {
        Some(path) => {
            let ck = checkpoint::load(path)
                .with_context(|| format!("resuming from {}", path.display()))?;
            check_size(&ck.model, train.rows, train.cols, "the training images")?;
            if ck.model.graph.classes() < classes {
                bail!(
                    "the data has {classes} classes but the checkpoint's model {}",
                    ck.model.graph.classes()
                );
            }
            let opt = ck.optimizer.clone().with_context(|| {
                format!("{} holds no optimiser state to resume from", path.display())
            })?;
            let done: usize = ck.meta_num("epoch").unwrap_or(0);
            if done >= args.epochs {
                bail!(
                    "{} already holds {done} epochs; ask for more with --epochs",
                    path.display()
                );
            }
            if ck.model.kind != args.model {
                eprintln!(
                    "greenai: resuming the checkpoint's {} model (not --model {})",
                    ck.model.kind.name(),
                    args.model.name()
                );
            }
            (ck.model, opt, done + 1)
        }
        None => {
            let model = Model::new(args.model, train.rows, train.cols, classes, args.seed)?;
            let mut opt = Optimizer::new(kind, &model.params, lr);
            if let Some(wd) = args.weight_decay {
                opt.weight_decay = wd;
            }
            (model, opt, 1)
        }
    };
    // A fixed split: the last `validation` images of a seeded permutation are held out.
    let perm = shuffled(train.len(), args.seed ^ 0x5eed_f7a1);
    let (train_idx, val_idx) = perm.split_at(train.len() - args.validation);
    let steps_per_epoch = train_idx.len().div_ceil(job_args.batch) as u64;
    // The schedule spans --epochs; a resumed run continues it from the checkpoint's step.
    opt.schedule = match args.schedule {
        ScheduleName::Cosine => Schedule::Cosine {
            total_steps: steps_per_epoch * args.epochs as u64,
        },
        ScheduleName::Constant => Schedule::Constant,
    };

    let labels: BTreeMap<String, String> = [
        ("job", "train".to_string()),
        ("model", model.kind.name().to_string()),
        ("precision", args.precision.name().to_string()),
        ("quantization", "none".into()),
        ("optimizer", opt.kind.name().into()),
        ("epochs", args.epochs.to_string()),
        ("batch", job_args.batch.to_string()),
        ("threads", job_args.threads.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .chain(extra_labels)
    .collect();
    let mut job = Job::start(job_args, db, labels)?;
    let runner = Runner {
        threads: job_args.threads,
        batch: job_args.batch,
        precision: args.precision,
        ..Runner::default()
    };
    let mut scaler = LossScaler::new();
    let bar = bar(train_idx.len());
    let mut per_epoch = Vec::new();
    let mut epochs_ms: Vec<Measurement> = Vec::new();
    let mut train_time = 0.0;
    let mut stopper = args.patience.map(|p| EarlyStopping::new(p, 1e-4));
    let mut stopped_early = false;
    let mut forecast: Option<Forecast> = None;
    let mut stopped_by_budget: Option<f64> = None;
    let mut trained_samples = 0usize;
    for epoch in first_epoch..=args.epochs {
        let order: Vec<usize> = {
            let p = shuffled(train_idx.len(), args.seed.wrapping_add(epoch as u64));
            p.iter().map(|&i| train_idx[i]).collect()
        };
        if let Some(b) = &bar {
            b.reset();
            b.set_prefix(format!("{epoch}/{}", args.epochs));
        }
        let lr_now = opt.current_lr();
        job.meter.begin_window("epoch")?;
        let t = Instant::now();
        let stats =
            runner.train_epoch_scaled(&mut model, &mut opt, train, &order, &mut scaler, &mut |s| {
                if let Some(b) = &bar {
                    b.set_position(s.samples as u64);
                    if s.samples % (job_args.batch * 20) < job_args.batch {
                        let j = job.meter.window_energy("job").unwrap_or_default();
                        b.set_message(format!(
                            "loss {:.4} acc {:.4}, {:.1} so far",
                            s.mean_loss, s.train_accuracy, j
                        ));
                    }
                }
            });
        train_time += t.elapsed().as_secs_f64();
        trained_samples += order.len();
        if !model.params.all_finite() {
            job.meter.end_window("epoch")?;
            bail!(
                "training diverged in epoch {epoch} (a parameter is no longer finite); \
                 lower --lr (it is {})",
                opt.lr
            );
        }
        let val =
            (!val_idx.is_empty()).then(|| runner.evaluate(&model.folded(), train, Some(val_idx)));
        let m = job.meter.end_window("epoch")?;
        if let Some(path) = &args.save {
            let path = checkpoint_path(path, epoch);
            checkpoint::save(
                &path,
                &model,
                Some(&opt),
                &[
                    ("epoch", epoch.to_string()),
                    ("seed", args.seed.to_string()),
                ],
            )
            .with_context(|| format!("saving the checkpoint after epoch {epoch}"))?;
        }
        if bar.is_none() && !job_args.json {
            eprintln!(
                "epoch {epoch}/{}: loss {:.4}, train accuracy {:.4}{}, {:.2} ({}), {:.1} s",
                args.epochs,
                stats.mean_loss,
                stats.train_accuracy,
                val.map(|v| format!(", validation {v:.4}"))
                    .unwrap_or_default(),
                m.energy,
                m.provenance,
                m.duration.as_secs_f64()
            );
        }
        per_epoch.push(EpochReport {
            epoch,
            loss: stats.mean_loss,
            train_accuracy: stats.train_accuracy,
            validation_accuracy: val,
            lr: lr_now,
            energy_j: m.energy.joules(),
            duration_s: m.duration.as_secs_f64(),
            provenance: m.provenance,
        });
        epochs_ms.push(m);
        let energies: Vec<f64> = epochs_ms.iter().map(|m| m.energy.joules()).collect();
        // Resumed epochs are not measured here; the forecast covers the epochs this job runs.
        forecast = Forecast::from_epochs(&energies, args.epochs + 1 - first_epoch);
        if let (Some(budget), Some(f)) = (args.budget_j, forecast) {
            if f.exceeds(budget) && epoch < args.epochs {
                eprintln!(
                    "greenai: stopping {} after epoch {epoch}: its {} epochs are predicted to use \
                     {:.0} J, over the budget of {budget:.0} J",
                    args.model.name(),
                    f.planned_epochs,
                    f.predicted_j
                );
                stopped_by_budget = Some(f.predicted_j);
                break;
            }
        }
        if let (Some(s), Some(v)) = (&mut stopper, val) {
            if s.update(epoch, v) && epoch < args.epochs {
                eprintln!(
                    "greenai: stopping early after epoch {epoch}: validation accuracy has not \
                     improved for {} epochs (best {:.4} at epoch {})",
                    s.patience, s.best, s.best_epoch
                );
                stopped_early = true;
                break;
            }
        }
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let folded = model.folded();
    job.meter.begin_window("eval")?;
    let t = Instant::now();
    let accuracy = runner.evaluate(&folded, test, None);
    let infer_s = t.elapsed().as_secs_f64();
    let eval = job.meter.end_window("eval")?;
    job.label("accuracy", format!("{accuracy:.4}"));
    job.label(
        "energy_per_1000_inferences_j",
        format!("{:.6}", eval.energy.joules() * 1000.0 / test.len() as f64),
    );
    let train_energy: Energy = epochs_ms.iter().map(|m| m.energy).sum();
    job.label("training_energy_j", format!("{:.6}", train_energy.joules()));
    let train_windows_s: f64 = epochs_ms.iter().map(|m| m.duration.as_secs_f64()).sum();
    job.label("training_duration_s", format!("{train_windows_s:.3}"));
    job.label("params", model.graph.param_count());
    job.label("flops", model.graph.flops());
    if let Some(p) = stopped_by_budget {
        job.label("stopped_by_budget_predicted_j", format!("{p:.3}"));
    }
    let JobEnd {
        measurement: whole,
        carbon,
        run_id,
    } = job.finish()?;
    let provenance = epochs_ms
        .iter()
        .chain([&eval, &whole])
        .map(|m| m.provenance)
        .max()
        .unwrap_or(Provenance::Estimated);
    let report = JobReport {
        command: "train",
        run_id,
        model: model.kind.name(),
        precision: args.precision.name(),
        quantization: "none",
        dataset: dataset.to_string(),
        accuracy,
        test_samples: test.len(),
        energy_j: whole.energy.joules(),
        duration_s: whole.duration.as_secs_f64(),
        training_energy_j: Some(train_energy.joules()),
        train_samples_per_s: Some(trained_samples as f64 / train_time),
        inference_samples_per_s: test.len() as f64 / infer_s,
        joules_per_training_sample: Some(train_energy.joules() / trained_samples.max(1) as f64),
        joules_per_1000_inferences: eval.energy.joules() * 1000.0 / test.len() as f64,
        params: model.graph.param_count(),
        flops: model.graph.flops(),
        provenance,
        uncertainty: combined_uncertainty(std::iter::once(&whole)),
        training: Some(TrainingReport {
            epochs: args.epochs,
            epochs_run: per_epoch.len(),
            stopped_early,
            best_epoch: stopper.map(|s| s.best_epoch),
            batch: job_args.batch,
            lr: opt.lr,
            optimizer: opt.kind.name(),
            schedule: match opt.schedule {
                Schedule::Constant => "constant",
                Schedule::Cosine { .. } => "cosine",
            },
            threads: job_args.threads,
            train_samples: train_idx.len(),
            validation_samples: val_idx.len(),
            loss_scale: (args.precision == Precision::F16).then_some(scaler.scale),
            skipped_steps: scaler.skipped,
            predicted_training_energy_j: forecast.map(|f| f.predicted_j),
            stopped_by_budget,
            checkpoint: args.save.as_ref().map(|p| {
                checkpoint_path(p, args.epochs.min(first_epoch + per_epoch.len() - 1))
                    .display()
                    .to_string()
            }),
            per_epoch,
        }),
        carbon,
    };
    Ok(report)
}

pub fn eval(args: EvalArgs, db: &Path) -> anyhow::Result<ExitCode> {
    let ck = checkpoint::load(&args.checkpoint)
        .with_context(|| format!("loading {}", args.checkpoint.display()))?;
    let dir = args.data.clone().unwrap_or_else(bundled_mnist_dir);
    let test = Dataset::load(&dir, Split::Test).context("loading the test set")?;
    check_size(&ck.model, test.rows, test.cols, "the test images")?;
    if test.classes() > ck.model.graph.classes() {
        bail!(
            "the test labels name {} classes, the checkpoint's model {}",
            test.classes(),
            ck.model.graph.classes()
        );
    }
    let labels = super::job::labels(&[("job", "eval"), ("model", ck.model.kind.name())]);
    let mut job = Job::start(&args.job, db, labels)?;
    let runner = args.job.runner();
    let int8 = ck.model.quant.is_some();
    let folded = ck.model.folded();
    let t = Instant::now();
    let accuracy = runner.evaluate(&folded, &test, None);
    let infer_s = t.elapsed().as_secs_f64();
    job.label("accuracy", format!("{accuracy:.4}"));
    let end = job.finish()?;
    let m = &end.measurement;
    let report = JobReport {
        command: "eval",
        run_id: end.run_id.clone(),
        model: ck.model.kind.name(),
        precision: if int8 { "int8" } else { "f32" },
        quantization: match ck.model.quant.as_deref() {
            None => "none",
            Some(q) if q.range == greenai_nn::quantize::ActivationRange::Dynamic => "dynamic",
            Some(q) if q.scheme == greenai_nn::quantize::WeightScheme::PerTensor => "per-tensor",
            Some(_) => "per-channel",
        },
        dataset: dir.display().to_string(),
        accuracy,
        test_samples: test.len(),
        energy_j: m.energy.joules(),
        duration_s: m.duration.as_secs_f64(),
        training_energy_j: None,
        train_samples_per_s: None,
        inference_samples_per_s: test.len() as f64 / infer_s,
        joules_per_training_sample: None,
        joules_per_1000_inferences: m.energy.joules() * 1000.0 / test.len() as f64,
        params: ck.model.graph.param_count(),
        flops: ck.model.graph.flops(),
        provenance: m.provenance,
        uncertainty: m.uncertainty,
        training: None,
        carbon: end.carbon,
    };
    emit(&report, args.job.json)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Serialize)]
struct PredictReport {
    model: &'static str,
    images: String,
    predictions: Vec<u8>,
    energy_j: f64,
    duration_s: f64,
    inference_samples_per_s: f64,
    joules_per_1000_inferences: f64,
    provenance: Provenance,
    uncertainty: Option<f64>,
    run_id: Option<String>,
}

pub fn predict(args: PredictArgs, db: &Path) -> anyhow::Result<ExitCode> {
    let ck = checkpoint::load(&args.checkpoint)
        .with_context(|| format!("loading {}", args.checkpoint.display()))?;
    let path = args
        .images
        .clone()
        .unwrap_or_else(|| bundled_mnist_dir().join("t10k-images-idx3-ubyte.gz"));
    let arr = idx::read(&path)?;
    if arr.dims.len() != 3 {
        bail!(
            "{} holds a {}-dimensional IDX array; predict takes images (count, rows, cols)",
            path.display(),
            arr.dims.len()
        );
    }
    let n = args.limit.unwrap_or(arr.dims[0]).min(arr.dims[0]);
    let data = Dataset {
        rows: arr.dims[1],
        cols: arr.dims[2],
        images: arr.data,
        labels: vec![0; arr.dims[0]],
    };
    check_size(&ck.model, data.rows, data.cols, "the images")?;
    let labels = super::job::labels(&[("job", "predict"), ("model", ck.model.kind.name())]);
    let job = Job::start(&args.job, db, labels)?;
    let runner = args.job.runner();
    let which: Vec<usize> = (0..n).collect();
    let t = Instant::now();
    let pred = runner.predict(&ck.model.folded(), &data, &which);
    let secs = t.elapsed().as_secs_f64();
    let end = job.finish()?;
    let m = &end.measurement;
    let report = PredictReport {
        model: ck.model.kind.name(),
        images: path.display().to_string(),
        energy_j: m.energy.joules(),
        duration_s: m.duration.as_secs_f64(),
        inference_samples_per_s: n as f64 / secs,
        joules_per_1000_inferences: m.energy.joules() * 1000.0 / n.max(1) as f64,
        provenance: m.provenance,
        uncertainty: m.uncertainty,
        run_id: end.run_id,
        predictions: pred,
    };
    eprintln!(
        "{}: {n} images classified; {:.3} J per 1,000 inferences ({:.0}/s), {}",
        report.model,
        report.joules_per_1000_inferences,
        report.inference_samples_per_s,
        report.provenance
    );
    let mut out = std::io::stdout().lock();
    if args.job.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        for (i, p) in report.predictions.iter().enumerate() {
            writeln!(out, "{i}\t{p}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
