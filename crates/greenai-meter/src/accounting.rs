//! Pure accounting over typed units: the seed's ratios.
//!
//! `E = ∫P dt` is [`greenai_units::integrate_power`] and `E = P × t` is `Power * Duration`; this
//! module adds the ratios reports are made of.

use greenai_units::{Energy, Power};
use std::time::Duration;

/// Resource utilisation rate: `used / total` (CPU time share, GPU busy share). `None` when
/// `total` is not positive.
pub fn resource_utilisation(used: f64, total: f64) -> Option<f64> {
    (total > 0.0).then(|| used / total)
}

/// Energy efficiency: useful work (samples, inferences, tokens) per joule.
pub fn work_per_joule(work_units: f64, energy: Energy) -> Option<f64> {
    (energy.joules() > 0.0).then(|| work_units / energy.joules())
}

/// Joules per unit of work: the inverse of [`work_per_joule`].
pub fn joules_per_unit(energy: Energy, work_units: f64) -> Option<Energy> {
    (work_units > 0.0).then(|| Energy::from_joules(energy.joules() / work_units))
}

/// The share of `energy` above what the idle baseline would have used over `duration`, in 0..=1.
pub fn share_above_idle(energy: Energy, idle: Power, duration: Duration) -> Option<f64> {
    (energy.joules() > 0.0).then(|| {
        let base = idle * duration;
        ((energy - base) / energy).clamp(0.0, 1.0)
    })
}

/// Power density: watts per device, per core, per GiB.
pub fn power_density(power: Power, count: f64) -> Option<Power> {
    (count > 0.0).then(|| power * (1.0 / count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use greenai_units::integrate_power;
    use proptest::prelude::*;

    #[test]
    fn ratios_on_worked_numbers() {
        assert_eq!(resource_utilisation(3.0, 4.0), Some(0.75));
        assert_eq!(resource_utilisation(1.0, 0.0), None);
        assert_eq!(
            work_per_joule(1000.0, Energy::from_joules(50.0)),
            Some(20.0)
        );
        assert_eq!(
            joules_per_unit(Energy::from_joules(50.0), 1000.0),
            Some(Energy::from_joules(0.05))
        );
        // 100 J over 10 s with a 4 W idle floor: 40 J is baseline, 60 % is above it.
        let s = share_above_idle(
            Energy::from_joules(100.0),
            Power::from_watts(4.0),
            Duration::from_secs(10),
        )
        .unwrap();
        assert!((s - 0.6).abs() < 1e-12);
        assert_eq!(
            power_density(Power::from_watts(120.0), 8.0),
            Some(Power::from_watts(15.0))
        );
    }

    proptest! {
        #[test]
        fn p_times_t_equals_the_integral_of_constant_power(w in 0.0f64..1000.0, n in 2usize..100) {
            let pts: Vec<_> = (0..n).map(|i| (i as f64 * 0.1, Power::from_watts(w))).collect();
            let t = Duration::from_secs_f64((n - 1) as f64 * 0.1);
            let a = integrate_power(&pts).joules();
            let b = (Power::from_watts(w) * t).joules();
            prop_assert!((a - b).abs() <= 1e-9 * b.max(1.0));
        }

        #[test]
        fn efficiency_and_cost_are_inverse(work in 1.0f64..1e9, j in 1e-3f64..1e9) {
            let e = Energy::from_joules(j);
            let a = work_per_joule(work, e).unwrap();
            let b = joules_per_unit(e, work).unwrap().joules();
            prop_assert!((a * b - 1.0).abs() < 1e-9);
        }
    }
}
