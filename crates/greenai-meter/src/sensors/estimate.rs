//! A stated model for components that no sensor covers. Every figure it gives is labelled
//! `estimated` and carries its uncertainty band.
//!
//! - **CPU**: the CPU family's load-to-power curve per vCPU, fitted on SPECpower_ssj2008 results
//!   ([`crate::hardware::specpower`]), at `u`, the machine's CPU utilisation from `/proc/stat`
//!   between two readings, times the logical CPUs. The family comes from cpuinfo's family and
//!   model (a cloud guest's "AMD EPYC" included), else the cloud instance type, else the model
//!   name's number found in the results. A CPU of no known family falls back to
//!   `P = P_max × (idle_share + (1 − idle_share) × u)` with `P_max` its TDP from a bundled table
//!   (derived from CodeCarbon's `cpu_power.csv`), or CodeCarbon's default of 4 W per logical CPU;
//!   `idle_share` is [`DEFAULT_IDLE_SHARE`]. The curve comes first because on the published
//!   results it misses by about a fifth of what one TDP with a straight line does.
//! - **DRAM**: a constant [`DRAM_WATTS_PER_GIB`] per GiB of installed memory (`MemTotal`),
//!   whatever the load, less the memory a fitted CPU curve's servers carried for as many vCPUs
//!   (the median per thread of the family's SPECpower results: their memory's power is in the
//!   curve's wall power already).
//!
//! The energy is integrated inside the sensor, one utilisation interval at a time, so a window's
//! edges are exact in the model's own terms.

use crate::component::{Component, ComponentKind, Provenance, Reading, MODEL_SENSOR};
use crate::error::{MeterError, Result};
use crate::hardware::{CurveBasis, Hardware};
use crate::procfs::{CpuInfo, CpuTimes, StatFile};
use crate::sensor::EnergySensor;
use greenai_units::{Energy, Power};
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The share of TDP drawn by an idle CPU. SPECpower_ssj2008 results for recent servers put idle
/// power at roughly a fifth to two fifths of full-load power; 0.3 sits in that range.
pub const DEFAULT_IDLE_SHARE: f64 = 0.3;
/// CodeCarbon's default for a CPU model missing from its table (`DEFAULT_POWER_PER_CORE`).
pub const DEFAULT_WATTS_PER_THREAD: f64 = 4.0;
/// 3 W per 8 GiB, the rule of thumb CodeCarbon used before version 3.
pub const DRAM_WATTS_PER_GIB: f64 = 3.0 / 8.0;
/// Relative uncertainty of the CPU model when the CPU's TDP is known.
pub const CPU_UNCERTAINTY_KNOWN_TDP: f64 = 0.4;
/// Relative uncertainty when the TDP is CodeCarbon's per-thread default.
pub const CPU_UNCERTAINTY_DEFAULT_TDP: f64 = 0.6;
/// Relative uncertainty of the DRAM model.
pub const DRAM_UNCERTAINTY: f64 = 0.5;

static TDP_TABLE: &str = include_str!("../../data/cpu_tdp.tsv");

fn tdp_table() -> &'static [(Vec<String>, f64, &'static str)] {
    static TABLE: OnceLock<Vec<(Vec<String>, f64, &'static str)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        TDP_TABLE
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let (name, w) = l.split_once('\t')?;
                Some((tokens(name), w.trim().parse().ok()?, name))
            })
            .collect()
    })
}

/// The lowercase words of a CPU model name, without trademarks, clock speed and filler words.
fn tokens(model: &str) -> Vec<String> {
    let cleaned = model
        .replace("(R)", " ")
        .replace("(r)", " ")
        .replace("(TM)", " ")
        .replace("(tm)", " ");
    let cleaned = match cleaned.find('@') {
        Some(i) => &cleaned[..i],
        None => &cleaned[..],
    };
    cleaned
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|w| w.to_lowercase())
        .filter(|w| {
            !w.is_empty()
                && !matches!(
                    w.as_str(),
                    "cpu" | "processor" | "with" | "radeon" | "graphics" | "apu" | "mobile"
                )
                && !w.ends_with("-core")
        })
        .collect()
}

