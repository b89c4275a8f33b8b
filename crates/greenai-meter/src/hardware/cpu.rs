//! Which CPU generation a machine has, from `/proc/cpuinfo`'s family, model, stepping and flags
//! (x86) or implementer and part (Arm), for when the model name is generic: a cloud guest often
//! reports only "AMD EPYC" or "Intel Xeon Processor", which no TDP table can match.
//!
//! The identifiers are the vendors' (Intel's and AMD's family/model numbers, Arm's main ID
//! register part numbers); each generation names the power curve family that stands for it
//! ([`super::curve`]), and whether that family is the generation itself or the nearest one with
//! data (a stand-in, which the estimate states and widens its band for).

/// The fields of `/proc/cpuinfo` that identify a CPU, from its first processor block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuId {
    /// `GenuineIntel`, `AuthenticAMD`, or empty (Arm has none).
    pub vendor: String,
    pub family: Option<u32>,
    pub model: Option<u32>,
    pub stepping: Option<u32>,
    /// Arm's `CPU implementer` and `CPU part` (0x41 and 0xd0c for a Neoverse N1).
    pub implementer: Option<u32>,
    pub part: Option<u32>,
    pub flags: Vec<String>,
    /// The `hypervisor` flag: a virtual machine.
    pub virtual_machine: bool,
}

