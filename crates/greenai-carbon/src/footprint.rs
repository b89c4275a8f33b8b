//! Pure carbon accounting: gross and net emissions with PUE and heat reuse, embodied emissions,
//! and the Software Carbon Intensity (ISO/IEC 21031:2024).
//!
//! ```
//! use greenai_carbon::footprint::{DataCentre, footprint};
//! use greenai_units::{CarbonIntensity, Energy};
//!
//! // 2 kWh of IT energy in a data centre with PUE 1.5 that reuses 20 % of its energy as heat,
//! // on a 100 g/kWh grid:
//! let f = footprint(
//!     Energy::from_kwh(2.0),
//!     CarbonIntensity::from_g_per_kwh(100.0),
//!     DataCentre::new(1.5, 0.2).unwrap(),
//! );
//! assert_eq!(f.facility_energy.kwh(), 3.0);            // 2 kWh × 1.5
//! assert_eq!(f.emissions.grams(), 300.0);              // 3 kWh × 100 g/kWh
//! assert!((f.reused_energy.kwh() - 0.6).abs() < 1e-12);  // 20 % of 3 kWh
//! assert!((f.net_emissions.grams() - 240.0).abs() < 1e-9);
//! ```

use crate::error::{CarbonError, Result};
use greenai_units::{CarbonIntensity, Emissions, Energy};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The typical PUE of a personal machine or a room with no cooling overhead: 1.0.
pub const DEFAULT_PUE: f64 = 1.0;
/// The highest PUE accepted: the least efficient facilities on record are near 3; beyond 10 a
/// figure is a typo, not a facility.
pub const MAX_PUE: f64 = 10.0;

/// Power usage effectiveness and energy reuse factor of where the work runs.
///
/// PUE = facility energy / IT energy (≥ 1): about 1.56–1.58 for the industry average in the
/// Uptime Institute's surveys, about 1.1 for hyperscale data centres. ERF (The Green Grid) =
/// energy reused outside the data centre / facility energy, in 0..=1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DataCentre {
    pub pue: f64,
    pub erf: f64,
}

impl Default for DataCentre {
    fn default() -> Self {
        DataCentre {
            pue: DEFAULT_PUE,
            erf: 0.0,
        }
    }
}

impl DataCentre {
    pub fn new(pue: f64, erf: f64) -> Result<Self> {
        if pue.is_nan() || pue < 1.0 {
            return Err(CarbonError::Invalid(format!(
                "PUE {pue} is below 1: a facility cannot use less energy than its IT equipment"
            )));
        }
        if pue > MAX_PUE {
            return Err(CarbonError::Invalid(format!(
                "PUE {pue} is above {MAX_PUE}: no facility is that inefficient"
            )));
        }
        if !(0.0..=1.0).contains(&erf) {
            return Err(CarbonError::Invalid(format!("ERF {erf} is outside 0..=1")));
        }
        Ok(DataCentre { pue, erf })
    }
}

/// What an amount of IT energy costs in carbon.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Footprint {
    /// IT energy × PUE.
    pub facility_energy: Energy,
    /// Gross emissions: facility energy × intensity. Always reported.
    pub emissions: Emissions,
    /// Facility energy × ERF: energy reused as heat outside the data centre.
    pub reused_energy: Energy,
    /// Gross emissions less the reused share, assuming the reused heat displaces energy of the
    /// same carbon intensity. Reported beside the gross figure, never instead of it.
    pub net_emissions: Emissions,
}

/// The footprint of `it_energy` at a constant `intensity`.
pub fn footprint(it_energy: Energy, intensity: CarbonIntensity, dc: DataCentre) -> Footprint {
    let facility_energy = it_energy * dc.pue;
    let emissions = facility_energy * intensity;
    Footprint {
        facility_energy,
        emissions,
        reused_energy: facility_energy * dc.erf,
        net_emissions: emissions * (1.0 - dc.erf),
    }
}

