//! `greenai train`: train a model with every epoch and the evaluation inside a meter window.

use crate::cli::{ModelName, TrainArgs};
use anyhow::{bail, Context};
use greenai_meter::{detect, Measurement, Provenance};
use greenai_nn::data::{bundled_mnist_dir, shuffled, Dataset, Split};
use greenai_nn::lightweight::LightweightNet;
use greenai_nn::optim::Adam;
use greenai_nn::train::{evaluate, train_epoch_with};
use greenai_units::Energy;
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

#[derive(Debug, Serialize)]
struct EpochReport {
    epoch: usize,
    loss: f64,
    train_accuracy: f64,
    energy_j: f64,
    duration_s: f64,
    provenance: Provenance,
}

/// The JSON report. Field names are a stable interface (README).
#[derive(Debug, Serialize)]
struct TrainReport {
    model: &'static str,
    precision: &'static str,
    quantization: &'static str,
    dataset: String,
    epochs: usize,
    batch: usize,
    lr: f32,
    threads: usize,
    /// Test-set accuracy, 0 to 1.
    accuracy: f64,
    /// Training and evaluation together.
    energy_j: f64,
    training_energy_j: f64,
    duration_s: f64,
    train_samples_per_s: f64,
    inference_samples_per_s: f64,
    joules_per_training_sample: f64,
    joules_per_1000_inferences: f64,
    params: usize,
    flops: u64,
    provenance: Provenance,
    uncertainty: Option<f64>,
    per_epoch: Vec<EpochReport>,
    #[serde(flatten)]
    carbon: greenai_carbon::CarbonReport,
}

fn model_name(m: ModelName) -> &'static str {
    match m {
        ModelName::Lightweight => "lightweight",
    }
}

pub fn train(args: TrainArgs) -> anyhow::Result<ExitCode> {
    if args.epochs == 0 || args.batch == 0 || args.threads == 0 {
        bail!("--epochs, --batch and --threads must be at least 1");
    }
    if !(args.lr > 0.0 && args.lr.is_finite()) {
        bail!("--lr {} is not a positive learning rate", args.lr);
    }
    let settings = args.carbon.settings();
    let resolved = settings.resolve()?;
    let dir = args.data.clone().unwrap_or_else(bundled_mnist_dir);
    let train = Dataset::load(&dir, Split::Train).context("loading the training set")?;
    let test = Dataset::load(&dir, Split::Test).context("loading the test set")?;
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
    let classes = train.classes().max(test.classes());
    let net = LightweightNet {
        rows: train.rows,
        cols: train.cols,
        classes,
    };

    let (builder, _) = detect::machine_builder();
    let meter = builder
        .interval(args.interval)
        .start()
        .context("starting the energy monitor")?;
    let mut params = net.init(args.seed);
    let mut opt = Adam::new(&params, args.lr);
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(train.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let mut per_epoch = Vec::new();
    let mut train_energy = Energy::ZERO;
    let mut train_time = 0.0;
    let mut provenance = Provenance::Measured;
    let mut measurements: Vec<Measurement> = Vec::new();
    for epoch in 1..=args.epochs {
        let order = shuffled(train.len(), args.seed.wrapping_add(epoch as u64));
        if let Some(b) = &bar {
            b.reset();
            b.set_prefix(format!("{epoch}/{}", args.epochs));
        }
        meter.begin_window("epoch")?;
        let stats = train_epoch_with(
            &net,
            &mut params,
            &mut opt,
            &train,
            &order,
            args.batch,
            args.threads,
            &mut |s| {
                if let Some(b) = &bar {
                    b.set_position(s.samples as u64);
                    if s.samples % (args.batch * 20) < args.batch {
                        let j = meter.window_energy("epoch").unwrap_or_default();
                        b.set_message(format!(
                            "loss {:.4} acc {:.4} {:.1}",
                            s.mean_loss, s.train_accuracy, j
                        ));
                    }
                }
            },
        );
        let m = meter.end_window("epoch")?;
        train_energy += m.energy;
        train_time += m.duration.as_secs_f64();
        provenance = provenance.max(m.provenance);
        if bar.is_none() && !args.json {
            eprintln!(
                "epoch {epoch}/{}: loss {:.4}, train accuracy {:.4}, {:.2} ({}), {:.1} s",
                args.epochs,
                stats.mean_loss,
                stats.train_accuracy,
                m.energy,
                m.provenance,
                m.duration.as_secs_f64()
            );
        }
        per_epoch.push(EpochReport {
            epoch,
            loss: stats.mean_loss,
            train_accuracy: stats.train_accuracy,
            energy_j: m.energy.joules(),
            duration_s: m.duration.as_secs_f64(),
            provenance: m.provenance,
        });
        measurements.push(m);
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    meter.begin_window("eval")?;
    let accuracy = evaluate(&net, &params, &test, 64, args.threads);
    let eval = meter.end_window("eval")?;
    provenance = provenance.max(eval.provenance);
    let energy = train_energy + eval.energy;
    let duration = train_time + eval.duration.as_secs_f64();
    let uncertainty = measurements
        .iter()
        .chain(std::iter::once(&eval))
        .map(|m| m.uncertainty.map(|u| u * m.energy.joules()))
        .sum::<Option<f64>>()
        .filter(|_| energy.joules() > 0.0)
        .map(|band| band / energy.joules());
    let carbon = greenai_carbon::assess(
        &settings,
        &resolved,
        energy,
        std::time::Duration::from_secs_f64(duration),
        &[],
    );
    let samples = (train.len() * args.epochs) as f64;
    let report = TrainReport {
        model: model_name(args.model),
        precision: "f32",
        quantization: "none",
        dataset: dir.display().to_string(),
        epochs: args.epochs,
        batch: args.batch,
        lr: args.lr,
        threads: args.threads,
        accuracy,
        energy_j: energy.joules(),
        training_energy_j: train_energy.joules(),
        duration_s: duration,
        train_samples_per_s: samples / train_time,
        inference_samples_per_s: test.len() as f64 / eval.duration.as_secs_f64(),
        joules_per_training_sample: train_energy.joules() / samples,
        joules_per_1000_inferences: eval.energy.joules() * 1000.0 / test.len() as f64,
        params: net.param_count(),
        flops: net.flops(),
        provenance,
        uncertainty,
        per_epoch,
        carbon,
    };
    eprintln!(
        "{}: test accuracy {:.4}; training {:.1} ({:.2} mJ per sample, {:.0} samples/s), \
         evaluation {:.3} J per 1,000 inferences ({:.0}/s); {} parameters, {} FLOPs per inference; {}{}",
        report.model,
        accuracy,
        train_energy,
        report.joules_per_training_sample * 1e3,
        report.train_samples_per_s,
        report.joules_per_1000_inferences,
        report.inference_samples_per_s,
        report.params,
        report.flops,
        provenance,
        uncertainty.map(|u| format!(" ±{:.0}%", u * 100.0)).unwrap_or_default(),
    );
    if let Some(w) = &resolved.warning {
        eprintln!("greenai: warning: {w}");
    }
    if args.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    }
    Ok(ExitCode::SUCCESS)
}