/// The TDP of a CPU model, and the table entry it matched.
///
/// An entry matches when all its words appear in the model's and one of them holds a digit (a
/// model number), so `Intel Xeon` alone never matches; the entry with the most words wins.
pub fn lookup_tdp(model: &str) -> Option<(f64, &'static str)> {
    let have = tokens(model);
    tdp_table()
        .iter()
        .filter(|(words, _, _)| {
            words.iter().any(|w| w.chars().any(|c| c.is_ascii_digit()))
                && words.iter().all(|w| have.contains(w))
        })
        .max_by_key(|(words, _, _)| words.len())
        .map(|(_, w, name)| (*w, *name))
}

/// The linear model's CPU watts at utilisation `u` (clamped to 0..=1): `idle_share` of `max_w`
/// at idle, all of it at full load. The meter and `greenai estimate` both call it.
pub fn linear_cpu_watts(max_w: f64, idle_share: f64, u: f64) -> f64 {
    max_w * (idle_share + (1.0 - idle_share) * u.clamp(0.0, 1.0))
}

/// What the model assumes about this machine: a record for reports and `greenai detect`.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineModel {
    pub cpu_model: String,
    pub logical_cpus: usize,
    /// The TDP table entry matched, if any.
    pub tdp_entry: Option<String>,
    pub cpu_max_power: Power,
    pub idle_share: f64,
    pub memory_gib: f64,
    /// The family curve that stands in where the model name has no TDP entry.
    pub curve: Option<CurveBasis>,
    /// What cpuinfo and DMI said of the hardware.
    pub hardware: Hardware,
}

impl MachineModel {
    /// Reads `cpuinfo` and `meminfo` under `proc_root` (no DMI: no cloud instance).
    pub fn detect(proc_root: &Path) -> Result<Self> {
        Self::detect_at(proc_root, None)
    }

    /// Reads `cpuinfo` and `meminfo` under `proc_root`, and the DMI strings under `sysfs_root`.
    pub fn detect_at(proc_root: &Path, sysfs_root: Option<&Path>) -> Result<Self> {
        let (info, cpuinfo) = CpuInfo::read_with_text(proc_root)?;
        let hardware = Hardware::from_parts(&cpuinfo, sysfs_root);
        let cpu_model = info.model.unwrap_or_else(|| "unknown CPU".into());
        let logical_cpus = info.logical_cpus.max(1);
        let n = logical_cpus as f64;
        // The family curve first: on the SPECpower results it misses by a fifth of what one TDP
        // with a straight line does (`greenai estimate --validate`, bench/estimate_validation).
        let curve = hardware
            .curve()
            .or_else(|| crate::hardware::model_curve(&cpu_model));
        let (cpu_max_power, tdp_entry, idle_share) = match (&curve, lookup_tdp(&cpu_model)) {
            (Some(b), _) => (
                Power::from_watts(b.curve.max_w_per_vcpu() * n),
                None,
                b.curve.idle_w_per_vcpu() / b.curve.max_w_per_vcpu(),
            ),
            (None, Some((w, name))) => (
                Power::from_watts(w),
                Some(name.to_string()),
                DEFAULT_IDLE_SHARE,
            ),
            (None, None) => (
                Power::from_watts(DEFAULT_WATTS_PER_THREAD * n),
                None,
                DEFAULT_IDLE_SHARE,
            ),
        };
        Ok(MachineModel {
            cpu_model,
            logical_cpus,
            tdp_entry,
            cpu_max_power,
            idle_share,
            memory_gib: info.memory_bytes as f64 / (1u64 << 30) as f64,
            curve,
            hardware,
        })
    }

