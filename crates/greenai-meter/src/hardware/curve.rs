//! Load-to-power curves per CPU family, per vCPU (one hardware thread).
//!
//! Where the bundled SPECpower_ssj2008 results have the family (17 families, 610 servers), its
//! curve is fitted on them ([`super::specpower`]): the median wall power per hardware thread at
//! active idle and at each 10 % load step, with a band derived from holding each server out.
//!
//! A family without results (the Arm server parts) keeps Cloud Carbon Footprint's ends, the watts
//! per vCPU at idle and at full load (`data/cpu_families.tsv`, derived by
//! `scripts/derive_cloud_tables.js` from its npm packages), with the shape of Teads' curve between
//! them (power at 0, 10, 50 and 100 % load: 0.12, 0.32, 0.75 and 1.02 of TDP, as boaviztapi ships
//! it) and a stated band ([`FAMILY_UNCERTAINTY`]): no fit stands behind it, and reports say so.

use super::specpower::{self, STEPS};
use std::sync::OnceLock;

/// Relative uncertainty of a curve no SPECpower result was fitted for (stated, not derived).
pub const FAMILY_UNCERTAINTY: f64 = 0.4;

/// Teads' curve: load (0 to 1) against the share of TDP drawn.
const TEADS: [(f64, f64); 4] = [(0.0, 0.12), (0.1, 0.32), (0.5, 0.75), (1.0, 1.02)];

/// The share of the dynamic range (idle to full load) drawn at load `u`, from Teads' curve,
/// linear between its points: 0 at idle, 1 at full load, never decreasing.
pub fn shape(u: f64) -> f64 {
    let u = if u.is_nan() { 0.0 } else { u.clamp(0.0, 1.0) };
    let (lo, hi) = (TEADS[0].1, TEADS[TEADS.len() - 1].1);
    for w in TEADS.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        if u <= x1 {
            let y = y0 + (y1 - y0) * (u - x0) / (x1 - x0);
            return (y - lo) / (hi - lo);
        }
    }
    1.0
}

/// One family's curve: watts per vCPU at active idle and at each 10 % load step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Curve {
    pub family: &'static str,
    pub points: [f64; STEPS],
    /// The band's relative half-width for a CPU of this family.
    pub uncertainty: f64,
    /// SPECpower results the curve is fitted on; 0 for CCF's ends with Teads' shape.
    pub servers: usize,
    /// Memory per vCPU the fitted servers carried (GiB), whose power the curve includes; `None`
    /// for CCF's ends.
    pub memory_gib_per_vcpu: Option<f64>,
}

impl Curve {
    /// Watts per vCPU at load `u` (0 to 1).
    pub fn watts_per_vcpu(&self, u: f64) -> f64 {
        specpower::at(&self.points, u)
    }

    pub fn idle_w_per_vcpu(&self) -> f64 {
        self.points[0]
    }

    pub fn max_w_per_vcpu(&self) -> f64 {
        self.points[STEPS - 1]
    }

    /// Whether the band was derived from a fit (false: stated).
    pub fn fitted(&self) -> bool {
        self.servers > 0
    }

    /// Where the curve comes from, in words.
    pub fn basis(&self) -> String {
        if self.fitted() {
            format!(
                "fitted on {} SPECpower_ssj2008 results: {:.2} to {:.2} W per vCPU (idle to full load), ±{:.0}% held-out band",
                self.servers,
                self.idle_w_per_vcpu(),
                self.max_w_per_vcpu(),
                self.uncertainty * 100.0
            )
        } else {
            format!(
                "Cloud Carbon Footprint's {:.2} to {:.2} W per vCPU with Teads' shape between, ±{:.0}% stated (no SPECpower result for the family)",
                self.idle_w_per_vcpu(),
                self.max_w_per_vcpu(),
                self.uncertainty * 100.0
            )
        }
    }
}

