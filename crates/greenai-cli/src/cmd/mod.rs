//! One module per subcommand.

mod detect;
mod run;

use crate::cli::{Cli, Command};
use std::process::ExitCode;

pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Detect { json } => detect::detect(json),
        Command::Run(args) => run::run(args),
    }
}
