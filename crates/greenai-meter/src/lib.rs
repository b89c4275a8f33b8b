//! greenai's meter: what a piece of AI work cost in energy, and how greenai knows.
//!
//! - [`EnergySensor`] is the small trait every interface sits behind: [`sensors::powercap`]
//!   (RAPL), [`sensors::hwmon`], [`sensors::nvml`] (NVIDIA GPUs, loaded at run time) and
//!   [`sensors::estimate`] (a stated model for machines with no sensor).
//! - [`Monitor`] samples them on a thread and measures named, overlapping windows, each closing
//!   into a [`Measurement`]: energy per component and in total, average and peak power, the
//!   tracked process tree's share, and the [`Provenance`] of every figure.
//! - [`detect::discover`] finds the machine's sensors, decides which ones are counted so that
//!   nothing is added twice, and says what is missing and why.
//!
//! Every sysfs read starts at a root given as a parameter; `GREENAI_SYSFS_ROOT` moves the default
//! root (`/sys`), so a captured tree can stand in for a machine.

pub mod accounting;
mod accumulator;
pub mod cgroup;
mod component;
pub mod detect;
mod error;
pub mod faults;
pub mod hardware;
mod measurement;
mod monitor;
pub mod procfs;
mod sensor;
pub mod sensors;
pub mod sysfs;

pub use accumulator::{accumulators, counted_total, EnergyAccumulator};
pub use component::{Component, ComponentKind, Missing, Provenance, Reading};
pub use detect::{discover, DetectReport, DiscoverOptions, Discovery};
pub use error::{classify_io, MeterError, Result, POWERCAP_PERMISSION_HINT};
pub use faults::{Fault, FaultKind};
pub use greenai_units::{Energy, Power};
pub use monitor::{
    clock_ticks_per_second, ComponentMeasurement, Measurement, ModelCheck, Monitor, MonitorBuilder,
    ProcessMeasurement, Sample, DEFAULT_INTERVAL, MAX_INTERVAL, MIN_INTERVAL,
};
pub use sensor::EnergySensor;
