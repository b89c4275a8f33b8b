//! Time-resolved carbon intensity: a history or forecast as CSV, integrated over a run's energy
//! series instead of one average.
//!
//! The file has a header and one row per time step: `timestamp,g_per_kwh` and optionally
//! `marginal_g_per_kwh`. Timestamps are RFC 3339 (`2026-11-28T14:00:00Z`, `…+01:00`) or Unix
//! seconds. A value holds from its timestamp until the next one.
//!
//! *Average* intensity is the emissions of all generation on the grid divided by all energy
//! generated: the right figure for attributing a share of the grid's emissions. *Marginal*
//! intensity is the emissions of the generator that answers one more kilowatt-hour (often gas or
//! coal): the right figure for deciding whether to run a job now or later. greenai reports
//! average-based emissions, and marginal-based ones beside them where the file has a marginal
//! column.

use crate::error::{CarbonError, Result};
use greenai_units::{CarbonIntensity, Emissions, Energy};
use serde::Serialize;
use std::path::Path;

/// Which column of the series to integrate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    Average,
    Marginal,
}

/// A carbon-intensity time series, sorted by time.
#[derive(Debug, Clone, PartialEq)]
pub struct IntensitySeries {
    pub source: String,
    /// `(unix seconds, average, marginal)`.
    points: Vec<(f64, CarbonIntensity, Option<CarbonIntensity>)>,
    /// What the second column holds: average intensity, or (a marginal-only forecast such as
    /// WattTime's MOER) marginal intensity standing in for it, which a report must say.
    primary: Signal,
    /// Where the last value stops holding, when the source says (a forecast's last interval).
    end: Option<f64>,
}

/// Emissions integrated over an energy series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Integrated {
    pub emissions: Emissions,
    /// Energy-weighted mean intensity over the run.
    pub mean_intensity: CarbonIntensity,
    /// The share of the run's time that the series covers (outside it, the nearest value held).
    pub coverage: f64,
}

/// Seconds since the Unix epoch of an RFC 3339 timestamp (seconds optional, as the UK Carbon
/// Intensity API writes them: `2026-11-28T14:00Z`), of a date and time without an offset (read as
/// UTC), or of a plain number. Parsing is jiff's.
pub fn parse_timestamp(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Ok(v) = s.parse::<f64>() {
        return v.is_finite().then_some(v);
    }
    let ts = match s.parse::<jiff::Timestamp>() {
        Ok(ts) => ts,
        Err(_) => s
            .parse::<jiff::civil::DateTime>()
            .ok()?
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()?
            .timestamp(),
    };
    Some(ts.as_nanosecond() as f64 / 1e9)
}

impl IntensitySeries {
    pub fn from_points(
        source: &str,
        mut points: Vec<(f64, CarbonIntensity, Option<CarbonIntensity>)>,
    ) -> Result<Self> {
        if points.is_empty() {
            return Err(CarbonError::Invalid(format!(
                "{source}: the series is empty"
            )));
        }
        if let Some(p) = points.iter().find(|p| !p.0.is_finite()) {
            return Err(CarbonError::Invalid(format!(
                "{source}: {} is not a time",
                p.0
            )));
        }
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        Ok(IntensitySeries {
            source: source.to_string(),
            points,
            primary: Signal::Average,
            end: None,
        })
    }

    /// The same series, its values being marginal intensity (WattTime's MOER).
    pub fn marginal_only(mut self) -> Self {
        for p in &mut self.points {
            p.2 = Some(p.1);
        }
        self.primary = Signal::Marginal;
        self
    }

    /// The same series, its last value holding until `end` (unix seconds).
    pub fn ending_at(mut self, end: f64) -> Self {
        let last = self.points[self.points.len() - 1].0;
        self.end = (end.is_finite() && end > last).then_some(end);
        self
    }

    /// What the main column holds.
    pub fn primary(&self) -> Signal {
        self.primary
    }

    /// The first time the series covers.
    pub fn start(&self) -> f64 {
        self.points[0].0
    }

    /// Where the series stops: the end its source gave, else the last point plus the series' usual
    /// step (the median gap), else the last point.
    pub fn end(&self) -> f64 {
        let last = self.points[self.points.len() - 1].0;
        if let Some(e) = self.end {
            return e;
        }
        let mut gaps: Vec<f64> = self.points.windows(2).map(|w| w[1].0 - w[0].0).collect();
        if gaps.is_empty() {
            return last;
        }
        gaps.sort_by(f64::total_cmp);
        last + gaps[gaps.len() / 2]
    }

    /// `(unix seconds, gCO2e/kWh)` of each step, for `signal` (marginal falling back to average
    /// where a point has none).
    pub fn steps(&self, signal: Signal) -> Vec<(f64, f64)> {
        self.points
            .iter()
            .map(|p| {
                let v = match signal {
                    Signal::Average => p.1,
                    Signal::Marginal => p.2.unwrap_or(p.1),
                };
                (p.0, v.g_per_kwh())
            })
            .collect()
    }

