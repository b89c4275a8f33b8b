//! Typed physical units for greenai, with no I/O.
//!
//! The core types are [`Energy`] (joules) and [`Power`] (watts); [`Energy`] divided by a
//! [`std::time::Duration`] is a [`Power`], and a [`Power`] times a duration is an [`Energy`].
//! [`CarbonIntensity`] (gCO2e/kWh) times an [`Energy`] is [`Emissions`] (gCO2e).
//! Raw sensor units (`µJ`, `mW`) exist only in the `from_*` constructors, so a value never travels
//! through the code with its unit written in a comment.
//!
//! ```
//! use greenai_units::{Energy, Power};
//! use std::time::Duration;
//!
//! let e = Energy::from_microjoules(3_600_000_000.0); // a RAPL counter delta
//! assert_eq!(e.kwh(), 0.001);
//! let p = e / Duration::from_secs(3600);
//! assert_eq!(p, Power::from_watts(1.0));
//! assert_eq!(p * Duration::from_secs(60), Energy::from_joules(60.0));
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, Mul, Sub};
use std::time::Duration;

/// Joules in one kilowatt-hour (exact).
pub const JOULES_PER_KWH: f64 = 3.6e6;

/// An amount of energy, stored in joules.
#[derive(Debug, Clone, Copy, Default, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Energy(f64);

impl Energy {
    pub const ZERO: Energy = Energy(0.0);

    pub const fn from_joules(j: f64) -> Self {
        Energy(j)
    }
    /// From microjoules, the unit of Linux powercap's `energy_uj` and hwmon's `energy*_input`.
    pub fn from_microjoules(uj: f64) -> Self {
        Energy(uj * 1e-6)
    }
    /// From millijoules, the unit of NVML's `nvmlDeviceGetTotalEnergyConsumption`.
    pub fn from_millijoules(mj: f64) -> Self {
        Energy(mj * 1e-3)
    }
    pub fn from_kwh(kwh: f64) -> Self {
        Energy(kwh * JOULES_PER_KWH)
    }
    pub const fn joules(self) -> f64 {
        self.0
    }
    pub fn kwh(self) -> f64 {
        self.0 / JOULES_PER_KWH
    }
    /// Watt-hours, for display of small amounts.
    pub fn wh(self) -> f64 {
        self.0 / 3600.0
    }
    pub fn max(self, other: Energy) -> Energy {
        Energy(self.0.max(other.0))
    }
}

/// A rate of energy use, stored in watts.
#[derive(Debug, Clone, Copy, Default, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Power(f64);

impl Power {
    pub const ZERO: Power = Power(0.0);

    pub const fn from_watts(w: f64) -> Self {
        Power(w)
    }
    /// From microwatts, the unit of hwmon's `power*_input` and `power*_average`.
    pub fn from_microwatts(uw: f64) -> Self {
        Power(uw * 1e-6)
    }
    /// From milliwatts, the unit of NVML's `nvmlDeviceGetPowerUsage`.
    pub fn from_milliwatts(mw: f64) -> Self {
        Power(mw * 1e-3)
    }
    pub const fn watts(self) -> f64 {
        self.0
    }
    pub fn max(self, other: Power) -> Power {
        Power(self.0.max(other.0))
    }
}

/// The carbon intensity of electricity, stored in grams of CO2-equivalent per kilowatt-hour.
#[derive(Debug, Clone, Copy, Default, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CarbonIntensity(f64);

impl CarbonIntensity {
    pub const fn from_g_per_kwh(g: f64) -> Self {
        CarbonIntensity(g)
    }
    /// From pounds per megawatt-hour, the unit of the US EPA's eGRID.
    pub fn from_lb_per_mwh(lb: f64) -> Self {
        CarbonIntensity(lb * 453.592_37 / 1000.0)
    }
    pub const fn g_per_kwh(self) -> f64 {
        self.0
    }
}

/// An amount of greenhouse gas, stored in grams of CO2-equivalent.
#[derive(Debug, Clone, Copy, Default, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Emissions(f64);

impl Emissions {
    pub const ZERO: Emissions = Emissions(0.0);

    pub const fn from_grams(g: f64) -> Self {
        Emissions(g)
    }
    pub fn from_kg(kg: f64) -> Self {
        Emissions(kg * 1000.0)
    }
    pub const fn grams(self) -> f64 {
        self.0
    }
    pub fn kg(self) -> f64 {
        self.0 / 1000.0
    }
}

