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

/// The most a sysfs attribute holds: one page.
pub const SYSFS_MAX_BYTES: usize = 4096;

/// A file's text, read to at most `limit` bytes: a file that goes on (a FIFO, `/dev/zero`
/// mounted over an attribute, a lying driver) is an error, never a buffer grown until allocation
/// fails.
pub fn read_bounded(path: &Path, limit: usize) -> std::io::Result<String> {
    use std::io::Read;
    let mut buf = Vec::new();
    std::fs::File::open(path)?
        .take(limit as u64 + 1)
        .read_to_end(&mut buf)?;
    if buf.len() > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("longer than {limit} bytes"),
        ));
    }
    String::from_utf8(buf)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}

pub(crate) fn read_string(path: &Path, hint: &str) -> Result<String> {
    read_bounded(path, SYSFS_MAX_BYTES)
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
    /// The longest the file may be.
    limit: usize,
}

impl HeldFile {
    /// Opens a sysfs attribute: at most [`SYSFS_MAX_BYTES`] long.
    pub fn open(path: &Path, hint: &str) -> Result<Self> {
        Self::open_limited(path, hint, SYSFS_MAX_BYTES)
    }

    /// Opens a file that may be up to `limit` bytes long (a procfs list).
    pub fn open_limited(path: &Path, hint: &str, limit: usize) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| classify_io(path, e, hint))?;
        let mut held = HeldFile {
            path: path.to_path_buf(),
            file,
            buf: vec![0; 64],
            limit,
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
            if n < self.buf.len() && n <= self.limit {
                return Ok(&self.buf[..n]);
            }
            if n > self.limit {
                return Err(MeterError::Unsupported {
                    reason: format!(
                        "{} is longer than {} bytes: not a sysfs value",
                        self.path.display(),
                        self.limit
                    ),
                });
            }
            // The file may be longer than the buffer: grow (one byte past the limit at most, to
            // tell a file of exactly `limit` bytes from a longer one) and read again.
            let len = (self.buf.len() * 2).min(self.limit + 1);
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

    /// A file that never ends (here /dev/zero) is refused at the bound, by both readers.
    #[test]
    fn reads_are_bounded() {
        let zero = Path::new("/dev/zero");
        assert!(read_bounded(zero, 4096).is_err());
        assert!(read_string(zero, "").is_err());
        let mut held = HeldFile {
            path: zero.to_path_buf(),
            file: std::fs::File::open(zero).unwrap(),
            buf: vec![0; 64],
            limit: SYSFS_MAX_BYTES,
        };
        let e = held.read_bytes("").unwrap_err().to_string();
        assert!(e.contains("longer than"), "{e}");
        // Exactly at the limit is read; one byte more is refused.
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, vec![b'1'; 100]).unwrap();
        assert_eq!(
            HeldFile::open_limited(&f, "", 100)
                .unwrap()
                .read_bytes("")
                .unwrap()
                .len(),
            100
        );
        std::fs::write(&f, vec![b'1'; 101]).unwrap();
        assert!(HeldFile::open_limited(&f, "", 100).is_err());
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("energy_uj");
        std::fs::write(&f, "123\n").unwrap();
        assert_eq!(read_u64(&f, "").unwrap(), 123);
    }

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
