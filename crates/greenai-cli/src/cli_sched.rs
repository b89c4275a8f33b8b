//! Command-line arguments of the scheduling verbs: `plan`, `submit`, `queue`, `scheduler`.

use clap::{Args, Subcommand};

/// Where the forecast comes from.
#[derive(Debug, Clone, Args)]
pub struct ForecastArgs {
    /// A forecast: a file or an http(s):// URL. greenai reads its intensity CSV and the JSON of the
    /// Carbon Aware SDK, Electricity Maps, WattTime and the UK Carbon Intensity API.
    #[arg(long, value_name = "FILE|URL")]
    pub forecast: Option<String>,
    /// The forecast's format, when its shape does not tell: csv, carbon-aware-sdk,
    /// electricity-maps, watttime, uk-carbon-intensity.
    #[arg(long, value_name = "FORMAT", value_parser = crate::parse::forecast_format)]
    pub forecast_format: Option<greenai_carbon::forecast::ForecastFormat>,
    /// A request header for the forecast service, NAME: VALUE (repeatable), such as
    /// `auth-token: …` for Electricity Maps or `Authorization: Bearer …` for WattTime.
    #[arg(long = "forecast-header", value_name = "HEADER", value_parser = greenai_sched::fetch::parse_header)]
    pub headers: Vec<(String, String)>,
    /// Seconds a forecast request may take.
    #[arg(long, default_value = "20", value_name = "SECONDS", value_parser = crate::parse::timeout)]
    pub forecast_timeout: f64,
}

/// How long the job takes, and by when it must be done.
#[derive(Debug, Clone, Args)]
pub struct JobArgs {
    /// How long the job runs: 90m, 2h30m, 1.5h, PT2H, or seconds.
    #[arg(long, value_name = "DURATION", value_parser = greenai_sched::time::parse_duration)]
    pub duration: Option<f64>,
    /// Take the duration and energy from earlier runs: a run id (or prefix), a project name, or a
    /// label KEY=VALUE; their medians.
    #[arg(
        long,
        value_name = "RUN|PROJECT|KEY=VALUE",
        conflicts_with = "duration"
    )]
    pub like: Option<String>,
    /// When the job must have finished: +12h, an RFC 3339 time, or a local 2026-12-03T18:00.
    #[arg(long, value_name = "WHEN")]
    pub deadline: String,
    /// The job may be paused and resumed: plan the cleanest set of windows.
    #[arg(long)]
    pub interruptible: bool,
    /// The job's expected energy in kWh (else from --like), for emissions in grams.
    #[arg(long, value_name = "KWH", value_parser = crate::parse::kwh)]
    pub energy_kwh: Option<f64>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub job: JobArgs,
    #[command(flatten)]
    pub forecast: ForecastArgs,
    /// Plan as if it were this time (default: now): RFC 3339 or a local date and time.
    #[arg(long, value_name = "WHEN")]
    pub now: Option<String>,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    pub job: JobArgs,
    /// The job's name (its runs' project).
    #[arg(long, default_value = "default")]
    pub name: String,
    /// The command and its arguments, after `--`.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// One line per job.
    List {
        /// Print one JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// One job: its plan, its windows, its run and what scheduling saved.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Cancel a job; a running one is ended (SIGTERM) by the scheduler.
    Cancel { id: i64 },
}

#[derive(Debug, Args)]
pub struct SchedulerArgs {
    #[command(flatten)]
    pub forecast: ForecastArgs,
    /// How many jobs may run at once (paused ones do not count).
    #[arg(long, default_value = "1", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub max_jobs: u32,
    /// How often to fetch the forecast again: 15m, 1h.
    #[arg(long, default_value = "15m", value_parser = greenai_sched::time::parse_duration)]
    pub refresh: f64,
    /// Seconds between passes over the queue.
    #[arg(long, default_value = "1", value_parser = crate::parse::interval)]
    pub tick: std::time::Duration,
    /// Exit once no job is queued, running or paused.
    #[arg(long)]
    pub exit_when_idle: bool,
    /// Region of the jobs' runs, passed to `greenai run` (see `greenai carbon regions`).
    #[arg(long)]
    pub region: Option<String>,
}
