//! Which cloud instance this is, from what the machine says locally: the DMI strings under
//! `<sysfs>/class/dmi/id/` (no network call). An AWS Nitro instance names its type there
//! (`sys_vendor` "Amazon EC2", `product_name` "m5.large"); Google Compute Engine and Azure name
//! only the provider (`product_name` "Google Compute Engine"; `sys_vendor` "Microsoft
//! Corporation" with Azure's chassis asset tag), so their instance type stays unknown.
//!
//! A known type brings its vCPUs, the largest size of its family (the whole host, as Cloud
//! Carbon Footprint counts it: the instance's share of the host is vCPUs over that), the host's
//! embodied emissions and its microarchitectures: `data/aws_instances.tsv` (506 EC2 types) and
//! `data/azure_instances.tsv` (462 Azure sizes), derived from Cloud Carbon Footprint's npm
//! packages by `scripts/derive_cloud_tables.js`; `data/gcp_instances.tsv` (121 Google Cloud
//! machine types), derived from its coefficients repository by `scripts/derive_gcp_instances.py`.
//! Google Cloud and Azure name their type only to the metadata service (`greenai detect
//! --cloud-metadata`), or to `greenai estimate --instance gcp:n2-standard-4`.

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

/// An instance type's row.
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
static AZURE: &str = include_str!("../../data/azure_instances.tsv");
static GCP: &str = include_str!("../../data/gcp_instances.tsv");

fn parse_table(text: &'static str) -> Vec<InstanceType> {
    text.lines()
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
}

/// The bundled table of `provider`'s instance types.
pub fn table(provider: Provider) -> &'static [InstanceType] {
    static TABLES: OnceLock<[Vec<InstanceType>; 3]> = OnceLock::new();
    let t = TABLES.get_or_init(|| [parse_table(AWS), parse_table(GCP), parse_table(AZURE)]);
    match provider {
        Provider::Aws => &t[0],
        Provider::Gcp => &t[1],
        Provider::Azure => &t[2],
    }
}

/// A type name in the form each table keys it: EC2's and Google's lowercased (Google's metadata
/// gives `projects/N/machineTypes/n2-standard-4`: the last segment); Azure's `Standard_D2s_v3`
/// (the API's name) and `D2s v3` (the price list's) alike, without the tier, spaces or
/// underscores, lowercased.
fn key(provider: Provider, name: &str) -> String {
    let name = name.trim();
    match provider {
        Provider::Aws => name.to_ascii_lowercase(),
        Provider::Gcp => name
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase(),
        Provider::Azure => {
            let lower = name.to_ascii_lowercase();
            let bare = lower
                .strip_prefix("standard_")
                .or_else(|| lower.strip_prefix("basic_"))
                .unwrap_or(&lower);
            bare.chars().filter(|c| *c != ' ' && *c != '_').collect()
        }
    }
}

/// The instance type `name` of `provider`, from the bundled table.
pub fn instance(provider: Provider, name: &str) -> Option<InstanceType> {
    let k = key(provider, name);
    table(provider)
        .iter()
        .find(|t| key(provider, t.name) == k)
        .copied()
}

/// The EC2 instance type `name` (`m5.large`), from the bundled table.
pub fn aws_instance(name: &str) -> Option<InstanceType> {
    instance(Provider::Aws, name)
}

/// `provider:type` (`aws:m5.large`, `gcp:n2-standard-4`, `azure:Standard_D2s_v3`); a bare name
/// is an EC2 type.
pub fn parse_instance(spec: &str) -> Result<(Provider, InstanceType), String> {
    let (provider, name) = match spec.split_once(':') {
        Some((p, n)) => (
            match p.trim().to_ascii_lowercase().as_str() {
                "aws" => Provider::Aws,
                "gcp" | "google" => Provider::Gcp,
                "azure" => Provider::Azure,
                other => {
                    return Err(format!(
                        "{spec}: unknown provider {other:?} (aws, gcp or azure)"
                    ))
                }
            },
            n,
        ),
        None => (Provider::Aws, spec),
    };
    let t = instance(provider, name).ok_or_else(|| {
        format!(
            "{spec}: not a {provider} instance type in the bundled table \
             (e.g. aws:m5.large, gcp:n2-standard-4, azure:Standard_D2s_v3)"
        )
    })?;
    Ok((provider, t))
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
    fn the_tables_read_whole() {
        assert!(table(Provider::Aws).len() > 400);
        assert!(table(Provider::Azure).len() > 400);
        assert!(table(Provider::Gcp).len() > 100);
        assert!(aws_instance("M5.Large").is_some());
        for p in [Provider::Aws, Provider::Gcp, Provider::Azure] {
            for t in table(p) {
                assert!(t.vcpus >= 1 && t.vcpus <= t.host_vcpus, "{t:?}");
                assert!(t.host_embodied_kg > 0.0, "{t:?}");
            }
        }
    }

    #[test]
    fn google_and_azure_names_as_their_apis_give_them() {
        let g = instance(Provider::Gcp, "projects/1234/machineTypes/n2-standard-4").unwrap();
        assert_eq!((g.name, g.vcpus, g.host_vcpus), ("n2-standard-4", 4, 128));
        assert_eq!(g.curve_family(), Some("Cascade Lake"));
        let a = instance(Provider::Azure, "Standard_D2s_v3").unwrap();
        assert_eq!((a.name, a.vcpus), ("D2s v3", 2));
        assert!(a.curve_family().is_some(), "{a:?}");
        assert_eq!(instance(Provider::Azure, "d2s v3"), Some(a));
        let (p, t) = parse_instance("azure:Standard_D2s_v3").unwrap();
        assert_eq!((p, t), (Provider::Azure, a));
        assert_eq!(parse_instance("m5.large").unwrap().0, Provider::Aws);
        assert!(parse_instance("gcp:n9-nothing").is_err());
        assert!(parse_instance("ibm:bx2-2x8").is_err());
    }
}
