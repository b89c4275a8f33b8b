//! Repeats and ties: a configuration run several times (other seeds: other initial weights and
//! another order of the images) is shown as its medians with their ranges; the best is chosen on
//! medians, and a configuration whose energy range overlaps the best's, at the target, is marked a
//! tie, so that a difference inside the machine's noise is never called a win.
//!
//! By default only the cheap configurations repeat (those whose first training took at most
//! [`CHEAP_S`]): they are the ones that compete for the best, and three runs of each add about a
//! minute on 2 cores. `--full` repeats every configuration; `--repeat N` sets N for all.

use super::{key, CompareOptions, Config, Row};
use crate::error::Result;
use crate::job::Progress;
use crate::train::{run_train, JobResults};
use greenai_meter::Provenance;
use greenai_nn::data::Dataset;
use greenai_store::RunSummary;
use std::collections::BTreeMap;

/// Training time (s) under which a configuration counts as cheap.
pub const CHEAP_S: f64 = 10.0;
/// Runs of a cheap configuration by default, and with `--full`.
pub const CHEAP_REPEATS: usize = 3;
pub const FULL_CHEAP_REPEATS: usize = 5;
/// Runs of every other configuration with `--full`.
pub const FULL_REPEATS: usize = 3;

/// How many times `row`'s configuration runs in all (the first run included).
pub fn planned(args: &CompareOptions, row: &Row) -> usize {
    if row.stopped_by_budget_predicted_j.is_some() {
        return 1;
    }
    let cheap = row.training_duration_s <= CHEAP_S;
    match (args.repeat, args.full, cheap) {
        (Some(n), _, _) => n.max(1),
        (None, false, true) => CHEAP_REPEATS,
        (None, false, false) => 1,
        (None, true, true) => FULL_CHEAP_REPEATS,
        (None, true, false) => FULL_REPEATS,
    }
}

/// The key of run `r` (from 2) of a configuration whose first run is keyed `first`.
pub fn key_of(first: &str, r: usize) -> String {
    format!("{first};repeat={r}")
}

/// Runs 2..=`runs` of configuration `c` (seed `r − 1`, no checkpoint, no int8), each reused from
/// an earlier compare where one stored it; returns their rows. `profiling_j`, the energy spent
/// choosing the configuration's settings, is counted in every run as in the first.
pub fn run_more(
    c: &Config,
    runs: usize,
    profiling_j: Option<f64>,
    earlier: &dyn Fn(&str) -> Option<(RunSummary, JobResults)>,
    (dataset, train, test): (&str, &Dataset, &Dataset),
    (args, progress): (&CompareOptions, &dyn Progress),
) -> Result<Vec<Row>> {
    let first = key(c, dataset);
    let mut out = Vec::new();
    for r in 2..=runs {
        let k = key_of(&first, r);
        if let Some((prev, res)) = earlier(&k) {
            let provenance = prev.provenance.unwrap_or(Provenance::Estimated);
            out.push(Row::new(c, &res, Some(prev.run_id), provenance, true));
            continue;
        }
        if args.collect_only {
            // Collecting: a run the tasks did not store is not made up here.
            continue;
        }
        let mut spec = c.spec.clone();
        spec.seed = (r - 1) as u64;
        spec.save = None;
        spec.budget_j = args.budget_j;
        spec.profiling_energy_j = profiling_j;
        let labels: BTreeMap<String, String> = [
            ("compare_key".to_string(), k),
            ("compare_config".to_string(), c.name.clone()),
            ("compare_repeat".to_string(), r.to_string()),
        ]
        .into_iter()
        .collect();
        let job = c.job_settings(args);
        let report = run_train(&spec, dataset, train, test, &job, labels, progress)?;
        let row = Row::new(
            c,
            &report.results,
            report.run_id.clone(),
            report.provenance,
            false,
        );
        progress.note(&format!(
            "  run {r}/{runs}: accuracy {:.4}, training {:.1} J",
            row.accuracy, row.training_energy_j
        ));
        out.push(row);
    }
    Ok(out)
}

/// The median of `v` (the mean of the middle two for an even count).
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// `row` (the first run) becomes the medians of it and `more`, with their ranges.
pub fn aggregate(row: &mut Row, more: &[Row]) {
    if more.is_empty() {
        return;
    }
    let all: Vec<Row> = std::iter::once(row.clone())
        .chain(more.iter().cloned())
        .collect();
    let mut energy: Vec<f64> = all.iter().map(|r| r.training_energy_j).collect();
    let mut accuracy: Vec<f64> = all.iter().map(|r| r.accuracy).collect();
    let mut time: Vec<f64> = all.iter().map(|r| r.training_duration_s).collect();
    let range = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo, hi)
    };
    row.runs = all.len();
    row.training_energy_range_j = Some(range(&energy));
    row.accuracy_range = Some(range(&accuracy));
    row.reached_runs = Some(
        all.iter()
            .filter(|r| r.target_reached == Some(true))
            .count(),
    );
    row.training_energy_j = median(&mut energy);
    row.accuracy = median(&mut accuracy);
    row.training_duration_s = median(&mut time);
    row.provenance = all
        .iter()
        .map(|r| r.provenance)
        .max()
        .unwrap_or(row.provenance);
}

