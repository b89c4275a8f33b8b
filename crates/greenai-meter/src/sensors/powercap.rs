//! Linux powercap: RAPL energy counters under `<sysfs>/class/powercap`.
//!
//! Zones are `intel-rapl:P` (a package, or `psys`), their subzones `intel-rapl:P:S` (`core`,
//! `uncore`, `dram`), and `intel-rapl-mmio:P` (the same package read through MMIO on recent Intel
//! client CPUs). AMD's RAPL driver uses the same names. Containment, so that nothing is counted
//! twice:
//! - `core` and `uncore` lie inside their package: reported, not added.
//! - `dram` is a sibling of the package in energy terms, though a subzone in sysfs: added.
//! - `intel-rapl-mmio` package zones duplicate the MSR ones: reported, not added, where an MSR zone
//!   of the same name exists.
//! - `psys` covers the whole SoC, package and DRAM included: added only where no package zone is
//!   readable, otherwise reported beside the total as a cross-check.

use crate::component::{Component, ComponentKind, Provenance, Reading};
use crate::error::{MeterError, Result, POWERCAP_PERMISSION_HINT};
use crate::sensor::EnergySensor;
use crate::sysfs::{read_string, read_u64, HeldFile};
use greenai_units::{wrapped_delta, Energy, Power};
use std::path::{Path, PathBuf};

/// One zone's counter, with the state needed to undo its wraps.
#[derive(Debug)]
struct Zone {
    energy: HeldFile,
    max_range_uj: u64,
    last_raw: u64,
    total_uj: u128,
    /// The most the zone may draw, from its constraints' `max_power_uw` (with headroom: limits
    /// are averages over a window, and short bursts exceed them).
    ceiling: Option<Power>,
}

/// Reads every readable RAPL zone under a sysfs root.
#[derive(Debug)]
pub struct PowercapSensor {
    components: Vec<Component>,
    zones: Vec<Zone>,
    skipped: Vec<MeterError>,
}

#[derive(Debug)]
struct RawZone {
    /// `intel-rapl:0:1`
    dir_name: String,
    control: &'static str,
    /// `package-0`, `core`, `dram`, `psys`
    name: String,
    path: PathBuf,
}

impl PowercapSensor {
    /// Opens the zones under `<sysfs_root>/class/powercap`.
    ///
    /// Fails with [`MeterError::Unavailable`] when there is no zone, and with
    /// [`MeterError::PermissionDenied`] when zones exist but none is readable. Zones that fail
    /// alone are skipped and listed by [`PowercapSensor::skipped`].
    pub fn open(sysfs_root: &Path) -> Result<Self> {
        let base = sysfs_root.join("class/powercap");
        let entries = std::fs::read_dir(&base).map_err(|_| MeterError::Unavailable {
            reason: format!(
                "no powercap interface at {} (no RAPL driver, or a virtual machine that hides it)",
                base.display()
            ),
        })?;
        let mut raw = Vec::new();
        for entry in entries.flatten() {
            let dir_name = entry.file_name().to_string_lossy().into_owned();
            let control = if dir_name.starts_with("intel-rapl-mmio:") {
                "intel-rapl-mmio"
            } else if dir_name.starts_with("intel-rapl:") {
                "intel-rapl"
            } else {
                continue;
            };
            let path = entry.path();
            let Ok(name) = read_string(&path.join("name"), "") else {
                continue;
            };
            raw.push(RawZone {
                dir_name,
                control,
                name,
                path,
            });
        }
        if raw.is_empty() {
            return Err(MeterError::Unavailable {
                reason: format!("{} has no intel-rapl zone", base.display()),
            });
        }
        raw.sort_by_key(|z| natural_key(&z.dir_name));

        let mut sensor = PowercapSensor {
            components: Vec::new(),
            zones: Vec::new(),
            skipped: Vec::new(),
        };
        let mut opened: Vec<(&RawZone, Component)> = Vec::new();
        for z in &raw {
            match open_zone(z) {
                Ok(zone) => {
                    sensor.zones.push(zone);
                    opened.push((z, classify(z, &raw)));
                }
                Err(e) => sensor.skipped.push(e),
            }
        }
        if sensor.zones.is_empty() {
            // Every zone failed: report the first failure, a permission problem first of all.
            let pos = sensor
                .skipped
                .iter()
                .position(|e| matches!(e, MeterError::PermissionDenied { .. }))
                .unwrap_or(0);
            return Err(sensor.skipped.swap_remove(pos));
        }
        let any_package = opened
            .iter()
            .any(|(_, c)| c.kind == ComponentKind::CpuPackage && c.counted);
        for (_, mut c) in opened {
            if c.kind == ComponentKind::Platform {
                c.counted = !any_package;
                if any_package {
                    c.within = Some("whole platform; shown beside the package total".into());
                }
            }
            sensor.components.push(c);
        }
        Ok(sensor)
    }

    /// Zones that exist but could not be opened, with the reason.
    pub fn skipped(&self) -> &[MeterError] {
        &self.skipped
    }
}