impl Mul<CarbonIntensity> for Energy {
    type Output = Emissions;
    fn mul(self, i: CarbonIntensity) -> Emissions {
        Emissions(self.kwh() * i.0)
    }
}
impl Add for Emissions {
    type Output = Emissions;
    fn add(self, rhs: Emissions) -> Emissions {
        Emissions(self.0 + rhs.0)
    }
}
impl AddAssign for Emissions {
    fn add_assign(&mut self, rhs: Emissions) {
        self.0 += rhs.0;
    }
}
impl Mul<f64> for Emissions {
    type Output = Emissions;
    fn mul(self, k: f64) -> Emissions {
        Emissions(self.0 * k)
    }
}
impl Sum for Emissions {
    fn sum<I: Iterator<Item = Emissions>>(iter: I) -> Emissions {
        // From +0.0: an empty f64 `sum()` is -0.0, which would print as "-0".
        Emissions(iter.fold(0.0, |acc, e| acc + e.0))
    }
}
impl fmt::Display for Emissions {
    /// `0.123 mgCO2e`, `12.3 gCO2e`, `4.56 kgCO2e`, `7.89 tCO2e`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = self.0;
        let prec = f.precision().unwrap_or(3);
        if g != 0.0 && g.abs() < 1.0 {
            write!(f, "{:.*} mgCO2e", prec, g * 1e3)
        } else if g.abs() >= 1e6 {
            write!(f, "{:.*} tCO2e", prec, g / 1e6)
        } else if g.abs() >= 1e3 {
            write!(f, "{:.*} kgCO2e", prec, g / 1e3)
        } else {
            write!(f, "{:.*} gCO2e", prec, g)
        }
    }
}
impl fmt::Display for CarbonIntensity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.*} gCO2e/kWh", f.precision().unwrap_or(1), self.0)
    }
}

impl Add for Energy {
    type Output = Energy;
    fn add(self, rhs: Energy) -> Energy {
        Energy(self.0 + rhs.0)
    }
}
impl AddAssign for Energy {
    fn add_assign(&mut self, rhs: Energy) {
        self.0 += rhs.0;
    }
}
impl Sub for Energy {
    type Output = Energy;
    fn sub(self, rhs: Energy) -> Energy {
        Energy(self.0 - rhs.0)
    }
}
impl Mul<f64> for Energy {
    type Output = Energy;
    fn mul(self, k: f64) -> Energy {
        Energy(self.0 * k)
    }
}
impl Div<Energy> for Energy {
    type Output = f64;
    fn div(self, rhs: Energy) -> f64 {
        self.0 / rhs.0
    }
}
/// Average power over a duration. A zero duration gives zero power rather than infinity.
impl Div<Duration> for Energy {
    type Output = Power;
    fn div(self, d: Duration) -> Power {
        let s = d.as_secs_f64();
        if s > 0.0 {
            Power(self.0 / s)
        } else {
            Power::ZERO
        }
    }
}
impl Sum for Energy {
    fn sum<I: Iterator<Item = Energy>>(iter: I) -> Energy {
        // From +0.0: an empty f64 `sum()` is -0.0, which would print as "-0".
        Energy(iter.fold(0.0, |acc, e| acc + e.0))
    }
}
impl<'a> Sum<&'a Energy> for Energy {
    fn sum<I: Iterator<Item = &'a Energy>>(iter: I) -> Energy {
        iter.copied().sum()
    }
}

impl Add for Power {
    type Output = Power;
    fn add(self, rhs: Power) -> Power {
        Power(self.0 + rhs.0)
    }
}
impl AddAssign for Power {
    fn add_assign(&mut self, rhs: Power) {
        self.0 += rhs.0;
    }
}
impl Mul<f64> for Power {
    type Output = Power;
    fn mul(self, k: f64) -> Power {
        Power(self.0 * k)
    }
}
impl Mul<Duration> for Power {
    type Output = Energy;
    fn mul(self, d: Duration) -> Energy {
        Energy(self.0 * d.as_secs_f64())
    }
}
impl Sum for Power {
    fn sum<I: Iterator<Item = Power>>(iter: I) -> Power {
        // From +0.0: an empty f64 `sum()` is -0.0, which would print as "-0".
        Power(iter.fold(0.0, |acc, p| acc + p.0))
    }
}

impl fmt::Display for Energy {
    /// Joules with an SI prefix chosen for reading: `12.3 J`, `4.56 kJ`, `7.89 MJ`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let j = self.0;
        let prec = f.precision().unwrap_or(3);
        if j.abs() >= 1e6 {
            write!(f, "{:.*} MJ", prec, j / 1e6)
        } else if j.abs() >= 1e3 {
            write!(f, "{:.*} kJ", prec, j / 1e3)
        } else {
            write!(f, "{:.*} J", prec, j)
        }
    }
}

impl fmt::Display for Power {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prec = f.precision().unwrap_or(2);
        if self.0.abs() >= 1e3 {
            write!(f, "{:.*} kW", prec, self.0 / 1e3)
        } else {
            write!(f, "{:.*} W", prec, self.0)
        }
    }
}

