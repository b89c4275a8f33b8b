//! The Pareto front of accuracy (higher is better) against energy (lower is better).

use crate::Outcome;

/// Indices of the outcomes on the front, by increasing energy: an outcome is on it when no other
/// has at least its accuracy for at most its energy, and is strictly better in one of the two.
pub fn front(outcomes: &[Outcome]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..outcomes.len())
        .filter(|&i| outcomes[i].energy_j.is_finite() && outcomes[i].accuracy.is_finite())
        .collect();
    // By energy ascending, then accuracy descending: a point joins the front when it is more
    // accurate than every cheaper point.
    idx.sort_by(|&a, &b| {
        let (x, y) = (&outcomes[a], &outcomes[b]);
        x.energy_j
            .total_cmp(&y.energy_j)
            .then(y.accuracy.total_cmp(&x.accuracy))
    });
    let mut out = Vec::new();
    let mut best = f64::NEG_INFINITY;
    for i in idx {
        if outcomes[i].accuracy > best {
            best = outcomes[i].accuracy;
            out.push(i);
        }
    }
    out
}

/// Whether outcome `i` is dominated by another.
pub fn dominated(outcomes: &[Outcome], i: usize) -> bool {
    !front(outcomes).contains(&i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn o(accuracy: f64, energy_j: f64) -> Outcome {
        Outcome { accuracy, energy_j }
    }

    #[test]
    fn a_hand_checked_front() {
        let pts = [
            o(0.97, 100.0),  // on: cheapest
            o(0.96, 150.0),  // dominated by 0
            o(0.98, 200.0),  // on
            o(0.98, 250.0),  // dominated by 2 (same accuracy, more energy)
            o(0.99, 900.0),  // on
            o(0.985, 950.0), // dominated by 4
        ];
        assert_eq!(front(&pts), vec![0, 2, 4]);
        assert!(dominated(&pts, 3));
    }

    proptest! {
        /// Nothing on the front is dominated, and everything off it is.
        #[test]
        fn the_front_is_exactly_the_non_dominated_set(
            pts in proptest::collection::vec((0.0f64..1.0, 0.0f64..1000.0), 1..30)
        ) {
            let pts: Vec<Outcome> = pts.into_iter().map(|(a, e)| o(a, e)).collect();
            let f = front(&pts);
            for i in 0..pts.len() {
                let beaten = (0..pts.len()).any(|j| {
                    j != i
                        && pts[j].accuracy >= pts[i].accuracy
                        && pts[j].energy_j <= pts[i].energy_j
                        && (pts[j].accuracy > pts[i].accuracy || pts[j].energy_j < pts[i].energy_j)
                });
                // Exact duplicates: one of them represents the point.
                let duplicate_kept = (0..pts.len()).any(|j| j != i && pts[j] == pts[i] && f.contains(&j));
                if f.contains(&i) {
                    prop_assert!(!beaten);
                } else {
                    prop_assert!(beaten || duplicate_kept, "{i} left off: {pts:?}");
                }
            }
        }
    }
}