fn open_zone(z: &RawZone) -> Result<Zone> {
    let mut energy = HeldFile::open(&z.path.join("energy_uj"), POWERCAP_PERMISSION_HINT)?;
    let last_raw = energy.read_u64(POWERCAP_PERMISSION_HINT)?;
    // A missing range means the counter's width is unknown; a backwards step then counts as zero.
    let max_range_uj = read_u64(&z.path.join("max_energy_range_uj"), "").unwrap_or(0);
    Ok(Zone {
        energy,
        max_range_uj,
        last_raw,
        total_uj: 0,
        ceiling: zone_ceiling(&z.path),
    })
}

/// Twice the largest `constraint_N_max_power_uw` of a zone, where it states one.
fn zone_ceiling(zone: &Path) -> Option<Power> {
    let most = (0..8)
        .map_while(|i| read_u64(&zone.join(format!("constraint_{i}_max_power_uw")), "").ok())
        .filter(|&uw| uw > 0)
        .max()?;
    Some(Power::from_microwatts(2.0 * most as f64))
}

/// Orders `intel-rapl:10` after `intel-rapl:2`.
fn natural_key(dir: &str) -> (String, Vec<u32>) {
    let mut parts = dir.split(':');
    let control = parts.next().unwrap_or_default().to_string();
    (control, parts.filter_map(|p| p.parse().ok()).collect())
}

/// The trailing number of `package-1`, `die-0`; else the zone's first index.
fn domain_index(z: &RawZone) -> String {
    if let Some((_, n)) = z.name.rsplit_once('-') {
        if n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() {
            return n.to_string();
        }
    }
    z.dir_name.split(':').nth(1).unwrap_or("0").to_string()
}

fn parent_of(z: &RawZone) -> Option<String> {
    z.dir_name
        .rsplit_once(':')
        .filter(|(p, _)| p.contains(':'))
        .map(|(p, _)| p.to_string())
}

fn classify(z: &RawZone, all: &[RawZone]) -> Component {
    let parent = parent_of(z).and_then(|p| all.iter().find(|o| o.dir_name == p));
    let pkg_index = match parent {
        Some(p) => domain_index(p),
        None => domain_index(z),
    };
    let sensor = format!("powercap:{}", z.dir_name);
    let mut c = Component {
        id: String::new(),
        kind: ComponentKind::Other,
        sensor,
        provenance: Provenance::Measured,
        uncertainty: None,
        counted: true,
        within: None,
    };
    let name = z.name.as_str();
    let package_id = |i: &str| format!("cpu-package-{i}");
    if name.starts_with("package") {
        c.kind = ComponentKind::CpuPackage;
        c.id = package_id(&pkg_index);
        if z.control == "intel-rapl-mmio" {
            let msr_twin = all
                .iter()
                .any(|o| o.control == "intel-rapl" && o.name == z.name);
            c.id = format!("cpu-package-{pkg_index}-mmio");
            if msr_twin {
                c.counted = false;
                c.within = Some(format!("duplicates {}", package_id(&pkg_index)));
            }
        }
    } else if name.starts_with("die") {
        // A die inside a multi-die package.
        c.kind = ComponentKind::CpuPackage;
        c.id = format!("cpu-package-{pkg_index}-die-{}", domain_index(z));
        if parent.is_some() {
            c.counted = false;
            c.within = Some(package_id(&pkg_index));
        }
    } else if name == "core" || name == "uncore" {
        c.kind = if name == "core" {
            ComponentKind::CpuCore
        } else {
            ComponentKind::CpuUncore
        };
        c.id = format!("cpu-{name}-{pkg_index}");
        c.counted = false;
        c.within = Some(package_id(&pkg_index));
    } else if name == "dram" {
        c.kind = ComponentKind::Dram;
        c.id = format!("dram-{pkg_index}");
    } else if name == "psys" {
        c.kind = ComponentKind::Platform;
        c.id = format!("psys-{}", domain_index(z));
    } else {
        c.id = format!("rapl-{}", z.dir_name.replace(':', "-"));
        c.counted = false;
        c.within = Some(format!("unknown RAPL domain {name:?}; not added"));
    }
    if z.control == "intel-rapl-mmio" && c.kind != ComponentKind::CpuPackage {
        c.id.push_str("-mmio");
    }
    c
}

impl EnergySensor for PowercapSensor {
    fn interface(&self) -> &'static str {
        "powercap"
    }

    fn components(&self) -> &[Component] {
        &self.components
    }

    fn ceilings(&self) -> Vec<Option<Power>> {
        self.zones.iter().map(|z| z.ceiling).collect()
    }

    fn read(&mut self) -> Result<Vec<Reading>> {
        let mut out = Vec::with_capacity(self.zones.len());
        // A zone whose counter cannot be read now (a transient driver error, a file replaced
        // under us) is that zone's fault; the others are still read.
        for z in &mut self.zones {
            let Ok(raw) = z.energy.read_u64(POWERCAP_PERMISSION_HINT) else {
                out.push(Reading {
                    failed: true,
                    ..Reading::default()
                });
                continue;
            };
            z.total_uj += wrapped_delta(z.last_raw, raw, z.max_range_uj) as u128;
            z.last_raw = raw;
            out.push(Reading {
                energy: Some(Energy::from_microjoules(z.total_uj as f64)),
                ..Reading::default()
            });
        }
        Ok(out)
    }
}
