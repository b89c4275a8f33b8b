//! Energy to accuracy, Zeus's metric: the joules a training job spends until it reaches a target
//! accuracy. Training checks a fixed subset of the held-out images every N steps (each check in
//! its own meter window, its energy counted in the job's and reported apart) and stops at the
//! first check that reaches the target; the full validation set at each epoch's end decides too.
//!
//! The default interval keeps the checks near 3 % of the training compute: a check is one forward
//! pass over its images, a step a forward and a backward pass (about three forward passes) over a
//! batch, so `every = images / (3 · batch · 0.03)` steps (1,000 images at batch 64: every 174
//! steps, five checks an epoch of MNIST). The report gives the share the checks actually took.

use greenai_meter::Monitor;
use greenai_nn::data::Samples;
use greenai_nn::train::{Model, Runner};
use greenai_units::Energy;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Held-out images a check evaluates (fewer when fewer are held out).
pub const CHECK_IMAGES: usize = 1000;
/// The share of the training compute the checks take by default.
const CHECK_SHARE: f64 = 0.03;
/// Forward passes a training image costs (its forward and backward pass), against one for a
/// checked image.
const PASSES_PER_TRAINING_IMAGE: u64 = 3;

/// What `--target-accuracy` and `--check-every` ask.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TargetSpec {
    /// The accuracy to reach, 0 to 1.
    pub accuracy: f64,
    /// Steps between checks; `None` for the default (see the module's text).
    pub check_every: Option<u64>,
    /// Held-out images a check evaluates; `None` for [`CHECK_IMAGES`].
    pub check_images: Option<usize>,
}

/// The accuracy a check of `images` images must show for the true accuracy to be `target` or
/// more, give or take: `target` plus one standard error of the check, `sqrt(a(1 − a)/n)` (at 98 %
/// on 2,000 images, 0.31 points). Stopping at the first check above a line favours checks that
/// happen to read high; the margin pays for that, so that a job stopped by it meets the target on
/// the test set too (without it, LeNet-5 stopped at 0.98 on 1,000 images scored 0.9788 on the
/// test set: bench/NOTES.md).
pub fn with_margin(target: f64, images: usize) -> f64 {
    let n = images.max(1) as f64;
    (target + (target * (1.0 - target) / n).sqrt()).min(1.0)
}

/// The default steps between checks of `images` images at `batch`.
pub fn default_check_every(images: usize, batch: usize) -> u64 {
    let step_passes = (PASSES_PER_TRAINING_IMAGE * batch.max(1) as u64) as f64;
    let steps = images as f64 / (step_passes * CHECK_SHARE);
    (steps.ceil() as u64).max(1)
}

/// How a job went against its target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetReport {
    pub target_accuracy: f64,
    /// Whether a check (or an epoch's validation) reached it.
    pub reached: bool,
    /// The job's energy from its start to the check that reached the target: loading, training
    /// and the checks so far.
    pub energy_to_accuracy_j: Option<f64>,
    pub time_to_accuracy_s: Option<f64>,
    /// The step (counted from the job's first) and epoch at which it was reached.
    pub step: Option<u64>,
    pub epoch: Option<usize>,
    /// The accuracy the deciding check measured (on `check_images`, or the whole validation set
    /// at an epoch's end).
    pub check_accuracy: Option<f64>,
    pub check_every: u64,
    pub check_images: usize,
    pub checks: usize,
    /// Checks due so near the end of the job's plan that they could not pay for themselves, and
    /// were not made ([`Checker::ending_after`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped_checks: usize,
    /// The checks' energy, counted in the job's, and its share of the training energy.
    pub check_energy_j: f64,
    pub check_share: f64,
    /// Every check in order: the step, the accuracy it measured and the job's energy then. A
    /// sweep of targets reads the first check at or above each from one run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log: Vec<CheckPoint>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One check of a [`Checker`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CheckPoint {
    pub step: u64,
    pub accuracy: f64,
    /// The job's energy at the check (none where the meter had no reading yet).
    pub energy_j: Option<f64>,
    pub time_s: f64,
}

#[derive(Debug, Clone, Copy)]
struct Reached {
    step: u64,
    epoch: usize,
    accuracy: f64,
    energy_j: Option<f64>,
    time_s: f64,
}

