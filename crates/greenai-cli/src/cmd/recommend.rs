//! `greenai recommend`: matrix factorisation on ratings ([`greenai_tune::recommend`]).

use super::console::Console;
use crate::cli_recommend::{RecModel, RecommendCommand, RecommendTrainArgs};
use anyhow::{bail, Context};
use greenai_nn::recommend::mf::MfConfig;
use greenai_tune::recommend::{self, RecommendReport, RecommendSpec};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Where `scripts/fetch_movielens.py` puts MovieLens-100K (never committed: its licence forbids
/// redistribution).
pub fn movielens_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/ml-100k/ml-100k.inter")
}

pub fn recommend(cmd: RecommendCommand, db: &Path) -> anyhow::Result<ExitCode> {
    match cmd {
        RecommendCommand::Train(args) => train(*args, db),
        RecommendCommand::TopK {
            user,
            model,
            k,
            json,
        } => {
            let saved = recommend::load(&model)?;
            let top = recommend::top_k(&saved, &user, k)?;
            let mut out = std::io::stdout().lock();
            if json {
                let v: Vec<_> = top
                    .iter()
                    .map(|(i, r)| serde_json::json!({ "item": i, "predicted_rating": r }))
                    .collect();
                serde_json::to_writer_pretty(&mut out, &v)?;
                writeln!(out)?;
            } else {
                for (i, r) in top {
                    writeln!(out, "{i}\t{r:.3}")?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The ratings file given, else MovieLens-100K where the fetch script puts it.
fn ratings_path(data: &Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let path = data.clone().unwrap_or_else(movielens_path);
    if data.is_none() && !path.exists() {
        bail!(
            "MovieLens-100K is not here ({}): `python3 scripts/fetch_movielens.py` downloads it \
             (PyPI recbole; its licence forbids committing it), or give --data FILE",
            path.display()
        );
    }
    Ok(path)
}

/// `greenai compare --task recommend`: the recommendation grid.
pub fn compare(args: &crate::cli::CompareArgs, db: &Path) -> anyhow::Result<ExitCode> {
    if args.slurm || !args.only.is_empty() || args.report.is_some() {
        bail!("--task recommend takes neither --slurm, --only nor --report yet");
    }
    let path = ratings_path(&args.data)?;
    let ratings = greenai_nn::recommend::data::read(&path)?;
    let job = greenai_tune::job::JobSettings {
        threads: 1,
        batch: 1,
        interval: args.interval,
        project: "compare".into(),
        db: Some(db.to_path_buf()),
        state_dir: db.parent().unwrap_or(Path::new(".")).to_path_buf(),
        carbon: args.carbon.settings(),
        labels: greenai_fleet::identity::current(),
    };
    let c = greenai_tune::recommend_grid::run_grid(
        &ratings,
        &path.display().to_string(),
        args.target_rmse,
        5,
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
        "\n{:<24} {:<6} {:>7} {:>7} {:>7} {:>11} {:>13} {:<10}",
        "configuration",
        "model",
        "factors",
        "RMSE",
        "MAE",
        "training J",
        "J/1k predict",
        "provenance"
    )?;
    for r in &c.rows {
        let notes =
            crate::render::row_notes(Some(&r.config) == c.best.as_ref(), r.pareto, r.reused);
        writeln!(
            out,
            "{:<24} {:<6} {:>7} {:>7.4} {:>7.4} {:>11.1} {:>13.4} {:<10} {}",
            r.config,
            r.model,
            r.factors,
            r.rmse,
            r.mae,
            r.training_energy_j,
            r.joules_per_1000_predictions,
            r.provenance.to_string(),
            notes
        )?;
    }
    match (&c.best, c.saving_ratio) {
        (Some(b), Some(s)) => writeln!(
            out,
            "\nleast training energy at RMSE ≤ {}: {b}, {s:.1}× less than Surprise's settings",
            c.target_rmse
        )?,
        (Some(b), None) => writeln!(
            out,
            "\nleast training energy at RMSE ≤ {}: {b}",
            c.target_rmse
        )?,
        _ => writeln!(out, "\nno configuration reaches RMSE {}", c.target_rmse)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn train(args: RecommendTrainArgs, db: &Path) -> anyhow::Result<ExitCode> {
    let path = ratings_path(&args.data)?;
    let base = match args.model {
        RecModel::Svd => MfConfig::svd(),
        RecModel::Svdpp => MfConfig::svdpp(),
    };
    let spec = RecommendSpec {
        model: MfConfig {
            factors: args.factors.unwrap_or(base.factors),
            epochs: args.epochs.unwrap_or(base.epochs),
            lr: args.lr.unwrap_or(base.lr),
            reg: args.reg.unwrap_or(base.reg),
            seed: args.seed,
            ..base
        },
        folds: args.folds,
        fold_seed: args.fold_seed,
        target_rmse: args.target_rmse,
        save: args.save.clone(),
    };
    recommend::check(&spec)?;
    let ratings = greenai_nn::recommend::data::read(&path)?;
    let job = args.record.settings(db, 1, 1);
    let report = recommend::run_recommend(
        &spec,
        &path.display().to_string(),
        &ratings,
        &job,
        &Console::new(args.record.json),
    )
    .context("greenai recommend train")?;
    if args.record.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        print(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn print(r: &RecommendReport) {
    println!(
        "{} on {} ({} ratings, {} users, {} items), {} factors, {}-fold:",
        r.model,
        r.dataset,
        r.ratings,
        r.users,
        r.items,
        r.config.factors,
        r.folds.len()
    );
    println!(
        "  RMSE {:.4} (folds {:.4}–{:.4}), MAE {:.4}",
        r.rmse, r.rmse_range.0, r.rmse_range.1, r.mae
    );
    println!(
        "  training {:.1} J over the folds{}; {:.3} J per 1,000 predictions ({:.0} a second); {}",
        r.training_energy_j,
        match (r.target_rmse, r.energy_to_target_j) {
            (Some(t), Some(j)) => format!(", {j:.1} J to RMSE {t} on the held-out check"),
            (Some(t), None) => format!(", RMSE {t} not reached on every fold"),
            _ => String::new(),
        },
        r.joules_per_1000_predictions,
        r.predictions_per_s,
        r.provenance
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
    if let Some(p) = &r.saved {
        println!("  model (trained on every rating) saved to {}", p.display());
    }
}
