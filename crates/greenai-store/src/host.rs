//! What greenai records of the machine: reads `/proc`, `uname` and the detect report.

use crate::report::HostInfo;
use greenai_meter::procfs::CpuInfo;
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
    let info = CpuInfo::read(proc_root).unwrap_or(CpuInfo {
        model: None,
        logical_cpus: 0,
        memory_bytes: 0,
    });
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
        cpu_model: info.model.unwrap_or_default(),
        cpu_count: info.logical_cpus,
        // CodeCarbon's ram_total_size is in GB (10^9 bytes).
        ram_total_gb: info.memory_bytes as f64 / 1e9,
        gpu_count: gpus.len(),
        gpu_model,
    }
}
