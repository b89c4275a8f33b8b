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

/// A counter file held open and re-read from offset 0 with `pread`, as sysfs and procfs allow:
/// one syscall a reading instead of open, stat, read and close.
#[derive(Debug)]
pub struct HeldFile {
    path: PathBuf,
    file: std::fs::File,
    buf: Vec<u8>,
}

impl HeldFile {
    pub fn open(path: &Path, hint: &str) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| classify_io(path, e, hint))?;
        let mut held = HeldFile {
            path: path.to_path_buf(),
            file,
            buf: vec![0; 64],
        };
        // Opening can succeed where reading is refused (root-only attributes): read once now.
        held.read_bytes(hint)?;
        Ok(held)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The whole file, re-read now.
    pub fn read_bytes(&mut self, hint: &str) -> Result<&[u8]> {
        use std::os::unix::fs::FileExt;
        loop {
            let n = self
                .file
                .read_at(&mut self.buf, 0)
                .map_err(|e| classify_io(&self.path, e, hint))?;
            if n < self.buf.len() {
                return Ok(&self.buf[..n]);
            }
            // The file may be longer than the buffer: grow and read again from the start.
            let len = self.buf.len() * 2;
            self.buf.resize(len, 0);
        }
    }

    /// The file as one unsigned integer (sysfs counters).
    pub fn read_u64(&mut self, hint: &str) -> Result<u64> {
        let path = self.path.clone();
        let bytes = self.read_bytes(hint)?;
        std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .ok_or_else(|| MeterError::Unsupported {
                reason: format!(
                    "{} holds {:?}, not an unsigned integer",
                    path.display(),
                    String::from_utf8_lossy(bytes).trim()
                ),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_files_see_new_contents_and_grow() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("energy_uj");
        std::fs::write(&p, "12\n").unwrap();
        let mut f = HeldFile::open(&p, "").unwrap();
        assert_eq!(f.read_u64("").unwrap(), 12);
        std::fs::write(&p, format!("{}\n", u64::MAX)).unwrap();
        assert_eq!(f.read_u64("").unwrap(), u64::MAX);
        let long = "x".repeat(1000);
        std::fs::write(&p, &long).unwrap();
        assert_eq!(f.read_bytes("").unwrap(), long.as_bytes());
        assert!(f
            .read_u64("")
            .unwrap_err()
            .to_string()
            .contains("not an unsigned integer"));
    }
}
