//! The bundled grid carbon-intensity tables: countries, sub-national grids and cloud regions.
//! Origins, years and licences: `data/SOURCES.md`; derivation: `scripts/derive_carbon_tables.py`.

use crate::error::{CarbonError, Result};
use greenai_units::CarbonIntensity;
use serde::Serialize;
use std::sync::OnceLock;

static COUNTRIES: &str = include_str!("../data/countries.tsv");
static SUBNATIONAL: &str = include_str!("../data/subnational.tsv");
static CLOUD: &str = include_str!("../data/cloud.tsv");

/// The fallback when no region is known: the world average that CodeCarbon uses (IEA, Global
/// Energy & CO2 Status Report 2019), announced with a warning wherever it is used.
pub const WORLD_AVERAGE: CarbonIntensity = CarbonIntensity::from_g_per_kwh(475.0);
pub const WORLD_AVERAGE_SOURCE: &str =
    "world average (IEA Global Energy & CO2 Status Report 2019, as used by CodeCarbon)";
pub const WORLD_AVERAGE_YEAR: u16 = 2019;

/// What kind of place a grid entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GridKind {
    Country,
    Subnational,
    Cloud,
}

/// One grid: its intensity and where the number comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GridEntry {
    pub kind: GridKind,
    /// The canonical code: `FR`, `US-CA`, `SE3`, `gcp:europe-west1`.
    pub code: String,
    /// Other accepted spellings (a country's alpha-3 code).
    pub aliases: Vec<String>,
    pub name: String,
    pub intensity: CarbonIntensity,
    pub year: Option<u16>,
    pub source: String,
    /// For cloud regions: the country (alpha-2) or sub-national grid the region sits on.
    pub grid: Option<String>,
}

impl GridEntry {
    /// `(ISO alpha-3, country name)` of a country entry, or of the country a cloud region or
    /// sub-national grid lies in, where known.
    pub fn country(&self) -> Option<(String, String)> {
        let code = match self.kind {
            GridKind::Country => self.code.as_str(),
            GridKind::Subnational => self.code.as_str(),
            GridKind::Cloud => self.grid.as_deref()?,
        };
        // `US-CA` lies in `US`; Nordic bidding zones (`SE3`, `NO1`) in their country.
        let a2 = code.get(..2)?;
        table()
            .iter()
            .find(|e| e.kind == GridKind::Country && e.code == a2)
            .map(|e| (e.aliases[0].clone(), e.name.clone()))
    }
}

fn rows(text: &'static str) -> impl Iterator<Item = Vec<&'static str>> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split('\t').collect())
}

fn parse_year(s: &str) -> Option<u16> {
    s.trim().parse().ok()
}

/// Every bundled grid, parsed once.
pub fn table() -> &'static [GridEntry] {
    static TABLE: OnceLock<Vec<GridEntry>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut out = Vec::new();
        for r in rows(COUNTRIES) {
            out.push(GridEntry {
                kind: GridKind::Country,
                code: r[1].to_string(),
                aliases: vec![r[0].to_string()],
                name: r[2].to_string(),
                intensity: CarbonIntensity::from_g_per_kwh(r[3].parse().unwrap_or(f64::NAN)),
                year: parse_year(r[4]),
                source: r[5].to_string(),
                grid: None,
            });
        }
        for r in rows(SUBNATIONAL) {
            out.push(GridEntry {
                kind: GridKind::Subnational,
                code: r[0].to_string(),
                aliases: Vec::new(),
                name: r[1].to_string(),
                intensity: CarbonIntensity::from_g_per_kwh(r[2].parse().unwrap_or(f64::NAN)),
                year: parse_year(r[3]),
                source: r[4].to_string(),
                grid: None,
            });
        }
        for r in rows(CLOUD) {
            out.push(GridEntry {
                kind: GridKind::Cloud,
                code: format!("{}:{}", r[0], r[1]),
                aliases: Vec::new(),
                name: r[3].to_string(),
                intensity: CarbonIntensity::from_g_per_kwh(r[4].parse().unwrap_or(f64::NAN)),
                year: parse_year(r[5]),
                source: r[6].to_string(),
                grid: Some(r[2].to_string()).filter(|g| !g.is_empty()),
            });
        }
        out
    })
}

