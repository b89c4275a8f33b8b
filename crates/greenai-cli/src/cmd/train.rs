//! `greenai train`, `greenai eval` and `greenai predict`: flags in, the engine's jobs
//! ([`greenai_tune::train`]) called, their reports printed.

use super::console::Console;
use crate::cli::{EvalArgs, OptimizerName, PrecisionName, PredictArgs, ScheduleName, TrainArgs};
use greenai_nn::data::bundled_mnist_dir;
use greenai_nn::optim::OptimizerKind;
use greenai_nn::precision::Precision;
use greenai_tune::target::TargetSpec;
use greenai_tune::train::{
    load_sets, run_eval, run_predict, run_train, JobReport, ScheduleKind, TrainSpec,
};
use greenai_units::Energy;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

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
    if let Some((tr, t)) = r
        .training
        .as_ref()
        .and_then(|tr| tr.target.as_ref().map(|t| (tr, t)))
    {
        print_target(t, tr.epochs_run, r.provenance);
    }
    if let Some(k) = &r.int8_kernel {
        eprintln!("  int8 layers ran the {k} kernel");
    }
    if let Some(id) = &r.run_id {
        eprintln!("  recorded as run {id}");
    }
}

pub fn emit(r: &JobReport, json: bool) -> anyhow::Result<()> {
    print_summary(r);
    if json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, r)?;
        writeln!(out)?;
    }
    Ok(())
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
        max_steps: args.max_steps,
        pca_init: args.pca_init,
        lr: args.lr.unwrap_or(optimizer.default_lr()),
        optimizer,
        schedule: match args.schedule {
            ScheduleName::Cosine => ScheduleKind::Cosine,
            ScheduleName::Constant => ScheduleKind::Constant,
        },
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
        profiling_energy_j: None,
        target: args.target_accuracy.map(|accuracy| TargetSpec {
            accuracy,
            check_every: args.check_every,
            check_images: None,
        }),
        power_tune: args
            .power_tune
            .then_some(greenai_tune::train::PowerTuneSpec {
                eta: args.power_eta,
                steps: args.power_tune_steps as usize,
            }),
    };
    let dir = args.data.clone().unwrap_or_else(bundled_mnist_dir);
    let (train, test) = load_sets(&dir)?;
    // SIGUSR1 (the scheduler's, through `greenai run`) asks for a pause at the next epoch end.
    super::console::pause_on_sigusr1();
    let console = Console::new(!args.job.record.json);
    let report = run_train(
        &spec,
        &dir.display().to_string(),
        &train,
        &test,
        &args.job.settings(db),
        BTreeMap::new(),
        &console,
    )?;
    drop(console);
    emit(&report, args.job.record.json)?;
    let paused = report
        .training
        .as_ref()
        .is_some_and(|t| t.paused_at_epoch.is_some());
    // 75 (EX_TEMPFAIL): not finished, to be continued with --resume.
    Ok(if paused {
        ExitCode::from(greenai_sched::runner::PAUSED_EXIT)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn eval(args: EvalArgs, db: &Path) -> anyhow::Result<ExitCode> {
    let dir = args.data.clone().unwrap_or_else(bundled_mnist_dir);
    let report = run_eval(
        &args.checkpoint,
        &dir,
        &args.job.settings(db),
        &Console::new(false),
    )?;
    emit(&report, args.job.record.json)?;
    Ok(ExitCode::SUCCESS)
}

pub fn predict(args: PredictArgs, db: &Path) -> anyhow::Result<ExitCode> {
    let path = args
        .images
        .clone()
        .unwrap_or_else(|| bundled_mnist_dir().join("t10k-images-idx3-ubyte.gz"));
    let report = run_predict(
        &args.checkpoint,
        &path,
        args.limit,
        &args.job.settings(db),
        &Console::new(false),
    )?;
    match (
        report.joules_per_1000_inferences,
        report.inference_samples_per_s,
    ) {
        (Some(per_k), Some(rate)) => eprintln!(
            "{}: {} images classified; {per_k:.3} J per 1,000 inferences ({rate:.0}/s), {}",
            report.model,
            report.predictions.len(),
            report.provenance
        ),
        _ => eprintln!("{}: no image to classify", report.model),
    }
    let mut out = std::io::stdout().lock();
    if args.job.record.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        for (i, p) in report.predictions.iter().enumerate() {
            writeln!(out, "{i}\t{p}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// How a job went against its `--target-accuracy`, in two lines (train and transfer alike).
pub(super) fn print_target(
    t: &greenai_tune::target::TargetReport,
    epochs_run: usize,
    provenance: greenai_meter::Provenance,
) {
    match (
        t.energy_to_accuracy_j,
        t.time_to_accuracy_s,
        t.step,
        t.epoch,
    ) {
        (e, Some(s), Some(step), Some(epoch)) if t.reached => eprintln!(
            "  target accuracy {:.4} reached at step {step} (epoch {epoch}, held-out {:.4}): \
             {} ({provenance}) and {s:.1} s to accuracy",
            t.target_accuracy,
            t.check_accuracy.unwrap_or(f64::NAN),
            e.map_or("energy unmeasured".into(), |e| format!(
                "{:.1}",
                Energy::from_joules(e)
            )),
        ),
        _ => eprintln!(
            "  target accuracy {:.4} not reached in {epochs_run} epochs",
            t.target_accuracy
        ),
    }
    eprintln!(
        "  {} checks of {} held-out images every {} steps: {:.2} J ({provenance}), {:.1} % of the \
         training energy",
        t.checks,
        t.check_images,
        t.check_every,
        t.check_energy_j,
        t.check_share * 100.0
    );
}
