//! GPUs visible on the PCI bus, whether or not a driver greenai can read is loaded: a cloud guest
//! with a GPU but no NVIDIA driver still shows the device under `<sysfs>/bus/pci/devices/`, and
//! `greenai detect` names it so that a missing GPU measurement is explained, not silent.
//!
//! The name comes from the PCI ID database (`pci.ids`, Debian's `pci.ids` package, read where
//! installed: `/usr/share/misc/pci.ids`, `/usr/share/hwdata/pci.ids`); without it, the vendor
//! and device numbers stand.

use serde::Serialize;
use std::path::{Path, PathBuf};

/// PCI display controllers: VGA (0x0300), XGA (0x0301), 3D (0x0302), other (0x0380).
const DISPLAY_CLASS: u32 = 0x03;

/// One GPU-class PCI device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PciGpu {
    /// The device's PCI address (`0000:00:1e.0`).
    pub address: String,
    pub vendor_id: u16,
    pub device_id: u16,
    /// `NVIDIA`, `AMD`, `Intel`, or the vendor number.
    pub vendor: String,
    /// The device's name in `pci.ids`, where the database is installed and has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl std::fmt::Display for PciGpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{} {n}", self.vendor)?,
            None => write!(f, "{} device {:#06x}", self.vendor, self.device_id)?,
        }
        write!(f, " at {}", self.address)
    }
}

fn hex(s: &str) -> Option<u32> {
    u32::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok()
}

/// Vendors of the displays hypervisors emulate (virtio, QEMU, VMware, Hyper-V): not GPUs.
const EMULATED: [u16; 5] = [0x1af4, 0x1234, 0x1b36, 0x15ad, 0x1414];

fn vendor_name(id: u16) -> String {
    match id {
        0x10de => "NVIDIA".into(),
        0x1002 => "AMD".into(),
        0x8086 => "Intel".into(),
        other => format!("vendor {other:#06x}"),
    }
}

/// Where distributions install the PCI ID database.
pub const PCI_IDS_PATHS: [&str; 2] = ["/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids"];

/// The device's name in the `pci.ids` text: the tab-indented device line under its vendor.
pub fn pci_ids_name(db: &str, vendor: u16, device: u16) -> Option<String> {
    let (v, d) = (format!("{vendor:04x}"), format!("{device:04x}"));
    let mut in_vendor = false;
    for line in db.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if !line.starts_with('\t') {
            if in_vendor {
                return None;
            }
            in_vendor = line.get(..4).is_some_and(|id| id.eq_ignore_ascii_case(&v));
            continue;
        }
        if in_vendor && !line.starts_with("\t\t") {
            let l = line.trim_start_matches('\t');
            if l.get(..4).is_some_and(|id| id.eq_ignore_ascii_case(&d)) {
                return Some(l[4..].trim().to_string());
            }
        }
    }
    None
}

/// The GPU-class devices under `<sysfs_root>/bus/pci/devices/`, named from the `pci.ids` at the
/// first of `pci_ids` that reads (none: numbers only). Bridges, NICs and the rest are skipped;
/// a virtual machine's emulated display (QEMU, virtio, VMware, Hyper-V) is left out too.
pub fn pci_gpus(sysfs_root: &Path, pci_ids: &[PathBuf]) -> Vec<PciGpu> {
    let dir = sysfs_root.join("bus/pci/devices");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let read = |p: PathBuf| {
        crate::sysfs::read_bounded(&p, 64)
            .ok()
            .and_then(|s| hex(&s))
    };
    let mut found: Vec<PciGpu> = entries
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            let class = read(path.join("class"))?;
            if class >> 16 != DISPLAY_CLASS {
                return None;
            }
            let vendor_id = u16::try_from(read(path.join("vendor"))?).ok()?;
            let device_id = u16::try_from(read(path.join("device"))?).ok()?;
            if EMULATED.contains(&vendor_id) {
                return None;
            }
            Some(PciGpu {
                address: e.file_name().to_string_lossy().into_owned(),
                vendor_id,
                device_id,
                vendor: vendor_name(vendor_id),
                name: None,
            })
        })
        .collect();
    found.sort_by(|a, b| a.address.cmp(&b.address));
    if !found.is_empty() {
        let db = pci_ids
            .iter()
            .find_map(|p| crate::sysfs::read_bounded(p, 16 << 20).ok());
        if let Some(db) = db {
            for g in &mut found {
                g.name = pci_ids_name(&db, g.vendor_id, g.device_id);
            }
        }
    }
    found
}

/// [`pci_gpus`] with the distribution's `pci.ids`.
pub fn visible_gpus(sysfs_root: &Path) -> Vec<PciGpu> {
    let paths: Vec<PathBuf> = PCI_IDS_PATHS.iter().map(PathBuf::from).collect();
    pci_gpus(sysfs_root, &paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DB: &str =
        "# pci.ids excerpt\n10de  NVIDIA Corporation\n\t20b0  GA100 [A100 SXM4 40GB]\n\
                      \t\t10de 134f  A100-SXM4-40GB\n\t2330  GH100 [H100 SXM5 80GB]\n\
                      1af4  Red Hat, Inc.\n\t1050  Virtio 1.0 GPU\n";

    fn device(root: &Path, addr: &str, class: &str, vendor: &str, dev: &str) {
        let d = root.join("bus/pci/devices").join(addr);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("class"), format!("{class}\n")).unwrap();
        std::fs::write(d.join("vendor"), format!("{vendor}\n")).unwrap();
        std::fs::write(d.join("device"), format!("{dev}\n")).unwrap();
    }

    #[test]
    fn the_database_names_a_device_under_its_vendor() {
        assert_eq!(
            pci_ids_name(DB, 0x10de, 0x2330).as_deref(),
            Some("GH100 [H100 SXM5 80GB]")
        );
        assert_eq!(
            pci_ids_name(DB, 0x10de, 0x20b0).as_deref(),
            Some("GA100 [A100 SXM4 40GB]")
        );
        // A subsystem line is not a device line; another vendor's device is not this one's.
        assert_eq!(pci_ids_name(DB, 0x10de, 0x134f), None);
        assert_eq!(pci_ids_name(DB, 0x10de, 0x1050), None);
        assert_eq!(pci_ids_name("", 0x10de, 0x2330), None);
    }

    #[test]
    fn display_class_devices_are_found_and_emulated_ones_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        device(root, "0000:00:1e.0", "0x030200", "0x10de", "0x2330");
        device(root, "0000:00:02.0", "0x030000", "0x1af4", "0x1050"); // virtio display
        device(root, "0000:00:03.0", "0x020000", "0x8086", "0x100e"); // a NIC
        device(root, "0000:00:04.0", "garbage", "0x10de", "0x2330");
        let db = root.join("pci.ids");
        std::fs::write(&db, DB).unwrap();
        let named = pci_gpus(root, &[root.join("missing"), db.clone()]);
        assert_eq!(named.len(), 1, "{named:?}");
        assert_eq!(named[0].name.as_deref(), Some("GH100 [H100 SXM5 80GB]"));
        assert_eq!(
            named[0].to_string(),
            "NVIDIA GH100 [H100 SXM5 80GB] at 0000:00:1e.0"
        );
        let bare = pci_gpus(root, &[]);
        assert_eq!(bare[0].to_string(), "NVIDIA device 0x2330 at 0000:00:1e.0");
        assert!(pci_gpus(&root.join("none"), &[db]).is_empty());
    }
}