/// Checks a training job against its target, step by step.
#[derive(Debug)]
pub struct Checker {
    target: f64,
    every: u64,
    images: Vec<usize>,
    batch: usize,
    /// The step this job's plan ends at (counted as `steps`), when it has one.
    last_step: Option<u64>,
    steps: u64,
    checks: usize,
    skipped: usize,
    check_energy: Energy,
    reached: Option<Reached>,
    log: Vec<CheckPoint>,
    start: Instant,
    /// A meter error inside a check, reported when the epoch ends.
    pub error: Option<greenai_meter::MeterError>,
}

impl Checker {
    /// A checker for `spec` over the held-out images `held_out` (the first [`CHECK_IMAGES`] are
    /// checked), at `batch`; the job started at `start`.
    pub fn new(spec: TargetSpec, held_out: &[usize], batch: usize, start: Instant) -> Checker {
        let images: Vec<usize> = held_out
            .iter()
            .take(spec.check_images.unwrap_or(CHECK_IMAGES))
            .copied()
            .collect();
        Checker {
            target: spec.accuracy,
            every: spec
                .check_every
                .unwrap_or_else(|| default_check_every(images.len(), batch)),
            images,
            batch,
            last_step: None,
            steps: 0,
            checks: 0,
            skipped: 0,
            check_energy: Energy::ZERO,
            reached: None,
            log: Vec::new(),
            start,
            error: None,
        }
    }

    /// The job ends after `steps` steps (its plan). A check due so near the end that stopping
    /// there would save less training than the check itself costs (a check of `images` images
    /// against the `PASSES_PER_TRAINING_IMAGE · batch` forward passes of each step left) is
    /// skipped: the epoch-end validation follows it anyway. Only for jobs whose epoch-end
    /// validation reaches [`Checker::at_epoch_end`] (`train`; not the transfer head, whose
    /// checks are its only decision).
    pub fn ending_after(mut self, steps: u64) -> Checker {
        self.last_step = Some(steps);
        self
    }

    /// Whether stopping at the current step could save more training than a check costs.
    fn worth_checking(&self) -> bool {
        self.last_step.is_none_or(|last| {
            let left = last.saturating_sub(self.steps);
            PASSES_PER_TRAINING_IMAGE * left * self.batch.max(1) as u64 >= self.images.len() as u64
        })
    }

    pub fn reached(&self) -> bool {
        self.reached.is_some()
    }

    /// Where the target was reached, in words.
    pub fn describe(&self) -> String {
        match self.reached {
            Some(r) => format!(
                "target accuracy {:.4} reached in epoch {} (step {}, held-out accuracy {:.4})",
                self.target, r.epoch, r.step, r.accuracy
            ),
            None => format!("target accuracy {:.4} not reached", self.target),
        }
    }

    /// After a step of `epoch`: checks when one is due, and says whether to stop (the target is
    /// reached). `energy` is the job's energy so far.
    pub fn after_step(
        &mut self,
        epoch: usize,
        model: &Model,
        runner: &Runner,
        data: &dyn Samples,
        meter: &Monitor,
        energy: &dyn Fn() -> Option<Energy>,
    ) -> bool {
        self.steps += 1;
        if self.reached.is_some() || self.error.is_some() {
            return true;
        }
        if !self.steps.is_multiple_of(self.every) || self.images.is_empty() {
            return false;
        }
        if !self.worth_checking() {
            self.skipped += 1;
            return false;
        }
        if let Err(e) = meter.begin_window("target-check") {
            self.error = Some(e);
            return true;
        }
        let accuracy = runner.evaluate(&model.folded(), data, Some(&self.images));
        match meter.end_window("target-check") {
            Ok(w) => self.check_energy += w.energy,
            Err(e) => {
                self.error = Some(e);
                return true;
            }
        }
        self.checks += 1;
        let at = energy();
        self.log.push(CheckPoint {
            step: self.steps,
            accuracy,
            energy_j: at.map(|e| e.joules()),
            time_s: self.start.elapsed().as_secs_f64(),
        });
        self.decide(epoch, accuracy, &|| at)
    }