    /// How many points.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Never true: a series has at least one point.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Reads a CSV file (see the module documentation).
    pub fn from_csv_file(path: &Path) -> Result<Self> {
        let p = path.display().to_string();
        // A year at one-minute resolution is about 20 MB: 256 MiB is no intensity file.
        const MAX_BYTES: u64 = 256 << 20;
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut std::io::Read::take(
                std::fs::File::open(path).map_err(|e| CarbonError::Unavailable {
                    path: p.clone(),
                    reason: e.to_string(),
                })?,
                MAX_BYTES + 1,
            ),
            &mut text,
        )
        .map_err(|e| CarbonError::Unavailable {
            path: p.clone(),
            reason: e.to_string(),
        })?;
        if text.len() as u64 > MAX_BYTES {
            return Err(CarbonError::Unavailable {
                path: p,
                reason: "larger than 256 MiB: not an intensity series".into(),
            });
        }
        Self::from_csv(&p, &text)
    }

    pub fn from_csv(source: &str, text: &str) -> Result<Self> {
        let bad = |line: usize, reason: String| CarbonError::Malformed {
            path: source.to_string(),
            line,
            reason,
        };
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let (_, header) = lines
            .next()
            .ok_or_else(|| bad(1, "the file is empty".into()))?;
        let cols: Vec<String> = header
            .split(',')
            .map(|c| c.trim().to_ascii_lowercase())
            .collect();
        let find = |names: &[&str]| cols.iter().position(|c| names.contains(&c.as_str()));
        let t_col = find(&["timestamp", "datetime", "time"])
            .ok_or_else(|| bad(1, format!("no timestamp column in header {header:?}")))?;
        let a_col = find(&[
            "g_per_kwh",
            "intensity",
            "carbon_intensity",
            "average_g_per_kwh",
            "average",
        ])
        .ok_or_else(|| bad(1, format!("no g_per_kwh column in header {header:?}")))?;
        let m_col = find(&["marginal_g_per_kwh", "marginal"]);
        let mut points = Vec::new();
        for (i, line) in lines {
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            let n = i + 1;
            let t = f
                .get(t_col)
                .and_then(|v| parse_timestamp(v))
                .ok_or_else(|| {
                    bad(
                        n,
                        format!(
                            "{:?} is not an RFC 3339 timestamp or Unix seconds",
                            f.get(t_col).unwrap_or(&"")
                        ),
                    )
                })?;
            let value = |c: usize| -> Result<CarbonIntensity> {
                let v: f64 = f.get(c).and_then(|v| v.parse().ok()).ok_or_else(|| {
                    bad(n, format!("{:?} is not a number", f.get(c).unwrap_or(&"")))
                })?;
                if !(0.0..=5000.0).contains(&v) {
                    return Err(bad(
                        n,
                        format!("{v} gCO2e/kWh is not a plausible intensity"),
                    ));
                }
                Ok(CarbonIntensity::from_g_per_kwh(v))
            };
            let avg = value(a_col)?;
            let marginal = match m_col {
                Some(c) if f.get(c).is_some_and(|v| !v.is_empty()) => Some(value(c)?),
                _ => None,
            };
            points.push((t, avg, marginal));
        }
        Self::from_points(source, points)
    }

    pub fn has_marginal(&self) -> bool {
        self.points.iter().all(|p| p.2.is_some())
    }

    /// The value in force at `t`: the last point at or before it, or the first one.
    pub fn at(&self, t: f64, signal: Signal) -> CarbonIntensity {
        let i = self.points.partition_point(|p| p.0 <= t).saturating_sub(1);
        let p = &self.points[i];
        match signal {
            Signal::Average => p.1,
            Signal::Marginal => p.2.unwrap_or(p.1),
        }
    }

    /// Integrates the series over `energy`: `(unix seconds, cumulative energy)` points of a run,
    /// each interval's energy at the intensity in force at its midpoint.
    pub fn integrate(&self, energy: &[(f64, Energy)], signal: Signal) -> Integrated {
        let mut emissions = Emissions::ZERO;
        let mut total = Energy::ZERO;
        let (first, last) = (self.points[0].0, self.points[self.points.len() - 1].0);
        let mut covered = 0.0;
        let mut span = 0.0;
        for w in energy.windows(2) {
            let (t0, e0) = w[0];
            let (t1, e1) = w[1];
            let de = e1 - e0;
            emissions += de * self.at(0.5 * (t0 + t1), signal);
            total += de;
            let dt = (t1 - t0).max(0.0);
            span += dt;
            // The last point holds for as long as the series' own step: past it, we extrapolate.
            let step = if self.points.len() > 1 {
                (last - first) / (self.points.len() - 1) as f64
            } else {
                0.0
            };
            covered += (t1.min(last + step) - t0.max(first)).clamp(0.0, dt);
        }
        Integrated {
            emissions,
            mean_intensity: CarbonIntensity::from_g_per_kwh(if total.kwh() > 0.0 {
                emissions.grams() / total.kwh()
            } else {
                self.at(energy.first().map_or(first, |p| p.0), signal)
                    .g_per_kwh()
            }),
            coverage: if span > 0.0 { covered / span } else { 1.0 },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn timestamps_parse() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(
            parse_timestamp("2026-11-28T01:26:26Z"),
            Some(1_795_829_186.0)
        );
        assert_eq!(
            parse_timestamp("2026-11-28T02:26:26+01:00"),
            Some(1_795_829_186.0)
        );
        assert_eq!(
            parse_timestamp("2026-11-28 01:26:26.5"),
            Some(1_795_829_186.5)
        );
        assert_eq!(parse_timestamp("1795829186"), Some(1_795_829_186.0));
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(parse_timestamp("2026-13-01T00:00:00Z"), None);
    }

    #[test]
    fn csv_reads_average_and_marginal_and_rejects_garbage_with_its_line() {
        let s = IntensitySeries::from_csv(
            "f.csv",
            "timestamp,g_per_kwh,marginal_g_per_kwh\n1970-01-01T00:00:00Z,100,400\n1970-01-01T01:00:00Z,300,500\n",
        )
        .unwrap();
        assert!(s.has_marginal());
        assert_eq!(s.at(1800.0, Signal::Average).g_per_kwh(), 100.0);
        assert_eq!(s.at(3600.0, Signal::Marginal).g_per_kwh(), 500.0);
        let e = IntensitySeries::from_csv("f.csv", "timestamp,g_per_kwh\n0,100\nnoon,200\n")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.csv, line 3: \"noon\" is not an RFC 3339 timestamp or Unix seconds"
        );
        assert!(IntensitySeries::from_csv("f.csv", "when,what\n").is_err());
        assert!(IntensitySeries::from_csv("f.csv", "timestamp,g_per_kwh\n0,-5\n").is_err());
    }

    #[test]
    fn a_run_across_a_step_pays_each_side_its_price() {
        let s = IntensitySeries::from_csv("f", "timestamp,g_per_kwh\n0,100\n3600,300\n").unwrap();
        // 1 kWh in the first hour, 1 kWh in the second.
        let run = [
            (0.0, Energy::ZERO),
            (3600.0, Energy::from_kwh(1.0)),
            (7200.0, Energy::from_kwh(2.0)),
        ];
        let r = s.integrate(&run, Signal::Average);
        assert!((r.emissions.grams() - 400.0).abs() < 1e-9);
        assert!((r.mean_intensity.g_per_kwh() - 200.0).abs() < 1e-9);
        assert!((r.coverage - 1.0).abs() < 1e-12);
    }

    proptest! {
        #[test]
        fn a_constant_series_equals_the_average_case(g in 0.0f64..1500.0, steps in proptest::collection::vec(0.0f64..1e6, 2..40)) {
            let s = IntensitySeries::from_points("c", vec![(0.0, CarbonIntensity::from_g_per_kwh(g), None)]).unwrap();
            let mut e = Energy::ZERO;
            let run: Vec<(f64, Energy)> = steps.iter().enumerate().map(|(i, j)| { e += Energy::from_joules(*j); (i as f64, e) }).collect();
            let total = run[run.len() - 1].1 - run[0].1;
            let a = s.integrate(&run, Signal::Average).emissions.grams();
            let b = (total * CarbonIntensity::from_g_per_kwh(g)).grams();
            prop_assert!((a - b).abs() <= 1e-9 * b.max(1.0));
        }

        #[test]
        fn windows_add_up(vals in proptest::collection::vec(10.0f64..900.0, 1..10), joules in proptest::collection::vec(0.0f64..1e6, 3..60), cut in 1usize..58) {
            let pts: Vec<_> = vals.iter().enumerate().map(|(i, v)| (i as f64 * 10.0, CarbonIntensity::from_g_per_kwh(*v), None)).collect();
            let s = IntensitySeries::from_points("s", pts).unwrap();
            let mut e = Energy::ZERO;
            let run: Vec<(f64, Energy)> = joules.iter().enumerate().map(|(i, j)| { e += Energy::from_joules(*j); (i as f64 * 1.7, e) }).collect();
            let cut = cut.min(run.len() - 2);
            let whole = s.integrate(&run, Signal::Average).emissions.grams();
            let parts = s.integrate(&run[..=cut], Signal::Average).emissions.grams() + s.integrate(&run[cut..], Signal::Average).emissions.grams();
            prop_assert!((whole - parts).abs() <= 1e-9 * whole.max(1.0));
        }
    }
}
