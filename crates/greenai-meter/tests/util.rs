//! Helpers shared by the meter's integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Copies a fixture tree into a fresh tempdir, so a test can move its counters.
pub fn fixture_copy(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture(name), dir.path());
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

pub fn write(root: &Path, rel: &str, value: u64) {
    std::fs::write(root.join(rel), format!("{value}\n")).unwrap();
}

pub fn read(root: &Path, rel: &str) -> u64 {
    std::fs::read_to_string(root.join(rel))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Adds `delta` µJ to a powercap zone's counter, wrapping at its range.
pub fn advance_zone(root: &Path, zone: &str, delta: u64) {
    let base = format!("class/powercap/{zone}");
    let max = read(root, &format!("{base}/max_energy_range_uj"));
    let now = read(root, &format!("{base}/energy_uj"));
    let next = ((now as u128 + delta as u128) % (max as u128 + 1)) as u64;
    write(root, &format!("{base}/energy_uj"), next);
}
