//! `greenai compare`: flags in, the grid ([`greenai_tune::compare::run_compare`]) run, the table,
//! the report and the JSON out.

use super::console::Console;
use crate::cli::{CompareArgs, CompareTask};
use anyhow::Context;
use greenai_fleet::compare::{compare_on_array, ArraySettings};
use greenai_fleet::slurm::Sbatch;
use greenai_tune::compare::{run_compare, CompareOptions, Comparison};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

pub fn compare(args: CompareArgs, db: &Path) -> anyhow::Result<ExitCode> {
    if args.task == CompareTask::Recommend {
        return super::recommend::compare(&args, db);
    }
    if args.task == CompareTask::Text {
        return super::text::compare(&args, db);
    }
    let opts = CompareOptions {
        target_accuracy: args.target_accuracy.unwrap_or(0.98),
        budget_j: args.budget_j,
        full: args.full,
        eta: args.eta,
        fresh: args.fresh,
        data: args.data.clone(),
        interval: args.interval,
        carbon: args.carbon.settings(),
        db: db.to_path_buf(),
        repeat: args.repeat,
        only: args.only.clone(),
        collect_only: false,
        labels: greenai_fleet::identity::current(),
    };
    let console = Console::new(false);
    let (comparison, failed) = if args.slurm {
        let out = compare_on_array(&opts, &array_settings(&args)?, &Sbatch, &console)?;
        let failed: Vec<String> = out
            .failed()
            .map(|t| {
                let why = match t.exit_code {
                    Some(c) => format!("exited {c}"),
                    None => "ended without an exit status (killed, or never ran)".into(),
                };
                format!(
                    "task {} ({}) {why}: {} (log: {})",
                    t.index,
                    t.name,
                    t.last_log_line().unwrap_or_default(),
                    t.log.display()
                )
            })
            .collect();
        if let Some(id) = &out.job_id {
            eprintln!(
                "greenai compare: job array {id}: {} run(s) imported, {} already here",
                out.imported, out.already_here
            );
        }
        (out.comparison, failed)
    } else {
        (run_compare(&opts, &console)?, Vec::new())
    };
    print_table(&comparison);
    if let Some(w) = &comparison.carbon_warning {
        eprintln!("greenai: warning: {w}");
    }
    if let Some(path) = &args.report {
        let store = super::open_store(db)?;
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
    if !comparison.missing.is_empty() {
        eprintln!(
            "greenai: not in the table (no stored result): {}",
            comparison.missing.join(", ")
        );
    }
    if !failed.is_empty() {
        for f in &failed {
            eprintln!("greenai: {f}");
        }
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

/// Where the array's files go (absolute: the tasks run elsewhere) and which greenai they run.
fn array_settings(args: &CompareArgs) -> anyhow::Result<ArraySettings> {
    let dir = match &args.slurm_dir {
        Some(d) => d.clone(),
        None => {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs();
            Path::new("greenai-slurm").join(format!("compare-{t}"))
        }
    };
    Ok(ArraySettings {
        dir: std::path::absolute(&dir).with_context(|| format!("--slurm-dir {}", dir.display()))?,
        greenai: std::env::current_exe().context("finding this greenai's path for the tasks")?,
        sbatch_args: args.slurm_args.clone(),
        max_parallel: args.slurm_max_parallel.map(|n| n as usize),
    })
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
    if let Some(s) = &c.search_choice {
        out.push_str(&format!(
            "\nmeasured learning rate and batch size for {}: {} (the search used {:.1} J, {}, counted \
             in its configuration)\n",
            s.model, s.explanation, s.search_energy_j, s.provenance
        ));
    }
    match (&c.best, c.saving_ratio, c.baseline_training_energy_j) {
        (Some(b), Some(ratio), Some(base)) => out.push_str(&format!(
            "\nleast training energy at accuracy ≥ {:.3}: {b}, {:.1}× less than the seed baseline ({base:.1} J){}\n",
            c.target_accuracy,
            ratio,
            c.saving_range
                .map(|(lo, hi)| format!(", {lo:.1}–{hi:.1}× over the repeated runs"))
                .unwrap_or_default()
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
    if let (Some(r), Some(base)) = (
        c.saving_vs_stopped_baseline,
        c.stopped_baseline_training_energy_j,
    ) {
        out.push_str(&format!(
            "  {r:.1}× less than the same recipe stopped at the target ({base:.1} J): the part of \
             the saving that comes from the configuration, not from stopping\n"
        ));
    }
    eprint!("{out}");
}
