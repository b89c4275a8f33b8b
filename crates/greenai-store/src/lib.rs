//! greenai's run database and its exports.
//!
//! - [`Store`] is the embedded SQLite database (WAL mode, migrated by `PRAGMA user_version`): one
//!   row per run, its power series beside it.
//! - [`SampleWriter`] streams a running monitor's samples into it, a transaction a second, so
//!   a greenai killed mid-run leaves everything up to its last second, and the run reads as
//!   incomplete.
//! - [`power`]: the power journal, where every knob change waits until it is restored.
//! - [`queue`]: the scheduler's jobs, their plans, processes and what scheduling saved.
//! - [`RunReport`] is the record of a run: what `greenai run --json` prints, what the database
//!   keeps, and what [`export`] writes as JSON or as CodeCarbon-compatible CSV.

pub mod browse;
mod db;
mod error;
pub mod export;
pub mod host;
mod open;
pub mod openmetrics;
pub mod power;
pub mod queue;
mod recording;
mod report;
pub mod series;
mod session;
pub mod timefmt;
mod writer;

pub use db::{default_path, latest_schema_version, RunStatus, RunSummary, SampleSink, Store};
pub use error::{Result, StoreError};
pub use recording::{command_line, Finished, Recording, FLUSH_EVERY};
pub use report::{new_run_id, ComponentReport, HostInfo, RunReport, RunStart};
pub use session::{Session, SessionEnd, SessionOptions};
pub use writer::{SampleWriter, WriterOutcome};