static FAMILIES: &str = include_str!("../../data/cpu_families.tsv");

fn ccf(family: &'static str, idle: f64, max: f64) -> Curve {
    Curve {
        family,
        points: std::array::from_fn(|k| idle + (max - idle) * shape(k as f64 / (STEPS - 1) as f64)),
        uncertainty: FAMILY_UNCERTAINTY,
        servers: 0,
        memory_gib_per_vcpu: None,
    }
}

/// Every family with a curve: the fitted ones, then CCF's families the results lack.
pub fn families() -> &'static [Curve] {
    static TABLE: OnceLock<Vec<Curve>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut all: Vec<Curve> = specpower::fits()
            .iter()
            .map(|f| Curve {
                family: f.family,
                points: f.w_per_thread,
                uncertainty: f.uncertainty,
                servers: f.servers,
                memory_gib_per_vcpu: Some(f.memory_gb_per_thread),
            })
            .collect();
        for l in FAMILIES.lines().filter(|l| !l.starts_with('#')) {
            let mut f = l.split('\t');
            let (Some(name), Some(idle), Some(max)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            let (Ok(idle), Ok(max)) = (idle.parse(), max.parse()) else {
                continue;
            };
            if !all.iter().any(|c| c.family.eq_ignore_ascii_case(name)) {
                all.push(ccf(name, idle, max));
            }
        }
        all
    })
}

/// The curve of the family named `name` (case-insensitive).
pub fn family(name: &str) -> Option<Curve> {
    families()
        .iter()
        .find(|c| c.family.eq_ignore_ascii_case(name.trim()))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shape_runs_from_idle_to_full_load_through_teads_points() {
        assert_eq!(shape(0.0), 0.0);
        assert!((shape(1.0) - 1.0).abs() < 1e-12);
        // 10 % load: (0.32 − 0.12) / 0.90 of the range; 50 %: (0.75 − 0.12) / 0.90.
        assert!((shape(0.1) - 0.2 / 0.9).abs() < 1e-12);
        assert!((shape(0.5) - 0.7).abs() < 1e-12);
        assert_eq!(shape(-1.0), 0.0);
        assert_eq!(shape(f64::NAN), 0.0);
        assert!((shape(7.0) - 1.0).abs() < 1e-12);
        let mut last = 0.0;
        for i in 0..=100 {
            let s = shape(i as f64 / 100.0);
            assert!(s >= last, "the curve never falls");
            last = s;
        }
    }

    #[test]
    fn fitted_families_come_first_and_ccf_fills_the_rest() {
        assert!(families().len() >= 17);
        for c in families() {
            assert!(
                c.idle_w_per_vcpu() > 0.0 && c.max_w_per_vcpu() > c.idle_w_per_vcpu(),
                "{c:?}"
            );
        }
        // Skylake has results: its curve is the fit, not CCF's ends (0.65 to 4.26 W).
        let sky = family("skylake").unwrap();
        let fit = specpower::fits()
            .iter()
            .find(|f| f.family == "Skylake")
            .unwrap();
        assert!(sky.fitted() && sky.servers == fit.servers);
        assert_eq!(sky.points, fit.w_per_thread);
        assert_eq!(sky.uncertainty, fit.uncertainty);
        assert!(sky.basis().contains("SPECpower"), "{}", sky.basis());
        // Graviton2 has none: CCF's ends, Teads' shape, the stated band.
        let arm = family("AWS Graviton2").unwrap();
        assert!(!arm.fitted() && arm.uncertainty == FAMILY_UNCERTAINTY);
        assert_eq!((arm.idle_w_per_vcpu(), arm.max_w_per_vcpu()), (0.47, 1.69));
        assert!((arm.watts_per_vcpu(0.5) - (0.47 + 1.22 * 0.7)).abs() < 1e-9);
        assert!(arm.basis().contains("stated"), "{}", arm.basis());
        assert!(family("no such family").is_none());
    }
}
