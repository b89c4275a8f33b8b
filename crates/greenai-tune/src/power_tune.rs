//! Zeus-style power tuning of a training job: a few hundred steps at each candidate setting of
//! one knob (a RAPL package limit, else the CPU frequency ceiling), joules and seconds per sample
//! measured, the setting with the least cost `η·E + (1 − η)·P_max·T` kept for the rest of the job,
//! and everything restored when the job ends (the guard's journal survives a crash).

use greenai_power::guard::{Guard, Journal};
use greenai_power::{Access, Knob, Range, Setting};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Candidate settings as shares of the current value (the default first, the baseline).
pub const SHARES: [f64; 4] = [1.0, 0.85, 0.7, 0.55];
/// Steps measured at each candidate, by default (after a warm-up of half as many).
pub const STEPS_PER_CANDIDATE: usize = 300;
/// The first share of each candidate's steps is not measured: the hardware settles.
const SETTLE: f64 = 0.2;

/// One candidate's measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    pub value: f64,
    pub samples: usize,
    pub joules_per_sample: f64,
    pub seconds_per_sample: f64,
    /// `η·E + (1 − η)·P_max·T` per sample.
    pub cost: f64,
}

/// What power tuning did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerTuneReport {
    /// The knob tuned, or `None` with the reason.
    pub knob: Option<String>,
    pub unit: String,
    pub reason: Option<String>,
    pub eta: f64,
    /// The `P_max` of the cost, watts: the knob's maximum (a power limit), else the highest
    /// measured power.
    pub p_max_w: Option<f64>,
    pub trials: Vec<Trial>,
    pub default: Option<f64>,
    /// The default is measured first and last: how much its time per sample moved in between
    /// (relative), a measure of the machine's drift and noise over the profiling.
    #[serde(default)]
    pub default_drift: Option<f64>,
    pub chosen: Option<f64>,
    /// Energy per sample at the chosen setting against the default: `1 − chosen / default`.
    pub energy_saving: Option<f64>,
    /// Time per sample, the same way (negative: slower).
    pub time_saving: Option<f64>,
}

impl PowerTuneReport {
    fn none(eta: f64, reason: String) -> PowerTuneReport {
        PowerTuneReport {
            knob: None,
            unit: String::new(),
            reason: Some(reason),
            eta,
            p_max_w: None,
            trials: Vec::new(),
            default: None,
            default_drift: None,
            chosen: None,
            energy_saving: None,
            time_saving: None,
        }
    }
}

/// The power tuner `--power-tune` asks for, or the report that says why there is none. The
/// changes are journaled in the run database, so tuning needs one.
pub(crate) fn for_job(
    spec: &crate::train::TrainSpec,
    job: &crate::job::JobSettings,
) -> crate::Result<(Option<PowerTuner>, Option<PowerTuneReport>)> {
    let Some(p) = spec.power_tune else {
        return Ok((None, None));
    };
    let Some(db) = &job.db else {
        crate::invalid!("--power-tune journals every change in the run database: drop --no-store");
    };
    let journal = greenai_store::power::PowerJournal::open(db)?;
    let (knobs, notes) = greenai_power::discover(&greenai_meter::sysfs::sysfs_root(), false);
    Ok(
        match PowerTuner::new(knobs, &notes, Box::new(journal), p.eta, p.steps) {
            Ok(t) => (Some(t), None),
            Err(r) => (None, Some(*r)),
        },
    )
}

/// Which knobs the tuner turns, in order of preference: a package's long-term RAPL limit, else
/// the CPU frequency ceiling.
fn rank(k: &dyn Knob) -> Option<usize> {
    let id = k.id();
    if id.starts_with("powercap:") && id.ends_with(":long_term") && k.label().starts_with("package")
    {
        Some(0)
    } else if id == "cpufreq:max_freq" {
        Some(1)
    } else {
        None
    }
}

/// `Ok` where this machine has a power knob the tuner could turn (`$GREENAI_SYSFS_ROOT`), else why
/// not.
pub fn tunable() -> Result<(), String> {
    let (knobs, notes) = greenai_power::discover(&greenai_meter::sysfs::sysfs_root(), false);
    let fits = |k: &dyn Knob| rank(k).is_some();
    if knobs
        .iter()
        .any(|k| fits(k.as_ref()) && k.access() == Access::Writable)
    {
        return Ok(());
    }
    let mut why: Vec<String> = knobs
        .iter()
        .filter(|k| fits(k.as_ref()))
        .map(|k| format!("{} is read-only", k.id()))
        .collect();
    why.extend(notes);
    Err(format!("no writable power knob ({})", why.join("; ")))
}

/// Chooses among measured trials: the least cost, the default on a tie. Pure.
pub fn choose(trials: &mut [Trial], eta: f64, p_max_w: f64) -> Option<usize> {
    for t in trials.iter_mut() {
        t.cost = eta * t.joules_per_sample + (1.0 - eta) * p_max_w * t.seconds_per_sample;
    }
    let mut best: Option<usize> = None;
    for (i, t) in trials.iter().enumerate() {
        if best.is_none_or(|b| t.cost < trials[b].cost) {
            best = Some(i);
        }
    }
    best
}

