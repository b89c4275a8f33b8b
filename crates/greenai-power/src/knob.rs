//! The one trait every power knob implements, and the values they take.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What went wrong with a knob, classified by what the caller should do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PowerError {
    /// The knob does not exist on this machine.
    #[error("{0}")]
    Unavailable(String),
    /// greenai may not change it: the fix says what would allow it.
    #[error("{what}: permission denied; {fix}")]
    PermissionDenied { what: String, fix: String },
    /// A value outside the hardware's range, or of the wrong kind.
    #[error("{0}")]
    OutOfRange(String),
    /// Reading or writing failed otherwise.
    #[error("{0}")]
    Io(String),
}

pub type Result<T, E = PowerError> = std::result::Result<T, E>;

/// A knob's value: watts, kilohertz, or a word (a governor, an energy-performance preference).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Setting {
    Number(f64),
    Text(String),
}

impl std::fmt::Display for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Setting::Number(v) => write!(f, "{v}"),
            Setting::Text(s) => f.write_str(s),
        }
    }
}

/// The unit of a numeric knob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Watts,
    Kilohertz,
    /// A word from a list.
    Choice,
}

impl Unit {
    pub fn symbol(self) -> &'static str {
        match self {
            Unit::Watts => "W",
            Unit::Kilohertz => "kHz",
            Unit::Choice => "",
        }
    }
}

/// What values a knob takes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Range {
    Numeric { min: f64, max: f64 },
    Choices(Vec<String>),
}

impl Range {
    /// `Ok` if `v` is in range, else the error that says the range.
    pub fn check(&self, id: &str, v: &Setting, unit: Unit) -> Result<()> {
        match (self, v) {
            (Range::Numeric { min, max }, Setting::Number(x)) => {
                if x.is_finite() && *x >= *min && *x <= *max {
                    Ok(())
                } else {
                    let u = unit.symbol();
                    Err(PowerError::OutOfRange(format!(
                        "{id}: {x} {u} is outside the hardware's range {min}–{max} {u}"
                    )))
                }
            }
            (Range::Choices(c), Setting::Text(s)) if c.iter().any(|x| x == s) => Ok(()),
            (Range::Choices(c), v) => Err(PowerError::OutOfRange(format!(
                "{id}: {v:?} is not one of {}",
                c.join(", ")
            ))),
            (Range::Numeric { .. }, Setting::Text(s)) => Err(PowerError::OutOfRange(format!(
                "{id}: {s:?} is not a number"
            ))),
        }
    }
}

/// Whether greenai may change a knob, and if not, how to allow it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    Writable,
    ReadOnly { reason: String, fix: String },
}

/// A power knob: a value greenai can read, whose hardware range it knows, and which it may set.
/// Each takes its root (a sysfs directory, an NVML device) as a parameter, so a fixture stands in.
pub trait Knob: Send {
    /// Stable id: `powercap:intel-rapl:0:long_term`, `cpufreq:max_freq`, `nvml:0:power_limit`.
    fn id(&self) -> String;
    /// For people: `package-0 long_term power limit`.
    fn label(&self) -> String;
    fn unit(&self) -> Unit;
    fn read(&self) -> Result<Setting>;
    fn range(&self) -> Result<Range>;
    fn access(&self) -> Access;
    /// Writes without checking (the range check is [`Knob::set`]'s).
    fn write(&mut self, v: &Setting) -> Result<()>;
    /// The files a write changes: the guard keeps their bytes before a change, restores exactly
    /// those (each cpufreq policy its own), and can do so from a signal handler. Empty for NVML,
    /// which is restored through [`Knob::write`].
    fn files(&self) -> Vec<PathBuf> {
        Vec::new()
    }
    /// Checks the range, then writes.
    fn set(&mut self, v: &Setting) -> Result<()> {
        self.range()?.check(&self.id(), v, self.unit())?;
        if let Access::ReadOnly { reason, fix } = self.access() {
            return Err(PowerError::PermissionDenied {
                what: format!("{} ({reason})", self.id()),
                fix,
            });
        }
        self.write(v)
    }
}

/// The fix for a sysfs file only root may write.
pub const SYSFS_WRITE_FIX: &str =
    "run greenai as root, or let your group write the file with a udev \
     rule (see docs/reference/power.md)";

/// Whether this process may write `path` (`access(W_OK)`), and if not, why.
pub fn file_access(path: &std::path::Path) -> Access {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return Access::ReadOnly {
            reason: "a path with a NUL byte".into(),
            fix: String::new(),
        };
    };
    // SAFETY: a valid NUL-terminated path.
    if unsafe { libc::access(c.as_ptr(), libc::W_OK) } == 0 {
        Access::Writable
    } else {
        Access::ReadOnly {
            reason: format!(
                "{} is not writable by this user ({})",
                path.display(),
                std::io::Error::last_os_error()
            ),
            fix: SYSFS_WRITE_FIX.into(),
        }
    }
}

/// Reads a small sysfs file, trimmed.
pub fn read_text(path: &std::path::Path) -> Result<String> {
    use std::io::Read;
    let mut s = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(4096).read_to_string(&mut s))
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                PowerError::Unavailable(format!("{} does not exist", path.display()))
            }
            std::io::ErrorKind::PermissionDenied => PowerError::PermissionDenied {
                what: format!("reading {}", path.display()),
                fix: SYSFS_WRITE_FIX.into(),
            },
            _ => PowerError::Io(format!("reading {}: {e}", path.display())),
        })?;
    Ok(s.trim().to_string())
}

pub fn read_number(path: &std::path::Path) -> Result<f64> {
    let s = read_text(path)?;
    s.parse::<f64>()
        .map_err(|_| PowerError::Io(format!("{} holds {s:?}, not a number", path.display())))
}

/// Writes a sysfs attribute in one write (sysfs takes the value whole).
pub fn write_text(path: &std::path::Path, text: &str) -> Result<()> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::PermissionDenied => PowerError::PermissionDenied {
                what: format!("writing {}", path.display()),
                fix: SYSFS_WRITE_FIX.into(),
            },
            _ => PowerError::Io(format!("writing {text:?} to {}: {e}", path.display())),
        })
}

impl Setting {
    /// A value as people write it for a knob of `unit`: `40`, `40W`; `2000000`, `2000MHz`,
    /// `2.4GHz`, `800000kHz`; a word for a choice.
    pub fn parse(unit: Unit, s: &str) -> std::result::Result<Setting, String> {
        let t = s.trim();
        let num = |body: &str, scale: f64| -> Option<f64> {
            body.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(|v| v * scale)
        };
        match unit {
            Unit::Choice => Ok(Setting::Text(t.to_string())),
            Unit::Watts => t
                .strip_suffix('W')
                .map_or_else(|| num(t, 1.0), |b| num(b, 1.0))
                .map(Setting::Number)
                .ok_or_else(|| format!("{s:?} is not watts (write 40 or 40W)")),
            Unit::Kilohertz => {
                let lower = t.to_ascii_lowercase();
                [("ghz", 1e6), ("mhz", 1e3), ("khz", 1.0)]
                    .iter()
                    .find_map(|(suf, k)| lower.strip_suffix(suf).and_then(|b| num(b, *k)))
                    .or_else(|| num(t, 1.0))
                    .map(Setting::Number)
                    .ok_or_else(|| {
                        format!("{s:?} is not a frequency (write 2.4GHz, 2400MHz or kHz)")
                    })
            }
        }
    }
}
