//! NVIDIA GPUs through NVML, loaded at run time so that greenai runs where no driver exists.
//!
//! A GPU with a total-energy counter (Volta and newer) is measured by the counter; its power
//! readings are kept beside it, and the monitor reports how far their integral disagrees (on
//! A100/H100 a power reading covers only part of each second, so the counter is the primary
//! figure). An older GPU is integrated from its power readings. `CUDA_VISIBLE_DEVICES` limits the
//! GPUs to those a CUDA program would see (indices in NVML order, or `GPU-…` UUID prefixes).
//!
//! The [`GpuLibrary`] and [`GpuDevice`] traits are the thin layer over `nvml-wrapper`, so a fake
//! GPU stands in for tests.

use crate::component::{Component, ComponentKind, Provenance, Reading};
use crate::error::{MeterError, Result};
use crate::sensor::EnergySensor;
use greenai_units::{Energy, Power};
use std::collections::HashSet;
use std::sync::Arc;

/// Per-process SM utilisation samples `(pid, percent)` and the newest sample's timestamp (µs).
pub type ProcessUtilisation = (Vec<(u32, u32)>, u64);

/// One GPU, as far as the meter needs it.
pub trait GpuDevice: Send {
    fn name(&self) -> String;
    fn uuid(&self) -> String;
    /// Total energy since the driver loaded, in millijoules; `Ok(None)` where the GPU has no
    /// counter.
    fn total_energy_mj(&self) -> Result<Option<u64>>;
    /// Power in milliwatts; `Ok(None)` where unsupported.
    fn power_mw(&self) -> Result<Option<u32>>;
    /// GPU busy share over the driver's last sample period, in percent.
    fn utilisation_percent(&self) -> Result<Option<u32>>;
    /// SM utilisation per process since `since_us` (a CPU timestamp in µs), and the newest
    /// timestamp seen. `Ok(None)` where the driver does not offer it.
    fn process_utilisation(&self, since_us: u64) -> Result<Option<ProcessUtilisation>>;
    /// Processes holding a compute context on the GPU.
    fn compute_pids(&self) -> Result<Vec<u32>>;
}

/// A source of GPUs: NVML itself, or a fake.
pub trait GpuLibrary {
    fn devices(&self) -> Result<Vec<Box<dyn GpuDevice>>>;
}

/// The real library, through `nvml-wrapper`.
pub struct NvmlLibrary {
    nvml: Arc<nvml_wrapper::Nvml>,
}

impl NvmlLibrary {
    /// Loads `libnvidia-ml.so` (or `.so.1`) and initialises NVML.
    pub fn load() -> Result<Self> {
        let nvml = nvml_wrapper::Nvml::init()
            .or_else(|_| {
                nvml_wrapper::Nvml::builder()
                    .lib_path("libnvidia-ml.so.1".as_ref())
                    .init()
            })
            .map_err(|e| MeterError::Unavailable {
                reason: format!(
                    "NVML is not available ({e}): no NVIDIA driver, or libnvidia-ml.so.1 is not on the library path"
                ),
            })?;
        Ok(NvmlLibrary {
            nvml: Arc::new(nvml),
        })
    }
}

fn nvml_err(what: &str, e: nvml_wrapper::error::NvmlError) -> MeterError {
    use nvml_wrapper::error::NvmlError as E;
    match e {
        E::NoPermission => MeterError::PermissionDenied {
            path: "/dev/nvidia*".into(),
            hint: format!("NVML refused {what}; run as a user in the video group, or as root"),
        },
        E::NotSupported | E::FunctionNotFound => MeterError::Unsupported {
            reason: format!("{what} is not supported by this GPU or driver"),
        },
        E::GpuLost | E::Timeout | E::Unknown => MeterError::Transient {
            reason: format!("{what}: {e}"),
        },
        other => MeterError::Unsupported {
            reason: format!("{what}: {other}"),
        },
    }
}

struct NvmlDevice {
    nvml: Arc<nvml_wrapper::Nvml>,
    index: u32,
    name: String,
    uuid: String,
}

impl NvmlDevice {
    fn with<T>(
        &self,
        what: &str,
        f: impl FnOnce(
            &nvml_wrapper::Device<'_>,
        ) -> std::result::Result<T, nvml_wrapper::error::NvmlError>,
    ) -> Result<Option<T>> {
        let dev = self
            .nvml
            .device_by_index(self.index)
            .map_err(|e| nvml_err("opening the GPU", e))?;
        match f(&dev) {
            Ok(v) => Ok(Some(v)),
            Err(nvml_wrapper::error::NvmlError::NotSupported) => Ok(None),
            Err(nvml_wrapper::error::NvmlError::NotFound) => Ok(None),
            Err(e) => Err(nvml_err(what, e)),
        }
    }
}

