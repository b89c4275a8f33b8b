//! NVIDIA GPU power limits through NVML. [`GpuPower`] is the thin layer over `nvml-wrapper`, so
//! a fake GPU with a settable limit stands in for tests.

use crate::knob::{Access, Knob, PowerError, Range, Result, Setting, Unit};
use std::sync::{Arc, Mutex};

/// One GPU's power limit, as far as a knob needs it.
pub trait GpuPower: Send {
    fn index(&self) -> u32;
    fn name(&self) -> String;
    /// The enforced power limit, milliwatts.
    fn limit_mw(&self) -> Result<u32>;
    /// `(min, max)` milliwatts the driver accepts.
    fn constraints_mw(&self) -> Result<(u32, u32)>;
    fn set_limit_mw(&mut self, mw: u32) -> Result<()>;
    /// Whether this process may set it (NVML allows root only).
    fn access(&self) -> Access;
}

/// A GPU's power limit as a knob.
pub struct GpuPowerLimit(pub Box<dyn GpuPower>);

impl Knob for GpuPowerLimit {
    fn id(&self) -> String {
        format!("nvml:{}:power_limit", self.0.index())
    }

    fn label(&self) -> String {
        format!("GPU {} ({}) power limit", self.0.index(), self.0.name())
    }

    fn unit(&self) -> Unit {
        Unit::Watts
    }

    fn read(&self) -> Result<Setting> {
        Ok(Setting::Number(self.0.limit_mw()? as f64 / 1e3))
    }

    fn range(&self) -> Result<Range> {
        let (lo, hi) = self.0.constraints_mw()?;
        Ok(Range::Numeric {
            min: lo as f64 / 1e3,
            max: hi as f64 / 1e3,
        })
    }

    fn access(&self) -> Access {
        self.0.access()
    }

    fn write(&mut self, v: &Setting) -> Result<()> {
        match v {
            Setting::Number(w) => self.0.set_limit_mw((w * 1e3).round() as u32),
            Setting::Text(t) => Err(PowerError::OutOfRange(format!(
                "{}: {t:?} is not watts",
                self.id()
            ))),
        }
    }
}

fn nvml_err(what: &str, e: nvml_wrapper::error::NvmlError) -> PowerError {
    use nvml_wrapper::error::NvmlError as E;
    match e {
        E::NoPermission => PowerError::PermissionDenied {
            what: what.to_string(),
            fix: "NVML sets power limits as root only: run greenai as root, or have an \
                  administrator run `nvidia-smi -pl WATTS`"
                .into(),
        },
        E::NotSupported | E::FunctionNotFound => {
            PowerError::Unavailable(format!("{what} is not supported by this GPU or driver"))
        }
        other => PowerError::Io(format!("{what}: {other}")),
    }
}

/// The GPUs NVML sees, as power knobs; empty (with the reason) where NVML is not loadable.
pub fn nvml_gpus() -> std::result::Result<Vec<GpuPowerLimit>, String> {
    let nvml = nvml_wrapper::Nvml::init()
        .or_else(|_| {
            nvml_wrapper::Nvml::builder()
                .lib_path("libnvidia-ml.so.1".as_ref())
                .init()
        })
        .map_err(|e| format!("NVML is not available ({e})"))?;
    let nvml = Arc::new(nvml);
    let n = nvml.device_count().map_err(|e| e.to_string())?;
    Ok((0..n)
        .map(|index| {
            let name = nvml
                .device_by_index(index)
                .and_then(|d| d.name())
                .unwrap_or_else(|_| format!("GPU {index}"));
            GpuPowerLimit(Box::new(NvmlGpu {
                nvml: Arc::clone(&nvml),
                index,
                name,
            }))
        })
        .collect())
}

struct NvmlGpu {
    nvml: Arc<nvml_wrapper::Nvml>,
    index: u32,
    name: String,
}

impl NvmlGpu {
    fn device(&self) -> Result<nvml_wrapper::Device<'_>> {
        self.nvml
            .device_by_index(self.index)
            .map_err(|e| nvml_err("opening the GPU", e))
    }
}

impl GpuPower for NvmlGpu {
    fn index(&self) -> u32 {
        self.index
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    fn limit_mw(&self) -> Result<u32> {
        self.device()?
            .power_management_limit()
            .map_err(|e| nvml_err("reading the power limit", e))
    }

    fn constraints_mw(&self) -> Result<(u32, u32)> {
        let c = self
            .device()?
            .power_management_limit_constraints()
            .map_err(|e| nvml_err("reading the power limit's range", e))?;
        Ok((c.min_limit, c.max_limit))
    }

    fn set_limit_mw(&mut self, mw: u32) -> Result<()> {
        self.device()?
            .set_power_management_limit(mw)
            .map_err(|e| nvml_err("setting the power limit", e))
    }

    fn access(&self) -> Access {
        // SAFETY: geteuid has no failure mode.
        if unsafe { libc::geteuid() } == 0 {
            Access::Writable
        } else {
            Access::ReadOnly {
                reason: "NVML sets power limits as root only".into(),
                fix: "run greenai as root, or have an administrator run `nvidia-smi -pl WATTS`"
                    .into(),
            }
        }
    }
}

/// A fake GPU whose limit tests can read and set.
#[derive(Clone)]
pub struct FakeGpu {
    pub index: u32,
    pub limit_mw: Arc<Mutex<u32>>,
    pub range_mw: (u32, u32),
    pub writable: bool,
}

impl GpuPower for FakeGpu {
    fn index(&self) -> u32 {
        self.index
    }

    fn name(&self) -> String {
        "Fake GPU".into()
    }

    fn limit_mw(&self) -> Result<u32> {
        Ok(*self.limit_mw.lock().expect("not poisoned"))
    }

    fn constraints_mw(&self) -> Result<(u32, u32)> {
        Ok(self.range_mw)
    }

    fn set_limit_mw(&mut self, mw: u32) -> Result<()> {
        *self.limit_mw.lock().expect("not poisoned") = mw;
        Ok(())
    }

    fn access(&self) -> Access {
        if self.writable {
            Access::Writable
        } else {
            Access::ReadOnly {
                reason: "fake: read-only".into(),
                fix: "none".into(),
            }
        }
    }
}
