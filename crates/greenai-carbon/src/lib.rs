//! Carbon accounting for greenai: where the electricity comes from and what it emits.
//!
//! - [`grid`]: bundled grid intensities (countries, sub-national grids, cloud regions), each with
//!   its year and source; [`grid::lookup`] resolves `FR`, `US-CA`, `gcp:europe-west1`, …
//! - [`series::IntensitySeries`]: a time-resolved intensity (history or forecast) integrated over
//!   a run's energy series.
//! - [`forecast`]: the JSON that forecast services return (Carbon Aware SDK, Electricity Maps,
//!   WattTime, UK Carbon Intensity API), read into an [`series::IntensitySeries`].
//! - [`footprint`]: pure arithmetic for PUE, heat reuse (ERF), embodied emissions and SCI.
//!
//! [`assess`] puts them together into a [`CarbonReport`], the fields every greenai report carries.

pub mod error;
pub mod footprint;
pub mod forecast;
pub mod grid;
pub mod series;

pub use error::{CarbonError, Result};

/// The worked examples of `docs/reference/carbon.md`, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/reference/carbon.md")]
pub struct ReferenceExamples;
use footprint::{footprint, footprint_of_emissions, DataCentre, Embodied};
use greenai_units::{CarbonIntensity, Energy};
use serde::{Deserialize, Serialize};
use series::{IntensitySeries, Signal};
use std::path::PathBuf;
use std::time::Duration;

/// The environment variable naming the default region.
pub const REGION_ENV: &str = "GREENAI_REGION";

/// What the user said about where and how the work runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CarbonSettings {
    /// A country, sub-national or cloud region code; else `$GREENAI_REGION`.
    pub region: Option<String>,
    /// A fixed intensity in gCO2e/kWh, overriding the region's.
    pub intensity_g_per_kwh: Option<f64>,
    /// A CSV of intensity over time.
    pub intensity_file: Option<PathBuf>,
    pub pue: Option<f64>,
    pub erf: Option<f64>,
    /// The functional unit and how many the work produced: `("inference", 10000.0)`.
    pub functional_unit: Option<(String, f64)>,
    /// Embodied emissions of the hardware, for SCI.
    pub embodied: Option<Embodied>,
}

/// The intensity a report uses and where it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub intensity: CarbonIntensity,
    pub source: String,
    pub year: Option<u16>,
    /// The region code, or `world` for the fallback, or `fixed` for a given value.
    pub region: String,
    pub entry: Option<&'static grid::GridEntry>,
    pub series: Option<IntensitySeries>,
    /// Set when the world average stands in for an unknown location.
    pub warning: Option<String>,
    pub dc: DataCentre,
}

impl CarbonSettings {
    /// Resolves the settings (falling back on `$GREENAI_REGION`, then the world average, with a
    /// warning).
    pub fn resolve(&self) -> Result<Resolved> {
        let dc = DataCentre::new(
            self.pue.unwrap_or(footprint::DEFAULT_PUE),
            self.erf.unwrap_or(0.0),
        )?;
        self.check_sci()?;
        let region = self.region.clone().or_else(|| {
            std::env::var(REGION_ENV)
                .ok()
                .filter(|r| !r.trim().is_empty())
        });
        let entry = region.as_deref().map(grid::lookup).transpose()?;
        let series = self
            .intensity_file
            .as_deref()
            .map(IntensitySeries::from_csv_file)
            .transpose()?;
        let mut r = Resolved {
            intensity: grid::WORLD_AVERAGE,
            source: grid::WORLD_AVERAGE_SOURCE.into(),
            year: Some(grid::WORLD_AVERAGE_YEAR),
            region: region.clone().unwrap_or_else(|| "world".into()),
            entry,
            series,
            warning: None,
            dc,
        };
        if let Some(e) = entry {
            r.intensity = e.intensity;
            r.source = e.source.clone();
            r.year = e.year;
            r.region = e.code.clone();
        }
        if let Some(g) = self.intensity_g_per_kwh {
            if !(0.0..=5000.0).contains(&g) {
                return Err(CarbonError::Invalid(format!(
                    "{g} gCO2e/kWh is not a plausible intensity (0 to 5000)"
                )));
            }
            r.intensity = CarbonIntensity::from_g_per_kwh(g);
            r.source = "given with --intensity".into();
            r.year = None;
        }
        if let Some(s) = &r.series {
            r.source = format!("time series {}", s.source);
            r.year = None;
        }
        if entry.is_none() && self.intensity_g_per_kwh.is_none() && r.series.is_none() {
            r.warning = Some(format!(
                "no region given (--region or {REGION_ENV}): using the {} g/kWh world average; emissions may be off by a factor of ten either way",
                grid::WORLD_AVERAGE.g_per_kwh()
            ));
        }
        Ok(r)
    }
}