impl GpuDevice for NvmlDevice {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn uuid(&self) -> String {
        self.uuid.clone()
    }
    fn total_energy_mj(&self) -> Result<Option<u64>> {
        self.with("reading total energy", |d| d.total_energy_consumption())
    }
    fn power_mw(&self) -> Result<Option<u32>> {
        self.with("reading power", |d| d.power_usage())
    }
    fn utilisation_percent(&self) -> Result<Option<u32>> {
        Ok(self
            .with("reading utilisation", |d| d.utilization_rates())?
            .map(|u| u.gpu))
    }
    fn process_utilisation(&self, since_us: u64) -> Result<Option<ProcessUtilisation>> {
        Ok(self
            .with("reading process utilisation", |d| {
                d.process_utilization_stats(since_us)
            })?
            .map(|samples| {
                let newest = samples
                    .iter()
                    .map(|s| s.timestamp)
                    .max()
                    .unwrap_or(since_us);
                (samples.iter().map(|s| (s.pid, s.sm_util)).collect(), newest)
            }))
    }
    fn compute_pids(&self) -> Result<Vec<u32>> {
        Ok(self
            .with("listing compute processes", |d| {
                d.running_compute_processes()
            })?
            .map(|ps| ps.into_iter().map(|p| p.pid).collect())
            .unwrap_or_default())
    }
}

impl GpuLibrary for NvmlLibrary {
    fn devices(&self) -> Result<Vec<Box<dyn GpuDevice>>> {
        let count = self
            .nvml
            .device_count()
            .map_err(|e| nvml_err("counting GPUs", e))?;
        let mut out: Vec<Box<dyn GpuDevice>> = Vec::new();
        for index in 0..count {
            let dev = self
                .nvml
                .device_by_index(index)
                .map_err(|e| nvml_err("opening a GPU", e))?;
            out.push(Box::new(NvmlDevice {
                nvml: Arc::clone(&self.nvml),
                index,
                name: dev.name().unwrap_or_else(|_| "NVIDIA GPU".into()),
                uuid: dev.uuid().unwrap_or_default(),
            }));
        }
        Ok(out)
    }
}

/// Which of `n` GPUs (in NVML order, with their UUIDs) `CUDA_VISIBLE_DEVICES` leaves visible.
///
/// Unset: all. Empty or `-1`: none. Otherwise a comma-separated list of indices or UUID
/// prefixes; as in CUDA, the list stops at the first entry that matches no GPU.
pub fn visible_devices(spec: Option<&str>, uuids: &[String]) -> Vec<usize> {
    let Some(spec) = spec else {
        return (0..uuids.len()).collect();
    };
    let mut out = Vec::new();
    for item in spec.split(',').map(str::trim) {
        let found = if let Ok(i) = item.parse::<i64>() {
            (i >= 0 && (i as usize) < uuids.len()).then_some(i as usize)
        } else if item.starts_with("GPU-") || item.starts_with("MIG-") {
            uuids.iter().position(|u| u.starts_with(item))
        } else {
            None
        };
        match found {
            Some(i) if !out.contains(&i) => out.push(i),
            Some(_) => {}
            None => break,
        }
    }
    out
}

struct Gpu {
    device: Box<dyn GpuDevice>,
    has_counter: bool,
    first_mj: u64,
    last_util_us: u64,
}

/// Reads the energy, power and utilisation of each visible NVIDIA GPU.
pub struct NvmlSensor {
    components: Vec<Component>,
    gpus: Vec<Gpu>,
}

impl NvmlSensor {
    /// Opens the real NVML, honouring `CUDA_VISIBLE_DEVICES`.
    pub fn open() -> Result<Self> {
        let lib = NvmlLibrary::load()?;
        let spec = std::env::var("CUDA_VISIBLE_DEVICES").ok();
        Self::from_library(&lib, spec.as_deref())
    }

