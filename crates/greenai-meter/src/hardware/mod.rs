//! What greenai knows of the hardware beyond its sensors, for the estimate model: the CPU's
//! generation ([`cpu`]), the cloud instance ([`cloud`]), each CPU family's load-to-power curve
//! ([`curve`], fitted on SPECpower results by [`specpower`]), the GPUs on the PCI bus ([`gpu`]),
//! and the embodied emissions of a known cloud host. All of it read locally, under
//! roots given as parameters (`/proc`, `/sys`), with no network call.

pub mod cloud;
pub mod cpu;
pub mod curve;
pub mod gpu;
pub mod metadata;
pub mod specpower;

use crate::sensors::estimate::{
    linear_cpu_watts, lookup_tdp, DEFAULT_IDLE_SHARE, DEFAULT_WATTS_PER_THREAD,
};
use cloud::{CloudMachine, Dmi};
use cpu::{CpuId, Generation};
use curve::Curve;
use serde::Serialize;
use std::path::Path;

/// What the machine says of its hardware.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hardware {
    pub cpu: CpuId,
    pub generation: Option<Generation>,
    pub cloud: Option<CloudMachine>,
}

impl Hardware {
    /// Reads `<proc_root>/cpuinfo` and `<sysfs_root>/class/dmi/id/` (each may be missing).
    pub fn detect(proc_root: &Path, sysfs_root: &Path) -> Hardware {
        let cpuinfo =
            crate::sysfs::read_bounded(&proc_root.join("cpuinfo"), 16 << 20).unwrap_or_default();
        Hardware::from_parts(&cpuinfo, Some(sysfs_root))
    }

    /// From the text of `cpuinfo` already read, and the DMI strings under `sysfs_root` (none
    /// without one).
    pub fn from_parts(cpuinfo: &str, sysfs_root: Option<&Path>) -> Hardware {
        let cpu = CpuId::parse(cpuinfo);
        Hardware {
            generation: cpu::generation(&cpu),
            cloud: sysfs_root.and_then(|r| cloud::identify(&Dmi::read(r))),
            cpu,
        }
    }

    /// The curve that stands for this CPU when its model name has no TDP: the generation's
    /// family from cpuinfo, else the cloud instance's microarchitecture.
    pub fn curve(&self) -> Option<CurveBasis> {
        if let Some(g) = self.generation {
            if let Some(c) = curve::family(g.curve_family) {
                return Some(CurveBasis {
                    curve: c,
                    exact: g.exact,
                    why: format!(
                        "{} from cpuinfo ({}){}",
                        g.name,
                        cpu::evidence(&self.cpu),
                        if g.exact {
                            String::new()
                        } else {
                            format!(
                                "; no results for it, the nearest family {} stands in with the \
                                 band its predecessors' curves missed by (±{:.0}%)",
                                c.family,
                                specpower::stand_in_uncertainty() * 100.0
                            )
                        }
                    ),
                });
            }
        }
        let known = self.cloud.as_ref()?.known?;
        let c = curve::family(known.curve_family()?)?;
        Some(CurveBasis {
            curve: c,
            exact: true,
            why: format!(
                "{} from the {} instance type {}",
                c.family,
                self.cloud
                    .as_ref()
                    .map_or(String::new(), |m| m.provider.to_string()),
                known.name
            ),
        })
    }

    /// The embodied emissions of a known cloud host, shared by this instance's vCPUs.
    pub fn embodied(&self) -> Option<EmbodiedDefault> {
        let cloud = self.cloud.as_ref()?;
        Some(embodied_for(cloud.provider, &cloud.known?))
    }
}

/// The embodied default of the cloud instance the DMI strings under `sysfs_root` name, if the
/// bundled table knows it: what carbon reports use where no flag gives embodied emissions. Reads
/// only the DMI strings.
pub fn embodied_at(sysfs_root: &Path) -> Option<EmbodiedDefault> {
    let cloud = cloud::identify(&Dmi::read(sysfs_root))?;
    Some(embodied_for(cloud.provider, &cloud.known?))
}

