use std::io;
use std::path::{Path, PathBuf};

/// What went wrong with a sensor or the monitor, classified by what the caller should do.
#[derive(Debug, thiserror::Error)]
pub enum MeterError {
    /// The interface is absent on this machine (no powercap tree, no NVML library, no GPU).
    #[error("{reason}")]
    Unavailable { reason: String },
    /// The interface exists but this user may not read it.
    #[error("permission denied reading {}: {hint}", path.display())]
    PermissionDenied { path: PathBuf, hint: String },
    /// A read failed in a way that may pass (a busy driver, a file that vanished mid-read): retry.
    #[error("{reason} (transient; retry)")]
    Transient { reason: String },
    /// The interface exists but does not offer what was asked (an unparsable file, an old GPU).
    #[error("{reason}")]
    Unsupported { reason: String },
    /// The caller asked for something the monitor cannot do (an interval out of range, a window
    /// name already open).
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = MeterError> = std::result::Result<T, E>;

/// How a root-only powercap counter can be opened to a user, since CVE-2020-8694 (Platypus) made
/// `energy_uj` readable by root alone.
pub const POWERCAP_PERMISSION_HINT: &str = "energy_uj is readable by root only since CVE-2020-8694; \
run greenai as root, or grant read access until the next boot with \
`sudo chmod o+r /sys/class/powercap/intel-rapl*/energy_uj /sys/class/powercap/intel-rapl*/*/energy_uj` \
(a udev rule makes it permanent: see docs/reference/sensors.md)";

/// Turns an I/O error on a sysfs file into the variant that says what to do about it.
pub fn classify_io(path: &Path, err: io::Error, permission_hint: &str) -> MeterError {
    match err.kind() {
        io::ErrorKind::PermissionDenied => MeterError::PermissionDenied {
            path: path.to_path_buf(),
            hint: permission_hint.to_string(),
        },
        io::ErrorKind::NotFound => MeterError::Unavailable {
            reason: format!("{} does not exist", path.display()),
        },
        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            MeterError::Transient {
                reason: format!("reading {}: {err}", path.display()),
            }
        }
        _ => MeterError::Unsupported {
            reason: format!("reading {}: {err}", path.display()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_errors_carry_the_fix() {
        let e = classify_io(
            Path::new("/sys/class/powercap/intel-rapl:0/energy_uj"),
            io::Error::from(io::ErrorKind::PermissionDenied),
            POWERCAP_PERMISSION_HINT,
        );
        assert!(matches!(e, MeterError::PermissionDenied { .. }));
        let msg = e.to_string();
        assert!(msg.contains("intel-rapl:0/energy_uj"), "{msg}");
        assert!(msg.contains("run greenai as root"), "{msg}");
        assert!(msg.contains("chmod"), "{msg}");
    }

    #[test]
    fn missing_files_are_unavailable_not_zero() {
        let e = classify_io(
            Path::new("/x"),
            io::Error::from(io::ErrorKind::NotFound),
            "",
        );
        assert!(matches!(e, MeterError::Unavailable { .. }));
    }
}
