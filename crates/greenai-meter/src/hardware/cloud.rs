//! Which cloud instance this is, from what the machine says locally: the DMI strings under
//! `<sysfs>/class/dmi/id/` (no network call). An AWS Nitro instance names its type there
//! (`sys_vendor` "Amazon EC2", `product_name` "m5.large"); Google Compute Engine and Azure name
//! only the provider (`product_name` "Google Compute Engine"; `sys_vendor` "Microsoft
//! Corporation" with Azure's chassis asset tag), so their instance type stays unknown.
//!
//! A known EC2 type brings its vCPUs, the largest size of its family (the whole host, as Cloud
//! Carbon Footprint counts it: the instance's share of the host is vCPUs over that), the host's
//! embodied emissions and its microarchitectures (`data/aws_instances.tsv`, derived from Cloud
//! Carbon Footprint's npm package by `scripts/derive_cloud_tables.js`).

use std::path::Path;
use std::sync::OnceLock;

/// Azure's chassis asset tag, the same on every Azure VM.
const AZURE_ASSET_TAG: &str = "7783-7084-3265-9085-8269-3286-77";
/// Cloud Carbon Footprint's server lifespan for embodied emissions: 4 years.
pub const HOST_LIFESPAN_YEARS: f64 = 4.0;

/// The DMI strings that identify a machine (empty where the file is missing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dmi {
    pub sys_vendor: String,
    pub product_name: String,
    pub chassis_asset_tag: String,
}

impl Dmi {
    /// Reads `<sysfs_root>/class/dmi/id/`; missing or unreadable files read as empty.
    pub fn read(sysfs_root: &Path) -> Dmi {
        let dir = sysfs_root.join("class/dmi/id");
        let get = |name: &str| {
            crate::sysfs::read_bounded(&dir.join(name), 4096)
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        Dmi {
            sys_vendor: get("sys_vendor"),
            product_name: get("product_name"),
            chassis_asset_tag: get("chassis_asset_tag"),
        }
    }
}

/// A cloud provider, as the machine reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Aws,
    Gcp,
    Azure,
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Provider::Aws => "AWS",
            Provider::Gcp => "Google Cloud",
            Provider::Azure => "Azure",
        })
    }
}

/// An EC2 instance type's row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InstanceType {
    pub name: &'static str,
    pub vcpus: u32,
    pub memory_gib: f64,
    /// vCPUs of the family's largest size: the host the instance shares.
    pub host_vcpus: u32,
    /// The host's embodied emissions (manufacture, transport, end of life), kgCO2e.
    pub host_embodied_kg: f64,
    /// Its microarchitectures, `;`-separated (curve family names), possibly empty.
    pub microarchitectures: &'static str,
}

impl InstanceType {
    /// The instance's share of its host: vCPUs over the host's.
    pub fn host_share(&self) -> f64 {
        (self.vcpus as f64 / self.host_vcpus.max(1) as f64).clamp(0.0, 1.0)
    }

    /// The first microarchitecture with a power curve, if any.
    pub fn curve_family(&self) -> Option<&'static str> {
        self.microarchitectures
            .split(';')
            .find(|a| super::curve::family(a).is_some())
    }
}

/// What the machine says of its cloud.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudMachine {
    pub provider: Provider,
    /// The instance type where the machine names it (`m5.large`).
    pub instance: Option<String>,
    /// Its row in the bundled table, where it has one.
    pub known: Option<InstanceType>,
}

static AWS: &str = include_str!("../../data/aws_instances.tsv");

fn aws_table() -> &'static [InstanceType] {
    static TABLE: OnceLock<Vec<InstanceType>> = OnceLock::new();
    TABLE.get_or_init(|| {
        AWS.lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let f: Vec<&'static str> = l.split('\t').collect();
                Some(InstanceType {
                    name: f.first().copied()?,
                    vcpus: f.get(1)?.parse().ok()?,
                    memory_gib: f.get(2)?.parse().ok()?,
                    host_vcpus: f.get(3)?.parse().ok()?,
                    host_embodied_kg: f.get(4)?.parse().ok()?,
                    microarchitectures: f.get(5).copied().unwrap_or(""),
                })
            })
            .collect()
    })
}