impl CarbonSettings {
    /// The SCI inputs are finite and in range: a count of functional units above 0, embodied
    /// emissions not negative, a lifespan above 0, a resource share in (0, 1].
    fn check_sci(&self) -> Result<()> {
        if let Some((name, n)) = &self.functional_unit {
            if !(n.is_finite() && *n > 0.0) || name.trim().is_empty() {
                return Err(CarbonError::Invalid(format!(
                    "functional unit {name:?}={n}: give a name and a finite count above 0"
                )));
            }
        }
        if let Some(e) = &self.embodied {
            let kg = e.total.grams() / 1000.0;
            if !(kg.is_finite() && kg >= 0.0) {
                return Err(CarbonError::Invalid(format!(
                    "embodied emissions of {kg} kgCO2e are not a finite amount of 0 or more"
                )));
            }
            if e.lifespan.is_zero() {
                return Err(CarbonError::Invalid(
                    "a hardware lifespan of 0 amortises nothing; give the years in use".into(),
                ));
            }
            if !(e.resource_share > 0.0 && e.resource_share <= 1.0) {
                return Err(CarbonError::Invalid(format!(
                    "a resource share of {} is outside (0, 1]",
                    e.resource_share
                )));
            }
        }
        Ok(())
    }
}

/// The carbon fields of a report. Field names are a stable interface (README).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CarbonReport {
    /// Gross emissions: IT energy × PUE × intensity.
    pub emissions_g: f64,
    /// Gross less heat reused (ERF), beside the gross figure.
    pub net_emissions_g: f64,
    /// The intensity used: the fixed or region value, or the energy-weighted mean of a series.
    pub intensity_g_per_kwh: f64,
    pub intensity_source: String,
    pub intensity_year: Option<u16>,
    /// `average` (one value) or `time_resolved` (integrated over a series).
    pub intensity_mode: String,
    /// Emissions at the series' marginal intensity, where the file has it.
    pub marginal_emissions_g: Option<f64>,
    /// Share of the run that the series covers, for a time-resolved intensity.
    pub intensity_coverage: Option<f64>,
    pub region: String,
    pub country_iso_code: Option<String>,
    pub country_name: Option<String>,
    pub cloud_provider: Option<String>,
    pub cloud_region: Option<String>,
    pub pue: f64,
    pub erf: f64,
    pub facility_energy_j: f64,
    pub energy_reused_j: f64,
    pub embodied_g: Option<f64>,
    pub sci_g_per_unit: Option<f64>,
    pub functional_unit: Option<String>,
    pub warning: Option<String>,
}

