//! What greenai records of the machine: reads `/proc`, `uname` and the detect report.

use crate::report::HostInfo;
use greenai_meter::{ComponentKind, DetectReport};
use std::path::Path;

/// `(os, hostname)`: `Linux-6.1.0-amd64-x86_64` and the node name.
fn uname() -> (String, String) {
    // SAFETY: utsname is plain data; uname fills it with NUL-terminated strings.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return Default::default();
    }
    let s = |f: &[libc::c_char]| {
        // SAFETY: uname NUL-terminates every field.
        unsafe { std::ffi::CStr::from_ptr(f.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    };
    (
        format!("{}-{}-{}", s(&u.sysname), s(&u.release), s(&u.machine)),
        s(&u.nodename),
    )
}

/// The host's description, from `proc_root` and what discovery found.
pub fn host_info(proc_root: &Path, report: &DetectReport) -> HostInfo {
    let (os, hostname) = uname();
    let cpuinfo = std::fs::read_to_string(proc_root.join("cpuinfo")).unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == "model name").then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    let cpu_count = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let mem_kib: f64 = std::fs::read_to_string(proc_root.join("meminfo"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0.0);
    let gpus: Vec<&greenai_meter::Component> = report
        .components
        .iter()
        .filter(|c| c.kind == ComponentKind::Gpu)
        .collect();
    let gpu_model = gpus
        .first()
        .map(|g| {
            g.sensor
                .strip_prefix("nvml:")
                .and_then(|s| s.rsplit_once(' ').map(|(name, _uuid)| name.to_string()))
                .unwrap_or_else(|| g.sensor.clone())
        })
        .unwrap_or_default();
    HostInfo {
        hostname,
        os,
        cpu_model,
        cpu_count,
        ram_total_gb: mem_kib * 1024.0 / 1e9,
        gpu_count: gpus.len(),
        gpu_model,
    }
}
