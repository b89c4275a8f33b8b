//! `greenai runs list|show|export`.

use crate::cli::{ExportFormat, RunsCommand};
use crate::render;
use greenai_store::{export, series, timefmt};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

pub fn runs(cmd: RunsCommand, db: &Path) -> anyhow::Result<ExitCode> {
    let store = greenai_store::Store::open_for_reading(db)?;
    let mut out = std::io::stdout().lock();
    match cmd {
        RunsCommand::List { json } => {
            let runs = store.runs()?;
            if json {
                let v: Vec<serde_json::Value> = runs
                    .iter()
                    .map(|r| {
                        serde_json::json!({
                            "run_id": r.run_id, "project_name": r.project_name, "command": r.command,
                            "started_at": timefmt::rfc3339(r.started_unix_s), "duration_s": r.duration_s,
                            "energy_j": r.energy_j, "provenance": r.provenance, "exit_code": r.exit_code, "status": r.status.as_str(),
                            "labels": r.labels,
                        })
                    })
                    .collect();
                serde_json::to_writer_pretty(&mut out, &v)?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "{:<18} {:<24} {:>10} {:>12} {:<10} {:<10} {:>4}  command",
                    "run", "started (UTC)", "duration", "energy", "provenance", "status", "exit"
                )?;
                for r in &runs {
                    writeln!(
                        out,
                        "{:<18} {:<24} {:>10} {:>12} {:<10} {:<10} {:>4}  {}",
                        r.run_id,
                        timefmt::rfc3339(r.started_unix_s),
                        r.duration_s
                            .map(|d| format!("{d:.2} s"))
                            .unwrap_or_default(),
                        r.energy_j
                            .map(|e| format!("{:.2}", greenai_units::Energy::from_joules(e)))
                            .unwrap_or_default(),
                        r.provenance.map(|p| p.as_str()).unwrap_or_default(),
                        r.status.as_str(),
                        r.exit_code.map(|c| c.to_string()).unwrap_or_default(),
                        r.command
                    )?;
                }
                if runs.is_empty() {
                    writeln!(
                        out,
                        "no runs yet in {}; `greenai run -- CMD` records one",
                        store.path().display()
                    )?;
                }
            }
        }
        RunsCommand::Show { id, json } => {
            let id = store.resolve(&id)?;
            let report = store.report(&id)?;
            // A run the scheduler started says what its scheduling saved.
            let job = store.job_of_run(&id)?;
            if json {
                let mut v = serde_json::to_value(&report)?;
                if let Some(j) = &job {
                    v["scheduling"] = serde_json::to_value(j)?;
                }
                serde_json::to_writer_pretty(&mut out, &v)?;
                writeln!(out)?;
            } else {
                if let Some(j) = &job {
                    for l in super::queue::describe(j) {
                        writeln!(out, "  {l}")?;
                    }
                }
                write!(out, "{}", render::report(&report))?;
                let samples = store.samples(&id)?;
                let power: Vec<f64> = samples
                    .iter()
                    .skip(1)
                    .map(|s| s.total_power.watts())
                    .collect();
                if !power.is_empty() {
                    let (lo, hi) = power
                        .iter()
                        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &p| {
                            (a.min(p), b.max(p))
                        });
                    writeln!(
                        out,
                        "  power {} {lo:.1}–{hi:.1} W over {} samples",
                        series::sparkline(&power, 60),
                        samples.len()
                    )?;
                }
            }
        }
        RunsCommand::Import { files } => {
            let (mut added, mut skipped) = (0, 0);
            for f in &files {
                for r in export::read_json(f)? {
                    if store.import_report(&r)? {
                        added += 1;
                    } else {
                        skipped += 1;
                    }
                }
            }
            writeln!(
                out,
                "imported {added} run(s); {skipped} already here, skipped"
            )?;
        }
        RunsCommand::Export { format, ids } => {
            let reports = store.reports(&ids)?;
            match format {
                ExportFormat::Csv => export::write_csv(&mut out, &reports)?,
                ExportFormat::Json => export::write_json(&mut out, &reports)?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
