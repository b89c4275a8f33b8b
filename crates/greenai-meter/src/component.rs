use greenai_units::{Energy, Power};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a component is, for grouping in reports ("CPU package", "DRAM", "GPU").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentKind {
    CpuPackage,
    CpuCore,
    CpuUncore,
    Dram,
    Gpu,
    /// A whole-platform reading (RAPL psys, an ACPI power meter).
    Platform,
    Other,
}

impl ComponentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentKind::CpuPackage => "cpu_package",
            ComponentKind::CpuCore => "cpu_core",
            ComponentKind::CpuUncore => "cpu_uncore",
            ComponentKind::Dram => "dram",
            ComponentKind::Gpu => "gpu",
            ComponentKind::Platform => "platform",
            ComponentKind::Other => "other",
        }
    }
    /// Components whose energy is shared among processes by CPU time.
    pub fn is_cpu_side(self) -> bool {
        matches!(
            self,
            ComponentKind::CpuPackage
                | ComponentKind::CpuCore
                | ComponentKind::CpuUncore
                | ComponentKind::Dram
                | ComponentKind::Platform
        )
    }
}

impl fmt::Display for ComponentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a number was obtained. Ordered from most to least direct, so the provenance of a sum is the
/// `max` of its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provenance {
    /// Read from a hardware energy counter (RAPL, NVML total energy, hwmon `energy*_input`).
    Measured,
    /// Integrated over time from power samples (hwmon `power*`, NVML power on pre-Volta GPUs).
    Integrated,
    /// Computed by a stated model from other observations (TDP × utilisation, W per GiB of RAM).
    Estimated,
}

impl Provenance {
    pub fn as_str(self) -> &'static str {
        match self {
            Provenance::Measured => "measured",
            Provenance::Integrated => "integrated",
            Provenance::Estimated => "estimated",
        }
    }
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the estimate model's components' sensor strings begin (`estimate:cpu (...)`): the estimate
/// sensor writes it, and [`crate::Measurement::model_check`] finds the model's share by it.
pub const MODEL_SENSOR: &str = "estimate:";

/// One thing whose energy a sensor reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Component {
    /// Stable identifier, unique in a monitor: `cpu-package-0`, `dram-0`, `gpu-0`.
    pub id: String,
    pub kind: ComponentKind,
    /// The interface and the path or device it reads: `powercap:intel-rapl:0`, `nvml:GPU-…`.
    pub sensor: String,
    pub provenance: Provenance,
    /// Relative uncertainty (0.4 means ±40 %) where one is known or stated by the model.
    pub uncertainty: Option<f64>,
    /// Whether this component's energy is added to the machine's total. Components nested in
    /// another (RAPL core inside package) or duplicating one (an MMIO package zone) are not.
    pub counted: bool,
    /// Why a component is not counted: the component that already contains it, or a note.
    pub within: Option<String>,
}

/// One reading of one component.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// Energy since the sensor opened, with counter wraps already undone: never decreases.
    pub energy: Option<Energy>,
    /// Instantaneous (or driver-averaged) power, where the interface gives one.
    pub power: Option<Power>,
    /// Utilisation in 0..=1 (GPU busy share), where the interface gives one.
    pub utilisation: Option<f64>,
    /// The sensor could not read this component now (the other fields are empty): a fault the
    /// monitor counts, not a zero.
    #[serde(skip)]
    pub failed: bool,
}

/// A component the machine has, or may have, but that no sensor covers, with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Missing {
    pub kind: ComponentKind,
    pub sensor: String,
    pub reason: String,
}
