//! Finding the machine's sensors, deciding which component each one covers, and explaining what
//! is missing.

use crate::component::{Component, ComponentKind, Missing};
use crate::error::MeterError;
use crate::monitor::MonitorBuilder;
use crate::sensor::EnergySensor;
use crate::sensors::estimate::{EstimateSensor, EstimateTargets, MachineModel};
use crate::sensors::hwmon::HwmonSensor;
use crate::sensors::nvml::{GpuLibrary, NvmlLibrary, NvmlSensor};
use crate::sensors::powercap::PowercapSensor;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Where to look for sensors.
pub struct DiscoverOptions {
    pub sysfs_root: PathBuf,
    pub proc_root: PathBuf,
    /// Look for NVIDIA GPUs (off in tests that must not touch a real driver).
    pub nvml: bool,
    /// A GPU library to use instead of the real NVML (a fake in tests).
    pub gpu_library: Option<Box<dyn GpuLibrary>>,
    pub cuda_visible_devices: Option<String>,
}

impl DiscoverOptions {
    /// The real machine: `$GREENAI_SYSFS_ROOT` (or `/sys`), `/proc`, NVML unless
    /// `GREENAI_NVML=off` (tests that must not touch a real driver set it), `CUDA_VISIBLE_DEVICES`.
    pub fn from_env() -> Self {
        DiscoverOptions {
            sysfs_root: crate::sysfs::sysfs_root(),
            proc_root: PathBuf::from("/proc"),
            nvml: std::env::var("GREENAI_NVML").map_or(true, |v| v != "off"),
            gpu_library: None,
            cuda_visible_devices: std::env::var("CUDA_VISIBLE_DEVICES").ok(),
        }
    }
}

/// How one interface fared.
#[derive(Debug, Clone, Serialize)]
pub struct InterfaceStatus {
    pub interface: &'static str,
    pub available: bool,
    /// Why it is unavailable, or what it skipped.
    pub notes: Vec<String>,
    /// The fix, for a permission problem.
    pub fix: Option<String>,
    pub components: Vec<Component>,
}

/// What `discover` found: the basis of `greenai detect` and of the machine's monitor.
#[derive(Debug, Clone, Serialize)]
pub struct DetectReport {
    pub interfaces: Vec<InterfaceStatus>,
    /// Every component, with what is counted decided across interfaces.
    pub components: Vec<Component>,
    pub missing: Vec<Missing>,
    /// The model's assumptions, where the model stands in for a component.
    pub model: Option<ModelSummary>,
    /// GPU-class devices on the PCI bus, measured or not (a GPU without a driver greenai reads
    /// shows here and nowhere else).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gpus_visible: Vec<crate::hardware::gpu::PciGpu>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelSummary {
    pub cpu_model: String,
    pub logical_cpus: usize,
    pub tdp_entry: Option<String>,
    pub cpu_max_power_w: f64,
    pub idle_share: f64,
    pub memory_gib: f64,
    /// The family curve standing in for a name without a TDP entry, and why that family.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub curve_family: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub curve_why: Option<String>,
    /// The CPU generation cpuinfo's identifiers name, and the evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<String>,
    pub cpu_id: String,
    pub virtual_machine: bool,
    /// The cloud the DMI strings name (`AWS c6a.large`), and its host's embodied emissions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embodied: Option<crate::hardware::EmbodiedDefault>,
}

impl DetectReport {
    /// True when greenai can measure at least by estimate.
    pub fn can_measure(&self) -> bool {
        self.components.iter().any(|c| c.counted)
    }
}

/// The sensors found, ready for a monitor.
pub struct Discovery {
    pub report: DetectReport,
    pub sensors: Vec<Box<dyn EnergySensor>>,
}

impl Discovery {
    /// A monitor builder holding every sensor found, with the counting decisions applied.
    pub fn into_builder(self) -> MonitorBuilder {
        let mut b = MonitorBuilder::default();
        for s in self.sensors {
            b = b.sensor(s);
        }
        for c in b.components_mut() {
            if let Some(d) = self.report.components.iter().find(|d| d.id == c.id) {
                c.counted = d.counted;
                c.within = d.within.clone();
            }
        }
        for m in self.report.missing {
            b = b.missing(m);
        }
        b
    }
}

