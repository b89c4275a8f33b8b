//! The planner: the start (or, for a job that may pause, the set of windows) with the least
//! expected emissions before a deadline. Pure arithmetic over a step-wise forecast.
//!
//! A forecast value holds from its time until the next one. The emissions of a contiguous job of
//! length `d` started at `s` are `E/d · (C(s + d) − C(s))`, `C` the forecast's running integral:
//! piecewise linear in `s`, so its minimum is at a breakpoint, where `s` or `s + d` meets a
//! forecast step, the earliest start or the latest one. The planner evaluates exactly those
//! candidates (O(n log n) for n steps); the tests check it against brute force minute by minute.
//! A job that may pause takes the cheapest stretches of the window, cheapest first, earliest
//! first among equals.
//!
//! Outside the forecast nothing is known. greenai assumes the forecast's time-weighted mean there
//! (no better guess without data) and says so: [`Plan::assumed`] is set whenever the window
//! reaches beyond the forecast, and a schedule that lands there is an estimate of an estimate.

use greenai_carbon::series::{IntensitySeries, Signal};
use serde::Serialize;

/// Why no plan can be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("the deadline has passed ({deadline} is before now, {now})")]
    DeadlinePassed { deadline: String, now: String },
    #[error("the job needs {needed} but only {available} remain before the deadline")]
    TooShort { needed: String, available: String },
    #[error("the job's duration must be more than zero seconds, not {0} s")]
    BadDuration(f64),
}

/// A step-wise forecast ready for planning.
#[derive(Debug, Clone)]
pub struct Forecast {
    /// `(unix seconds, gCO2e/kWh)`, sorted.
    steps: Vec<(f64, f64)>,
    /// Where the last step stops holding.
    end: f64,
    /// Running integral at each step's start, in g/kWh · s.
    cum: Vec<f64>,
    /// What is assumed outside `[steps[0].0, end)`: the time-weighted mean.
    fill: f64,
    pub signal: Signal,
    pub source: String,
}

impl Forecast {
    /// The series' own signal (average, or marginal for a marginal-only forecast).
    pub fn new(series: &IntensitySeries) -> Forecast {
        Forecast::with_signal(series, series.primary())
    }

    pub fn with_signal(series: &IntensitySeries, signal: Signal) -> Forecast {
        let steps = series.steps(signal);
        let end = series.end().max(steps[steps.len() - 1].0);
        Forecast::from_steps(steps, end, signal, &series.source)
    }

    fn from_steps(steps: Vec<(f64, f64)>, end: f64, signal: Signal, source: &str) -> Forecast {
        let mut cum = Vec::with_capacity(steps.len() + 1);
        let mut acc = 0.0;
        for (i, s) in steps.iter().enumerate() {
            cum.push(acc);
            let next = steps.get(i + 1).map_or(end, |n| n.0);
            acc += s.1 * (next - s.0);
        }
        cum.push(acc);
        let span = end - steps[0].0;
        let fill = if span > 0.0 { acc / span } else { steps[0].1 };
        Forecast {
            steps,
            end,
            cum,
            fill,
            signal,
            source: source.to_string(),
        }
    }

    pub fn start(&self) -> f64 {
        self.steps[0].0
    }

    pub fn end(&self) -> f64 {
        self.end
    }

    /// The value assumed outside the forecast.
    pub fn assumed_outside(&self) -> f64 {
        self.fill
    }

    /// The intensity in force at `t` (the assumed value outside the forecast).
    pub fn at(&self, t: f64) -> f64 {
        if t < self.start() || t >= self.end {
            return self.fill;
        }
        let i = self.steps.partition_point(|p| p.0 <= t) - 1;
        self.steps[i].1
    }

    /// ∫ intensity dt from the forecast's start to `t` (negative before it).
    fn integral(&self, t: f64) -> f64 {
        let t0 = self.start();
        if t <= t0 {
            return (t - t0) * self.fill;
        }
        if t >= self.end {
            return self.cum[self.cum.len() - 1] + (t - self.end) * self.fill;
        }
        let i = self.steps.partition_point(|p| p.0 <= t) - 1;
        self.cum[i] + (t - self.steps[i].0) * self.steps[i].1
    }

    /// Mean intensity over `[a, b)`.
    pub fn mean(&self, a: f64, b: f64) -> f64 {
        if b <= a {
            return self.at(a);
        }
        (self.integral(b) - self.integral(a)) / (b - a)
    }

    /// Mean intensity over a set of windows, weighted by their lengths.
    pub fn mean_over(&self, windows: &[(f64, f64)]) -> f64 {
        let len: f64 = windows.iter().map(|w| (w.1 - w.0).max(0.0)).sum();
        if len <= 0.0 {
            return windows.first().map_or(self.fill, |w| self.at(w.0));
        }
        windows
            .iter()
            .map(|w| self.integral(w.1) - self.integral(w.0))
            .sum::<f64>()
            / len
    }

    /// Step boundaries, the end included.
    fn breakpoints(&self) -> impl Iterator<Item = f64> + '_ {
        self.steps.iter().map(|s| s.0).chain([self.end])
    }
}

