//! Command-line arguments.

use clap::{Parser, Subcommand};
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "greenai",
    version,
    about = "Measure, account and cut the energy of AI work"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show which energy sensors this machine has, which it lacks and why, and the fallback.
    Detect {
        /// Print one JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Run a command and measure the energy it used, for the machine and its process tree.
    Run(RunArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Print one JSON report on stdout (the text report still goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Sampling interval in seconds (0.001 to 60).
    #[arg(long, default_value = "0.1", value_parser = parse_interval)]
    pub interval: Duration,
    /// Tag the run: KEY=VALUE, repeatable.
    #[arg(long = "label", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
    /// The command and its arguments, after `--`.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<String>,
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !(0.001..=60.0).contains(&secs) {
        return Err(format!("{secs} s is outside 0.001 ..= 60"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn parse_label(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

pub fn parse() -> Result<Cli, clap::Error> {
    Cli::try_parse()
}