fn status_of(interface: &'static str, e: &MeterError) -> InterfaceStatus {
    let fix = match e {
        MeterError::PermissionDenied { hint, .. } => Some(hint.clone()),
        _ => None,
    };
    InterfaceStatus {
        interface,
        available: false,
        notes: vec![e.to_string()],
        fix,
        components: Vec::new(),
    }
}

/// Opens every interface that exists and decides, across them, what is counted.
pub fn discover(mut opts: DiscoverOptions) -> Discovery {
    let mut interfaces = Vec::new();
    let mut sensors: Vec<Box<dyn EnergySensor>> = Vec::new();
    let mut missing = Vec::new();

    match PowercapSensor::open(&opts.sysfs_root) {
        Ok(s) => {
            interfaces.push(InterfaceStatus {
                interface: "powercap",
                available: true,
                notes: s
                    .skipped()
                    .iter()
                    .map(|e| format!("skipped: {e}"))
                    .collect(),
                fix: s.skipped().iter().find_map(|e| match e {
                    MeterError::PermissionDenied { hint, .. } => Some(hint.clone()),
                    _ => None,
                }),
                components: s.components().to_vec(),
            });
            sensors.push(Box::new(s));
        }
        Err(e) => interfaces.push(status_of("powercap", &e)),
    }
    match HwmonSensor::open(&opts.sysfs_root) {
        Ok(s) => {
            interfaces.push(InterfaceStatus {
                interface: "hwmon",
                available: true,
                notes: Vec::new(),
                fix: None,
                components: s.components().to_vec(),
            });
            sensors.push(Box::new(s));
        }
        Err(e) => interfaces.push(status_of("hwmon", &e)),
    }
    if !opts.nvml && opts.gpu_library.is_none() {
        missing.push(Missing {
            kind: ComponentKind::Gpu,
            sensor: "nvml".into(),
            reason: "NVIDIA GPUs not looked for (GREENAI_NVML=off)".into(),
        });
    }
    if opts.nvml || opts.gpu_library.is_some() {
        let opened = match opts.gpu_library.take() {
            Some(lib) => {
                NvmlSensor::from_library(lib.as_ref(), opts.cuda_visible_devices.as_deref())
            }
            None => NvmlLibrary::load().and_then(|lib| {
                NvmlSensor::from_library(&lib, opts.cuda_visible_devices.as_deref())
            }),
        };
        match opened {
            Ok(s) => {
                interfaces.push(InterfaceStatus {
                    interface: "nvml",
                    available: true,
                    notes: Vec::new(),
                    fix: None,
                    components: s.components().to_vec(),
                });
                sensors.push(Box::new(s));
            }
            Err(e) => {
                missing.push(Missing {
                    kind: ComponentKind::Gpu,
                    sensor: "nvml".into(),
                    reason: format!("NVIDIA GPUs not measured: {e}"),
                });
                interfaces.push(status_of("nvml", &e));
            }
        }
    }

    let mut components: Vec<Component> = sensors
        .iter()
        .flat_map(|s| s.components().iter().cloned())
        .collect();
    resolve_overlaps(&mut components);

    let covered = |components: &[Component], kind: ComponentKind| {
        components.iter().any(|c| c.counted && c.kind == kind)
    };
    let platform = covered(&components, ComponentKind::Platform);
    let targets = EstimateTargets {
        cpu: !platform && !covered(&components, ComponentKind::CpuPackage),
        dram: !platform && !covered(&components, ComponentKind::Dram),
    };
    // The model runs wherever it can: standing in for what no sensor covers, and beside the
    // sensors for the rest (kept, not added), so a run on a measured machine says how far the
    // estimate would have been (`Measurement::model_check`).
    let mut model_summary = None;
    let opened = MachineModel::detect_at(&opts.proc_root, Some(&opts.sysfs_root)).and_then(|m| {
        model_summary = Some(summary_of(&m));
        EstimateSensor::open(
            &opts.proc_root,
            m,
            EstimateTargets {
                cpu: true,
                dram: true,
            },
        )
    });
    let label = |on: bool| {
        [("CPU", targets.cpu), ("DRAM", targets.dram)]
            .iter()
            .filter(|t| t.1 == on)
            .map(|t| t.0)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match opened {
        Ok(s) => {
            let mut mine = s.components().to_vec();
            for c in &mut mine {
                let needed = match c.kind {
                    ComponentKind::CpuPackage => targets.cpu,
                    _ => targets.dram,
                };
                if !needed {
                    c.counted = false;
                    c.within = Some(BESIDE.into());
                }
            }
            let mut notes = Vec::new();
            if targets.cpu || targets.dram {
                notes.push(format!("stands in for: {}", label(true)));
            }
            if !(targets.cpu && targets.dram) {
                notes.push(format!(
                    "beside the sensors, for comparison (not added): {}",
                    label(false)
                ));
            }
            components.extend(mine.iter().cloned());
            interfaces.push(InterfaceStatus {
                interface: "estimate",
                available: true,
                notes,
                fix: None,
                components: mine,
            });
            sensors.push(Box::new(s));
        }
        Err(e) => {
            for (kind, on) in [
                (ComponentKind::CpuPackage, targets.cpu),
                (ComponentKind::Dram, targets.dram),
            ] {
                if on {
                    missing.push(Missing {
                        kind,
                        sensor: "estimate".into(),
                        reason: format!("no sensor, and the model failed: {e}"),
                    });
                }
            }
            interfaces.push(status_of("estimate", &e));
        }
    }

    Discovery {
        report: DetectReport {
            interfaces,
            components,
            missing,
            model: model_summary,
            gpus_visible: crate::hardware::gpu::visible_gpus(&opts.sysfs_root),
        },
        sensors,
    }
}

/// Why a model component is present but not added.
pub const BESIDE: &str = "the model's figure beside the sensors', for comparison";

fn summary_of(m: &MachineModel) -> ModelSummary {
    let hw = &m.hardware;
    ModelSummary {
        cpu_model: m.cpu_model.clone(),
        logical_cpus: m.logical_cpus,
        tdp_entry: m.tdp_entry.clone(),
        cpu_max_power_w: m.cpu_max_power.watts(),
        idle_share: m.idle_share,
        memory_gib: m.memory_gib,
        curve_family: m.curve.as_ref().map(|b| b.curve.family.to_string()),
        curve_why: m.curve.as_ref().map(|b| b.why.clone()),
        generation: hw.generation.map(|g| g.name.to_string()),
        cpu_id: crate::hardware::cpu::evidence(&hw.cpu),
        virtual_machine: hw.cpu.virtual_machine,
        cloud: hw.cloud.as_ref().map(|c| match &c.instance {
            Some(i) => format!(
                "{} {i}{}",
                c.provider,
                if c.known.is_some() {
                    ""
                } else {
                    " (not in the bundled table)"
                }
            ),
            None => format!("{} (instance type not named locally)", c.provider),
        }),
        embodied: hw.embodied(),
    }
}

/// Decisions across interfaces: hwmon CPU counters (`amd_energy`) duplicate RAPL packages, and a
/// whole-platform reading is counted only where nothing else covers the CPU.
pub fn resolve_overlaps(components: &mut [Component]) {
    let rapl_package = components.iter().any(|c| {
        c.counted && c.kind == ComponentKind::CpuPackage && c.sensor.starts_with("powercap:")
    });
    for c in components.iter_mut() {
        if rapl_package
            && c.sensor.starts_with("hwmon:")
            && matches!(c.kind, ComponentKind::CpuPackage | ComponentKind::CpuCore)
        {
            c.counted = false;
            c.within = Some("duplicates the powercap package counter".into());
        }
    }
    let cpu = components
        .iter()
        .any(|c| c.counted && c.kind == ComponentKind::CpuPackage);
    if !cpu {
        if let Some(p) = components
            .iter_mut()
            .find(|c| c.kind == ComponentKind::Platform)
        {
            p.counted = true;
            p.within = None;
        }
    }
}

/// The machine's monitor builder: every sensor found under the environment's roots.
pub fn machine_builder() -> (MonitorBuilder, DetectReport) {
    let d = discover(DiscoverOptions::from_env());
    let report = d.report.clone();
    (d.into_builder(), report)
}

/// Convenience for callers that only hold a sysfs root.
pub fn discover_at(sysfs_root: &Path, proc_root: &Path, nvml: bool) -> Discovery {
    discover(DiscoverOptions {
        sysfs_root: sysfs_root.to_path_buf(),
        proc_root: proc_root.to_path_buf(),
        nvml,
        gpu_library: None,
        cuda_visible_devices: None,
    })
}