/// What the metadata service said, for reports: the instance type and what greenai knows of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CloudSummary {
    pub provider: cloud::Provider,
    pub instance: Option<String>,
    /// Whether the bundled table knows the type.
    pub known: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub curve_family: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embodied: Option<EmbodiedDefault>,
}

impl CloudSummary {
    pub fn of(c: &CloudMachine) -> CloudSummary {
        CloudSummary {
            provider: c.provider,
            instance: c.instance.clone(),
            known: c.known.is_some(),
            curve_family: c.known.and_then(|t| t.curve_family()),
            embodied: c.known.map(|t| embodied_for(c.provider, &t)),
        }
    }
}

/// A known instance type's host emissions, shared by its vCPUs over the host's lifespan.
fn embodied_for(provider: cloud::Provider, t: &cloud::InstanceType) -> EmbodiedDefault {
    EmbodiedDefault {
        host_kg: t.host_embodied_kg,
        share: t.host_share(),
        lifespan_years: cloud::HOST_LIFESPAN_YEARS,
        source: format!(
            "{provider} {}: host {:.0} kgCO2e (Cloud Carbon Footprint), {} of {} vCPUs, {} years",
            t.name,
            t.host_embodied_kg,
            t.vcpus,
            t.host_vcpus,
            cloud::HOST_LIFESPAN_YEARS
        ),
    }
}

/// The curve of the family whose SPECpower results carry `model`'s number ("AMD EPYC 7763" is
/// EPYC 3rd Gen), for a CPU whose cpuinfo names no generation greenai knows.
pub fn model_curve(model: &str) -> Option<CurveBasis> {
    let c = curve::family(specpower::family_of_model(model)?)?;
    Some(CurveBasis {
        curve: c,
        exact: true,
        why: format!(
            "{model:?} is a {} CPU in the SPECpower_ssj2008 results",
            c.family
        ),
    })
}

/// A family curve chosen for a CPU, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct CurveBasis {
    pub curve: Curve,
    /// Whether the family is the CPU's own generation (false: a stand-in).
    pub exact: bool,
    pub why: String,
}

impl CurveBasis {
    /// The curve's own band for its family; for a stand-in, at least the band measured by
    /// predicting each family's servers from its predecessor's curve.
    pub fn uncertainty(&self) -> f64 {
        if self.exact {
            self.curve.uncertainty
        } else {
            self.curve
                .uncertainty
                .max(specpower::stand_in_uncertainty())
        }
    }
}

/// The SCI `M` term's inputs for a known cloud host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmbodiedDefault {
    /// The whole host's embodied emissions, kgCO2e.
    pub host_kg: f64,
    /// The instance's share of the host (its vCPUs over the host's).
    pub share: f64,
    pub lifespan_years: f64,
    pub source: String,
}

/// What `greenai estimate` asks: a CPU by model name, by family or by cloud instance, at a load.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    pub cpu_model: Option<String>,
    pub family: Option<String>,
    /// `aws:m5.large` or `m5.large`.
    pub instance: Option<String>,
    /// vCPUs (hardware threads) to count; the instance's or 1 by default.
    pub vcpus: Option<u32>,
    /// Utilisation, 0 to 1.
    pub load: f64,
}

/// The model's answer to a [`Query`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// The CPU's power at the load, W.
    pub watts: f64,
    /// The band: `watts × (1 ∓ uncertainty)`.
    pub low_w: f64,
    pub high_w: f64,
    pub uncertainty: f64,
    pub load: f64,
    /// How the figure is modelled, and from what.
    pub model: String,
    pub why: String,
    /// For a known cloud instance: the host's embodied emissions shared by it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embodied: Option<EmbodiedDefault>,
    /// That share per hour of use, gCO2e.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embodied_g_per_hour: Option<f64>,
}

