//! Command-line arguments of `greenai fleet`.

use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FleetFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct FleetArgs {
    /// The Prometheus-compatible HTTP API (Prometheus, Thanos, VictoriaMetrics).
    #[arg(long, value_name = "URL")]
    pub prometheus: String,
    /// A job: `slurm/42`, `k8s/<pod uid>`, or a Slurm job id.
    #[arg(long, group = "what")]
    pub job: Option<String>,
    /// A node's whole energy (its Prometheus instance, or the host part of it).
    #[arg(long, group = "what")]
    pub node: Option<String>,
    /// Jobs with a label KEY=VALUE (`slurm_job_name=train`).
    #[arg(long, group = "what", value_parser = crate::parse::label)]
    pub label: Option<(String, String)>,
    /// The range's start: +/- durations from now (`-2h`), RFC 3339, or a local date and time.
    #[arg(
        long,
        value_name = "WHEN",
        default_value = "-1h",
        allow_hyphen_values = true
    )]
    pub start: String,
    /// The range's end (default: now).
    #[arg(long, value_name = "WHEN", allow_hyphen_values = true)]
    pub end: Option<String>,
    /// The default grid region of the nodes (see `greenai carbon regions`).
    #[arg(long)]
    pub region: Option<String>,
    /// One node's region: NODE=REGION (repeatable).
    #[arg(long = "node-region", value_parser = crate::parse::label)]
    pub node_regions: Vec<(String, String)>,
    /// The default PUE of the nodes' facility.
    #[arg(long, default_value = "1.0", value_parser = crate::parse::pue)]
    pub pue: f64,
    /// One node's PUE: NODE=PUE (repeatable).
    #[arg(long = "node-pue", value_parser = crate::parse::label)]
    pub node_pues: Vec<(String, String)>,
    /// Seconds the query may take.
    #[arg(long, default_value = "10", value_parser = crate::parse::timeout)]
    pub timeout: f64,
    #[arg(long, value_enum, default_value = "table")]
    pub format: FleetFormat,
}
