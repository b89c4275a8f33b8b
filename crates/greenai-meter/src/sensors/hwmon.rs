//! Linux hwmon: `energy*_input` (µJ) counters and `power*_input` / `power*_average` (µW) readings
//! under `<sysfs>/class/hwmon/hwmon*`.
//!
//! Each hwmon device's `name` says what it measures: `amdgpu` is an AMD GPU, `amd_energy` an AMD
//! CPU's socket (`Esocket*`) and core (`Ecore*`) counters, `power_meter` an ACPI whole-system meter.
//! Where a device has an energy counter, that is its primary figure (measured); otherwise its power
//! is integrated over time by the monitor (integrated). Other names are reported and added as
//! `other`.

use crate::component::{Component, ComponentKind, Provenance, Reading};
use crate::error::{MeterError, Result};
use crate::sensor::EnergySensor;
use crate::sysfs::{read_string, HeldFile};
use greenai_units::{wrapped_delta, Energy, Power};
use std::path::{Path, PathBuf};

const HWMON_PERMISSION_HINT: &str =
    "run greenai as root, or add a udev rule that makes the hwmon file readable";

#[derive(Debug)]
enum Channel {
    Energy {
        file: HeldFile,
        last_raw: u64,
        total_uj: u128,
    },
    Power {
        file: HeldFile,
    },
}

/// Reads the energy and power channels of every hwmon device under a sysfs root.
#[derive(Debug)]
pub struct HwmonSensor {
    components: Vec<Component>,
    channels: Vec<Channel>,
}

impl HwmonSensor {
    /// Opens the channels under `<sysfs_root>/class/hwmon`. Fails with
    /// [`MeterError::Unavailable`] when no device has an energy or power channel.
    pub fn open(sysfs_root: &Path) -> Result<Self> {
        let base = sysfs_root.join("class/hwmon");
        let entries = std::fs::read_dir(&base).map_err(|_| MeterError::Unavailable {
            reason: format!("no hwmon interface at {}", base.display()),
        })?;
        let mut devices: Vec<(u32, PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                let n = e
                    .file_name()
                    .to_string_lossy()
                    .strip_prefix("hwmon")?
                    .parse()
                    .ok()?;
                Some((n, e.path()))
            })
            .collect();
        devices.sort();

        let mut sensor = HwmonSensor {
            components: Vec::new(),
            channels: Vec::new(),
        };
        let mut gpu_count = 0;
        for (n, dir) in devices {
            let name = read_string(&dir.join("name"), "").unwrap_or_default();
            let files: Vec<String> = match std::fs::read_dir(&dir) {
                Ok(rd) => rd
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect(),
                Err(_) => continue,
            };
            let mut energy: Vec<&str> = channel_files(&files, "energy", &["_input"]);
            let mut power: Vec<&str> = channel_files(&files, "power", &["_average", "_input"]);
            energy.sort_by_key(|f| channel_number(f));
            power.sort_by_key(|f| channel_number(f));
            let is_gpu = name == "amdgpu";
            let gpu_index = if is_gpu && (!energy.is_empty() || !power.is_empty()) {
                gpu_count += 1;
                Some(gpu_count - 1)
            } else {
                None
            };

            if !energy.is_empty() {
                for f in energy {
                    let Ok(mut file) = HeldFile::open(&dir.join(f), HWMON_PERMISSION_HINT) else {
                        continue;
                    };
                    let Ok(raw) = file.read_u64(HWMON_PERMISSION_HINT) else {
                        continue;
                    };
                    let label = label_of(&dir, f);
                    sensor.components.push(component(
                        n,
                        &name,
                        f,
                        label.as_deref(),
                        gpu_index,
                        Provenance::Measured,
                    ));
                    sensor.channels.push(Channel::Energy {
                        file,
                        last_raw: raw,
                        total_uj: 0,
                    });
                }
            } else {
                // One figure per channel number: `power1_average` is preferred to `power1_input`.
                let mut seen = Vec::new();
                for f in power {
                    let ch = channel_number(f);
                    if seen.contains(&ch) {
                        continue;
                    }
                    let Ok(mut file) = HeldFile::open(&dir.join(f), HWMON_PERMISSION_HINT) else {
                        continue;
                    };
                    if file.read_u64(HWMON_PERMISSION_HINT).is_err() {
                        continue;
                    }
                    seen.push(ch);
                    let label = label_of(&dir, f);
                    sensor.components.push(component(
                        n,
                        &name,
                        f,
                        label.as_deref(),
                        gpu_index,
                        Provenance::Integrated,
                    ));
                    sensor.channels.push(Channel::Power { file });
                }
            }
        }
        if sensor.channels.is_empty() {
            return Err(MeterError::Unavailable {
                reason: format!(
                    "no readable energy*_input or power*_input/_average file under {}",
                    base.display()
                ),
            });
        }
        Ok(sensor)
    }
}

