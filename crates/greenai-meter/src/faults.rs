//! Sensor faults: readings no hardware could have produced, and reads that failed. A fault is
//! detected, bounded and reported, never recorded as a measurement.
//!
//! Each component has a physical ceiling on its power: what its sensor says the domain may draw
//! where it says so ([`crate::EnergySensor::ceilings`]: RAPL's constraint maxima), else a
//! generous bound for its kind ([`kind_ceiling`]). A counter that steps backwards, or advances by
//! more than the ceiling could spend in the interval (a spurious wrap of a stepped-back RAPL
//! counter reads as hundreds of kilojoules), is a fault: the interval is bridged with the last
//! good power (or nothing, when there is none), so the counter carries on from where it was, and
//! the component's figure says it holds an estimate. A power reading above the ceiling, negative
//! or not finite is dropped. A read that fails leaves the last value in place and is counted.

use crate::component::{ComponentKind, Reading};
use greenai_units::{Energy, Power};
use serde::{Deserialize, Serialize};

/// What was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// An energy counter went down where no wraparound explains it.
    CounterBackwards,
    /// An energy counter advanced by more than the domain could spend in the interval.
    ImplausibleJump,
    /// A power reading above the domain's ceiling, negative, or not a number.
    ImplausiblePower,
    /// The sensor could not be read (a file turned to garbage or vanished, a driver error).
    ReadFailed,
}

impl FaultKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::CounterBackwards => "counter_backwards",
            FaultKind::ImplausibleJump => "implausible_jump",
            FaultKind::ImplausiblePower => "implausible_power",
            FaultKind::ReadFailed => "read_failed",
        }
    }
}

/// Faults of one kind on one component over a span: when they started and stopped, how many,
/// and the energy put in place of the faulty intervals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    pub component: String,
    pub kind: FaultKind,
    pub first_unix_s: f64,
    pub last_unix_s: f64,
    pub count: u32,
    /// Energy (J) the monitor counted for the faulty intervals: the last good power × their
    /// duration (an estimate); 0 where there was no good power to go on.
    pub bridged_j: f64,
}

impl Fault {
    /// One line for a person: what, where, how often, what was done.
    pub fn describe(&self) -> String {
        let what = match self.kind {
            FaultKind::CounterBackwards => "energy counter stepped backwards",
            FaultKind::ImplausibleJump => {
                "energy counter jumped by more than the domain could spend"
            }
            FaultKind::ImplausiblePower => "power reading above the domain's ceiling",
            FaultKind::ReadFailed => "sensor read failed",
        };
        let bridged = if self.bridged_j > 0.0 {
            format!("; {:.3} J estimated in their place", self.bridged_j)
        } else {
            String::new()
        };
        format!(
            "{}: {what} {} time(s) over {:.1} s{bridged}; not counted as a measurement",
            self.component,
            self.count,
            (self.last_unix_s - self.first_unix_s).max(0.0)
        )
    }
}

/// Adds one event to a list of faults, merging it with the same component's same kind.
pub fn note(faults: &mut Vec<Fault>, component: &str, kind: FaultKind, unix_s: f64, bridged: f64) {
    match faults
        .iter_mut()
        .find(|f| f.component == component && f.kind == kind)
    {
        Some(f) => {
            f.count += 1;
            f.last_unix_s = f.last_unix_s.max(unix_s);
            f.bridged_j += bridged;
        }
        None => faults.push(Fault {
            component: component.to_string(),
            kind,
            first_unix_s: unix_s,
            last_unix_s: unix_s,
            count: 1,
            bridged_j: bridged,
        }),
    }
}

/// A generous physical ceiling on a component's power where its sensor states none: above the
/// largest parts of their kind on sale (a 500 W server CPU, a 1,200 W accelerator).
pub fn kind_ceiling(kind: ComponentKind) -> Power {
    Power::from_watts(match kind {
        ComponentKind::CpuPackage | ComponentKind::CpuCore => 1000.0,
        ComponentKind::CpuUncore | ComponentKind::Dram => 500.0,
        ComponentKind::Gpu => 2000.0,
        ComponentKind::Platform | ComponentKind::Other => 10_000.0,
    })
}

/// Timing slack for a counter's interval: the counter and the clock are not read at the same
/// instant, and RAPL updates about every millisecond.
const SLACK_S: f64 = 0.05;

/// One component's guard over its readings.
#[derive(Debug, Clone)]
pub(crate) struct Guard {
    ceiling: Power,
    /// The last accepted raw counter value and when it was read.
    last: Option<(f64, Energy)>,
    /// What has been taken out of the raw counter (faulty deltas less their bridges).
    offset: Energy,
    last_good_power: Option<Power>,
}

/// What a guard found in one reading.
pub(crate) struct Finding {
    pub kind: FaultKind,
    pub bridged: Energy,
}

impl Guard {
    pub fn new(ceiling: Power) -> Guard {
        Guard {
            ceiling,
            last: None,
            offset: Energy::ZERO,
            last_good_power: None,
        }
    }

