//! Predicting a configuration's training energy from its first epochs (carbontracker's approach:
//! measure epoch 1, or the first few, and extrapolate linearly to the planned epochs).

/// A prediction of total training energy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Forecast {
    /// Epochs measured so far.
    pub epochs_seen: usize,
    pub planned_epochs: usize,
    /// Energy of the epochs seen, joules.
    pub spent_j: f64,
    /// Predicted energy of all planned epochs, joules.
    pub predicted_j: f64,
}

impl Forecast {
    /// Extrapolates the mean energy of the epochs seen to `planned_epochs`.
    pub fn from_epochs(epoch_energies_j: &[f64], planned_epochs: usize) -> Option<Forecast> {
        if epoch_energies_j.is_empty() {
            return None;
        }
        let spent: f64 = epoch_energies_j.iter().sum();
        let mean = spent / epoch_energies_j.len() as f64;
        let remaining = planned_epochs.saturating_sub(epoch_energies_j.len());
        Some(Forecast {
            epochs_seen: epoch_energies_j.len(),
            planned_epochs,
            spent_j: spent,
            predicted_j: spent + mean * remaining as f64,
        })
    }

    /// Whether the prediction exceeds `budget_j`.
    pub fn exceeds(&self, budget_j: f64) -> bool {
        self.predicted_j > budget_j
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extrapolates_the_mean_epoch() {
        let f = Forecast::from_epochs(&[10.0, 12.0], 10).unwrap();
        assert_eq!(f.spent_j, 22.0);
        assert_eq!(f.predicted_j, 22.0 + 11.0 * 8.0);
        assert!(f.exceeds(100.0) && !f.exceeds(120.0));
        assert!(Forecast::from_epochs(&[], 3).is_none());
        // Past the plan, the prediction is what was spent.
        assert_eq!(
            Forecast::from_epochs(&[5.0; 4], 3).unwrap().predicted_j,
            20.0
        );
    }
}