/// The EC2 instance type `name` (`m5.large`), from the bundled table.
pub fn aws_instance(name: &str) -> Option<InstanceType> {
    let name = name.trim().to_ascii_lowercase();
    aws_table().iter().find(|t| t.name == name).copied()
}

/// The cloud the DMI strings name, or `None` for a machine that names none.
pub fn identify(dmi: &Dmi) -> Option<CloudMachine> {
    let vendor = dmi.sys_vendor.to_ascii_lowercase();
    if vendor.contains("amazon") {
        // Nitro instances name their type; Xen-based ones say "HVM domU".
        let t = dmi.product_name.trim();
        let named = t.contains('.') && !t.contains(' ');
        return Some(CloudMachine {
            provider: Provider::Aws,
            instance: named.then(|| t.to_string()),
            known: named.then(|| aws_instance(t)).flatten(),
        });
    }
    if dmi.product_name.contains("Google Compute Engine") || vendor == "google" {
        return Some(CloudMachine {
            provider: Provider::Gcp,
            instance: None,
            known: None,
        });
    }
    if dmi.chassis_asset_tag == AZURE_ASSET_TAG {
        return Some(CloudMachine {
            provider: Provider::Azure,
            instance: None,
            known: None,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dmi(vendor: &str, product: &str, tag: &str) -> Dmi {
        Dmi {
            sys_vendor: vendor.into(),
            product_name: product.into(),
            chassis_asset_tag: tag.into(),
        }
    }

    #[test]
    fn an_ec2_nitro_instance_names_its_type_and_its_host() {
        let c = identify(&dmi("Amazon EC2", "c6a.large", "Amazon EC2")).unwrap();
        assert_eq!(c.provider, Provider::Aws);
        let t = c.known.unwrap();
        assert_eq!((t.name, t.vcpus, t.host_vcpus), ("c6a.large", 2, 192));
        assert!((t.host_share() - 2.0 / 192.0).abs() < 1e-12);
        assert!(t.host_embodied_kg > 500.0 && t.host_embodied_kg < 5000.0);
        assert_eq!(t.curve_family(), Some("AMD EPYC 3rd Gen"));
        // A Xen-era instance names no type.
        let xen = identify(&dmi("Xen", "HVM domU", "")).is_none();
        assert!(xen);
        let amazon_xen = identify(&dmi("Amazon EC2", "HVM domU", "")).unwrap();
        assert_eq!((amazon_xen.instance, amazon_xen.known), (None, None));
        // A type the table lacks is named, not known.
        let new = identify(&dmi("Amazon EC2", "z99.huge", "")).unwrap();
        assert_eq!(new.instance.as_deref(), Some("z99.huge"));
        assert!(new.known.is_none());
    }

    #[test]
    fn gcp_and_azure_name_only_the_provider() {
        let g = identify(&dmi("Google", "Google Compute Engine", "")).unwrap();
        assert_eq!((g.provider, g.instance), (Provider::Gcp, None));
        let a = identify(&dmi(
            "Microsoft Corporation",
            "Virtual Machine",
            AZURE_ASSET_TAG,
        ));
        assert_eq!(a.unwrap().provider, Provider::Azure);
        // Hyper-V on premises has the vendor but not Azure's tag.
        assert!(identify(&dmi("Microsoft Corporation", "Virtual Machine", "0000")).is_none());
        assert!(identify(&Dmi::default()).is_none());
    }

    #[test]
    fn the_table_reads_whole() {
        assert!(aws_table().len() > 400);
        assert!(aws_instance("M5.Large").is_some());
        for t in aws_table() {
            assert!(t.vcpus >= 1 && t.vcpus <= t.host_vcpus, "{t:?}");
        }
    }
}