    /// Checks reading `r` taken at `t` seconds: returns it as the monitor should use it (a
    /// faulty power dropped, the counter bridged over a faulty interval) and the faults found.
    pub fn check(&mut self, t: f64, mut r: Reading, found: &mut Vec<Finding>) -> Reading {
        if let Some(p) = r.power {
            let w = p.watts();
            if !(w.is_finite() && w >= 0.0 && w <= self.ceiling.watts() * 1.05) {
                found.push(Finding {
                    kind: FaultKind::ImplausiblePower,
                    bridged: Energy::ZERO,
                });
                r.power = None;
            }
        }
        if let Some(raw) = r.energy {
            if let Some((t0, raw0)) = self.last {
                let dt = (t - t0).max(0.0);
                let delta = raw.joules() - raw0.joules();
                let most = self.ceiling.watts() * (dt + SLACK_S) * 1.1;
                let kind = if !delta.is_finite() || delta < 0.0 {
                    Some(FaultKind::CounterBackwards)
                } else if delta > most {
                    Some(FaultKind::ImplausibleJump)
                } else {
                    None
                };
                match kind {
                    Some(kind) => {
                        let bridged = self
                            .last_good_power
                            .map_or(Energy::ZERO, |p| Energy::from_joules(p.watts() * dt));
                        let delta = if delta.is_finite() { delta } else { 0.0 };
                        self.offset += Energy::from_joules(delta) - bridged;
                        found.push(Finding { kind, bridged });
                    }
                    None if dt > 0.0 => {
                        self.last_good_power = Some(Power::from_watts(delta / dt));
                    }
                    None => {}
                }
            }
            self.last = Some((t, raw));
            r.energy = Some(raw - self.offset);
        }
        if let Some(p) = r.power {
            self.last_good_power = Some(p);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter(j: f64) -> Reading {
        Reading {
            energy: Some(Energy::from_joules(j)),
            ..Reading::default()
        }
    }

    /// A RAPL package counter that steps back by 1 kJ: the wrap its sensor assumed reads as a
    /// jump of hundreds of kilojoules in 0.1 s. It is a fault; the interval is bridged at the last
    /// good power, and the counter carries on from there.
    #[test]
    fn a_jump_is_bridged_and_reported() {
        let mut g = Guard::new(kind_ceiling(ComponentKind::CpuPackage));
        let mut found = Vec::new();
        let e = |r: Reading| r.energy.unwrap().joules();
        assert_eq!(e(g.check(0.0, counter(100.0), &mut found)), 100.0);
        assert_eq!(e(g.check(0.1, counter(105.0), &mut found)), 105.0); // 50 W
        let spurious = 105.0 + 262_143.0;
        let bridged = e(g.check(0.2, counter(spurious), &mut found));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, FaultKind::ImplausibleJump);
        assert!((bridged - 110.0).abs() < 1e-9, "{bridged}");
        assert!((found[0].bridged.joules() - 5.0).abs() < 1e-9);
        // The counter goes on normally after the fault, from where it was bridged.
        let after = e(g.check(0.3, counter(spurious + 5.0), &mut found));
        assert!((after - 115.0).abs() < 1e-9, "{after}");
        assert_eq!(found.len(), 1);
    }

    #[test]
    fn a_backward_step_and_absurd_power_are_faults() {
        let mut g = Guard::new(Power::from_watts(300.0));
        let mut found = Vec::new();
        g.check(0.0, counter(50.0), &mut found);
        let r = g.check(1.0, counter(40.0), &mut found);
        assert_eq!(found[0].kind, FaultKind::CounterBackwards);
        assert_eq!(
            r.energy,
            Some(Energy::from_joules(50.0)),
            "held where it was"
        );
        for p in [1e12, -3.0, f64::NAN, f64::INFINITY] {
            let r = g.check(
                2.0,
                Reading {
                    power: Some(Power::from_watts(p)),
                    ..Reading::default()
                },
                &mut found,
            );
            assert_eq!(r.power, None, "{p}");
        }
        assert_eq!(found.len(), 5);
        assert!(found[1..]
            .iter()
            .all(|f| f.kind == FaultKind::ImplausiblePower));
        // A plausible reading passes untouched.
        let ok = Reading {
            power: Some(Power::from_watts(250.0)),
            ..Reading::default()
        };
        assert_eq!(g.check(3.0, ok, &mut found), ok);
    }

    #[test]
    fn faults_merge_by_component_and_kind() {
        let mut v = Vec::new();
        note(&mut v, "cpu", FaultKind::ReadFailed, 10.0, 0.0);
        note(&mut v, "cpu", FaultKind::ReadFailed, 12.5, 1.0);
        note(&mut v, "gpu", FaultKind::ReadFailed, 11.0, 0.0);
        assert_eq!(v.len(), 2);
        assert_eq!(
            (v[0].count, v[0].first_unix_s, v[0].last_unix_s),
            (2, 10.0, 12.5)
        );
        assert!(
            v[0].describe().contains("2 time(s) over 2.5 s"),
            "{}",
            v[0].describe()
        );
    }
}
