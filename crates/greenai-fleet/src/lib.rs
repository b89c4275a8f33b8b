//! greenai beyond one machine.
//!
//! - [`identity`]: which job a process belongs to (Slurm's variables; a Kubernetes pod from its
//!   cgroup path and the downward API's variables).
//! - [`prom`]: the Prometheus HTTP API (Prometheus, Thanos, VictoriaMetrics).
//! - [`energy`]: a job's, node's or label's energy over a time range across the nodes that
//!   exported it, with each node's grid and PUE applied.
//! - [`slurm`]: greenai commands as a Slurm job array, each task on a node-local database, its
//!   runs exported to a shared directory.
//! - [`compare`]: `greenai compare --slurm`, the grid as such an array, its runs imported and the
//!   table built from them.

pub mod compare;
pub mod energy;
pub mod identity;
pub mod prom;
pub mod slurm;
