//! `greenai embed` and `greenai text-classify` ([`greenai_tune::text`]).

use super::console::Console;
use crate::cli_text::{EmbedArgs, TextClassifyArgs, TextMethod, VectorFormat};
use anyhow::{bail, Context};
use greenai_tune::text::classify::{self, ClassifySpec, Method, TextReport};
use greenai_tune::text::{self as text_job, Paths};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn paths() -> Paths {
    Paths {
        root: Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."),
    }
}

fn model_dir(given: &Option<PathBuf>) -> PathBuf {
    given.clone().unwrap_or_else(|| paths().model())
}

pub fn embed(args: EmbedArgs, db: &Path) -> anyhow::Result<ExitCode> {
    if args.format == VectorFormat::Npy && args.output.is_none() {
        bail!("--format npy needs --output FILE");
    }
    let texts: Vec<String> = match &args.input {
        None => args.sentences.clone(),
        Some(p) => {
            let reader: Box<dyn BufRead> = if p.as_os_str() == "-" {
                Box::new(std::io::stdin().lock())
            } else {
                let f = std::fs::File::open(p)
                    .with_context(|| format!("cannot read {}", p.display()))?;
                Box::new(std::io::BufReader::new(f))
            };
            let mut out = Vec::new();
            for (n, line) in reader.lines().enumerate() {
                let line = line.with_context(|| format!("{}: line {}", p.display(), n + 1))?;
                if !line.trim().is_empty() {
                    out.push(line);
                }
            }
            out
        }
    };
    if texts.is_empty() {
        bail!("no sentences: give them as arguments or with --input FILE");
    }
    let job = args.record.settings(db, args.threads, 1);
    let (vectors, report) = text_job::run_embed(
        &model_dir(&args.model),
        &texts,
        args.int8,
        &job,
        &Console::new(args.record.json),
    )
    .context("greenai embed")?;
    let d = report.dimensions;
    match (args.format, &args.output) {
        (VectorFormat::Npy, Some(p)) => text_job::write_npy(p, &vectors, texts.len(), d)?,
        (VectorFormat::Json, out) => {
            let rows: Vec<&[f32]> = vectors.chunks_exact(d).collect();
            let v = serde_json::json!({
                "model": report.model,
                "dimensions": d,
                "vectors": rows,
                "report": report,
            });
            match out {
                Some(p) => std::fs::write(p, serde_json::to_vec(&v)?)
                    .with_context(|| format!("writing {}", p.display()))?,
                None => {
                    let mut o = std::io::stdout().lock();
                    serde_json::to_writer(&mut o, &v)?;
                    writeln!(o)?;
                }
            }
        }
        (VectorFormat::Npy, None) => unreachable!("refused above"),
    }
    if args.output.is_some() || args.format == VectorFormat::Npy {
        if args.record.json {
            let mut o = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut o, &report)?;
            writeln!(o)?;
        } else {
            println!(
                "{} vectors of {d} ({}{}) in {:.2} s: {:.2} J per 1,000 sentences, {:.0} a second, {}{}",
                report.sentences,
                if report.int8 { "int8" } else { "f32" },
                report.kernel.as_ref().map(|k| format!(", {k}")).unwrap_or_default(),
                report.encode_duration_s,
                report.joules_per_1000_sentences,
                report.sentences_per_s,
                report.provenance,
                report.run_id.as_ref().map(|id| format!(", recorded as {id}")).unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn text_classify(args: TextClassifyArgs, db: &Path) -> anyhow::Result<ExitCode> {
    let spec = ClassifySpec {
        method: match args.method {
            TextMethod::Frozen => Method::Frozen,
            TextMethod::FineTune => Method::FineTune,
            TextMethod::Ngram => Method::Ngram,
        },
        tuned_layers: args.fine_tune_last,
        model_dir: model_dir(&args.model),
        int8: args.int8,
        epochs: args.epochs,
        lr: args.lr,
        folds: args.folds,
        seed: args.seed,
        target_accuracy: args.target_accuracy,
    };
    classify::check(&spec)?;
    let data = text_job::load_dataset(&args.data, args.test.as_deref(), &paths())?;
    let job = args.record.settings(db, args.threads, 1);
    let report = classify::run_classify(&spec, &data, &job, &Console::new(args.record.json))
        .context("greenai text-classify")?;
    if args.record.json {
        let mut o = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut o, &report)?;
        writeln!(o)?;
    } else {
        print(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn print(r: &TextReport) {
    let how = match (r.method.as_str(), r.tuned_layers) {
        ("fine-tune", Some(n)) => format!("MiniLM, last {n} layer(s) fine-tuned"),
        ("frozen", _) => format!(
            "MiniLM frozen ({}), linear head",
            if r.int8 {
                format!("int8, {}", r.kernel.as_deref().unwrap_or(""))
            } else {
                "f32".into()
            }
        ),
        _ => "bag of words and bigrams, from scratch".into(),
    };
    println!(
        "{} on {} ({} texts, {} classes, {}):",
        how,
        r.dataset,
        r.texts,
        r.classes.len(),
        match r.folds {
            Some(k) => format!("{k}-fold"),
            None => "its test split".into(),
        }
    );
    println!(
        "  accuracy {:.4}{} (best epoch {:.4})",
        r.accuracy,
        if r.fold_results.len() > 1 {
            format!(
                " (folds {:.4}–{:.4})",
                r.accuracy_range.0, r.accuracy_range.1
            )
        } else {
            String::new()
        },
        r.best_accuracy
    );
    println!(
        "  training {:.1} J (shared pass {:.1} J); to its best epoch {:.1} J{}",
        r.training_energy_j,
        r.shared_energy_j,
        r.energy_to_best_j,
        match (r.target_accuracy, r.energy_to_accuracy_j) {
            (Some(t), Some(j)) => format!("; to accuracy {t}: {j:.1} J"),
            (Some(t), None) => format!("; accuracy {t} not reached"),
            _ => String::new(),
        }
    );
    println!(
        "  {:.3} J per 1,000 sentences classified ({:.0} a second); {}",
        r.joules_per_1000_sentences, r.sentences_per_s, r.provenance
    );
    println!(
        "  the run: {:.1} J in {:.1} s, {:.4} gCO2e{}",
        r.energy_j,
        r.duration_s,
        r.emissions_g,
        r.run_id
            .as_ref()
            .map(|id| format!(", recorded as {id}"))
            .unwrap_or_default()
    );
}

/// `greenai compare --task text`: the text grid.
pub fn compare(args: &crate::cli::CompareArgs, db: &Path) -> anyhow::Result<ExitCode> {
    if args.slurm || args.report.is_some() || args.data.is_some() {
        bail!("--task text takes neither --slurm, --report nor --data (use --text-data)");
    }
    let data = text_job::load_dataset(&args.text_data, None, &paths())?;
    let target = args
        .target_accuracy
        .unwrap_or(if args.text_data == "r8" { 0.971 } else { 0.85 });
    let job = greenai_tune::job::JobSettings {
        threads: 2,
        batch: 1,
        interval: args.interval,
        project: "compare".into(),
        db: Some(db.to_path_buf()),
        state_dir: db.parent().unwrap_or(Path::new(".")).to_path_buf(),
        carbon: args.carbon.settings(),
        labels: greenai_fleet::identity::current(),
    };
    let c = greenai_tune::text::grid::run_grid(
        &data,
        &paths().model(),
        target,
        &args.only,
        args.fresh,
        &job,
        &Console::new(false),
    )?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &c)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "\n{:<22} {:>8} {:>11} {:>11} {:>11} {:>12} {:<10}",
        "configuration",
        "accuracy",
        "training J",
        "to target J",
        "to best J",
        "J/1k texts",
        "provenance"
    )?;
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |j| format!("{j:.1}"));
    for r in &c.rows {
        let notes =
            crate::render::row_notes(Some(&r.config) == c.best.as_ref(), r.pareto, r.reused);
        writeln!(
            out,
            "{:<22} {:>8.4} {:>11.1} {:>11} {:>11} {:>12.3} {:<10} {}",
            r.config,
            r.accuracy,
            r.training_energy_j,
            opt(r.energy_to_accuracy_j),
            opt(r.energy_to_best_j),
            r.joules_per_1000_sentences,
            r.provenance.to_string(),
            notes
        )?;
    }
    match (&c.best, c.saving_ratio, c.baseline_energy_to_best_j) {
        (Some(b), Some(s), Some(base)) => writeln!(
            out,
            "\nleast training energy at accuracy {}: {b}; {} the baseline's energy to its own best ({base:.1} J)",
            c.target_accuracy,
            if s >= 1.0 {
                format!("{s:.1}× less than")
            } else {
                format!("{:.0}× more than", 1.0 / s)
            }
        )?,
        (Some(b), _, _) => writeln!(
            out,
            "\nleast training energy at accuracy {}: {b}",
            c.target_accuracy
        )?,
        _ => writeln!(
            out,
            "\nno configuration reaches accuracy {}",
            c.target_accuracy
        )?,
    }
    Ok(ExitCode::SUCCESS)
}
