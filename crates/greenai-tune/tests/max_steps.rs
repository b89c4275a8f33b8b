//! `--max-steps`: the plan a job's cosine schedule spans.

use greenai_nn::optim::Schedule;
use greenai_tune::train::planned_steps;

#[test]
fn max_steps_shortens_the_plan_and_the_schedule_ends_there() {
    // 860 steps an epoch (55,000 images at 64), 3 epochs.
    assert_eq!(planned_steps(860, 3, None), 2580);
    assert_eq!(planned_steps(860, 3, Some(1000)), 1000);
    // More steps than the epochs hold: the epochs end the job.
    assert_eq!(planned_steps(860, 1, Some(5000)), 860);
    let s = Schedule::Cosine {
        total_steps: planned_steps(860, 3, Some(1000)),
    };
    assert_eq!(s.lr(0.01, 0), 0.01);
    assert!((s.lr(0.01, 500) - 0.005).abs() < 1e-6);
    assert_eq!(s.lr(0.01, 1000), 0.0);
}
