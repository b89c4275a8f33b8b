//! Command-line arguments.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "greenai",
    version,
    about = "Measure, account and cut the energy of AI work"
)]
pub struct Cli {
    /// The run database (default: $GREENAI_DB, else ~/.local/share/greenai/greenai.sqlite).
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,
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
    /// Run a command, measure the energy it used, and keep the run in the database.
    Run(RunArgs),
    /// List, show and export recorded runs.
    Runs {
        #[command(subcommand)]
        command: RunsCommand,
    },
    /// Serve the machine's energy and power as OpenMetrics text for Prometheus.
    Exporter {
        /// Address to listen on; a bare port binds 127.0.0.1.
        #[arg(long, default_value = "127.0.0.1:9875")]
        listen: String,
        /// Sampling interval in seconds (0.001 to 60).
        #[arg(long, default_value = "1", value_parser = parse_interval)]
        interval: Duration,
    },
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// One line per run.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One run's report and a sparkline of its power.
    Show {
        /// A run id, or a unique prefix of one.
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Runs as CSV (CodeCarbon's emissions.csv columns) or JSON, on stdout.
    Export {
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
        /// Run ids (or unique prefixes); all runs when none is given.
        ids: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Csv,
    Json,
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
    /// Project name, as in CodeCarbon's project_name column.
    #[arg(long, default_value = "default")]
    pub project: String,
    /// Also serve OpenMetrics at ADDR while the command runs (a bare port binds 127.0.0.1).
    #[arg(long, value_name = "ADDR")]
    pub prometheus: Option<String>,
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