/// The carbon report of `it_energy` used over `duration`; `energy_series` (`(unix seconds,
/// cumulative energy)`) is integrated when the settings give a time series.
pub fn assess(
    settings: &CarbonSettings,
    r: &Resolved,
    it_energy: Energy,
    duration: Duration,
    energy_series: &[(f64, Energy)],
) -> CarbonReport {
    let (fp, intensity, mode, marginal, coverage) = match (&r.series, energy_series.len() >= 2) {
        (Some(s), true) => {
            let avg = s.integrate(energy_series, Signal::Average);
            let marginal = s.has_marginal().then(|| {
                s.integrate(energy_series, Signal::Marginal)
                    .emissions
                    .grams()
                    * r.dc.pue
            });
            (
                footprint_of_emissions(it_energy, avg.emissions, r.dc),
                avg.mean_intensity,
                "time_resolved",
                marginal,
                Some(avg.coverage),
            )
        }
        (Some(s), false) => {
            let i = s.at(energy_series.first().map_or(0.0, |p| p.0), Signal::Average);
            (footprint(it_energy, i, r.dc), i, "average", None, Some(0.0))
        }
        (None, _) => (
            footprint(it_energy, r.intensity, r.dc),
            r.intensity,
            "average",
            None,
            None,
        ),
    };
    let embodied = settings.embodied.map(|e| e.share(duration));
    let (unit_name, sci) = match &settings.functional_unit {
        Some((name, n)) => (
            Some(name.clone()),
            footprint::sci(fp.emissions, embodied.unwrap_or_default(), *n).map(|e| e.grams()),
        ),
        None => (None, None),
    };
    let country = r.entry.and_then(|e| e.country());
    let (cloud_provider, cloud_region) = match r.entry {
        Some(e) if e.kind == grid::GridKind::Cloud => {
            let (p, reg) = e.code.split_once(':').unwrap_or(("", ""));
            (Some(p.to_string()), Some(reg.to_string()))
        }
        _ => (None, None),
    };
    CarbonReport {
        emissions_g: fp.emissions.grams(),
        net_emissions_g: fp.net_emissions.grams(),
        intensity_g_per_kwh: intensity.g_per_kwh(),
        intensity_source: r.source.clone(),
        intensity_year: r.year,
        intensity_mode: mode.into(),
        marginal_emissions_g: marginal,
        intensity_coverage: coverage,
        region: r.region.clone(),
        country_iso_code: country.as_ref().map(|c| c.0.clone()),
        country_name: country.map(|c| c.1),
        cloud_provider,
        cloud_region,
        pue: r.dc.pue,
        erf: r.dc.erf,
        facility_energy_j: fp.facility_energy.joules(),
        energy_reused_j: fp.reused_energy.joules(),
        embodied_g: embodied.map(|e| e.grams()),
        sci_g_per_unit: sci,
        functional_unit: unit_name,
        warning: r.warning.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settings from any front end (the CLI checks its flags; Python and library callers do not)
    /// are refused when a number is not finite or out of range.
    #[test]
    fn out_of_range_settings_are_refused_by_the_library() {
        let fr = |f: fn(&mut CarbonSettings)| {
            let mut s = CarbonSettings {
                region: Some("FR".into()),
                ..Default::default()
            };
            f(&mut s);
            s.resolve()
        };
        assert!(fr(|_| {}).is_ok());
        let embodied = |kg: f64, years: f64, share: f64| Embodied {
            total: greenai_units::Emissions::from_kg(kg),
            lifespan: Duration::from_secs_f64(years * 365.25 * 86_400.0),
            resource_share: share,
        };
        for bad in [
            (|s: &mut CarbonSettings| s.pue = Some(f64::NAN)) as fn(&mut CarbonSettings),
            |s| s.pue = Some(1e10),
            |s| s.pue = Some(f64::INFINITY),
            |s| s.erf = Some(f64::NAN),
            |s| s.intensity_g_per_kwh = Some(f64::INFINITY),
            |s| s.functional_unit = Some(("x".into(), f64::INFINITY)),
            |s| s.functional_unit = Some(("x".into(), 0.0)),
            |s| s.functional_unit = Some((" ".into(), 3.0)),
        ] {
            assert!(matches!(fr(bad), Err(CarbonError::Invalid(_))));
        }
        for (kg, years, share) in [
            (-1.0, 4.0, 1.0),
            (f64::NAN, 4.0, 1.0),
            (1.0, 0.0, 1.0),
            (1.0, 4.0, 0.0),
            (1.0, 4.0, 1.5),
        ] {
            let mut s = CarbonSettings {
                region: Some("FR".into()),
                embodied: Some(embodied(kg, years, share)),
                ..Default::default()
            };
            assert!(s.resolve().is_err(), "{kg} {years} {share}");
            s.embodied = Some(embodied(1.0, 4.0, 0.5));
            assert!(s.resolve().is_ok());
        }
    }

    #[test]
    fn a_fixed_intensity_wins_and_no_region_warns() {
        let s = CarbonSettings {
            region: Some("FR".into()),
            intensity_g_per_kwh: Some(50.0),
            ..Default::default()
        };
        let r = s.resolve().unwrap();
        assert_eq!(r.intensity.g_per_kwh(), 50.0);
        assert_eq!(r.region, "FR");
        assert!(r.warning.is_none());
        let c = assess(&s, &r, Energy::from_kwh(2.0), Duration::from_secs(10), &[]);
        assert_eq!(c.emissions_g, 100.0);
        assert_eq!(c.country_iso_code.as_deref(), Some("FRA"));

        if std::env::var(REGION_ENV).is_err() {
            let r = CarbonSettings::default().resolve().unwrap();
            assert_eq!(r.region, "world");
            assert!(r.warning.as_deref().unwrap().contains("world average"));
        }
        assert!(CarbonSettings {
            pue: Some(0.5),
            ..Default::default()
        }
        .resolve()
        .is_err());
        assert!(CarbonSettings {
            region: Some("Narnia".into()),
            ..Default::default()
        }
        .resolve()
        .is_err());
    }

    #[test]
    fn sci_per_unit_includes_embodied_share() {
        let s = CarbonSettings {
            intensity_g_per_kwh: Some(400.0),
            functional_unit: Some(("inference".into(), 1000.0)),
            embodied: Some(Embodied {
                total: greenai_units::Emissions::from_kg(100.0),
                lifespan: Duration::from_secs(100_000),
                resource_share: 1.0,
            }),
            ..Default::default()
        };
        let r = s.resolve().unwrap();
        let c = assess(
            &s,
            &r,
            Energy::from_kwh(1.0),
            Duration::from_secs(1000),
            &[],
        );
        // (400 g + 100 kg × 1000/100000) / 1000 = (400 + 1000) / 1000.
        assert!((c.sci_g_per_unit.unwrap() - 1.4).abs() < 1e-12);
        assert_eq!(c.functional_unit.as_deref(), Some("inference"));
    }
}