    /// CPU power at utilisation `u` (0..=1): the family curve where one stands in, else linear
    /// from the idle share of `cpu_max_power` to all of it.
    pub fn cpu_power(&self, u: f64) -> Power {
        let u = u.clamp(0.0, 1.0);
        match &self.curve {
            Some(b) => Power::from_watts(b.curve.watts_per_vcpu(u) * self.logical_cpus as f64),
            None => Power::from_watts(linear_cpu_watts(
                self.cpu_max_power.watts(),
                self.idle_share,
                u,
            )),
        }
    }

    /// The memory the DRAM term counts, GiB: all of it, less what a fitted curve's servers
    /// carried for as many vCPUs (their memory's power is in the curve already).
    pub fn dram_counted_gib(&self) -> f64 {
        let in_curve = self
            .curve
            .as_ref()
            .and_then(|b| b.curve.memory_gib_per_vcpu)
            .map_or(0.0, |m| m * self.logical_cpus as f64);
        (self.memory_gib - in_curve).max(0.0)
    }

    pub fn dram_power(&self) -> Power {
        Power::from_watts(self.dram_counted_gib() * DRAM_WATTS_PER_GIB)
    }

    fn cpu_uncertainty(&self) -> f64 {
        if let Some(b) = &self.curve {
            b.uncertainty()
        } else if self.tdp_entry.is_some() {
            CPU_UNCERTAINTY_KNOWN_TDP
        } else {
            CPU_UNCERTAINTY_DEFAULT_TDP
        }
    }
}

/// Which components the model stands in for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EstimateTargets {
    pub cpu: bool,
    pub dram: bool,
}

/// Between edges, `/proc/stat` (costly for the kernel to format) is read at most this often.
pub const STAT_PERIOD: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct Part {
    cpu: bool,
    /// Energy up to the last `/proc/stat` reading, exact in the model's terms.
    settled: Energy,
}

/// The model as a sensor: components `cpu-package-est` and `dram-est`.
#[derive(Debug)]
pub struct EstimateSensor {
    stat: StatFile,
    model: MachineModel,
    components: Vec<Component>,
    parts: Vec<Part>,
    last_times: CpuTimes,
    /// When `/proc/stat` was last read: `settled` energies run up to here.
    settled_at: Instant,
    last_util: f64,
}

impl EstimateSensor {
    pub fn open(proc_root: &Path, model: MachineModel, targets: EstimateTargets) -> Result<Self> {
        let mut stat = StatFile::open(proc_root)?;
        let last_times = stat.read()?;
        let mut components = Vec::new();
        let mut parts = Vec::new();
        if targets.cpu {
            let how = match (&model.tdp_entry, &model.curve) {
                (Some(e), _) => format!("TDP {} of {e:?}", model.cpu_max_power),
                (None, Some(b)) => format!(
                    "{} curve ({}) × {} vCPUs: {}",
                    b.curve.family,
                    b.curve.basis(),
                    model.logical_cpus,
                    b.why
                ),
                (None, None) => format!(
                    "{} W per logical CPU × {} (model not in the TDP table)",
                    DEFAULT_WATTS_PER_THREAD, model.logical_cpus
                ),
            };
            components.push(Component {
                id: "cpu-package-est".into(),
                kind: ComponentKind::CpuPackage,
                sensor: format!(
                    "{MODEL_SENSOR}cpu ({how}; idle share {:.2}; utilisation from /proc/stat)",
                    model.idle_share
                ),
                provenance: Provenance::Estimated,
                uncertainty: Some(model.cpu_uncertainty()),
                counted: true,
                within: None,
            });
            parts.push(Part {
                cpu: true,
                settled: Energy::ZERO,
            });
        }
        if targets.dram {
            components.push(Component {
                id: "dram-est".into(),
                kind: ComponentKind::Dram,
                sensor: if model.dram_counted_gib() < model.memory_gib {
                    format!(
                        "{MODEL_SENSOR}dram ({:.1} GiB beyond the {:.1} GiB the CPU curve's servers carry × {} W/GiB)",
                        model.dram_counted_gib(),
                        model.memory_gib - model.dram_counted_gib(),
                        DRAM_WATTS_PER_GIB
                    )
                } else {
                    format!(
                        "{MODEL_SENSOR}dram ({:.1} GiB × {} W/GiB)",
                        model.memory_gib, DRAM_WATTS_PER_GIB
                    )
                },
                provenance: Provenance::Estimated,
                uncertainty: Some(DRAM_UNCERTAINTY),
                counted: true,
                within: None,
            });
            parts.push(Part {
                cpu: false,
                settled: Energy::ZERO,
            });
        }
        if parts.is_empty() {
            return Err(MeterError::Invalid(
                "the estimate sensor was asked to cover nothing".into(),
            ));
        }
        Ok(EstimateSensor {
            stat,
            model,
            components,
            parts,
            last_times,
            settled_at: Instant::now(),
            last_util: 0.0,
        })
    }