    /// Opens the GPUs of any [`GpuLibrary`] (a fake one in tests).
    pub fn from_library(lib: &dyn GpuLibrary, cuda_visible: Option<&str>) -> Result<Self> {
        let all = lib.devices()?;
        let uuids: Vec<String> = all.iter().map(|d| d.uuid()).collect();
        let keep = visible_devices(cuda_visible, &uuids);
        let mut by_index: Vec<Option<Box<dyn GpuDevice>>> = all.into_iter().map(Some).collect();
        let mut sensor = NvmlSensor {
            components: Vec::new(),
            gpus: Vec::new(),
        };
        for (cuda_index, nvml_index) in keep.into_iter().enumerate() {
            let device = by_index[nvml_index]
                .take()
                .expect("visible_devices yields each index once");
            let first = device.total_energy_mj()?;
            let has_counter = first.is_some();
            if !has_counter && device.power_mw()?.is_none() {
                return Err(MeterError::Unsupported {
                    reason: format!(
                        "GPU {nvml_index} ({}) reports neither total energy nor power",
                        device.name()
                    ),
                });
            }
            sensor.components.push(Component {
                id: format!("gpu-{cuda_index}"),
                kind: ComponentKind::Gpu,
                sensor: format!("nvml:{} {}", device.name(), device.uuid()),
                provenance: if has_counter {
                    Provenance::Measured
                } else {
                    Provenance::Integrated
                },
                uncertainty: None,
                counted: true,
                within: None,
            });
            sensor.gpus.push(Gpu {
                device,
                has_counter,
                first_mj: first.unwrap_or(0),
                last_util_us: 0,
            });
        }
        if sensor.gpus.is_empty() {
            return Err(MeterError::Unavailable {
                reason: match cuda_visible {
                    Some(s) => format!("no NVIDIA GPU is visible (CUDA_VISIBLE_DEVICES={s:?})"),
                    None => "NVML found no NVIDIA GPU".into(),
                },
            });
        }
        Ok(sensor)
    }
}

impl EnergySensor for NvmlSensor {
    fn interface(&self) -> &'static str {
        "nvml"
    }

    fn components(&self) -> &[Component] {
        &self.components
    }

    fn read(&mut self) -> Result<Vec<Reading>> {
        let mut out = Vec::with_capacity(self.gpus.len());
        for gpu in &self.gpus {
            let energy = if gpu.has_counter {
                gpu.device
                    .total_energy_mj()?
                    .map(|mj| Energy::from_millijoules(mj.saturating_sub(gpu.first_mj) as f64))
            } else {
                None
            };
            out.push(Reading {
                energy,
                power: gpu
                    .device
                    .power_mw()?
                    .map(|mw| Power::from_milliwatts(mw as f64)),
                utilisation: gpu
                    .device
                    .utilisation_percent()?
                    .map(|u| (u as f64 / 100.0).clamp(0.0, 1.0)),
                failed: false,
            });
        }
        Ok(out)
    }

    /// Per-process SM utilisation where the driver reports it; otherwise the whole device when a
    /// tracked process holds a compute context on it, and nothing when none does.
    fn process_share(&mut self, pids: &HashSet<u32>) -> Vec<Option<f64>> {
        self.gpus
            .iter_mut()
            .map(|gpu| {
                if let Ok(Some((samples, newest))) =
                    gpu.device.process_utilisation(gpu.last_util_us)
                {
                    gpu.last_util_us = newest;
                    let all: u32 = samples.iter().map(|s| s.1).sum();
                    if all > 0 {
                        let ours: u32 = samples
                            .iter()
                            .filter(|s| pids.contains(&s.0))
                            .map(|s| s.1)
                            .sum();
                        return Some(ours as f64 / all as f64);
                    }
                }
                let users = gpu.device.compute_pids().ok()?;
                Some(if users.iter().any(|p| pids.contains(p)) {
                    1.0
                } else {
                    0.0
                })
            })
            .collect()
    }
}

/// A scripted GPU for tests and examples: energy and power advance as the test says.
pub mod fake {
    use super::*;
    use std::sync::Mutex;

    /// The state a test drives.
    #[derive(Debug, Default, Clone)]
    pub struct FakeGpuState {
        /// `None`: the GPU has no energy counter (pre-Volta).
        pub energy_mj: Option<u64>,
        pub power_mw: Option<u32>,
        pub utilisation_percent: Option<u32>,
        /// (pid, SM %) samples; `None`: the driver does not report per-process utilisation.
        pub process_util: Option<Vec<(u32, u32)>>,
        pub compute_pids: Vec<u32>,
    }

    /// A fake GPU whose state is shared with the test through an `Arc<Mutex<_>>`.
    #[derive(Clone)]
    pub struct FakeGpu {
        pub name: String,
        pub uuid: String,
        pub state: Arc<Mutex<FakeGpuState>>,
    }

    impl FakeGpu {
        pub fn new(uuid: &str, state: FakeGpuState) -> Self {
            FakeGpu {
                name: "Fake GPU".into(),
                uuid: uuid.into(),
                state: Arc::new(Mutex::new(state)),
            }
        }
    }

    impl GpuDevice for FakeGpu {
        fn name(&self) -> String {
            self.name.clone()
        }
        fn uuid(&self) -> String {
            self.uuid.clone()
        }
        fn total_energy_mj(&self) -> Result<Option<u64>> {
            Ok(self.state.lock().unwrap().energy_mj)
        }
        fn power_mw(&self) -> Result<Option<u32>> {
            Ok(self.state.lock().unwrap().power_mw)
        }
        fn utilisation_percent(&self) -> Result<Option<u32>> {
            Ok(self.state.lock().unwrap().utilisation_percent)
        }
        fn process_utilisation(&self, since_us: u64) -> Result<Option<ProcessUtilisation>> {
            Ok(self
                .state
                .lock()
                .unwrap()
                .process_util
                .clone()
                .map(|s| (s, since_us + 1)))
        }
        fn compute_pids(&self) -> Result<Vec<u32>> {
            Ok(self.state.lock().unwrap().compute_pids.clone())
        }
    }

