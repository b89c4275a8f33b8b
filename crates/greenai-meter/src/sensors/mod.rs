//! The sensors, one module per interface they read.

pub mod estimate;
pub mod hwmon;
pub mod nvml;
pub mod powercap;
