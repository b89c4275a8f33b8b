//! RAPL power limits under `<sysfs>/class/powercap`: each zone's constraints
//! (`constraint_K_name`, `constraint_K_power_limit_uw`, `constraint_K_max_power_uw`,
//! `constraint_K_min_power_uw` where the driver has it).

use crate::knob::{
    file_access, read_number, read_text, write_text, Access, Knob, PowerError, Range, Result,
    Setting, Unit,
};
use std::path::{Path, PathBuf};

/// One constraint of one zone.
#[derive(Debug, Clone)]
pub struct RaplLimit {
    /// `intel-rapl:0`
    zone: String,
    /// `package-0`, `dram`, `psys`
    zone_name: String,
    /// `long_term`, `short_term`, `peak_power`
    constraint: String,
    limit: PathBuf,
    max: PathBuf,
    min: PathBuf,
}

impl RaplLimit {
    /// Every constraint of every RAPL zone under `sysfs_root`.
    pub fn discover(sysfs_root: &Path) -> Vec<RaplLimit> {
        let base = sysfs_root.join("class/powercap");
        let Ok(entries) = std::fs::read_dir(&base) else {
            return Vec::new();
        };
        let mut zones: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("intel-rapl:"))
            })
            .collect();
        zones.sort();
        let mut out = Vec::new();
        for dir in zones {
            let zone = dir
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let zone_name = read_text(&dir.join("name")).unwrap_or_else(|_| zone.clone());
            for k in 0..8 {
                let limit = dir.join(format!("constraint_{k}_power_limit_uw"));
                if !limit.exists() {
                    continue;
                }
                let constraint = read_text(&dir.join(format!("constraint_{k}_name")))
                    .unwrap_or_else(|_| format!("constraint_{k}"));
                out.push(RaplLimit {
                    zone: zone.clone(),
                    zone_name: zone_name.clone(),
                    constraint,
                    limit,
                    max: dir.join(format!("constraint_{k}_max_power_uw")),
                    min: dir.join(format!("constraint_{k}_min_power_uw")),
                });
            }
        }
        out
    }

    /// Whether this is a package's long-term limit (what `--power-limit` sets).
    pub fn is_package_long_term(&self) -> bool {
        self.zone_name.starts_with("package") && self.constraint == "long_term"
    }
}

impl Knob for RaplLimit {
    fn id(&self) -> String {
        format!("powercap:{}:{}", self.zone, self.constraint)
    }

    fn label(&self) -> String {
        format!("{} {} power limit", self.zone_name, self.constraint)
    }

    fn unit(&self) -> Unit {
        Unit::Watts
    }

    fn read(&self) -> Result<Setting> {
        Ok(Setting::Number(read_number(&self.limit)? / 1e6))
    }

    fn range(&self) -> Result<Range> {
        // Without a stated maximum, greenai never raises a limit above what the firmware set.
        let max = match read_number(&self.max) {
            Ok(m) if m > 0.0 => m / 1e6,
            _ => read_number(&self.limit)? / 1e6,
        };
        let min = read_number(&self.min).map_or(1.0, |m| (m / 1e6).max(0.0));
        if min > max {
            return Err(PowerError::Io(format!(
                "{}: its range is empty ({min}–{max} W)",
                self.id()
            )));
        }
        Ok(Range::Numeric { min, max })
    }

    fn access(&self) -> Access {
        file_access(&self.limit)
    }

    fn write(&mut self, v: &Setting) -> Result<()> {
        match v {
            Setting::Number(w) => write_text(&self.limit, &format!("{}", (w * 1e6).round() as u64)),
            Setting::Text(t) => Err(PowerError::OutOfRange(format!(
                "{}: {t:?} is not watts",
                self.id()
            ))),
        }
    }

    fn files(&self) -> Vec<PathBuf> {
        vec![self.limit.clone()]
    }
}
