//! cpufreq under `<sysfs>/devices/system/cpu/cpufreq/policy*`: the frequency ceiling, the governor
//! and the energy-performance preference, each set on every policy at once.

use crate::knob::{
    file_access, read_number, read_text, write_text, Access, Knob, PowerError, Range, Result,
    Setting, Unit,
};
use std::path::{Path, PathBuf};

/// Which cpufreq attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpufreqKind {
    /// `scaling_max_freq`, in kHz, within `cpuinfo_min_freq`–`cpuinfo_max_freq`.
    MaxFreq,
    /// `scaling_governor`, one of `scaling_available_governors`.
    Governor,
    /// `energy_performance_preference`, one of `energy_performance_available_preferences`.
    Epp,
}

impl CpufreqKind {
    fn file(self) -> &'static str {
        match self {
            CpufreqKind::MaxFreq => "scaling_max_freq",
            CpufreqKind::Governor => "scaling_governor",
            CpufreqKind::Epp => "energy_performance_preference",
        }
    }

    fn name(self) -> &'static str {
        match self {
            CpufreqKind::MaxFreq => "max_freq",
            CpufreqKind::Governor => "governor",
            CpufreqKind::Epp => "epp",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Cpufreq {
    kind: CpufreqKind,
    /// Every policy directory that has the attribute.
    policies: Vec<PathBuf>,
}

impl Cpufreq {
    /// The cpufreq knobs present under `sysfs_root`.
    pub fn discover(sysfs_root: &Path) -> Vec<Cpufreq> {
        let base = sysfs_root.join("devices/system/cpu/cpufreq");
        let mut policies: Vec<PathBuf> = std::fs::read_dir(&base)
            .map(|e| {
                e.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with("policy"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        policies.sort();
        [
            CpufreqKind::MaxFreq,
            CpufreqKind::Governor,
            CpufreqKind::Epp,
        ]
        .into_iter()
        .filter_map(|kind| {
            let with: Vec<PathBuf> = policies
                .iter()
                .filter(|p| p.join(kind.file()).exists())
                .cloned()
                .collect();
            (!with.is_empty()).then_some(Cpufreq {
                kind,
                policies: with,
            })
        })
        .collect()
    }

    pub fn kind(&self) -> CpufreqKind {
        self.kind
    }
}

impl Knob for Cpufreq {
    fn id(&self) -> String {
        format!("cpufreq:{}", self.kind.name())
    }

    fn label(&self) -> String {
        format!(
            "CPU {} ({} polic{})",
            match self.kind {
                CpufreqKind::MaxFreq => "frequency ceiling",
                CpufreqKind::Governor => "frequency governor",
                CpufreqKind::Epp => "energy-performance preference",
            },
            self.policies.len(),
            if self.policies.len() == 1 { "y" } else { "ies" }
        )
    }

    fn unit(&self) -> Unit {
        match self.kind {
            CpufreqKind::MaxFreq => Unit::Kilohertz,
            _ => Unit::Choice,
        }
    }

    /// The first policy's value (`files` and the journal keep each policy's own).
    fn read(&self) -> Result<Setting> {
        let f = self.policies[0].join(self.kind.file());
        Ok(match self.kind {
            CpufreqKind::MaxFreq => Setting::Number(read_number(&f)?),
            _ => Setting::Text(read_text(&f)?),
        })
    }

    fn range(&self) -> Result<Range> {
        match self.kind {
            CpufreqKind::MaxFreq => {
                // The range every policy accepts.
                let mut min = f64::NEG_INFINITY;
                let mut max = f64::INFINITY;
                for p in &self.policies {
                    min = min.max(read_number(&p.join("cpuinfo_min_freq"))?);
                    max = max.min(read_number(&p.join("cpuinfo_max_freq"))?);
                }
                if min > max {
                    return Err(PowerError::Io(format!(
                        "{}: the policies share no range",
                        self.id()
                    )));
                }
                Ok(Range::Numeric { min, max })
            }
            CpufreqKind::Governor | CpufreqKind::Epp => {
                let list = if self.kind == CpufreqKind::Governor {
                    "scaling_available_governors"
                } else {
                    "energy_performance_available_preferences"
                };
                let text = read_text(&self.policies[0].join(list))?;
                Ok(Range::Choices(
                    text.split_whitespace().map(str::to_string).collect(),
                ))
            }
        }
    }

    fn access(&self) -> Access {
        for p in &self.policies {
            let a = file_access(&p.join(self.kind.file()));
            if a != Access::Writable {
                return a;
            }
        }
        Access::Writable
    }

    fn write(&mut self, v: &Setting) -> Result<()> {
        let text = match (self.kind, v) {
            (CpufreqKind::MaxFreq, Setting::Number(k)) => format!("{}", k.round() as u64),
            (CpufreqKind::MaxFreq, Setting::Text(t)) => {
                return Err(PowerError::OutOfRange(format!(
                    "{}: {t:?} is not kHz",
                    self.id()
                )))
            }
            (_, Setting::Text(t)) => t.clone(),
            (_, Setting::Number(n)) => {
                return Err(PowerError::OutOfRange(format!(
                    "{}: {n} is not a name",
                    self.id()
                )))
            }
        };
        for p in &self.policies {
            write_text(&p.join(self.kind.file()), &text)?;
        }
        Ok(())
    }

    fn files(&self) -> Vec<PathBuf> {
        self.policies
            .iter()
            .map(|p| p.join(self.kind.file()))
            .collect()
    }
}
