//! Reading small sysfs and procfs files, with their errors classified.

use crate::error::{classify_io, MeterError, Result};
use std::path::{Path, PathBuf};

/// The environment variable that moves every sysfs read (default `/sys`), so that a captured tree
/// can stand in for a machine.
pub const SYSFS_ROOT_ENV: &str = "GREENAI_SYSFS_ROOT";

/// The sysfs root: `$GREENAI_SYSFS_ROOT`, else `/sys`.
pub fn sysfs_root() -> PathBuf {
    std::env::var_os(SYSFS_ROOT_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/sys"))
}

pub(crate) fn read_string(path: &Path, hint: &str) -> Result<String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| classify_io(path, e, hint))
}

pub(crate) fn read_u64(path: &Path, hint: &str) -> Result<u64> {
    let s = read_string(path, hint)?;
    s.parse::<u64>().map_err(|_| MeterError::Unsupported {
        reason: format!("{} holds {s:?}, not an unsigned integer", path.display()),
    })
}