fn number(v: &str) -> Option<u32> {
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

impl CpuId {
    /// Parses the first processor block of `cpuinfo` (the fields repeat for every CPU).
    pub fn parse(cpuinfo: &str) -> CpuId {
        let mut id = CpuId::default();
        for line in cpuinfo.lines() {
            if line.trim().is_empty() && (id.family.is_some() || id.part.is_some()) {
                break;
            }
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            match k.trim() {
                "vendor_id" => id.vendor = v.trim().to_string(),
                "cpu family" => id.family = number(v),
                "model" => id.model = number(v),
                "stepping" => id.stepping = number(v),
                "CPU implementer" => id.implementer = number(v),
                "CPU part" => id.part = number(v),
                "flags" | "Features" => {
                    id.flags = v.split_whitespace().map(str::to_string).collect();
                }
                _ => {}
            }
        }
        id.virtual_machine = id.flags.iter().any(|f| f == "hypervisor");
        id
    }

    fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

/// A CPU generation and the power-curve family that stands for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation {
    /// The generation in words: `AMD Zen 4 (EPYC 9004 "Genoa")`.
    pub name: &'static str,
    /// The curve family used ([`super::curve::family`]'s name).
    pub curve_family: &'static str,
    /// Whether the curve family is this generation's own (false: the nearest with data).
    pub exact: bool,
}

const fn gen(name: &'static str, curve_family: &'static str, exact: bool) -> Generation {
    Generation {
        name,
        curve_family,
        exact,
    }
}

/// The generation of `id`, or `None` when its identifiers are not in the table.
pub fn generation(id: &CpuId) -> Option<Generation> {
    let g = match (id.vendor.as_str(), id.family, id.model) {
        ("GenuineIntel", Some(6), Some(m)) => intel(m, id)?,
        ("AuthenticAMD", Some(f), Some(m)) => amd(f, m, id)?,
        _ => match (id.implementer, id.part) {
            (Some(0x41), Some(p)) => arm(p)?,
            _ => return None,
        },
    };
    Some(g)
}

fn intel(model: u32, id: &CpuId) -> Option<Generation> {
    Some(match model {
        15 | 23 | 29 => gen("Intel Core (Merom/Penryn)", "Core (Merom/Penryn)", true),
        26 | 30 | 31 | 46 | 37 | 44 | 47 => gen("Intel Nehalem/Westmere", "Nehalem", true),
        42 | 45 => gen("Intel Sandy Bridge", "Sandy Bridge", true),
        58 | 62 => gen("Intel Ivy Bridge", "Ivy Bridge", true),
        60 | 63 | 69 | 70 => gen("Intel Haswell", "Haswell", true),
        61 | 71 | 79 | 86 => gen("Intel Broadwell", "Broadwell", true),
        78 | 94 => gen("Intel Skylake (client)", "Skylake", true),
        // Model 85 is Skylake-SP, Cascade Lake or Cooper Lake by stepping; a guest's stepping can
        // be masked, and VNNI (which Skylake-SP lacks) tells Cascade Lake apart.
        85 if id.stepping.is_some_and(|s| s >= 10) => gen(
            "Intel Cooper Lake (Xeon Scalable 3rd gen)",
            "Cooper Lake",
            true,
        ),
        85 if id.stepping.is_some_and(|s| s >= 5) || id.has("avx512_vnni") => gen(
            "Intel Cascade Lake (Xeon Scalable 2nd gen)",
            "Cascade Lake",
            true,
        ),
        85 => gen("Intel Skylake-SP (Xeon Scalable 1st gen)", "Skylake", true),
        142 | 158 => gen("Intel Kaby/Coffee Lake", "Coffee Lake", true),
        165 | 166 => gen("Intel Comet Lake", "Coffee Lake", false),
        167 => gen("Intel Rocket Lake", "Rocket Lake", true),
        106 | 108 => gen(
            "Intel Ice Lake-SP (Xeon Scalable 3rd gen)",
            "Ice Lake",
            true,
        ),
        143 => gen(
            "Intel Sapphire Rapids (Xeon Scalable 4th gen)",
            "Ice Lake",
            false,
        ),
        207 => gen(
            "Intel Emerald Rapids (Xeon Scalable 5th gen)",
            "Ice Lake",
            false,
        ),
        173 | 175 => gen(
            "Intel Granite Rapids / Sierra Forest (Xeon 6)",
            "Ice Lake",
            false,
        ),
        _ => return None,
    })
}

fn amd(family: u32, model: u32, id: &CpuId) -> Option<Generation> {
    Some(match (family, model) {
        (15 | 16 | 21, _) => gen("AMD Opteron (K8 to Piledriver)", "AMD Opteron", true),
        (23, 1) => gen("AMD Zen (EPYC 7001 \"Naples\")", "AMD EPYC 1st Gen", true),
        (23, 49) => gen("AMD Zen 2 (EPYC 7002 \"Rome\")", "AMD EPYC 2nd Gen", true),
        (23, _) => gen("AMD Zen/Zen 2 (client)", "AMD EPYC 2nd Gen", false),
        (25, 1) => gen("AMD Zen 3 (EPYC 7003 \"Milan\")", "AMD EPYC 3rd Gen", true),
        (25, 17) => gen("AMD Zen 4 (EPYC 9004 \"Genoa\")", "AMD EPYC 3rd Gen", false),
        (25, 160) => gen(
            "AMD Zen 4c (EPYC 97x4 \"Bergamo\")",
            "AMD EPYC 3rd Gen",
            false,
        ),
        // Other family-25 models: Zen 4 has AVX-512, Zen 3 has not.
        (25, _) if id.has("avx512f") => gen("AMD Zen 4 (client)", "AMD EPYC 3rd Gen", false),
        (25, _) => gen("AMD Zen 3 (client)", "AMD EPYC 3rd Gen", false),
        (26, _) => gen("AMD Zen 5 (EPYC 9005 \"Turin\")", "AMD EPYC 3rd Gen", false),
        _ => return None,
    })
}

fn arm(part: u32) -> Option<Generation> {
    Some(match part {
        0xd0c => gen(
            "Arm Neoverse N1 (AWS Graviton2, Ampere Altra)",
            "AWS Graviton2",
            true,
        ),
        0xd40 => gen("Arm Neoverse V1 (AWS Graviton3)", "AWS Graviton2", false),
        0xd4f => gen(
            "Arm Neoverse V2 (AWS Graviton4, NVIDIA Grace)",
            "AWS Graviton2",
            false,
        ),
        _ => return None,
    })
}

/// The evidence behind a generation, in words, for reports.
pub fn evidence(id: &CpuId) -> String {
    match (id.family, id.model, id.implementer, id.part) {
        (Some(f), Some(m), _, _) => format!(
            "{} family {f} model {m}{}",
            id.vendor,
            id.stepping
                .map(|s| format!(" stepping {s}"))
                .unwrap_or_default()
        ),
        (_, _, Some(i), Some(p)) => format!("implementer {i:#x} part {p:#x}"),
        _ => "no family/model in cpuinfo".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x86(vendor: &str, family: u32, model: u32, stepping: u32, flags: &str) -> String {
        format!(
            "processor\t: 0\nvendor_id\t: {vendor}\ncpu family\t: {family}\nmodel\t\t: {model}\n\
             model name\t: generic\nstepping\t: {stepping}\nflags\t\t: fpu {flags}\n\n\
             processor\t: 1\nvendor_id\t: {vendor}\n"
        )
    }

    #[test]
    fn generic_names_get_their_generation_from_family_and_model() {
        let this = CpuId::parse(&x86("AuthenticAMD", 25, 17, 1, "avx2 avx512f hypervisor"));
        assert!(this.virtual_machine);
        let g = generation(&this).unwrap();
        assert!(g.name.contains("Zen 4") && !g.exact, "{g:?}");
        assert_eq!(g.curve_family, "AMD EPYC 3rd Gen");
        let milan = generation(&CpuId::parse(&x86("AuthenticAMD", 25, 1, 1, "avx2"))).unwrap();
        assert!(milan.name.contains("Milan") && milan.exact);
        let rome = generation(&CpuId::parse(&x86("AuthenticAMD", 23, 49, 0, ""))).unwrap();
        assert_eq!((rome.curve_family, rome.exact), ("AMD EPYC 2nd Gen", true));
    }

    #[test]
    fn intel_model_85_is_told_apart_by_stepping_or_vnni() {
        let sky = generation(&CpuId::parse(&x86("GenuineIntel", 6, 85, 4, "avx512f"))).unwrap();
        assert_eq!(sky.curve_family, "Skylake");
        let clx = generation(&CpuId::parse(&x86("GenuineIntel", 6, 85, 7, "avx512f"))).unwrap();
        assert_eq!(clx.curve_family, "Cascade Lake");
        // A guest whose stepping reads 0 but which has VNNI is Cascade Lake.
        let masked = CpuId::parse(&x86("GenuineIntel", 6, 85, 0, "avx512f avx512_vnni"));
        assert_eq!(generation(&masked).unwrap().curve_family, "Cascade Lake");
        let cpx = generation(&CpuId::parse(&x86(
            "GenuineIntel",
            6,
            85,
            11,
            "avx512_bf16",
        )))
        .unwrap();
        assert_eq!((cpx.curve_family, cpx.exact), ("Cooper Lake", true));
        let spr = generation(&CpuId::parse(&x86("GenuineIntel", 6, 143, 8, "amx_int8"))).unwrap();
        assert!(spr.name.contains("Sapphire Rapids") && !spr.exact);
        assert_eq!(spr.curve_family, "Ice Lake");
        // Every family the table names has a curve.
        for m in 0..256 {
            for s in [0, 5, 11] {
                let id = CpuId::parse(&x86("GenuineIntel", 6, m, s, ""));
                if let Some(g) = generation(&id) {
                    assert!(
                        super::super::curve::family(g.curve_family).is_some(),
                        "{g:?}"
                    );
                }
            }
        }
        for f in [15, 16, 21, 23, 25, 26] {
            for m in [0, 1, 17, 49, 160] {
                if let Some(g) = generation(&CpuId::parse(&x86("AuthenticAMD", f, m, 0, ""))) {
                    assert!(
                        super::super::curve::family(g.curve_family).is_some(),
                        "{g:?}"
                    );
                }
            }
        }
        assert!(generation(&CpuId::parse(&x86("GenuineIntel", 6, 1, 0, ""))).is_none());
    }

    #[test]
    fn arm_parts_and_hex_fields() {
        let graviton2 = "processor\t: 0\nBogoMIPS\t: 243.75\nFeatures\t: fp asimd\n\
                         CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x3\n\
                         CPU part\t: 0xd0c\nCPU revision\t: 1\n";
        let id = CpuId::parse(graviton2);
        assert_eq!((id.implementer, id.part), (Some(0x41), Some(0xd0c)));
        let g = generation(&id).unwrap();
        assert_eq!((g.curve_family, g.exact), ("AWS Graviton2", true));
        assert_eq!(evidence(&id), "implementer 0x41 part 0xd0c");
        assert!(generation(&CpuId::parse("")).is_none());
    }
}