/// `energy1_input`, `energy12_input`; `power1_average`.
fn channel_files<'a>(files: &'a [String], prefix: &str, suffixes: &[&str]) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for suffix in suffixes {
        for f in files {
            if let Some(mid) = f.strip_prefix(prefix).and_then(|r| r.strip_suffix(suffix)) {
                if !mid.is_empty() && mid.chars().all(|c| c.is_ascii_digit()) {
                    out.push(f);
                }
            }
        }
    }
    out
}

fn channel_number(file: &str) -> u32 {
    file.trim_start_matches(|c: char| c.is_ascii_alphabetic())
        .split('_')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn label_of(dir: &Path, file: &str) -> Option<String> {
    let (stem, _) = file.split_once('_')?;
    read_string(&dir.join(format!("{stem}_label")), "").ok()
}

fn component(
    hwmon: u32,
    name: &str,
    file: &str,
    label: Option<&str>,
    gpu_index: Option<u32>,
    provenance: Provenance,
) -> Component {
    let sensor = format!("hwmon:hwmon{hwmon}/{file} ({name})");
    let ch = channel_number(file);
    let (kind, id, counted, within) = match (name, label) {
        ("amdgpu", _) => (
            ComponentKind::Gpu,
            format!("gpu-amd-{}", gpu_index.unwrap_or(0)),
            true,
            None,
        ),
        ("amd_energy", Some(l)) if l.starts_with("Esocket") => (
            ComponentKind::CpuPackage,
            // Named apart from RAPL's `cpu-package-N`, which counts the same socket on the
            // same machine: ids are unique in a monitor.
            format!(
                "cpu-package-{}-hwmon{hwmon}",
                l.trim_start_matches("Esocket")
            ),
            true,
            None,
        ),
        ("amd_energy", Some(l)) if l.starts_with("Ecore") => (
            ComponentKind::CpuCore,
            format!("cpu-core-{}-hwmon{hwmon}", l.trim_start_matches("Ecore")),
            false,
            Some("its CPU socket".to_string()),
        ),
        ("power_meter", _) => (
            ComponentKind::Platform,
            format!("platform-hwmon{hwmon}-{ch}"),
            false,
            Some("whole-system meter; shown beside the component total".to_string()),
        ),
        _ => (
            ComponentKind::Other,
            format!(
                "hwmon{hwmon}-{name}-{}{ch}",
                &file[..file.find(|c: char| c.is_ascii_digit()).unwrap_or(0)]
            ),
            true,
            None,
        ),
    };
    Component {
        id,
        kind,
        sensor,
        provenance,
        uncertainty: None,
        counted,
        within,
    }
}

impl EnergySensor for HwmonSensor {
    fn interface(&self) -> &'static str {
        "hwmon"
    }

    fn components(&self) -> &[Component] {
        &self.components
    }

    fn read(&mut self) -> Result<Vec<Reading>> {
        let mut out = Vec::with_capacity(self.channels.len());
        // One device that fails (unplugged, a driver error, garbage) is that component's fault;
        // the others are still read.
        for ch in &mut self.channels {
            out.push(read_channel(ch).unwrap_or(Reading {
                failed: true,
                ..Reading::default()
            }));
        }
        Ok(out)
    }
}

fn read_channel(ch: &mut Channel) -> Result<Reading> {
    Ok(match ch {
        Channel::Energy {
            file,
            last_raw,
            total_uj,
        } => {
            let raw = file.read_u64(HWMON_PERMISSION_HINT)?;
            // hwmon energy counters are 64-bit accumulators: a backwards step is a driver
            // reload, which counts as zero rather than as a wrap.
            *total_uj += wrapped_delta(*last_raw, raw, 0) as u128;
            *last_raw = raw;
            Reading {
                energy: Some(Energy::from_microjoules(*total_uj as f64)),
                ..Reading::default()
            }
        }
        Channel::Power { file } => Reading {
            power: Some(Power::from_microwatts(
                file.read_u64(HWMON_PERMISSION_HINT)? as f64,
            )),
            ..Reading::default()
        },
    })
}
