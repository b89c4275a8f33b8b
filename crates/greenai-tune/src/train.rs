//! The engine's jobs: training ([`run_train`]), evaluation ([`run_eval`]) and prediction
//! ([`run_predict`]), each inside a [`greenai_store::Session`] (metered from start to end and
//! recorded as a run, with its typed [`JobResults`]); every epoch and the evaluation in windows of
//! their own.

use crate::budget::Forecast;
use crate::error::{Result, TuneError};
use crate::invalid;
use crate::job::{combined_uncertainty, labels, JobSettings, Progress, Step};
use greenai_meter::{Measurement, Provenance};
use greenai_nn::checkpoint;
use greenai_nn::data::{shuffled, Dataset, Split};
use greenai_nn::models::ModelKind;
use greenai_nn::optim::{Optimizer, OptimizerKind, Schedule};
use greenai_nn::precision::{LossScaler, Precision};
use greenai_nn::train::{EarlyStopping, Model, Runner};
use greenai_units::Energy;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

pub use crate::report::{EpochReport, JobReport, JobResults, TrainingReport};

pub fn load_sets(dir: &Path) -> Result<(Dataset, Dataset)> {
    let train =
        Dataset::load(dir, Split::Train).map_err(TuneError::engine("loading the training set"))?;
    let test =
        Dataset::load(dir, Split::Test).map_err(TuneError::engine("loading the test set"))?;
    if (train.rows, train.cols) != (test.rows, test.cols) {
        invalid!(
            "training images are {}×{} but test images {}×{}: the sets do not belong together",
            train.rows,
            train.cols,
            test.rows,
            test.cols
        );
    }
    if train.is_empty() || test.is_empty() {
        invalid!("{} has an empty training or test set", dir.display());
    }
    check_labels(&train, &test)?;
    Ok((train, test))
}

/// Labels that do not belong together are refused, not turned into a larger model: a test label
/// the training set never shows, or labels that run far past the classes that occur (a corrupt
/// label 255 among ten digits would make a 256-class model).
pub fn check_labels(train: &Dataset, test: &Dataset) -> Result<()> {
    let mut seen = [false; 256];
    train.labels.iter().for_each(|&l| seen[l as usize] = true);
    let distinct = seen.iter().filter(|s| **s).count();
    let classes = train.classes();
    if classes > 2 * distinct.max(1) {
        invalid!(
            "the training labels run to {} but only {distinct} distinct labels occur: a corrupt \
             label file?",
            classes - 1
        );
    }
    let mut unseen: Vec<u8> = test
        .labels
        .iter()
        .copied()
        .filter(|&l| !seen[l as usize])
        .collect();
    unseen.sort_unstable();
    unseen.dedup();
    if !unseen.is_empty() {
        invalid!("test labels {unseen:?} never occur in the training set");
    }
    Ok(())
}

/// Checks that images fit a checkpoint's model.
pub fn check_size(model: &Model, rows: usize, cols: usize, what: &str) -> Result<()> {
    let s = model.graph.input_shape();
    if (s.h, s.w) != (rows, cols) {
        invalid!(
            "{what} are {rows}×{cols} but the checkpoint's {} model was trained on {}×{} images",
            model.kind.name(),
            s.h,
            s.w
        );
    }
    Ok(())
}

/// `--save` with `{epoch}` in it keeps one file per epoch.
pub fn checkpoint_path(template: &Path, epoch: usize) -> std::path::PathBuf {
    let s = template.to_string_lossy();
    if s.contains("{epoch}") {
        s.replace("{epoch}", &epoch.to_string()).into()
    } else {
        template.to_path_buf()
    }
}

