//! One module per subcommand.

mod carbon;
mod compare;
mod console;
mod detect;
mod exporter;
mod fleet;
mod plan;
mod power;
mod quantize;
mod queue;
mod recommend;
mod report;
mod run;
mod runs;
mod serve;
mod text;
mod train;
mod transfer;

use crate::cli::{Cli, Command};
use std::path::Path;
use std::process::ExitCode;

pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let db = cli.db.unwrap_or_else(greenai_store::default_path);
    match cli.command {
        Command::Detect {
            json,
            cloud_metadata,
        } => detect::detect(json, cloud_metadata),
        Command::Run(args) => {
            power::recover_left_changes(&db);
            run::run(args, &db)
        }
        Command::Estimate(args) => detect::estimate(args),
        Command::Fleet(args) => fleet::fleet(args),
        Command::Power { command } => power::power(command, &db),
        Command::Plan(args) => plan::plan(args, &db),
        Command::Submit(args) => queue::submit(args, &db),
        Command::Queue { command } => queue::queue(command, &db),
        Command::Scheduler(args) => queue::scheduler(args, &db),
        Command::Runs { command } => runs::runs(command, &db),
        Command::Train(args) => {
            power::recover_left_changes(&db);
            train::train(args, &db)
        }
        Command::Eval(args) => train::eval(args, &db),
        Command::Predict(args) => train::predict(args, &db),
        Command::Compare(args) => compare::compare(args, &db),
        Command::Quantize(args) => quantize::quantize(args, &db),
        Command::Transfer(args) => transfer::transfer(args, &db),
        Command::Exporter { listen, interval } => exporter::exporter(&listen, interval),
        Command::Serve { listen } => serve::serve(&listen, &db),
        Command::Recommend { command } => recommend::recommend(command, &db),
        Command::Embed(args) => text::embed(args, &db),
        Command::TextClassify(args) => text::text_classify(*args, &db),
        Command::Carbon {
            command,
            energy_kwh,
            duration_s,
            carbon,
            json,
        } => carbon::carbon(command, energy_kwh, duration_s, &carbon, json),
    }
}

/// Opens the run database, or says what to do.
fn open_store(db: &Path) -> anyhow::Result<greenai_store::Store> {
    Ok(greenai_store::Store::open(db)?)
}
