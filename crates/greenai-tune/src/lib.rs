//! greenai's jobs and experiments, and the pure selectors that choose among their results.
//!
//! Jobs (each inside a [`greenai_store::Session`], recorded with typed results):
//! - [`train::run_train`], [`train::run_eval`], [`train::run_predict`]: the engine's jobs.
//! - [`transfer::run_transfer`]: EfficientNet-Lite0's frozen features and a new head.
//! - [`compare::run_compare`]: the grid of configurations, its reuse of stored results, the
//!   energy-aware settings profiling, budgets, and the choice.
//!
//! [`job::JobSettings`] says how a job runs and where it is recorded; [`job::Progress`] is how a
//! job tells a front end what it is doing. Selectors (pure functions over measured figures):
//!
//! - [`pareto::front`]: the configurations no other beats on both accuracy and energy.
//! - [`budget::Forecast`]: a configuration's total training energy predicted from its first
//!   epochs (as carbontracker does), and whether it fits a budget.
//! - [`settings::choose`]: the thread count and batch size that minimise Zeus's cost
//!   `η·E + (1 − η)·P_max·T` over short profiling runs.
//! - [`power_tune::choose`]: the power-knob setting with the least Zeus cost, from a few hundred
//!   steps at each ([`power_tune::PowerTuner`] drives it from the training loop).
//! - [`least_energy_meeting`]: the cheapest configuration that reaches a target accuracy.

pub mod budget;
pub mod compare;
mod error;
pub mod job;
pub mod pareto;
pub mod power_tune;
pub mod quantize;
pub mod recommend;
pub mod recommend_grid;
pub mod report;
pub mod settings;
pub mod target;
pub mod text;
pub mod train;
pub mod transfer;

pub use error::{Result, TuneError};

/// One evaluated configuration, as the selectors see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// Test accuracy, 0 to 1.
    pub accuracy: f64,
    /// Training energy, joules.
    pub energy_j: f64,
}

/// The index of the outcome with the least energy among those reaching `target` accuracy, if
/// any does. Ties in energy go to the more accurate.
pub fn least_energy_meeting(outcomes: &[Outcome], target: f64) -> Option<usize> {
    outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| o.accuracy >= target && o.energy_j.is_finite())
        .min_by(|(_, a), (_, b)| {
            a.energy_j
                .total_cmp(&b.energy_j)
                .then(b.accuracy.total_cmp(&a.accuracy))
        })
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cheapest_configuration_that_meets_the_target() {
        let o = |accuracy, energy_j| Outcome { accuracy, energy_j };
        let all = [
            o(0.982, 600.0),
            o(0.979, 50.0),
            o(0.981, 120.0),
            o(0.985, 900.0),
        ];
        assert_eq!(least_energy_meeting(&all, 0.98), Some(2));
        assert_eq!(least_energy_meeting(&all, 0.99), None);
        assert_eq!(least_energy_meeting(&all, 0.5), Some(1));
    }
}
