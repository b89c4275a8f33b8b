//! Power knobs: what greenai may turn to make a job use less energy, and the promise that it puts
//! everything back.
//!
//! - [`knob::Knob`]: one small trait (read, range, access, set) over [`powercap::RaplLimit`]
//!   (RAPL package and DRAM limits), [`cpufreq::Cpufreq`] (frequency ceiling, governor,
//!   energy-performance preference) and [`nvml::GpuPowerLimit`] (NVIDIA power limits). Every
//!   sysfs path starts at a root given as a parameter (`GREENAI_SYSFS_ROOT` in the binary).
//! - [`guard::Guard`]: changes journaled before they are made and restored when it drops;
//!   [`signal`] restores file knobs when a signal ends the process; [`guard::recover`] restores
//!   what a killed process left changed. This crate persists nothing itself: the journal is the
//!   run database's (`greenai-store`).

pub mod cpufreq;
pub mod guard;
pub mod knob;
pub mod nvml;
pub mod powercap;
pub mod signal;

pub use knob::{Access, Knob, PowerError, Range, Result, Setting, Unit};

use std::path::Path;

/// Every knob on this machine: RAPL limits and cpufreq under `sysfs_root`, and (with `gpus`)
/// NVIDIA power limits. The notes say what was not found and why.
pub fn discover(sysfs_root: &Path, gpus: bool) -> (Vec<Box<dyn Knob>>, Vec<String>) {
    let mut knobs: Vec<Box<dyn Knob>> = Vec::new();
    let mut notes = Vec::new();
    let rapl = powercap::RaplLimit::discover(sysfs_root);
    if rapl.is_empty() {
        notes.push(format!(
            "no RAPL power limits under {}/class/powercap (no powercap driver, or a VM)",
            sysfs_root.display()
        ));
    }
    knobs.extend(rapl.into_iter().map(|k| Box::new(k) as Box<dyn Knob>));
    let cf = cpufreq::Cpufreq::discover(sysfs_root);
    if cf.is_empty() {
        notes.push(format!(
            "no cpufreq policies under {}/devices/system/cpu/cpufreq (no cpufreq driver, or a VM)",
            sysfs_root.display()
        ));
    }
    knobs.extend(cf.into_iter().map(|k| Box::new(k) as Box<dyn Knob>));
    if gpus {
        match nvml::nvml_gpus() {
            Ok(g) => knobs.extend(g.into_iter().map(|k| Box::new(k) as Box<dyn Knob>)),
            Err(e) => notes.push(format!("no GPU power limits: {e}")),
        }
    }
    (knobs, notes)
}