/// Finds a region: a country (`FR`, `FRA`), a sub-national grid (`US-CA`, `CA-QC`, `CN-BJ`,
/// `SE3`) or a cloud region (`gcp:europe-west1`, `aws:eu-west-3`, `azure:westeurope`), in any
/// case.
pub fn lookup(region: &str) -> Result<&'static GridEntry> {
    let want = region.trim();
    let (want, cloud) = match want.split_once(':') {
        Some((p, r)) => (
            format!("{}:{}", p.to_ascii_lowercase(), r.to_ascii_lowercase()),
            true,
        ),
        None => (want.to_ascii_uppercase(), false),
    };
    if let Some(e) = table().iter().find(|e| {
        e.code.eq_ignore_ascii_case(&want)
            || e.aliases.iter().any(|a| a.eq_ignore_ascii_case(&want))
    }) {
        return Ok(e);
    }
    let hint = if cloud {
        let provider = want.split(':').next().unwrap_or("");
        if table()
            .iter()
            .any(|e| e.code.starts_with(&format!("{provider}:")))
        {
            format!(" (no such {provider} region in the bundled table)")
        } else {
            " (cloud regions are gcp:, aws: or azure:)".to_string()
        }
    } else {
        String::new()
    };
    Err(CarbonError::Unknown {
        region: region.to_string(),
        hint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_table_is_sound() {
        let t = table();
        assert!(t.iter().filter(|e| e.kind == GridKind::Country).count() >= 200);
        assert!(t.iter().filter(|e| e.kind == GridKind::Subnational).count() >= 100);
        assert!(t.iter().filter(|e| e.kind == GridKind::Cloud).count() >= 100);
        let mut seen = HashSet::new();
        for e in t {
            for code in std::iter::once(&e.code).chain(&e.aliases) {
                assert!(
                    seen.insert(code.to_ascii_uppercase()),
                    "{code} appears twice"
                );
            }
            let g = e.intensity.g_per_kwh();
            // The cleanest grids (hydro, nuclear) are near 10-30; the dirtiest (oil, coal) near 1,300.
            assert!((1.0..=1500.0).contains(&g), "{}: {g} g/kWh", e.code);
            assert!(!e.source.trim().is_empty(), "{} has no source", e.code);
            assert!(!e.name.trim().is_empty(), "{} has no name", e.code);
            let y = e.year.unwrap_or_else(|| panic!("{} has no year", e.code));
            assert!((2009..=2026).contains(&y), "{}: {y}", e.code);
        }
        for e in t.iter().filter(|e| e.kind == GridKind::Country) {
            assert_eq!(e.code.len(), 2);
            assert_eq!(e.aliases[0].len(), 3);
        }
    }

    #[test]
    fn regions_resolve_in_every_spelling() {
        assert_eq!(lookup("fr").unwrap().code, "FR");
        assert_eq!(lookup("FRA").unwrap().code, "FR");
        assert_eq!(lookup("us-ca").unwrap().name, "California");
        assert_eq!(lookup("GCP:europe-west1").unwrap().code, "gcp:europe-west1");
        // An AWS region carries its grid's value.
        let paris = lookup("aws:eu-west-3").unwrap();
        assert_eq!(paris.intensity, lookup("FR").unwrap().intensity);
        assert_eq!(paris.country(), Some(("FRA".into(), "France".into())));
        assert_eq!(
            lookup("aws:us-east-1").unwrap().intensity,
            lookup("US-VA").unwrap().intensity
        );
        assert_eq!(
            lookup("SE3").unwrap().country().map(|c| c.0).as_deref(),
            Some("SWE")
        );
        let e = lookup("aws:mars-north-1").unwrap_err().to_string();
        assert!(
            e.contains("no such aws region") && e.contains("greenai carbon regions"),
            "{e}"
        );
        assert!(lookup("Atlantis").is_err());
    }
}