/// What to train, whoever asks (`greenai train`, `greenai compare`).
#[derive(Debug, Clone)]
pub struct TrainSpec {
    pub model: ModelKind,
    pub epochs: usize,
    /// Stop after this many optimiser steps (counted from the job's first, resumed ones
    /// included), the schedule ending there too: a job planned for part of an epoch.
    pub max_steps: Option<u64>,
    pub lr: f32,
    pub optimizer: OptimizerKind,
    pub schedule: ScheduleKind,
    pub weight_decay: Option<f32>,
    pub validation: usize,
    pub patience: Option<usize>,
    pub precision: Precision,
    pub save: Option<std::path::PathBuf>,
    pub resume: Option<std::path::PathBuf>,
    pub seed: u64,
    /// Stop when the training energy predicted after an epoch exceeds this many joules.
    pub budget_j: Option<f64>,
    /// Energy already spent choosing this job's settings (compare's profiling): stored with its
    /// results, so a reused result counts it again.
    pub profiling_energy_j: Option<f64>,
    /// Stop when this accuracy is reached on held-out images (energy to accuracy).
    pub target: Option<crate::target::TargetSpec>,
    /// Tune a power knob while training (Zeus's cost with this η, this many steps a setting).
    pub power_tune: Option<PowerTuneSpec>,
    /// Set the first convolution's filters to the principal components of its input patches
    /// over [`PCA_IMAGES`] training images before the first step ([`greenai_nn::init`]), inside
    /// the first epoch's meter window so that its cost is counted.
    pub pca_init: bool,
}

/// Training images whose patches `--pca-init` reads (the first of the first epoch's order).
pub const PCA_IMAGES: usize = 1000;

/// `--power-tune`: η of the cost, and the steps measured at each setting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerTuneSpec {
    pub eta: f64,
    pub steps: usize,
}

/// The learning-rate schedule of a training job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleKind {
    /// Cosine annealing to zero over the epochs.
    Cosine,
    Constant,
}

/// The steps a job is planned for, which its cosine schedule spans: its epochs', or `max_steps`
/// when fewer.
pub fn planned_steps(steps_per_epoch: u64, epochs: usize, max_steps: Option<u64>) -> u64 {
    (steps_per_epoch * epochs as u64).min(max_steps.unwrap_or(u64::MAX))
}

