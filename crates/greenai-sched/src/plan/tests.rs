use super::*;
use greenai_carbon::series::IntensitySeries;
use greenai_units::CarbonIntensity;
use proptest::prelude::*;

const HOUR: f64 = 3600.0;
const MIN: f64 = 60.0;

fn week() -> Forecast {
    let s = IntensitySeries::from_csv_file(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/forecasts/week-hourly-synthetic.csv"
    )))
    .unwrap();
    Forecast::new(&s)
}

fn hourly(values: &[f64]) -> Forecast {
    let pts = values
        .iter()
        .enumerate()
        .map(|(i, v)| (i as f64 * HOUR, CarbonIntensity::from_g_per_kwh(*v), None))
        .collect();
    Forecast::new(&IntensitySeries::from_points("t", pts).unwrap())
}

/// Minute by minute: the intensity of each minute of `[a, b)`, computed without the planner's
/// running integral.
fn minutes(f: &Forecast, a: f64, b: f64) -> Vec<f64> {
    let n = ((b - a) / MIN).round() as usize;
    (0..n).map(|i| f.at(a + i as f64 * MIN)).collect()
}

/// Brute force: every whole-minute start, emissions summed minute by minute.
fn brute_contiguous(f: &Forecast, job: &Job) -> f64 {
    let m = minutes(f, job.earliest, job.deadline);
    let k = (job.duration_s / MIN).round() as usize;
    (0..=m.len() - k)
        .map(|s| m[s..s + k].iter().sum::<f64>())
        .fold(f64::INFINITY, f64::min)
        / k as f64
}

/// Brute force: the `k` cheapest minutes of the window.
fn brute_interruptible(f: &Forecast, job: &Job) -> f64 {
    let mut m = minutes(f, job.earliest, job.deadline);
    m.sort_by(f64::total_cmp);
    let k = (job.duration_s / MIN).round() as usize;
    m[..k].iter().sum::<f64>() / k as f64
}