/// A job to place.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Job {
    /// Seconds of work.
    pub duration_s: f64,
    /// Unix seconds: the earliest it may start (now, for a new job).
    pub earliest: f64,
    /// Unix seconds: when it must have finished.
    pub deadline: f64,
    /// Whether it may be paused and resumed.
    pub interruptible: bool,
}

/// Where the job goes and what that is expected to emit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// `(start, end)` unix seconds: one window for a contiguous job, the cheapest set for one
    /// that may pause.
    pub windows: Vec<(f64, f64)>,
    /// Mean intensity over the windows, gCO2e/kWh.
    pub mean_g_per_kwh: f64,
    /// Mean intensity had it run from its earliest start without pausing.
    pub now_mean_g_per_kwh: f64,
    /// Set when the window reaches outside the forecast: `(forecast end, value assumed)`.
    pub assumed: Option<(f64, f64)>,
    /// Seconds of the chosen windows that lie outside the forecast.
    pub outside_forecast_s: f64,
}

impl Plan {
    pub fn start(&self) -> f64 {
        self.windows[0].0
    }

    pub fn end(&self) -> f64 {
        self.windows[self.windows.len() - 1].1
    }

    /// `1 − planned / now`: the share of the emissions that waiting saves.
    pub fn saving(&self) -> f64 {
        if self.now_mean_g_per_kwh > 0.0 {
            1.0 - self.mean_g_per_kwh / self.now_mean_g_per_kwh
        } else {
            0.0
        }
    }
}

fn when(t: f64) -> String {
    crate::time::rfc3339(t)
}

fn span(s: f64) -> String {
    crate::time::human_duration(s)
}

/// Plans `job` on `f`.
pub fn plan(f: &Forecast, job: &Job) -> Result<Plan, PlanError> {
    let d = job.duration_s;
    if !(d.is_finite() && d > 0.0) {
        return Err(PlanError::BadDuration(d));
    }
    if job.deadline <= job.earliest {
        return Err(PlanError::DeadlinePassed {
            deadline: when(job.deadline),
            now: when(job.earliest),
        });
    }
    // A millisecond of slack for times that went through text.
    if job.deadline - job.earliest + 1e-3 < d {
        return Err(PlanError::TooShort {
            needed: span(d),
            available: span(job.deadline - job.earliest),
        });
    }
    let latest = (job.deadline - d).max(job.earliest);
    let windows = if job.interruptible {
        cheapest_stretches(f, job.earliest, job.deadline, d)
    } else {
        let s = best_start(f, job.earliest, latest, d);
        vec![(s, s + d)]
    };
    let outside: f64 = windows
        .iter()
        .map(|w| (w.1 - w.0) - (w.1.min(f.end) - w.0.max(f.start())).max(0.0))
        .sum();
    let reaches_out = job.earliest < f.start() || job.deadline > f.end;
    Ok(Plan {
        mean_g_per_kwh: f.mean_over(&windows),
        now_mean_g_per_kwh: f.mean(job.earliest, job.earliest + d),
        assumed: reaches_out.then_some((f.end, f.fill)),
        outside_forecast_s: outside.max(0.0),
        windows,
    })
}

/// The contiguous start in `[earliest, latest]` with the least integral; the earliest among
/// equals.
pub fn best_start(f: &Forecast, earliest: f64, latest: f64, d: f64) -> f64 {
    let cost = |s: f64| f.integral(s + d) - f.integral(s);
    let mut best = (cost(earliest), earliest);
    let mut consider = |s: f64| {
        if s > earliest && s <= latest {
            let c = cost(s);
            // Relative slack so that rounding does not move a tie later.
            let tol = 1e-9 * best.0.abs().max(1.0);
            if c < best.0 - tol || (c <= best.0 + tol && s < best.1) {
                best = (c.min(best.0), s);
            }
        }
    };
    consider(latest);
    for b in f.breakpoints() {
        consider(b);
        consider(b - d);
    }
    best.1
}

/// The cheapest `d` seconds of `[a, b)`, as merged windows in time order.
fn cheapest_stretches(f: &Forecast, a: f64, b: f64, d: f64) -> Vec<(f64, f64)> {
    let mut cuts: Vec<f64> = std::iter::once(a)
        .chain(f.breakpoints().filter(|&t| t > a && t < b))
        .chain([b])
        .collect();
    cuts.dedup();
    let mut pieces: Vec<(f64, f64, f64)> =
        cuts.windows(2).map(|w| (f.at(w[0]), w[0], w[1])).collect();
    pieces.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.total_cmp(&y.1)));
    let mut left = d;
    let mut chosen = Vec::new();
    for (_, s, e) in pieces {
        if left <= 0.0 {
            break;
        }
        let take = (e - s).min(left);
        chosen.push((s, s + take));
        left -= take;
    }
    chosen.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut merged: Vec<(f64, f64)> = Vec::new();
    for w in chosen {
        match merged.last_mut() {
            Some(last) if (w.0 - last.1).abs() < 1e-6 => last.1 = w.1,
            _ => merged.push(w),
        }
    }
    merged
}

/// Re-plans many jobs on one forecast (what the scheduler does when the forecast changes).
pub fn plan_all(f: &Forecast, jobs: &[Job]) -> Vec<Result<Plan, PlanError>> {
    jobs.iter().map(|j| plan(f, j)).collect()
}

#[cfg(test)]
mod tests;