/// Answers a query the way the meter's estimate would, or says why it cannot.
pub fn estimate(q: &Query) -> Result<Estimate, String> {
    if !(0.0..=1.0).contains(&q.load) {
        return Err(format!("--load {} is not between 0 and 1", q.load));
    }
    let instance = q
        .instance
        .as_deref()
        .map(cloud::parse_instance)
        .transpose()?;
    let vcpus = q
        .vcpus
        .or(instance.map(|(_, t)| t.vcpus))
        .unwrap_or(1)
        .max(1) as f64;
    let finish = |watts: f64, u: f64, model: String, why: String| {
        let embodied = instance.map(|(p, t)| embodied_for(p, &t));
        let per_hour = embodied
            .as_ref()
            .map(|e| e.host_kg * 1000.0 * e.share / (e.lifespan_years * 365.25 * 24.0));
        Estimate {
            watts,
            low_w: watts * (1.0 - u).max(0.0),
            high_w: watts * (1.0 + u),
            uncertainty: u,
            load: q.load,
            model,
            why,
            embodied,
            embodied_g_per_hour: per_hour,
        }
    };
    let by_curve = |c: Curve, exact: bool, why: String| {
        let b = CurveBasis {
            curve: c,
            exact,
            why,
        };
        finish(
            c.watts_per_vcpu(q.load) * vcpus,
            b.uncertainty(),
            format!("{} curve, {} × {vcpus} vCPUs", c.family, c.basis()),
            b.why,
        )
    };
    if let Some(f) = q.family.as_deref() {
        let c = curve::family(f).ok_or_else(|| {
            let names: Vec<&str> = curve::families().iter().map(|c| c.family).collect();
            format!("no curve for the family {f:?}; known: {}", names.join(", "))
        })?;
        return Ok(by_curve(c, true, format!("family {} as asked", c.family)));
    }
    if let Some(m) = q.cpu_model.as_deref() {
        if let Some(b) = model_curve(m) {
            return Ok(by_curve(b.curve, true, b.why));
        }
        if let Some((tdp, entry)) = lookup_tdp(m) {
            return Ok(finish(
                linear_cpu_watts(tdp, DEFAULT_IDLE_SHARE, q.load),
                crate::sensors::estimate::CPU_UNCERTAINTY_KNOWN_TDP,
                format!("TDP {tdp} W × (idle share {DEFAULT_IDLE_SHARE} + the rest × load)"),
                format!("{m:?} matched the TDP table's {entry:?} (CodeCarbon's cpu_power.csv)"),
            ));
        }
    }
    if let Some((p, t)) = instance {
        if let Some(f) = t.curve_family().and_then(curve::family) {
            return Ok(by_curve(
                f,
                true,
                format!("the {p} instance type {}'s {}", t.name, f.family),
            ));
        }
    }
    let Some(m) = q.cpu_model.as_deref() else {
        return Err("give --cpu-model, --family or --instance".into());
    };
    Ok(finish(
        linear_cpu_watts(DEFAULT_WATTS_PER_THREAD * vcpus, DEFAULT_IDLE_SHARE, q.load),
        crate::sensors::estimate::CPU_UNCERTAINTY_DEFAULT_TDP,
        format!("{DEFAULT_WATTS_PER_THREAD} W per vCPU × {vcpus} (CodeCarbon's default), idle share {DEFAULT_IDLE_SHARE}"),
        format!("{m:?} is not in the TDP table; name its family (--family) for a curve"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_by_family_instance_or_model() {
        let fam = estimate(&Query {
            family: Some("Skylake".into()),
            vcpus: Some(4),
            load: 0.5,
            ..Query::default()
        })
        .unwrap();
        let sky = curve::family("Skylake").unwrap();
        assert!((fam.watts - 4.0 * sky.points[5]).abs() < 1e-9, "{fam:?}");
        assert_eq!(fam.uncertainty, sky.uncertainty);
        assert!(fam.low_w < fam.watts && fam.watts < fam.high_w);
        assert!(fam.model.contains("SPECpower"), "{}", fam.model);

        let inst = estimate(&Query {
            instance: Some("aws:c6a.large".into()),
            load: 1.0,
            ..Query::default()
        })
        .unwrap();
        let milan = curve::family("AMD EPYC 3rd Gen").unwrap();
        assert!(
            (inst.watts - 2.0 * milan.max_w_per_vcpu()).abs() < 1e-9,
            "{inst:?}"
        );
        let e = inst.embodied.as_ref().unwrap();
        assert!((e.share - 2.0 / 192.0).abs() < 1e-12);
        // 1,510 kg over 4 years, 2 of 192 vCPUs: about 0.45 g an hour.
        let g = inst.embodied_g_per_hour.unwrap();
        assert!(g > 0.3 && g < 0.6, "{g}");

        let gcp = estimate(&Query {
            instance: Some("gcp:n2-standard-4".into()),
            load: 1.0,
            ..Query::default()
        })
        .unwrap();
        let cascade = curve::family("Cascade Lake").unwrap();
        assert!(
            (gcp.watts - 4.0 * cascade.max_w_per_vcpu()).abs() < 1e-9,
            "{gcp:?}"
        );
        assert!(
            gcp.why.contains("Google Cloud") && gcp.embodied.is_some(),
            "{gcp:?}"
        );
        let azure = estimate(&Query {
            instance: Some("azure:Standard_D2s_v3".into()),
            load: 0.5,
            ..Query::default()
        })
        .unwrap();
        assert!(
            azure.why.contains("Azure") && azure.embodied.is_some(),
            "{azure:?}"
        );
        let named = estimate(&Query {
            cpu_model: Some("AMD EPYC 7763 64-Core Processor".into()),
            load: 0.0,
            ..Query::default()
        })
        .unwrap();
        assert!(
            (named.watts - milan.idle_w_per_vcpu()).abs() < 1e-9,
            "{named:?}"
        );
        assert!(named.why.contains("SPECpower"), "{}", named.why);
        let tdp = estimate(&Query {
            cpu_model: Some("Intel(R) Pentium(R) CPU G4560 @ 3.50GHz".into()),
            load: 0.0,
            ..Query::default()
        })
        .unwrap();
        assert!(tdp.why.contains("TDP table"), "{}", tdp.why);
        assert!(
            (tdp.watts - 54.0 * DEFAULT_IDLE_SHARE).abs() < 1e-9,
            "{tdp:?}"
        );
        let generic = estimate(&Query {
            cpu_model: Some("AMD EPYC".into()),
            vcpus: Some(2),
            load: 1.0,
            ..Query::default()
        })
        .unwrap();
        assert!((generic.watts - 8.0).abs() < 1e-9 && generic.why.contains("--family"));

        for bad in [
            Query {
                load: 1.5,
                family: Some("Skylake".into()),
                ..Query::default()
            },
            Query {
                family: Some("Pentium".into()),
                ..Query::default()
            },
            Query {
                instance: Some("aws:x9.nope".into()),
                ..Query::default()
            },
            Query {
                instance: Some("ibm:bx2-2x8".into()),
                ..Query::default()
            },
            Query::default(),
        ] {
            assert!(estimate(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_tree_with_an_ec2_instance_and_a_generic_cpu() {
        let dir = tempfile::tempdir().unwrap();
        let (proc, sys) = (dir.path().join("proc"), dir.path().join("sys"));
        std::fs::create_dir_all(sys.join("class/dmi/id")).unwrap();
        std::fs::create_dir_all(&proc).unwrap();
        std::fs::write(sys.join("class/dmi/id/sys_vendor"), "Amazon EC2\n").unwrap();
        std::fs::write(sys.join("class/dmi/id/product_name"), "c6a.large\n").unwrap();
        std::fs::write(
            proc.join("cpuinfo"),
            "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\n\
             model name\t: AMD EPYC 7R13 Processor\nflags\t\t: avx2 hypervisor\n",
        )
        .unwrap();
        let h = Hardware::detect(&proc, &sys);
        assert!(h.cpu.virtual_machine);
        let c = h.curve().unwrap();
        assert_eq!((c.curve.family, c.exact), ("AMD EPYC 3rd Gen", true));
        assert!(
            c.why.contains("Milan") && c.why.contains("family 25 model 1"),
            "{}",
            c.why
        );
        let e = h.embodied().unwrap();
        assert!(e.source.contains("c6a.large") && e.share < 0.02);
        assert_eq!(
            embodied_at(&sys),
            Some(e),
            "the DMI strings alone give the same default"
        );
        // Nothing under the roots: nothing known.
        let none = Hardware::detect(&dir.path().join("no"), &dir.path().join("no"));
        assert!(none.curve().is_none() && none.embodied().is_none());
    }
}