/// The wrapped difference of a cumulative counter that restarts at zero after `max`.
///
/// `max` is the counter's range (powercap's `max_energy_range_uj`): the counter counts
/// `0, 1, …, max`, then `0` again. Assumes at most one wrap between the two readings, which holds
/// when the counter is read more often than it can wrap (minutes, at the highest power).
/// A `max` of zero means the range is unknown; a backwards step then counts as zero.
pub fn wrapped_delta(prev: u64, now: u64, max: u64) -> u64 {
    if now >= prev {
        now - prev
    } else if max >= prev {
        (max - prev) + now + 1
    } else {
        0
    }
}

/// The trapezoidal integral of power over time: `E = ∫ P dt`.
///
/// `points` are `(seconds since any origin, power)`, sorted by time. Fewer than two points
/// integrate to zero.
pub fn integrate_power(points: &[(f64, Power)]) -> Energy {
    points
        .windows(2)
        .map(|w| {
            let dt = (w[1].0 - w[0].0).max(0.0);
            Energy((w[0].1 .0 + w[1].1 .0) * 0.5 * dt)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_empty_sum_is_positive_zero() {
        let e: Energy = std::iter::empty::<Energy>().sum();
        assert!(e.joules().is_sign_positive());
        assert_eq!(e.to_string(), "0.000 J");
    }

    #[test]
    fn kwh_is_exact() {
        assert_eq!(Energy::from_kwh(1.0).joules(), 3_600_000.0);
        assert_eq!(Energy::from_joules(JOULES_PER_KWH).kwh(), 1.0);
    }

    #[test]
    fn wrap_counts_the_step_through_zero() {
        // Counter range 0..=999: 990 -> 5 moved 9 (to 999) + 1 (to 0) + 5.
        assert_eq!(wrapped_delta(990, 5, 999), 15);
        assert_eq!(wrapped_delta(5, 990, 999), 985);
        assert_eq!(wrapped_delta(7, 7, 999), 0);
    }

    #[test]
    fn one_kwh_at_one_gram_per_kwh_is_one_gram() {
        assert_eq!(
            Energy::from_kwh(1.0) * CarbonIntensity::from_g_per_kwh(1.0),
            Emissions::from_grams(1.0)
        );
        assert!((CarbonIntensity::from_lb_per_mwh(1000.0).g_per_kwh() - 453.59237).abs() < 1e-9);
        assert_eq!(Emissions::from_kg(2.5).to_string(), "2.500 kgCO2e");
    }

    #[test]
    fn display_picks_a_prefix() {
        assert_eq!(Energy::from_joules(12.3456).to_string(), "12.346 J");
        assert_eq!(format!("{:.1}", Energy::from_joules(4567.0)), "4.6 kJ");
        assert_eq!(Power::from_watts(42.0).to_string(), "42.00 W");
    }

    #[test]
    fn constant_power_integrates_to_p_times_t() {
        let p = Power::from_watts(25.0);
        let pts: Vec<_> = (0..=10).map(|i| (i as f64 * 0.5, p)).collect();
        assert!((integrate_power(&pts).joules() - 125.0).abs() < 1e-9);
        assert_eq!(integrate_power(&pts[..1]), Energy::ZERO);
    }

    proptest! {
        #[test]
        fn wrapped_delta_is_never_negative_and_inverts_the_counter(
            max in 1u64..=u64::MAX / 2, start in any::<u64>(), step in any::<u64>()
        ) {
            let start = start % (max + 1);
            let step = step % (max + 1);
            // Advance the counter by `step` on a ring of size max + 1.
            let now = ((start as u128 + step as u128) % (max as u128 + 1)) as u64;
            prop_assert_eq!(wrapped_delta(start, now, max), step);
        }

        #[test]
        fn conversions_round_trip(j in -1e12f64..1e12) {
            let e = Energy::from_joules(j);
            prop_assert!((Energy::from_kwh(e.kwh()).joules() - j).abs() <= 1e-9 * j.abs().max(1.0));
            prop_assert!((Energy::from_microjoules(j * 1e6).joules() - j).abs() <= 1e-9 * j.abs().max(1.0));
            prop_assert!((Power::from_milliwatts(j * 1e3).watts() - j).abs() <= 1e-9 * j.abs().max(1.0));
        }

        #[test]
        fn power_times_time_over_time_is_power(w in 0.0f64..1e5, ms in 1u64..1_000_000) {
            let d = Duration::from_millis(ms);
            let back = (Power::from_watts(w) * d) / d;
            prop_assert!((back.watts() - w).abs() <= 1e-9 * w.max(1.0));
        }

        #[test]
        fn integrals_over_adjacent_spans_add_up(ps in proptest::collection::vec(0.0f64..500.0, 3..50), cut in 1usize..49) {
            let pts: Vec<_> = ps.iter().enumerate().map(|(i, &w)| (i as f64 * 0.1, Power::from_watts(w))).collect();
            let cut = cut.min(pts.len() - 2);
            let whole = integrate_power(&pts).joules();
            let parts = integrate_power(&pts[..=cut]).joules() + integrate_power(&pts[cut..]).joules();
            prop_assert!((whole - parts).abs() <= 1e-9 * whole.max(1.0));
        }
    }
}