/// The footprint of gross emissions already integrated over time (a time-resolved intensity).
pub fn footprint_of_emissions(
    it_energy: Energy,
    it_emissions: Emissions,
    dc: DataCentre,
) -> Footprint {
    let emissions = it_emissions * dc.pue;
    Footprint {
        facility_energy: it_energy * dc.pue,
        emissions,
        reused_energy: it_energy * dc.pue * dc.erf,
        net_emissions: emissions * (1.0 - dc.erf),
    }
}

/// The embodied emissions of hardware, shared as the SCI specification defines: total embodied
/// emissions × time share (time reserved / expected lifespan) × resource share (resources
/// reserved / total resources).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Embodied {
    pub total: Emissions,
    pub lifespan: Duration,
    pub resource_share: f64,
}

impl Embodied {
    /// `M` for a job that reserved the hardware for `reserved`.
    pub fn share(&self, reserved: Duration) -> Emissions {
        let ls = self.lifespan.as_secs_f64();
        if ls <= 0.0 {
            return Emissions::ZERO;
        }
        self.total * (reserved.as_secs_f64() / ls) * self.resource_share.clamp(0.0, 1.0)
    }
}

/// SCI = (E × I + M) per R: operational plus embodied emissions per functional unit.
pub fn sci(operational: Emissions, embodied: Emissions, units: f64) -> Option<Emissions> {
    (units > 0.0).then(|| (operational + embodied) * (1.0 / units))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bad_factors_are_refused() {
        assert!(DataCentre::new(0.9, 0.0).is_err());
        assert!(DataCentre::new(1.2, 1.5).is_err());
        assert!(DataCentre::new(f64::NAN, 0.0).is_err());
    }

    #[test]
    fn sci_worked_example() {
        // 10 kWh at 400 g/kWh = 4 kg, plus 1 t embodied over 4 years, reserved 1 day at half the
        // machine: 1e6 g × (1/1461) × 0.5 = 342.2 g; over 1,000,000 inferences.
        let op = Energy::from_kwh(10.0) * CarbonIntensity::from_g_per_kwh(400.0);
        let m = Embodied {
            total: Emissions::from_kg(1000.0),
            lifespan: Duration::from_secs(1461 * 86_400),
            resource_share: 0.5,
        }
        .share(Duration::from_secs(86_400));
        assert!((m.grams() - 342.231_348_391_512_7).abs() < 1e-6);
        let per = sci(op, m, 1e6).unwrap();
        assert!((per.grams() - 0.004_342_231).abs() < 1e-9);
        assert_eq!(sci(op, m, 0.0), None);
    }

    proptest! {
        #[test]
        fn emissions_are_linear_in_energy(kwh in 0.0f64..1e6, k in 0.0f64..100.0, g in 0.0f64..1500.0) {
            let i = CarbonIntensity::from_g_per_kwh(g);
            let dc = DataCentre::default();
            let a = footprint(Energy::from_kwh(kwh * k), i, dc).emissions.grams();
            let b = footprint(Energy::from_kwh(kwh), i, dc).emissions.grams() * k;
            prop_assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0));
        }

        #[test]
        fn pue_scales_emissions_and_erf_only_nets(kwh in 0.0f64..1e6, pue in 1.0f64..3.0, erf in 0.0f64..=1.0, g in 0.0f64..1500.0) {
            let i = CarbonIntensity::from_g_per_kwh(g);
            let base = footprint(Energy::from_kwh(kwh), i, DataCentre::default());
            let f = footprint(Energy::from_kwh(kwh), i, DataCentre::new(pue, erf).unwrap());
            prop_assert!((f.emissions.grams() - base.emissions.grams() * pue).abs() <= 1e-9 * f.emissions.grams().max(1.0));
            prop_assert!(f.net_emissions <= f.emissions);
            prop_assert!((f.net_emissions.grams() - f.emissions.grams() * (1.0 - erf)).abs() <= 1e-9 * f.emissions.grams().max(1.0));
        }
    }
}