#[test]
fn the_plan_is_the_brute_force_optimum_over_a_sweep_of_durations_and_deadlines() {
    let f = week();
    let t0 = f.start();
    let mut checked = 0;
    for earliest_min in [0.0, 17.0, 600.0 + 43.0] {
        for window_h in [3.0, 8.0, 24.0, 47.5, 96.0] {
            for duration_min in [1.0, 30.0, 61.0, 150.0, 360.0, 720.0] {
                let earliest = t0 + earliest_min * MIN;
                let job = |interruptible| Job {
                    duration_s: duration_min * MIN,
                    earliest,
                    deadline: earliest + window_h * HOUR,
                    interruptible,
                };
                if duration_min * MIN > window_h * HOUR {
                    assert!(matches!(
                        plan(&f, &job(false)),
                        Err(PlanError::TooShort { .. })
                    ));
                    continue;
                }
                for interruptible in [false, true] {
                    let j = job(interruptible);
                    let p = plan(&f, &j).unwrap();
                    let want = if interruptible {
                        brute_interruptible(&f, &j)
                    } else {
                        brute_contiguous(&f, &j)
                    };
                    assert!(
                        (p.mean_g_per_kwh - want).abs() < 1e-6 * want,
                        "{j:?}: planned {} brute force {want}",
                        p.mean_g_per_kwh
                    );
                    // The windows are the job's length, inside its window, in order.
                    let len: f64 = p.windows.iter().map(|w| w.1 - w.0).sum();
                    assert!((len - j.duration_s).abs() < 1e-6);
                    assert!(p.start() >= j.earliest && p.end() <= j.deadline + 1e-6);
                    assert!(p.windows.windows(2).all(|w| w[0].1 < w[1].0));
                    if !interruptible {
                        assert_eq!(p.windows.len(), 1);
                    }
                    assert!(p.mean_g_per_kwh <= p.now_mean_g_per_kwh + 1e-9);
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn a_tie_goes_to_the_earliest_start() {
    let f = hourly(&[300.0, 100.0, 100.0, 100.0, 300.0]);
    let p = plan(
        &f,
        &Job {
            duration_s: HOUR,
            earliest: 0.0,
            deadline: 5.0 * HOUR,
            interruptible: false,
        },
    )
    .unwrap();
    assert_eq!(p.windows, vec![(HOUR, 2.0 * HOUR)]);
    assert!((p.saving() - 2.0 / 3.0).abs() < 1e-12);
}

#[test]
fn an_interruptible_job_takes_the_clean_hours_and_skips_the_dirty_one() {
    let f = hourly(&[300.0, 100.0, 500.0, 120.0, 400.0, 90.0]);
    let p = plan(
        &f,
        &Job {
            duration_s: 3.0 * HOUR,
            earliest: 0.0,
            deadline: 6.0 * HOUR,
            interruptible: true,
        },
    )
    .unwrap();
    assert_eq!(
        p.windows,
        vec![
            (HOUR, 2.0 * HOUR),
            (3.0 * HOUR, 4.0 * HOUR),
            (5.0 * HOUR, 6.0 * HOUR)
        ]
    );
    assert!((p.mean_g_per_kwh - 310.0 / 3.0).abs() < 1e-9);
}

#[test]
fn beyond_the_forecast_the_mean_is_assumed_and_said() {
    let f = hourly(&[100.0, 300.0]);
    assert_eq!(f.assumed_outside(), 200.0);
    let p = plan(
        &f,
        &Job {
            duration_s: HOUR,
            earliest: HOUR,
            deadline: 10.0 * HOUR,
            interruptible: false,
        },
    )
    .unwrap();
    // 300 in the forecast's last hour, 200 assumed after it: the first assumed hour wins.
    assert_eq!(p.windows, vec![(2.0 * HOUR, 3.0 * HOUR)]);
    assert_eq!(p.assumed, Some((2.0 * HOUR, 200.0)));
    assert_eq!(p.outside_forecast_s, HOUR);
}

#[test]
fn impossible_jobs_are_refused_with_the_reason() {
    let f = hourly(&[100.0, 300.0]);
    let job = |d: f64, deadline: f64| Job {
        duration_s: d,
        earliest: HOUR,
        deadline,
        interruptible: false,
    };
    let e = plan(&f, &job(HOUR, 0.5 * HOUR)).unwrap_err();
    assert!(matches!(e, PlanError::DeadlinePassed { .. }), "{e}");
    let e = plan(&f, &job(3.0 * HOUR, 2.0 * HOUR)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the job needs 3h but only 1h remain before the deadline"
    );
    assert!(matches!(
        plan(&f, &job(0.0, 2.0 * HOUR)),
        Err(PlanError::BadDuration(_))
    ));
    assert!(matches!(
        plan(&f, &job(f64::NAN, 2.0 * HOUR)),
        Err(PlanError::BadDuration(_))
    ));
}

proptest! {
    #[test]
    fn random_forecasts_agree_with_brute_force(
        values in proptest::collection::vec(20.0f64..800.0, 2..30),
        earliest_min in 0u32..600,
        duration_min in 1u32..400,
        window_min in 1u32..2000,
        interruptible in any::<bool>(),
    ) {
        let f = hourly(&values);
        let job = Job {
            duration_s: duration_min as f64 * MIN,
            earliest: earliest_min as f64 * MIN,
            deadline: (earliest_min + window_min) as f64 * MIN,
            interruptible,
        };
        match plan(&f, &job) {
            Err(PlanError::TooShort { .. }) => prop_assert!(duration_min > window_min),
            Err(e) => prop_assert!(false, "{e}"),
            Ok(p) => {
                let want = if interruptible { brute_interruptible(&f, &job) } else { brute_contiguous(&f, &job) };
                prop_assert!((p.mean_g_per_kwh - want).abs() < 1e-6 * want, "{} vs {}", p.mean_g_per_kwh, want);
            }
        }
    }
}