struct Window {
    samples: usize,
    energy_j: f64,
    at: Instant,
}

/// Drives the profiling from the training loop's steps.
pub struct PowerTuner {
    guard: Guard,
    knob: Option<Box<dyn Knob>>,
    knob_id: String,
    unit: String,
    candidates: Vec<f64>,
    range_max: f64,
    is_power_limit: bool,
    steps: usize,
    eta: f64,
    current: usize,
    steps_here: usize,
    /// Steps before the first measurement: a job's first steps run slower (allocation, caches),
    /// which would count against the default, measured first.
    warmup: usize,
    start: Option<Window>,
    trials: Vec<Trial>,
    done: bool,
}

impl PowerTuner {
    /// A tuner over the first writable knob among `knobs` (a package's long-term RAPL limit, else
    /// the CPU frequency ceiling), or the report that says why there is none.
    pub fn new(
        knobs: Vec<Box<dyn Knob>>,
        notes: &[String],
        journal: Box<dyn Journal + Send>,
        eta: f64,
        steps: usize,
    ) -> Result<PowerTuner, Box<PowerTuneReport>> {
        let mut read_only = Vec::new();
        let mut ranked: Vec<(usize, &Box<dyn Knob>)> = knobs
            .iter()
            .filter_map(|k| Some((rank(k.as_ref())?, k)))
            .collect();
        ranked.sort_by_key(|r| r.0);
        let mut pick = None;
        for (_, k) in ranked {
            match k.access() {
                Access::Writable => {
                    pick = Some(k.id());
                    break;
                }
                Access::ReadOnly { reason, fix } => {
                    read_only.push(format!("{} is read-only ({reason}; {fix})", k.id()))
                }
            }
        }
        let Some(id) = pick else {
            let mut why = read_only;
            why.extend(notes.iter().cloned());
            return Err(Box::new(PowerTuneReport::none(
                eta,
                format!(
                    "no writable power knob, so the job ran at the default setting: {}",
                    if why.is_empty() {
                        "none found".into()
                    } else {
                        why.join("; ")
                    }
                ),
            )));
        };
        let knob = knobs
            .into_iter()
            .find(|k| k.id() == id)
            .expect("picked from them");
        let fail = |e: greenai_power::PowerError| {
            Box::new(PowerTuneReport::none(eta, format!("{id}: {e}")))
        };
        let Setting::Number(now) = knob.read().map_err(fail)? else {
            return Err(Box::new(PowerTuneReport::none(
                eta,
                format!("{id} is not numeric"),
            )));
        };
        let Range::Numeric { min, max } = knob.range().map_err(fail)? else {
            return Err(Box::new(PowerTuneReport::none(
                eta,
                format!("{id} has no numeric range"),
            )));
        };
        let mut candidates: Vec<f64> = SHARES.iter().map(|s| (now * s).max(min)).collect();
        candidates.dedup();
        if candidates.len() > 1 {
            // The default is measured again last: its two measurements are merged, and how far
            // they differ is reported (drift, or noise).
            candidates.push(candidates[0]);
        }
        Ok(PowerTuner {
            guard: Guard::new(journal),
            unit: knob.unit().symbol().to_string(),
            is_power_limit: id.starts_with("powercap:"),
            knob_id: id,
            knob: Some(knob),
            candidates,
            range_max: max,
            steps: steps.max(10),
            eta,
            current: 0,
            steps_here: 0,
            warmup: steps.max(10) / 2,
            start: None,
            trials: Vec::new(),
            done: false,
        })
    }

    fn apply(&mut self, value: f64) -> greenai_power::Result<()> {
        let v = Setting::Number(value);
        match self.knob.take() {
            Some(k) => self.guard.set(k, &v),
            None => self.guard.set_again(&self.knob_id, &v),
        }
    }

    /// Called after every training step with the samples trained so far and a way to read the
    /// job's energy (read only at a candidate's edges). Returns a note when the choice is made.
    pub fn after_step(
        &mut self,
        samples: usize,
        energy_j: &dyn Fn() -> Option<f64>,
    ) -> Option<String> {
        if self.done {
            return None;
        }
        if self.warmup > 0 {
            self.warmup -= 1;
            return None;
        }
        self.steps_here += 1;
        let settle = (self.steps as f64 * SETTLE) as usize;
        if self.steps_here == settle.max(1) {
            self.start = energy_j().map(|e| Window {
                samples,
                energy_j: e,
                at: Instant::now(),
            });
        }
        if self.steps_here < self.steps {
            return None;
        }
        if let (Some(s), Some(e)) = (self.start.take(), energy_j()) {
            let n = samples.saturating_sub(s.samples).max(1);
            self.trials.push(Trial {
                value: self.candidates[self.current],
                samples: n,
                joules_per_sample: (e - s.energy_j).max(0.0) / n as f64,
                seconds_per_sample: s.at.elapsed().as_secs_f64() / n as f64,
                cost: 0.0,
            });
        }
        self.current += 1;
        self.steps_here = 0;
        if self.current < self.candidates.len() {
            let v = self.candidates[self.current];
            if let Err(e) = self.apply(v) {
                self.done = true;
                return Some(format!("greenai: power tuning stopped: {e}"));
            }
            return None;
        }
        Some(self.finish())
    }

