//! greenai beyond one machine.
//!
//! - [`identity`]: which job a process belongs to (Slurm's variables; a Kubernetes pod from its
//!   cgroup path and the downward API's variables).
//! - [`prom`]: the Prometheus HTTP API (Prometheus, Thanos, VictoriaMetrics).
//! - [`energy`]: a job's, node's or label's energy over a time range across the nodes that
//!   exported it, with each node's grid and PUE applied.

pub mod energy;
pub mod identity;
pub mod prom;
