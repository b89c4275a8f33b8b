//! `greenai quantize`: flags in, the quantization job ([`greenai_tune::quantize`]) called, its
//! report printed.

use super::console::Console;
use crate::cli::{CalibrationMethod, Int8Layers, QuantMode, QuantizeArgs};
use greenai_nn::data::bundled_mnist_dir;
use greenai_nn::model::SpeedRule;
use greenai_nn::quantize::{ActivationRange, WeightScheme};
use greenai_tune::quantize::{run_quantize, QuantizeSpec};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

pub fn quantize(args: QuantizeArgs, db: &Path) -> anyhow::Result<ExitCode> {
    let scheme = match args.mode {
        QuantMode::PerTensor => WeightScheme::PerTensor,
        _ => WeightScheme::PerChannel,
    };
    let range = match (args.mode, args.method) {
        (QuantMode::Dynamic, _) => ActivationRange::Dynamic,
        (_, CalibrationMethod::Minmax) => ActivationRange::MinMax,
        (_, CalibrationMethod::Percentile) => ActivationRange::Percentile(99.99),
    };
    let spec = QuantizeSpec {
        scheme,
        range,
        calibration: args.calibration,
        save: args.save.clone(),
        rule: match args.int8_layers {
            Int8Layers::Faster => SpeedRule::KeepFaster,
            Int8Layers::All => SpeedRule::EveryLayer,
        },
    };
    let dir = args.data.clone().unwrap_or_else(bundled_mnist_dir);
    let r = run_quantize(
        &args.checkpoint,
        &dir,
        &spec,
        &args.job.settings(db),
        &Console::new(false),
    )?;
    eprintln!(
        "{} {} int8 ({}): accuracy {:.4} → {:.4}, size {} → {} bytes, {:.0} → {:.0} inferences/s \
         ({:.2}×), {:.3} → {:.3} J per 1,000 inferences ({})",
        r.model,
        r.mode,
        r.kernel,
        r.before.accuracy,
        r.after.accuracy,
        r.before.size_bytes,
        r.after.size_bytes,
        r.before.inference_samples_per_s,
        r.after.inference_samples_per_s,
        r.speedup,
        r.before.joules_per_1000_inferences,
        r.after.joules_per_1000_inferences,
        r.after.provenance
    );
    let int8 = r.layers.iter().filter(|l| l.int8).count();
    if !r.layers.is_empty() {
        eprintln!(
            "  {int8} of {} layers int8 (each timed against f32 with the {} kernel on this CPU):",
            r.layers.len(),
            r.kernel
        );
    }
    for l in &r.layers {
        eprintln!(
            "  {:<18} → {:<4} (f32 {:.2} µs, int8 {:.2} µs per image: {})",
            l.layer,
            if l.int8 { "int8" } else { "f32" },
            l.f32_us,
            l.int8_us,
            l.reason
        );
    }
    if r.all_f32 {
        eprintln!("  int8 was slower than f32 as a whole here: the model stays f32");
    }
    if args.job.record.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &r)?;
        writeln!(out)?;
    }
    Ok(ExitCode::SUCCESS)
}