    pub fn model(&self) -> &MachineModel {
        &self.model
    }
}

impl EnergySensor for EstimateSensor {
    fn interface(&self) -> &'static str {
        "estimate"
    }

    fn components(&self) -> &[Component] {
        &self.components
    }

    /// The energy between two `/proc/stat` readings is the power at their mean utilisation
    /// (exact for the linear TDP model; for a family curve, the curve at the interval's mean). Between them the sensor reports the idle floor (a
    /// lower bound, so the counter never runs backwards) and the next reading settles the rest;
    /// the power it reports is the last utilisation's, for the series.
    fn read(&mut self) -> Result<Vec<Reading>> {
        if self.settled_at.elapsed() >= STAT_PERIOD {
            self.settle()?;
        }
        Ok(self.readings())
    }

    fn read_edge(&mut self) -> Result<Vec<Reading>> {
        self.settle()?;
        Ok(self.readings())
    }
}

impl EstimateSensor {
    fn power_of(&self, cpu: bool, util: f64) -> Power {
        if cpu {
            self.model.cpu_power(util)
        } else {
            self.model.dram_power()
        }
    }

    /// Reads `/proc/stat` and adds the energy since the last reading.
    fn settle(&mut self) -> Result<()> {
        let now = Instant::now();
        let times = self.stat.read()?;
        // Clock ticks are 10 ms: over a shorter span keep the last utilisation.
        if let Some(u) = times.utilisation_since(&self.last_times) {
            self.last_util = u;
            self.last_times = times;
        }
        let dt = now.duration_since(self.settled_at);
        for i in 0..self.parts.len() {
            let p = self.power_of(self.parts[i].cpu, self.last_util);
            self.parts[i].settled += p * dt;
        }
        self.settled_at = now;
        Ok(())
    }