/// Trains `spec` on `train`, evaluates on `test`, all inside one recorded job.
pub fn run_train(
    spec: &TrainSpec,
    dataset: &str,
    train: &Dataset,
    test: &Dataset,
    job_args: &JobSettings,
    extra_labels: BTreeMap<String, String>,
    progress: &dyn Progress,
) -> Result<JobReport> {
    let args = spec;
    job_args.check()?;
    if args.epochs == 0 {
        invalid!("--epochs must be at least 1");
    }
    if args.max_steps == Some(0) {
        invalid!("--max-steps must be at least 1");
    }
    let kind = args.optimizer;
    let lr = args.lr;
    if !(lr > 0.0 && lr.is_finite()) {
        invalid!("--lr {lr} is not a positive learning rate");
    }
    if args.target.is_some() && args.validation == 0 {
        invalid!("--target-accuracy is checked on held-out images: give --validation N above 0");
    }
    if args.validation >= train.len() {
        invalid!(
            "--validation {} leaves no training images (the set has {})",
            args.validation,
            train.len()
        );
    }
    let classes = train.classes().max(test.classes());
    let (mut model, mut opt, first_epoch) = match &args.resume {
        Some(path) => {
            let ck = checkpoint::load(path).map_err(TuneError::engine(format!(
                "resuming from {}",
                path.display()
            )))?;
            check_size(&ck.model, train.rows, train.cols, "the training images")?;
            if ck.model.graph.classes() < classes {
                invalid!(
                    "the data has {classes} classes but the checkpoint's model {}",
                    ck.model.graph.classes()
                );
            }
            let Some(opt) = ck.optimizer.clone() else {
                invalid!("{} holds no optimiser state to resume from", path.display());
            };
            let done: usize = ck.meta_num("epoch").unwrap_or(0);
            if done >= args.epochs {
                invalid!(
                    "{} already holds {done} epochs; ask for more with --epochs",
                    path.display()
                );
            }
            if ck.model.kind != args.model {
                progress.note(&format!(
                    "greenai: resuming the checkpoint's {} model (not --model {})",
                    ck.model.kind.name(),
                    args.model.name()
                ));
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
    // The schedule spans --epochs (or --max-steps, when fewer); a resumed run continues it from
    // the checkpoint's step.
    let planned_steps = planned_steps(steps_per_epoch, args.epochs, args.max_steps);
    if opt.step >= planned_steps {
        invalid!(
            "the checkpoint has already taken {} steps; --max-steps {planned_steps} asks for no more",
            opt.step
        );
    }
    opt.schedule = match args.schedule {
        ScheduleKind::Cosine => Schedule::Cosine {
            total_steps: planned_steps,
        },
        ScheduleKind::Constant => Schedule::Constant,
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
    let mut job = job_args.start(labels)?;
    let started = Instant::now();
    let meter = std::sync::Arc::clone(job.monitor());
    let runner = Runner {
        threads: job_args.threads,
        batch: job_args.batch,
        precision: args.precision,
        ..Runner::default()
    };
    let mut checker = args.target.map(|t| {
        crate::target::Checker::new(t, val_idx, job_args.batch, started)
            .ending_after(planned_steps - opt.step)
    });
    let mut scaler = LossScaler::new();
    let mut per_epoch = Vec::new();
    let mut epochs_ms: Vec<Measurement> = Vec::new();
    let mut train_time = 0.0;
    let mut stopper = args.patience.map(|p| EarlyStopping::new(p, 1e-4));
    let mut stopped_early = false;
    let mut paused_at_epoch: Option<usize> = None;
    let (mut tuner, mut tune_report) = crate::power_tune::for_job(args, job_args)?;
    if let Some(r) = &tune_report {
        progress.note(&format!(
            "greenai: power tuning: {}",
            r.reason.as_deref().unwrap_or("not possible")
        ));
    }
    let mut forecast: Option<Forecast> = None;
    let mut stopped_by_budget: Option<f64> = None;
    let mut trained_samples = 0usize;
    let mut steps_done = opt.step;
    let mut pca: Option<greenai_nn::init::PcaInit> = None;
    for epoch in first_epoch..=args.epochs {
        let order: Vec<usize> = {
            let p = shuffled(train_idx.len(), args.seed.wrapping_add(epoch as u64));
            p.iter().map(|&i| train_idx[i]).collect()
        };
        let lr_now = opt.current_lr();
        meter.begin_window("epoch")?;
        let t = Instant::now();
        if args.pca_init && args.resume.is_none() && epoch == first_epoch {
            let which = &order[..PCA_IMAGES.min(order.len())];
            match greenai_nn::init::pca_first_conv(&mut model, train, which) {
                Ok(r) => {
                    progress.note(&format!(
                        "greenai: {} starts from the principal components of its patches in {} images \
                         ({} filters holding {:.1} % of the patches' variance)",
                        r.layer,
                        r.images,
                        r.filters,
                        100.0 * r.variance_share
                    ));
                    pca = Some(r);
                }
                Err(e) => {
                    meter.end_window("epoch")?;
                    return Err(TuneError::Invalid(e.to_string()));
                }
            }
        }
        let energy_now = || job.energy_so_far();
        let stats = runner.train_epoch_until(
            &mut model,
            &mut opt,
            train,
            &order,
            &mut scaler,
            &mut |s| {
                // The energy so far is read every 20 batches: a lock and a sum, kept off the rest.
                let energy = (s.samples % (job_args.batch * 20) < job_args.batch)
                    .then(|| job.energy_so_far())
                    .flatten();
                if let Some(t) = tuner.as_mut() {
                    let done = trained_samples + s.samples;
                    let read = || job.energy_so_far().map(|e| e.joules());
                    if let Some(note) = t.after_step(done, &read) {
                        progress.note(&note);
                    }
                }
                progress.step(&Step {
                    epoch,
                    epochs: args.epochs,
                    samples: s.samples,
                    samples_per_epoch: order.len(),
                    mean_loss: s.mean_loss,
                    train_accuracy: s.train_accuracy,
                    energy,
                });
            },
            &mut |m| {
                steps_done += 1;
                let reached = checker
                    .as_mut()
                    .is_some_and(|c| c.after_step(epoch, m, &runner, train, &meter, &energy_now));
                reached || steps_done >= planned_steps
            },
        );
        if let Some(e) = checker.as_mut().and_then(|c| c.error.take()) {
            meter.end_window("epoch")?;
            return Err(e.into());
        }
        train_time += t.elapsed().as_secs_f64();
        trained_samples += stats.samples;
        if !model.params.all_finite() {
            meter.end_window("epoch")?;
            invalid!(
                "training diverged in epoch {epoch} (a parameter is no longer finite); \
                 lower --lr (it is {})",
                opt.lr
            );
        }
        // A job stopped at its target mid-epoch has its answer: the whole validation set is not
        // evaluated again (its cost would be spent after the target was reached).
        let stopped_at_target = checker.as_ref().is_some_and(|c| c.reached());
        let val = (!val_idx.is_empty() && !stopped_at_target)
            .then(|| runner.evaluate(&model.folded(), train, Some(val_idx)));
        let m = meter.end_window("epoch")?;
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
            .map_err(|e| {
                TuneError::Io(format!("saving the checkpoint after epoch {epoch}: {e}"))
            })?;
        }
        let report = EpochReport {
            epoch,
            loss: stats.mean_loss,
            train_accuracy: stats.train_accuracy,
            validation_accuracy: val,
            lr: lr_now,
            energy_j: m.energy.joules(),
            duration_s: m.duration.as_secs_f64(),
            provenance: m.provenance,
        };
        progress.epoch(&report, args.epochs);
        per_epoch.push(report);
        epochs_ms.push(m);
        let energies: Vec<f64> = epochs_ms.iter().map(|m| m.energy.joules()).collect();
        // Resumed epochs are not measured here; the forecast covers the epochs this job runs.
        // Planned for fewer steps than the epochs hold (--max-steps), the job runs fewer epochs.
        let last_epoch = planned_steps.div_ceil(steps_per_epoch.max(1)) as usize;
        let planned_epochs = (last_epoch.min(args.epochs) + 1)
            .saturating_sub(first_epoch)
            .max(1);
        forecast = Forecast::from_epochs(&energies, planned_epochs);
        let reached = checker
            .as_mut()
            .is_some_and(|c| c.at_epoch_end(epoch, val, &energy_now));
        if let Some(c) = checker.as_ref().filter(|_| reached) {
            progress.note(&format!("greenai: {}: stopping", c.describe()));
            break;
        }
        if steps_done >= planned_steps {
            if epoch < args.epochs {
                progress.note(&format!(
                    "greenai: stopping in epoch {epoch} after {steps_done} steps (--max-steps)"
                ));
            }
            break;
        }
        // Asked to pause (the scheduler's SIGUSR1): the epoch's checkpoint is saved, so the job
        // ends here and `--resume` continues it with nothing lost.
        if epoch < args.epochs && args.save.is_some() && progress.pause_requested() {
            progress.note(&format!(
                "greenai: pausing after epoch {epoch} as asked; continue with --resume {}",
                checkpoint_path(args.save.as_deref().expect("checked"), epoch).display()
            ));
            paused_at_epoch = Some(epoch);
            break;
        }
        if let (Some(budget), Some(f)) = (args.budget_j, forecast) {
            if f.exceeds(budget) && epoch < args.epochs {
                progress.note(&format!(
                    "greenai: stopping {} after epoch {epoch}: its {} epochs are predicted to use \
                     {:.0} J, over the budget of {budget:.0} J",
                    args.model.name(),
                    f.planned_epochs,
                    f.predicted_j
                ));
                stopped_by_budget = Some(f.predicted_j);
                break;
            }
        }
        if let (Some(s), Some(v)) = (&mut stopper, val) {
            if s.update(epoch, v) && epoch < args.epochs {
                progress.note(&format!(
                    "greenai: stopping early after epoch {epoch}: validation accuracy has not \
                     improved for {} epochs (best {:.4} at epoch {})",
                    s.patience, s.best, s.best_epoch
                ));
                stopped_early = true;
                break;
            }
        }
    }
    if let Some(t) = tuner.as_mut() {
        tune_report = Some(t.report());
    }
    let folded = model.folded();
    meter.begin_window("eval")?;
    let t = Instant::now();
    let accuracy = runner.evaluate(&folded, test, None);
    let infer_s = t.elapsed().as_secs_f64();
    let eval = meter.end_window("eval")?;
    let per_k = eval.energy.joules() * 1000.0 / test.len() as f64;
    let train_energy: Energy = epochs_ms.iter().map(|m| m.energy).sum();
    let train_windows_s: f64 = epochs_ms.iter().map(|m| m.duration.as_secs_f64()).sum();
    job.label("accuracy", format!("{accuracy:.4}"));
    let target = checker.as_ref().map(|c| c.report(train_energy));
    let results = JobResults {
        model: model.kind.name().into(),
        precision: args.precision.name().into(),
        quantization: "none".into(),
        accuracy,
        training_energy_j: Some(train_energy.joules()),
        training_duration_s: Some(train_windows_s),
        joules_per_1000_inferences: Some(per_k),
        profiling_energy_j: args.profiling_energy_j,
        params: model.graph.param_count() as u64,
        flops: model.graph.flops(),
        epochs: Some(per_epoch.len()),
        threads: job_args.threads,
        batch: job_args.batch,
        stopped_by_budget_predicted_j: stopped_by_budget,
        int8_kernel: None,
        int8_layers: None,
        target_reached: target.as_ref().map(|t| t.reached),
        energy_to_accuracy_j: target.as_ref().and_then(|t| t.energy_to_accuracy_j),
        lr: Some(args.lr),
    };
    job.set_results(&results)?;
    let end = job.finish(0, None)?;
    crate::job::tell_end(progress, &end);
    let (whole, carbon, run_id) = (end.measurement, end.carbon, end.run_id);
    let provenance = crate::job::weakest_provenance(epochs_ms.iter().chain([&eval]), &whole);
    let report = JobReport {
        command: "train".into(),
        run_id,
        model: model.kind.name().into(),
        precision: args.precision.name().into(),
        quantization: "none".into(),
        dataset: dataset.to_string(),
        accuracy,
        test_samples: test.len(),
        energy_j: whole.energy.joules(),
        duration_s: whole.duration.as_secs_f64(),
        training_energy_j: Some(train_energy.joules()),
        train_samples_per_s: Some(trained_samples as f64 / train_time),
        inference_samples_per_s: test.len() as f64 / infer_s,
        joules_per_training_sample: Some(train_energy.joules() / trained_samples.max(1) as f64),
        joules_per_1000_inferences: per_k,
        params: model.graph.param_count(),
        flops: model.graph.flops(),
        provenance,
        uncertainty: combined_uncertainty(std::iter::once(&whole)),
        int8_kernel: None,
        training: Some(TrainingReport {
            epochs: args.epochs,
            epochs_run: per_epoch.len(),
            max_steps: args.max_steps,
            steps: steps_done,
            pca_init: pca,
            stopped_early,
            paused_at_epoch,
            power_tune: tune_report,
            best_epoch: stopper.map(|s| s.best_epoch),
            batch: job_args.batch,
            lr: opt.lr,
            optimizer: opt.kind.name().into(),
            schedule: match opt.schedule {
                Schedule::Constant => "constant",
                Schedule::Cosine { .. } => "cosine",
            }
            .into(),
            threads: job_args.threads,
            train_samples: train_idx.len(),
            validation_samples: val_idx.len(),
            loss_scale: (args.precision == Precision::F16).then_some(scaler.scale),
            skipped_steps: scaler.skipped,
            predicted_training_energy_j: forecast.map(|f| f.predicted_j),
            stopped_by_budget,
            target,
            checkpoint: args.save.as_ref().map(|p| {
                checkpoint_path(p, args.epochs.min(first_epoch + per_epoch.len() - 1))
                    .display()
                    .to_string()
            }),
            per_epoch,
        }),
        carbon,
        results,
    };
    Ok(report)
}

/// Evaluates the checkpoint at `path` on the test set of `dir`, inside a recorded job.
pub fn run_eval(
    path: &Path,
    dir: &Path,
    job_args: &JobSettings,
    progress: &dyn Progress,
) -> Result<JobReport> {
    let ck =
        checkpoint::load(path).map_err(TuneError::engine(format!("loading {}", path.display())))?;
    let test =
        Dataset::load(dir, Split::Test).map_err(TuneError::engine("loading the test set"))?;
    if test.is_empty() {
        invalid!("{} has no test images to evaluate on", dir.display());
    }
    check_size(&ck.model, test.rows, test.cols, "the test images")?;
    if test.classes() > ck.model.graph.classes() {
        invalid!(
            "the test labels name {} classes, the checkpoint's model {}",
            test.classes(),
            ck.model.graph.classes()
        );
    }
    let mut job = job_args.start(labels(&[("job", "eval"), ("model", ck.model.kind.name())]))?;
    let runner = job_args.runner();
    let quantization = ck.model.quantization_name();
    let folded = ck.model.folded();
    let t = Instant::now();
    let accuracy = runner.evaluate(&folded, &test, None);
    let infer_s = t.elapsed().as_secs_f64();
    job.label("accuracy", format!("{accuracy:.4}"));
    let precision = if ck.model.quant.is_some() {
        "int8"
    } else {
        "f32"
    };
    let params = ck.model.graph.param_count();
    let flops = ck.model.graph.flops();
    let results = JobResults {
        model: ck.model.kind.name().into(),
        precision: precision.into(),
        quantization: quantization.into(),
        accuracy,
        params: params as u64,
        flops,
        threads: job_args.threads,
        batch: job_args.batch,
        int8_kernel: ck
            .model
            .quant
            .is_some()
            .then(|| greenai_nn::int8::Kernel::active().name().to_string()),
        ..JobResults::default()
    };
    job.set_results(&results)?;
    let end = job.finish(0, None)?;
    crate::job::tell_end(progress, &end);
    let m = &end.measurement;
    let per_k = m.energy.joules() * 1000.0 / test.len() as f64;
    Ok(JobReport {
        command: "eval".into(),
        run_id: end.run_id.clone(),
        model: ck.model.kind.name().into(),
        precision: precision.into(),
        quantization: quantization.into(),
        dataset: dir.display().to_string(),
        accuracy,
        test_samples: test.len(),
        energy_j: m.energy.joules(),
        duration_s: m.duration.as_secs_f64(),
        training_energy_j: None,
        train_samples_per_s: None,
        inference_samples_per_s: test.len() as f64 / infer_s,
        joules_per_training_sample: None,
        joules_per_1000_inferences: per_k,
        params,
        flops,
        provenance: m.provenance,
        uncertainty: m.uncertainty,
        int8_kernel: results.int8_kernel.clone(),
        training: None,
        carbon: end.carbon,
        results,
    })
}

/// What `predict` found: one class per image, and what it cost.
#[derive(Debug, Serialize)]
pub struct PredictReport {
    pub model: String,
    pub images: String,
    pub predictions: Vec<u8>,
    pub energy_j: f64,
    pub duration_s: f64,
    /// `null` when no image was classified (a figure per inference over none is no number).
    pub inference_samples_per_s: Option<f64>,
    pub joules_per_1000_inferences: Option<f64>,
    pub provenance: Provenance,
    pub uncertainty: Option<f64>,
    pub run_id: Option<String>,
}

/// Classifies the first `limit` images of the IDX file at `images` with the checkpoint at `path`,
/// inside a recorded job.
pub fn run_predict(
    path: &Path,
    images: &Path,
    limit: Option<usize>,
    job_args: &JobSettings,
    progress: &dyn Progress,
) -> Result<PredictReport> {
    let ck =
        checkpoint::load(path).map_err(TuneError::engine(format!("loading {}", path.display())))?;
    let arr = greenai_nn::data::idx::read(images)?;
    if arr.dims.len() != 3 {
        invalid!(
            "{} holds a {}-dimensional IDX array; predict takes images (count, rows, cols)",
            images.display(),
            arr.dims.len()
        );
    }
    let n = limit.unwrap_or(arr.dims[0]).min(arr.dims[0]);
    let data = Dataset {
        rows: arr.dims[1],
        cols: arr.dims[2],
        images: arr.data,
        labels: vec![0; arr.dims[0]],
    };
    check_size(&ck.model, data.rows, data.cols, "the images")?;
    let job = job_args.start(labels(&[
        ("job", "predict"),
        ("model", ck.model.kind.name()),
    ]))?;
    let runner = job_args.runner();
    let which: Vec<usize> = (0..n).collect();
    let t = Instant::now();
    let predictions = runner.predict(&ck.model.folded(), &data, &which);
    let secs = t.elapsed().as_secs_f64();
    let end = job.finish(0, None)?;
    crate::job::tell_end(progress, &end);
    let m = &end.measurement;
    Ok(PredictReport {
        model: ck.model.kind.name().into(),
        images: images.display().to_string(),
        energy_j: m.energy.joules(),
        duration_s: m.duration.as_secs_f64(),
        inference_samples_per_s: (n > 0).then(|| n as f64 / secs),
        joules_per_1000_inferences: (n > 0).then(|| m.energy.joules() * 1000.0 / n as f64),
        provenance: m.provenance,
        uncertainty: m.uncertainty,
        run_id: end.run_id,
        predictions,
    })
}