    fn p_max(&self) -> f64 {
        if self.is_power_limit {
            self.range_max
        } else {
            self.trials
                .iter()
                .map(|t| t.joules_per_sample / t.seconds_per_sample.max(1e-12))
                .fold(0.0, f64::max)
        }
    }

    /// The trials, those of one setting merged (weighted by samples), in the order first measured.
    fn merged(&self) -> Vec<Trial> {
        let mut out: Vec<Trial> = Vec::new();
        for t in &self.trials {
            match out.iter_mut().find(|m| m.value == t.value) {
                Some(m) => {
                    let n = (m.samples + t.samples) as f64;
                    let w = |a: f64, b: f64| (a * m.samples as f64 + b * t.samples as f64) / n;
                    m.joules_per_sample = w(m.joules_per_sample, t.joules_per_sample);
                    m.seconds_per_sample = w(m.seconds_per_sample, t.seconds_per_sample);
                    m.samples += t.samples;
                }
                None => out.push(t.clone()),
            }
        }
        out
    }

    fn finish(&mut self) -> String {
        self.done = true;
        let p_max = self.p_max();
        let mut trials = self.merged();
        let Some(best) = choose(&mut trials, self.eta, p_max) else {
            return "greenai: power tuning measured nothing (no energy readings): the default setting stays".into();
        };
        let v = trials[best].value;
        if let Err(e) = self.apply(v) {
            return format!("greenai: power tuning could not apply its choice: {e}");
        }
        let r = self.report();
        format!(
            "greenai: power tuning chose {} = {v} {} (η {}): {:.1} % less energy, {:.1} % {} per sample than the default {} {}",
            self.knob_id,
            self.unit,
            self.eta,
            100.0 * r.energy_saving.unwrap_or(0.0),
            100.0 * r.time_saving.unwrap_or(0.0).abs(),
            if r.time_saving.unwrap_or(0.0) >= 0.0 { "less time" } else { "more time" },
            self.candidates[0],
            self.unit
        )
    }

    /// What was measured and chosen (so far, if the job ended while profiling).
    pub fn report(&mut self) -> PowerTuneReport {
        let p_max = self.p_max();
        let mut trials = self.merged();
        let best = choose(&mut trials, self.eta, p_max);
        let default = trials.first().cloned();
        let chosen = best.map(|b| trials[b].clone());
        let first = self.candidates[0];
        let d: Vec<&Trial> = self.trials.iter().filter(|t| t.value == first).collect();
        let default_drift = (d.len() == 2).then(|| {
            let (a, b) = (d[0].seconds_per_sample, d[1].seconds_per_sample);
            (b - a) / (0.5 * (a + b)).max(1e-12)
        });
        let ratio = |a: f64, b: f64| if b > 0.0 { Some(1.0 - a / b) } else { None };
        PowerTuneReport {
            knob: Some(self.knob_id.clone()),
            unit: self.unit.clone(),
            reason: (!self.done).then(|| {
                "the job ended while profiling: the choice is among the settings measured".into()
            }),
            eta: self.eta,
            p_max_w: (p_max > 0.0).then_some(p_max),
            trials,
            default_drift,
            default: Some(self.candidates[0]),
            chosen: chosen.as_ref().map(|c| c.value),
            energy_saving: chosen
                .as_ref()
                .zip(default.as_ref())
                .and_then(|(c, d)| ratio(c.joules_per_sample, d.joules_per_sample)),
            time_saving: chosen
                .as_ref()
                .zip(default.as_ref())
                .and_then(|(c, d)| ratio(c.seconds_per_sample, d.seconds_per_sample)),
        }
    }

    /// Puts the knob back (also done when the tuner drops).
    pub fn restore(&mut self) -> Vec<String> {
        self.guard.restore()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(value: f64, j: f64, s: f64) -> Trial {
        Trial {
            value,
            samples: 100,
            joules_per_sample: j,
            seconds_per_sample: s,
            cost: 0.0,
        }
    }

    #[test]
    fn eta_one_takes_the_least_energy_zero_the_least_time_and_ties_keep_the_default() {
        let mut t = vec![
            trial(65.0, 0.77, 1.19),
            trial(45.5, 0.65, 1.43),
            trial(35.75, 0.60, 1.68),
        ];
        assert_eq!(choose(&mut t, 1.0, 95.0), Some(2));
        assert_eq!(choose(&mut t, 0.0, 95.0), Some(0));
        assert!((t[0].cost - 95.0 * 1.19).abs() < 1e-9);
        let mut tie = vec![trial(65.0, 1.0, 1.0), trial(45.0, 1.0, 1.0)];
        assert_eq!(choose(&mut tie, 0.5, 95.0), Some(0));
        assert_eq!(choose(&mut [], 0.5, 95.0), None);
    }
}