    /// At the end of `epoch`, with the whole validation set's accuracy: says whether to stop.
    pub fn at_epoch_end(
        &mut self,
        epoch: usize,
        validation: Option<f64>,
        energy: &dyn Fn() -> Option<Energy>,
    ) -> bool {
        match (self.reached, validation) {
            (Some(_), _) => true,
            (None, Some(v)) => self.decide(epoch, v, energy),
            (None, None) => false,
        }
    }

    fn decide(&mut self, epoch: usize, accuracy: f64, energy: &dyn Fn() -> Option<Energy>) -> bool {
        if accuracy < self.target {
            return false;
        }
        self.reached = Some(Reached {
            step: self.steps,
            epoch,
            accuracy,
            energy_j: energy().map(|e| e.joules()),
            time_s: self.start.elapsed().as_secs_f64(),
        });
        true
    }

    /// The report, against the job's training energy.
    pub fn report(&self, training: Energy) -> TargetReport {
        let r = self.reached;
        TargetReport {
            target_accuracy: self.target,
            reached: r.is_some(),
            energy_to_accuracy_j: r.and_then(|r| r.energy_j),
            time_to_accuracy_s: r.map(|r| r.time_s),
            step: r.map(|r| r.step),
            epoch: r.map(|r| r.epoch),
            check_accuracy: r.map(|r| r.accuracy),
            check_every: self.every,
            check_images: self.images.len(),
            checks: self.checks,
            skipped_checks: self.skipped,
            check_energy_j: self.check_energy.joules(),
            check_share: if training.joules() > 0.0 {
                self.check_energy.joules() / training.joules()
            } else {
                0.0
            },
            log: self.log.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_interval_keeps_checks_near_three_percent() {
        assert_eq!(default_check_every(1000, 64), 174);
        assert_eq!(default_check_every(0, 64), 1);
        assert_eq!(default_check_every(1000, 0), 11112);
        // 1,000 images every 174 steps of 64: 1000 / (174 · 64 · 3) ≈ 3 % of the work.
        let share = 1000.0 / (174.0 * 64.0 * 3.0);
        assert!((0.025..=0.03).contains(&share));
    }

    #[test]
    fn the_margin_is_one_standard_error_of_the_check() {
        assert!((with_margin(0.98, 2000) - 0.98313).abs() < 1e-5);
        assert!((with_margin(0.98, 1000) - 0.98443).abs() < 1e-5);
        assert_eq!(with_margin(1.0, 10), 1.0);
        assert!(with_margin(0.5, 0) <= 1.0);
    }

    #[test]
    fn a_check_too_near_the_plans_end_to_pay_for_itself_is_skipped() {
        let spec = TargetSpec {
            accuracy: 0.98,
            check_every: Some(348),
            check_images: None,
        };
        let held: Vec<usize> = (0..5000).collect();
        let mut c = Checker::new(spec, &held, 32, Instant::now());
        c.steps = 699;
        assert!(
            c.worth_checking(),
            "a job without a plan checks whenever a check is due"
        );
        let mut c = c.ending_after(700);
        // 1,000 images against 3 · 32 forward passes for each step left: 11 steps pay, 10 not.
        for (step, worth) in [
            (348, true),
            (689, true),
            (690, false),
            (696, false),
            (700, false),
        ] {
            c.steps = step;
            assert_eq!(c.worth_checking(), worth, "step {step}");
        }
    }

    #[test]
    fn an_epoch_end_validation_decides_and_is_remembered() {
        let spec = TargetSpec {
            accuracy: 0.9,
            check_every: Some(10),
            check_images: None,
        };
        let held: Vec<usize> = (0..5000).collect();
        let mut c = Checker::new(spec, &held, 64, Instant::now());
        assert_eq!(c.report(Energy::ZERO).check_images, CHECK_IMAGES);
        let e = || Some(Energy::from_joules(12.0));
        assert!(!c.at_epoch_end(1, Some(0.85), &e));
        assert!(!c.at_epoch_end(1, None, &e));
        assert!(c.at_epoch_end(2, Some(0.91), &e));
        let r = c.report(Energy::from_joules(10.0));
        assert!(r.reached);
        assert_eq!((r.epoch, r.check_accuracy), (Some(2), Some(0.91)));
        assert_eq!(r.energy_to_accuracy_j, Some(12.0));
        assert_eq!(r.check_every, 10);
    }
}
