//! Drives the real `greenai` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// A fresh database path for each command, so tests never share (or touch the user's) database.
pub fn fresh_db() -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = DIR.get_or_init(|| tempfile::tempdir().unwrap());
    dir.path()
        .join(format!("db-{}.sqlite", N.fetch_add(1, Ordering::SeqCst)))
}

pub fn greenai() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_greenai"));
    c.env("GREENAI_DB", fresh_db());
    // Tests see no real GPU and no real sysfs unless they say so: discovery is hermetic (a
    // fixture root, NVML not loaded), whatever GPUs the machine has and however
    // CUDA_VISIBLE_DEVICES is set.
    c.env("GREENAI_SYSFS_ROOT", fixtures().join("empty-sysfs"));
    c.env("GREENAI_NVML", "off");
    c
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../greenai-meter/tests/fixtures")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes the first `n` images of a split, downsampled to 14×14 (every other pixel), as IDX.
pub fn write_subset(dir: &Path, split: greenai_nn::data::Split, n: usize, prefix: &str) {
    let d = greenai_nn::data::Dataset::load(&greenai_nn::data::bundled_mnist_dir(), split).unwrap();
    let mut images = Vec::with_capacity(n * 196);
    for i in 0..n {
        let img = d.image(i);
        for y in (0..28).step_by(2) {
            for x in (0..28).step_by(2) {
                images.push(img[y * 28 + x]);
            }
        }
    }
    std::fs::write(
        dir.join(format!("{prefix}-images-idx3-ubyte")),
        greenai_nn::data::idx::encode(&[n, 14, 14], &images),
    )
    .unwrap();
    std::fs::write(
        dir.join(format!("{prefix}-labels-idx1-ubyte")),
        greenai_nn::data::idx::encode(&[n], &d.labels[..n]),
    )
    .unwrap();
}

/// A successful command's JSON output.
pub fn json_of(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed and reaped when dropped: every test stops what it started.
pub struct Kill(pub std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
