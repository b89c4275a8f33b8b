//! Load-to-power curves per CPU family, per vCPU (one hardware thread).
//!
//! The ends of each family's curve, the watts per vCPU at idle and at full load, are Cloud Carbon
//! Footprint's coefficients (`data/cpu_families.tsv`, derived by `scripts/derive_cloud_tables.js`
//! from its npm packages): averages over the SPECpower_ssj2008 results of servers with that
//! microarchitecture, divided by their hardware threads. Between the ends the curve follows the
//! shape of Teads' SPECpower-fitted curve (power at 0, 10, 50 and 100 % load: 0.12, 0.32, 0.75 and
//! 1.02 of TDP, as boaviztapi ships it), normalised to run from 0 at idle to 1 at full load: a
//! server draws most of its dynamic power at low load, which a straight line between the ends
//! understates (at 10 % load the curve is at 22 % of the dynamic range, a line at 10 %).
//!
//! What is not done: fitting each family's curve on the SPECpower results themselves and deriving
//! the band from the fit's residuals; no package registry ships those results per server, so the
//! band here is stated ([`FAMILY_UNCERTAINTY`], [`STAND_IN_UNCERTAINTY`]), not derived.

use std::sync::OnceLock;

/// Relative uncertainty of a family curve for a CPU of that family.
pub const FAMILY_UNCERTAINTY: f64 = 0.4;
/// Relative uncertainty when the nearest family with data stands in for the CPU's own.
pub const STAND_IN_UNCERTAINTY: f64 = 0.6;

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

/// One family's curve: watts per vCPU at idle and at full load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Curve {
    pub family: &'static str,
    pub idle_w_per_vcpu: f64,
    pub max_w_per_vcpu: f64,
}

impl Curve {
    /// Watts per vCPU at load `u` (0 to 1).
    pub fn watts_per_vcpu(&self, u: f64) -> f64 {
        self.idle_w_per_vcpu + (self.max_w_per_vcpu - self.idle_w_per_vcpu) * shape(u)
    }
}

static FAMILIES: &str = include_str!("../../data/cpu_families.tsv");

/// Every family with a curve.
pub fn families() -> &'static [Curve] {
    static TABLE: OnceLock<Vec<Curve>> = OnceLock::new();
    TABLE.get_or_init(|| {
        FAMILIES
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let mut f = l.split('\t');
                Some(Curve {
                    family: f.next()?,
                    idle_w_per_vcpu: f.next()?.parse().ok()?,
                    max_w_per_vcpu: f.next()?.parse().ok()?,
                })
            })
            .collect()
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
    fn the_bundled_families_have_sane_ends() {
        assert!(families().len() >= 10);
        for c in families() {
            assert!(
                c.idle_w_per_vcpu > 0.0 && c.max_w_per_vcpu > c.idle_w_per_vcpu,
                "{c:?}"
            );
        }
        let sky = family("skylake").unwrap();
        assert_eq!((sky.idle_w_per_vcpu, sky.max_w_per_vcpu), (0.65, 4.26));
        assert!((sky.watts_per_vcpu(0.5) - (0.65 + 3.61 * 0.7)).abs() < 1e-9);
        assert!(family("no such family").is_none());
    }
}