    /// A library of fake GPUs.
    pub struct FakeLibrary(pub Vec<FakeGpu>);

    impl GpuLibrary for FakeLibrary {
        fn devices(&self) -> Result<Vec<Box<dyn GpuDevice>>> {
            Ok(self
                .0
                .iter()
                .map(|g| Box::new(g.clone()) as Box<dyn GpuDevice>)
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::*;
    use super::*;

    fn uuids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("GPU-{i}aaa-bbbb")).collect()
    }

    #[test]
    fn cuda_visible_devices_selects_and_orders() {
        let u = uuids(4);
        assert_eq!(visible_devices(None, &u), vec![0, 1, 2, 3]);
        assert_eq!(visible_devices(Some("2,0"), &u), vec![2, 0]);
        assert_eq!(visible_devices(Some(""), &u), Vec::<usize>::new());
        assert_eq!(visible_devices(Some("-1"), &u), Vec::<usize>::new());
        // CUDA stops at the first invalid entry.
        assert_eq!(visible_devices(Some("1,7,2"), &u), vec![1]);
        assert_eq!(visible_devices(Some("GPU-3aa"), &u), vec![3]);
    }

    #[test]
    fn counter_is_primary_and_power_is_kept() {
        let gpu = FakeGpu::new(
            "GPU-0",
            FakeGpuState {
                energy_mj: Some(1_000_000),
                power_mw: Some(250_000),
                utilisation_percent: Some(80),
                ..Default::default()
            },
        );
        let lib = FakeLibrary(vec![gpu.clone()]);
        let mut s = NvmlSensor::from_library(&lib, None).unwrap();
        assert_eq!(s.components()[0].provenance, Provenance::Measured);
        gpu.state.lock().unwrap().energy_mj = Some(1_002_500);
        let r = s.read().unwrap();
        assert_eq!(r[0].energy, Some(Energy::from_joules(2.5)));
        assert_eq!(r[0].power, Some(Power::from_watts(250.0)));
        assert_eq!(r[0].utilisation, Some(0.8));
    }

    #[test]
    fn old_gpu_is_integrated_from_power() {
        let lib = FakeLibrary(vec![FakeGpu::new(
            "GPU-0",
            FakeGpuState {
                power_mw: Some(100_000),
                ..Default::default()
            },
        )]);
        let mut s = NvmlSensor::from_library(&lib, None).unwrap();
        assert_eq!(s.components()[0].provenance, Provenance::Integrated);
        assert_eq!(s.read().unwrap()[0].energy, None);
    }

    #[test]
    fn hidden_gpus_are_not_read_and_ids_follow_cuda_order() {
        let lib = FakeLibrary(
            (0..3)
                .map(|i| {
                    FakeGpu::new(
                        &format!("GPU-{i}"),
                        FakeGpuState {
                            energy_mj: Some(0),
                            ..Default::default()
                        },
                    )
                })
                .collect(),
        );
        let s = NvmlSensor::from_library(&lib, Some("2")).unwrap();
        assert_eq!(s.components().len(), 1);
        assert_eq!(s.components()[0].id, "gpu-0");
        assert!(s.components()[0].sensor.contains("GPU-2"));
        assert!(matches!(
            NvmlSensor::from_library(&lib, Some("")),
            Err(MeterError::Unavailable { .. })
        ));
    }

    #[test]
    fn process_share_prefers_per_process_utilisation() {
        let gpu = FakeGpu::new(
            "GPU-0",
            FakeGpuState {
                energy_mj: Some(0),
                process_util: Some(vec![(10, 60), (11, 20), (99, 20)]),
                compute_pids: vec![10, 99],
                ..Default::default()
            },
        );
        let lib = FakeLibrary(vec![gpu.clone()]);
        let mut s = NvmlSensor::from_library(&lib, None).unwrap();
        let ours: HashSet<u32> = [10, 11].into_iter().collect();
        assert_eq!(s.process_share(&ours), vec![Some(0.8)]);
        // Without per-process figures: the whole device if one of ours uses it.
        gpu.state.lock().unwrap().process_util = None;
        assert_eq!(s.process_share(&ours), vec![Some(1.0)]);
        let others: HashSet<u32> = [5].into_iter().collect();
        assert_eq!(s.process_share(&others), vec![Some(0.0)]);
    }
}