/// Marks the rows at the target whose energy range overlaps the best's as ties (int8 rows, which
/// share their parent's training, excepted).
pub fn mark_ties(rows: &mut [Row], best: Option<usize>, target: f64) {
    let Some(b) = best else { return };
    let span = |r: &Row| {
        r.training_energy_range_j
            .unwrap_or((r.training_energy_j, r.training_energy_j))
    };
    let (lo, hi) = span(&rows[b]);
    for (i, r) in rows.iter_mut().enumerate() {
        let (a, z) = span(r);
        // An int8 row shares its parent's training: no configuration of its own to tie.
        r.tie = i != b
            && r.precision != "int8"
            && r.stopped_by_budget_predicted_j.is_none()
            && r.accuracy >= target
            && a <= hi
            && z >= lo;
    }
}

/// The saving's range: the baseline's energy (its range where it repeated) over the best's.
pub fn saving_range(baseline: &Row, best: &Row) -> Option<(f64, f64)> {
    let span = |r: &Row| {
        r.training_energy_range_j
            .unwrap_or((r.training_energy_j, r.training_energy_j))
    };
    let (blo, bhi) = span(baseline);
    let (lo, hi) = span(best);
    (lo > 0.0 && hi > 0.0).then(|| (blo / hi, bhi / lo))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::grid;
    use crate::train::ScheduleKind;
    use greenai_nn::models::ModelKind;

    fn row(name: &str, accuracy: f64, energy: f64) -> Row {
        let c = grid::config(
            name,
            grid::spec(ModelKind::Lenet, 1, 5e-3, ScheduleKind::Cosine),
            2,
            64,
        );
        let r = JobResults {
            accuracy,
            training_energy_j: Some(energy),
            training_duration_s: Some(2.0),
            ..JobResults::default()
        };
        Row::new(&c, &r, None, Provenance::Estimated, false)
    }

    #[test]
    fn medians_and_ranges_of_the_runs() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&mut []).is_nan());
        let mut first = row("a", 0.985, 50.0);
        first.target_reached = Some(true);
        let mut second = row("a", 0.983, 40.0);
        second.target_reached = Some(false);
        aggregate(&mut first, &[second, row("a", 0.99, 70.0)]);
        assert_eq!(first.runs, 3);
        assert_eq!(first.training_energy_j, 50.0);
        assert_eq!(first.training_energy_range_j, Some((40.0, 70.0)));
        assert_eq!(first.accuracy, 0.985);
        assert_eq!(first.accuracy_range, Some((0.983, 0.99)));
        assert_eq!(first.reached_runs, Some(1));
        // One run: nothing changes.
        let mut one = row("b", 0.98, 10.0);
        aggregate(&mut one, &[]);
        assert_eq!((one.runs, one.training_energy_range_j), (1, None));
    }

    #[test]
    fn overlapping_ranges_at_the_target_are_ties() {
        let mut best = row("best", 0.985, 50.0);
        best.training_energy_range_j = Some((45.0, 55.0));
        let mut close = row("close", 0.984, 53.0);
        close.training_energy_range_j = Some((52.0, 60.0));
        let mut apart = row("apart", 0.99, 70.0);
        apart.training_energy_range_j = Some((56.0, 80.0));
        let weak = row("weak", 0.97, 50.0);
        let mut int8 = row("best-int8", 0.985, 50.0);
        int8.precision = "int8".into();
        let mut rows = vec![best, close, apart, weak, int8];
        mark_ties(&mut rows, Some(0), 0.98);
        let ties: Vec<bool> = rows.iter().map(|r| r.tie).collect();
        assert_eq!(ties, [false, true, false, false, false]);
        // The saving's range: the baseline's energy over the best's range.
        let base = row("baseline", 0.978, 300.0);
        assert_eq!(
            saving_range(&base, &rows[0]),
            Some((300.0 / 55.0, 300.0 / 45.0))
        );
    }

    #[test]
    fn cheap_configurations_repeat_by_default() {
        let mut args = crate::compare::tests::options();
        let cheap = row("cheap", 0.98, 10.0);
        let mut slow = row("slow", 0.98, 100.0);
        slow.training_duration_s = 60.0;
        assert_eq!((planned(&args, &cheap), planned(&args, &slow)), (3, 1));
        args.full = true;
        assert_eq!((planned(&args, &cheap), planned(&args, &slow)), (5, 3));
        args.repeat = Some(2);
        assert_eq!((planned(&args, &cheap), planned(&args, &slow)), (2, 2));
        let mut stopped = cheap.clone();
        stopped.stopped_by_budget_predicted_j = Some(1e3);
        assert_eq!(planned(&args, &stopped), 1);
    }
}
