//! One component's energy over a span of readings, the one rule every window, live figure, stored
//! series and incomplete run uses: **the counter's difference between the span's first and latest
//! readings where the sensor has a counter, else the trapezoidal integral of its power readings**.
//!
//! Sensors hand over counters already unwrapped (energy since the sensor opened, with wraparound
//! at `max_energy_range_uj` and the like folded in by [`greenai_units::wrapped_delta`]), so a
//! difference here is wrap-safe. A counter that reads lower than where the span started is not a
//! measurement: the span then falls back to its integrated power, or to no figure at all. One
//! reading measures no span: a figure needs two of its kind.

use greenai_units::{Energy, Power};

/// Accumulates one component's readings, in time order.
///
/// ```
/// use greenai_meter::EnergyAccumulator;
/// use greenai_units::{Energy, Power};
/// let mut a = EnergyAccumulator::default();
/// a.push(0.0, Some(Energy::from_joules(10.0)), Some(Power::from_watts(5.0)));
/// a.push(2.0, Some(Energy::from_joules(20.0)), Some(Power::from_watts(5.0)));
/// assert_eq!(a.counter(), Some(Energy::from_joules(10.0)));
/// assert_eq!(a.integrated(), Some(Energy::from_joules(10.0)));
/// assert_eq!(a.energy(), a.counter());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EnergyAccumulator {
    first_counter: Option<Energy>,
    last_counter: Option<Energy>,
    counters: u32,
    last_point: Option<(f64, Power)>,
    points: u32,
    integrated: Energy,
}

impl EnergyAccumulator {
    /// Adds a reading at `t_s` seconds (any fixed origin): the counter's value, if the sensor has
    /// one, and the power, if it reads or implies one.
    pub fn push(&mut self, t_s: f64, counter: Option<Energy>, power: Option<Power>) {
        if let Some(e) = counter {
            self.first_counter.get_or_insert(e);
            self.last_counter = Some(e);
            self.counters += 1;
        }
        if let Some(p) = power {
            if let Some((t0, p0)) = self.last_point {
                self.integrated +=
                    Energy::from_joules((p0.watts() + p.watts()) * 0.5 * (t_s - t0).max(0.0));
            }
            self.last_point = Some((t_s, p));
            self.points += 1;
        }
    }

    /// The counter's difference over the span; `None` without two counter readings, or if the
    /// counter went backwards.
    pub fn counter(&self) -> Option<Energy> {
        let (a, b) = (self.first_counter?, self.last_counter?);
        (self.counters >= 2 && b >= a).then(|| b - a)
    }

    /// The integral of the power readings; `None` without two of them.
    pub fn integrated(&self) -> Option<Energy> {
        (self.points >= 2).then_some(self.integrated)
    }

    /// The span's energy: [`Self::counter`], else [`Self::integrated`].
    pub fn energy(&self) -> Option<Energy> {
        self.counter().or(self.integrated())
    }
}

/// One accumulator per component, for a window or a run.
pub fn accumulators(n: usize) -> Vec<EnergyAccumulator> {
    vec![EnergyAccumulator::default(); n]
}

/// The sum of the `counted` components' energies (those with a figure).
pub fn counted_total(accs: &[EnergyAccumulator], counted: impl Fn(usize) -> bool) -> Energy {
    accs.iter()
        .enumerate()
        .filter(|(i, _)| counted(*i))
        .filter_map(|(_, a)| a.energy())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn j(v: f64) -> Energy {
        Energy::from_joules(v)
    }
    fn w(v: f64) -> Power {
        Power::from_watts(v)
    }

    #[test]
    fn power_only_is_integrated_by_the_trapezoid() {
        let mut a = EnergyAccumulator::default();
        assert_eq!(a.energy(), None, "no reading is no figure, not 0 J");
        a.push(0.0, None, Some(w(10.0)));
        assert_eq!(a.energy(), None, "one reading measures no span");
        a.push(1.0, None, Some(w(20.0)));
        a.push(3.0, None, None);
        a.push(4.0, None, Some(w(0.0)));
        // 15 J over the first second, then 20 → 0 W over three seconds: 30 J.
        assert_eq!(a.energy(), Some(j(45.0)));
        assert_eq!(a.counter(), None);
    }

    #[test]
    fn a_counter_wins_over_power_and_a_backward_counter_is_refused() {
        let mut a = EnergyAccumulator::default();
        a.push(0.0, None, Some(w(1.0)));
        a.push(1.0, Some(j(100.0)), Some(w(1.0)));
        a.push(2.0, Some(j(130.0)), Some(w(1.0)));
        assert_eq!(a.energy(), Some(j(30.0)));
        assert_eq!(a.integrated(), Some(j(2.0)));
        a.push(3.0, Some(j(90.0)), Some(w(1.0)));
        assert_eq!(a.counter(), None);
        assert_eq!(a.energy(), Some(j(3.0)), "falls back to the integral");
    }

    proptest! {
        /// Energy over a split span adds up: the accumulator over [a, c] equals [a, b] + [b, c]
        /// when b's reading is shared, for counters and for power alike.
        #[test]
        fn spans_add_up(
            steps in proptest::collection::vec((0.001f64..10.0, 0.0f64..500.0, 0.0f64..300.0), 2..40),
            cut in 0usize..40,
            counter in any::<bool>(),
        ) {
            let cut = cut % steps.len();
            let (mut t, mut e) = (0.0, 0.0);
            let points: Vec<(f64, f64, f64)> = steps.iter().map(|&(dt, de, p)| {
                t += dt; e += de; (t, e, p)
            }).collect();
            let acc = |ps: &[(f64, f64, f64)]| {
                let mut a = EnergyAccumulator::default();
                for &(t, e, p) in ps {
                    a.push(t, counter.then(|| j(e)), Some(w(p)));
                }
                // A one-reading part spans no time: it adds nothing.
                a.energy().map_or(0.0, |e| e.joules())
            };
            let whole = acc(&points);
            let parts = acc(&points[..=cut]) + acc(&points[cut..]);
            prop_assert!((whole - parts).abs() <= 1e-9 * whole.max(1.0), "{whole} vs {parts}");
            prop_assert!(whole >= 0.0);
        }
    }
}
