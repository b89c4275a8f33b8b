//! Carbon-aware scheduling: when a job should run.
//!
//! - [`plan`]: the planner (pure): the start, or set of windows, with the least expected
//!   emissions before a deadline, on a step-wise forecast.
//! - [`time`]: durations, deadlines and the start-time forms of `at`, cron and `sbatch --begin`.
//! - [`expect`]: a job's duration and energy from earlier runs (`--like`).
//! - [`report`]: what `greenai plan` prints.
//! - [`fetch`]: a forecast from a file or a URL (HTTP with timeouts).
//! - [`runner`]: the scheduler over the run database's queue; [`process`] pauses and resumes
//!   a job's process group; [`clock`] compresses time for simulations and tests.

pub mod clock;
pub mod expect;
pub mod fetch;
pub mod plan;
pub mod process;
pub mod report;
pub mod runner;
pub mod time;