    fn readings(&self) -> Vec<Reading> {
        let since = self.settled_at.elapsed();
        self.parts
            .iter()
            .map(|p| Reading {
                energy: Some(p.settled + self.power_of(p.cpu, 0.0) * since),
                power: Some(self.power_of(p.cpu, self.last_util)),
                utilisation: p.cpu.then_some(self.last_util),
                failed: false,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_models_find_their_tdp() {
        assert_eq!(
            lookup_tdp("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz"),
            Some((150.0, "Intel Xeon Gold 6248"))
        );
        assert_eq!(
            lookup_tdp("AMD EPYC 7763 64-Core Processor"),
            Some((280.0, "AMD EPYC 7763"))
        );
        // The R suffix is another part with another TDP.
        assert_eq!(
            lookup_tdp("Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz").map(|t| t.0),
            Some(205.0)
        );
    }

    #[test]
    fn generic_names_fall_back_instead_of_guessing() {
        assert_eq!(lookup_tdp("Intel(R) Xeon(R) Processor"), None);
        assert_eq!(lookup_tdp("QEMU Virtual CPU version 2.5+"), None);
    }

    #[test]
    fn cpu_power_is_linear_between_idle_and_tdp() {
        let m = MachineModel {
            cpu_model: "x".into(),
            logical_cpus: 2,
            tdp_entry: None,
            cpu_max_power: Power::from_watts(100.0),
            idle_share: 0.3,
            memory_gib: 16.0,
            curve: None,
            hardware: Hardware::default(),
        };
        assert_eq!(m.cpu_power(0.0), Power::from_watts(30.0));
        assert_eq!(m.cpu_power(1.0), Power::from_watts(100.0));
        assert_eq!(m.cpu_power(2.0), Power::from_watts(100.0));
        assert_eq!(m.dram_power(), Power::from_watts(6.0));
    }

    /// A cloud guest's generic name: its generation from family and model, its curve per vCPU.
    #[test]
    fn a_generic_name_gets_its_generation_curve() {
        let dir = tempfile::tempdir().unwrap();
        let block = "vendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n\
                     model name\t: AMD EPYC\nflags\t\t: avx2 avx512f hypervisor\n";
        std::fs::write(
            dir.path().join("cpuinfo"),
            format!("processor\t: 0\n{block}\nprocessor\t: 1\n{block}"),
        )
        .unwrap();
        let m = MachineModel::detect(dir.path()).unwrap();
        let b = m.curve.as_ref().expect("a curve for Zen 4");
        assert_eq!((b.curve.family, b.exact), ("AMD EPYC 3rd Gen", false));
        assert!(b.why.contains("Zen 4"), "{}", b.why);
        // A stand-in's band: at least what predecessors' curves missed by on the results.
        let stand_in = crate::hardware::specpower::stand_in_uncertainty();
        assert!(m.cpu_uncertainty() >= stand_in && stand_in > b.curve.uncertainty);
        let c = b.curve;
        assert!((m.cpu_power(1.0).watts() - 2.0 * c.max_w_per_vcpu()).abs() < 1e-9);
        assert!((m.cpu_power(0.0).watts() - 2.0 * c.idle_w_per_vcpu()).abs() < 1e-9);
        // At low load the fitted curve sits above the straight line between its ends.
        let (idle, max) = (2.0 * c.idle_w_per_vcpu(), 2.0 * c.max_w_per_vcpu());
        assert!(m.cpu_power(0.1).watts() > idle + (max - idle) * 0.1 + 0.2);
        // A name the TDP table knows but with no family anywhere keeps its TDP.
        std::fs::write(
            dir.path().join("cpuinfo"),
            "processor\t: 0\nmodel name\t: Intel(R) Pentium(R) CPU G4560 @ 3.50GHz\n",
        )
        .unwrap();
        let known = MachineModel::detect(dir.path()).unwrap();
        assert!(
            known.curve.is_none() && known.tdp_entry.is_some(),
            "{known:?}"
        );
    }

    #[test]
    fn detect_reads_a_fixture_proc_tree() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("cpuinfo"),
            "processor\t: 0\nmodel name\t: AMD EPYC 7763 64-Core Processor\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7763 64-Core Processor\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("meminfo"), "MemTotal:       16777216 kB\n").unwrap();
        let m = MachineModel::detect(dir.path()).unwrap();
        assert_eq!(m.logical_cpus, 2);
        // No family and model in this cpuinfo: the name's number finds the family's curve.
        let b = m
            .curve
            .as_ref()
            .expect("EPYC 7763 is in the SPECpower results");
        assert_eq!((b.curve.family, b.exact), ("AMD EPYC 3rd Gen", true));
        assert_eq!(
            m.cpu_max_power,
            Power::from_watts(2.0 * b.curve.max_w_per_vcpu())
        );
        assert!(m.tdp_entry.is_none());
        assert_eq!(m.memory_gib, 16.0);
        // The curve's servers carried memory whose power it includes: the DRAM term counts the rest.
        let carried = b.curve.memory_gib_per_vcpu.unwrap() * 2.0;
        assert!(carried > 0.5 && carried < 8.0, "{carried}");
        assert!((m.dram_counted_gib() - (16.0 - carried)).abs() < 1e-9);
        assert_eq!(
            m.dram_power(),
            Power::from_watts((16.0 - carried) * DRAM_WATTS_PER_GIB)
        );
    }
}
