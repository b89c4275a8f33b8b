//! Energy-optimal settings, as Zeus chooses a GPU's power limit and batch size: each candidate is
//! profiled briefly, then the one with the least cost `η·E + (1 − η)·P_max·T` per sample wins,
//! where `E` is energy per sample, `T` time per sample, and `P_max` the highest power the device
//! reaches (it turns time into joules, so the two terms share a unit). `η = 1` minimises energy
//! alone, `η = 0` time alone.

/// One profiled candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    pub threads: usize,
    pub batch: usize,
    /// Joules per training sample.
    pub energy_per_sample_j: f64,
    /// Seconds per training sample.
    pub time_per_sample_s: f64,
    /// Average power over the profile, watts.
    pub avg_power_w: f64,
}

/// Zeus's cost of one sample.
pub fn cost(p: &Profile, eta: f64, p_max_w: f64) -> f64 {
    eta * p.energy_per_sample_j + (1.0 - eta) * p_max_w * p.time_per_sample_s
}

/// The choice and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub index: usize,
    /// Each candidate's cost, in the order given.
    pub costs: Vec<f64>,
    pub p_max_w: f64,
    pub eta: f64,
}

/// The candidate with the least cost. `P_max` is the highest average power among the profiles
/// (on a CPU there is no power limit to read; the busiest configuration's draw stands in).
pub fn choose(profiles: &[Profile], eta: f64) -> Option<Choice> {
    let p_max = profiles
        .iter()
        .map(|p| p.avg_power_w)
        .fold(0.0f64, f64::max);
    let costs: Vec<f64> = profiles.iter().map(|p| cost(p, eta, p_max)).collect();
    let index = costs
        .iter()
        .enumerate()
        .filter(|(_, c)| c.is_finite())
        .min_by(|a, b| a.1.total_cmp(b.1))?
        .0;
    Some(Choice {
        index,
        costs,
        p_max_w: p_max,
        eta,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(threads: usize, batch: usize, e: f64, t: f64) -> Profile {
        Profile {
            threads,
            batch,
            energy_per_sample_j: e,
            time_per_sample_s: t,
            avg_power_w: e / t,
        }
    }

    /// A recorded-style profile: two threads finish sooner at more power; one thread uses less
    /// energy. η picks between them.
    #[test]
    fn eta_trades_energy_against_time() {
        let profiles = [p(1, 64, 1.0e-3, 1.0e-4), p(2, 64, 1.2e-3, 0.6e-4)];
        // P_max = 20 W (the 2-thread run). η = 1: energy only → 1 thread.
        assert_eq!(choose(&profiles, 1.0).unwrap().index, 0);
        // η = 0: time only → 2 threads.
        assert_eq!(choose(&profiles, 0.0).unwrap().index, 1);
        // η = 0.5: 0.5·1.0e-3 + 0.5·20·1e-4 = 1.5e-3 against 0.5·1.2e-3 + 0.5·20·0.6e-4 = 1.2e-3.
        let c = choose(&profiles, 0.5).unwrap();
        assert_eq!(c.index, 1);
        assert!((c.costs[0] - 1.5e-3).abs() < 1e-12 && (c.costs[1] - 1.2e-3).abs() < 1e-12);
        assert!((c.p_max_w - 20.0).abs() < 1e-9);
        assert!(choose(&[], 0.5).is_none());
    }
}
