//! Load-to-power curves fitted on published SPECpower_ssj2008 results, and their validation.
//!
//! `data/specpower.tsv` holds 610 results (derived by `scripts/derive_specpower.py` from Green
//! Coding Solutions' parse of the results SPEC publishes): each server's wall power at active idle
//! and at each 10 % target-load step, with its CPU's family and its hardware threads. A family's
//! curve is, at each of the 11 steps, the median over its servers of the wall power per hardware
//! thread (one vCPU's share of such a server), made non-decreasing; between steps it is linear.
//!
//! The band is derived, not chosen: each family's servers are held out in turn, the curve is
//! refitted on the others and predicts the held-out server; the band is the 95th percentile of
//! |measured ÷ predicted − 1| over those predictions ([`BAND_QUANTILE`]). Where the nearest older
//! family stands in for a CPU's own ([`stand_in_uncertainty`]), the band is the same percentile
//! of each family's servers predicted by its predecessor's curve.
//!
//! [`leave_one_out`] is the validation: every server held out of its own family's fit (band
//! included, so the band is itself fitted without it), with the median and 90th-percentile error
//! and how many measured points the band covers.

use crate::sensors::estimate::{linear_cpu_watts, lookup_tdp, DEFAULT_IDLE_SHARE};
use std::sync::OnceLock;

/// Load steps: active idle, then 10 % to 100 % target load.
pub const STEPS: usize = 11;
/// The share of held-out points a band is fitted to cover.
pub const BAND_QUANTILE: f64 = 0.95;
/// The fewest servers a family needs for a fitted curve.
pub const MIN_SERVERS: usize = 3;

/// Each family and the older one that stands for it when it has no data of its own; also the
/// pairs [`stand_in_uncertainty`] is measured on.
pub const PREDECESSORS: [(&str, &str); 14] = [
    ("Nehalem", "Core (Merom/Penryn)"),
    ("Sandy Bridge", "Nehalem"),
    ("Ivy Bridge", "Sandy Bridge"),
    ("Haswell", "Ivy Bridge"),
    ("Broadwell", "Haswell"),
    ("Skylake", "Broadwell"),
    ("Cascade Lake", "Skylake"),
    ("Cooper Lake", "Cascade Lake"),
    ("Ice Lake", "Cascade Lake"),
    ("Coffee Lake", "Kaby Lake"),
    ("Rocket Lake", "Coffee Lake"),
    ("AMD EPYC 1st Gen", "AMD Opteron"),
    ("AMD EPYC 2nd Gen", "AMD EPYC 1st Gen"),
    ("AMD EPYC 3rd Gen", "AMD EPYC 2nd Gen"),
];

/// One published SPECpower_ssj2008 result.
#[derive(Debug, Clone, PartialEq)]
pub struct Server {
    pub published: &'static str,
    pub vendor: &'static str,
    pub system: &'static str,
    pub cpu: &'static str,
    pub family: &'static str,
    pub chips: u32,
    pub cores: u32,
    pub threads: u32,
    pub memory_gb: f64,
    /// TDP per chip, W (0 where the source has none).
    pub tdp_w: f64,
    /// Average wall power at active idle and at 10 % … 100 % target load, W.
    pub watts: [f64; STEPS],
}

static TABLE: &str = include_str!("../../data/specpower.tsv");

fn parse(line: &'static str) -> Option<Server> {
    let f: Vec<&'static str> = line.split('\t').collect();
    if f.len() != 10 + STEPS {
        return None;
    }
    let mut watts = [0.0; STEPS];
    for (w, v) in watts.iter_mut().zip(&f[10..]) {
        *w = v.parse().ok().filter(|w: &f64| *w > 0.0)?;
    }
    Some(Server {
        published: f[0],
        vendor: f[1],
        system: f[2],
        cpu: f[3],
        family: f[4],
        chips: f[5].parse().ok()?,
        cores: f[6].parse().ok()?,
        threads: f[7].parse().ok().filter(|t| *t > 0)?,
        memory_gb: f[8].parse().ok()?,
        tdp_w: f[9].parse().ok()?,
        watts,
    })
}

/// Every bundled result, in the table's order.
pub fn servers() -> &'static [Server] {
    static S: OnceLock<Vec<Server>> = OnceLock::new();
    S.get_or_init(|| {
        TABLE
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(parse)
            .collect()
    })
}

/// The median of sorted `v` with the element at `skip` left out.
fn median_without(v: &[f64], skip: Option<usize>) -> f64 {
    let n = v.len() - usize::from(skip.is_some());
    let get = |i: usize| match skip {
        Some(p) if i >= p => v[i + 1],
        _ => v[i],
    };
    if n % 2 == 1 {
        get(n / 2)
    } else {
        (get(n / 2 - 1) + get(n / 2)) / 2.0
    }
}

/// The `q` quantile (0 to 1) of `v`, nearest rank.
fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    v[i]
}

/// Each step's per-thread watts over `servers`, sorted.
fn sorted_steps(servers: &[&Server]) -> Vec<Vec<f64>> {
    (0..STEPS)
        .map(|k| {
            let mut v: Vec<f64> = servers
                .iter()
                .map(|s| s.watts[k] / s.threads as f64)
                .collect();
            v.sort_by(f64::total_cmp);
            v
        })
        .collect()
}

/// The curve from `sorted_steps`, leaving out `left_out`'s values where given: the median at each
/// step, made non-decreasing.
fn curve_from(sorted: &[Vec<f64>], left_out: Option<&Server>) -> [f64; STEPS] {
    let mut c = [0.0; STEPS];
    for (k, point) in c.iter_mut().enumerate() {
        let v = &sorted[k];
        let skip = left_out.map(|s| {
            let x = s.watts[k] / s.threads as f64;
            v.partition_point(|y| *y < x)
        });
        *point = median_without(v, skip);
    }
    for k in 1..STEPS {
        c[k] = c[k].max(c[k - 1]);
    }
    c
}

/// The per-thread curve of `servers`.
fn curve_of(servers: &[&Server]) -> [f64; STEPS] {
    curve_from(&sorted_steps(servers), None)
}

/// Watts per thread at load `u` (0 to 1) on the curve `c`, linear between steps.
pub fn at(c: &[f64; STEPS], u: f64) -> f64 {
    let u = if u.is_nan() { 0.0 } else { u.clamp(0.0, 1.0) };
    let x = u * (STEPS - 1) as f64;
    let k = (x.floor() as usize).min(STEPS - 2);
    c[k] + (c[k + 1] - c[k]) * (x - k as f64)
}

/// |measured ÷ predicted − 1| at each step of `s` against the per-thread curve `c`.
fn errors<'a>(s: &'a Server, c: &[f64; STEPS]) -> impl Iterator<Item = f64> + 'a {
    let c = *c;
    (0..STEPS).map(move |k| (s.watts[k] / (c[k] * s.threads as f64) - 1.0).abs())
}

/// The model number of a CPU name, lowercased, with its version suffix glued on
/// (`"Intel(R) Xeon(R) CPU E5-2660 v3 @ 2.60GHz"` → `e5-2660v3`), and its line (`xeon`, `epyc`,
/// `opteron`, `core`), or `None` where the name has no model number.
fn model_number(name: &str) -> Option<(String, &'static str)> {
    let lower = name.to_lowercase().replace("(r)", " ").replace("(tm)", " ");
    let lower = lower.split('@').next().unwrap_or_default();
    let line = ["xeon", "epyc", "opteron", "core"]
        .into_iter()
        .find(|l| lower.split_whitespace().any(|t| t == *l))?;
    let tokens: Vec<&str> = lower.split_whitespace().collect();
    for (i, t) in tokens.iter().enumerate() {
        let digits = t.chars().filter(char::is_ascii_digit).count();
        if digits >= 3 && !t.contains('.') && !t.ends_with("ghz") && !t.ends_with("-core") {
            let mut m = t.to_string();
            if let Some(v) = tokens.get(i + 1).filter(|v| {
                v.len() <= 3 && v.starts_with('v') && v[1..].chars().all(|c| c.is_ascii_digit())
            }) {
                m.push_str(v);
            }
            return Some((m, line));
        }
    }
    None
}

/// The family of a CPU model name, where the bundled results have a server with the same model
/// number (and version) of the same line, and all such servers agree.
pub fn family_of_model(name: &str) -> Option<&'static str> {
    let (m, line) = model_number(name)?;
    let mut found: Option<&'static str> = None;
    for s in servers() {
        if model_number(s.cpu).is_some_and(|(sm, sl)| sm == m && sl == line) {
            match found {
                Some(f) if f != s.family => return None,
                _ => found = Some(s.family),
            }
        }
    }
    found
}

/// A family's fitted curve.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub family: &'static str,
    pub servers: usize,
    /// Watts per hardware thread at active idle and at 10 % … 100 % load.
    pub w_per_thread: [f64; STEPS],
    /// The band's relative half-width, from the held-out predictions.
    pub uncertainty: f64,
    /// The median memory per hardware thread of the family's servers, GB: what the curve's wall
    /// power already includes.
    pub memory_gb_per_thread: f64,
}

/// Fits a curve on `servers` (one family's), its band from holding each out in turn; `None`
/// with fewer than [`MIN_SERVERS`].
pub fn fit(family: &'static str, servers: &[&Server]) -> Option<Fit> {
    if servers.len() < MIN_SERVERS {
        return None;
    }
    let sorted = sorted_steps(servers);
    let mut held = Vec::with_capacity(servers.len() * STEPS);
    for s in servers {
        held.extend(errors(s, &curve_from(&sorted, Some(s))));
    }
    Some(Fit {
        family,
        servers: servers.len(),
        w_per_thread: curve_from(&sorted, None),
        uncertainty: quantile(&mut held, BAND_QUANTILE),
        memory_gb_per_thread: quantile(
            &mut servers
                .iter()
                .map(|s| s.memory_gb / s.threads as f64)
                .collect::<Vec<_>>(),
            0.5,
        ),
    })
}

fn of_family(name: &str) -> Vec<&'static Server> {
    servers().iter().filter(|s| s.family == name).collect()
}

fn family_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = servers().iter().map(|s| s.family).collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Every family with enough results for a curve.
pub fn fits() -> &'static [Fit] {
    static F: OnceLock<Vec<Fit>> = OnceLock::new();
    F.get_or_init(|| {
        family_names()
            .into_iter()
            .filter_map(|f| fit(f, &of_family(f)))
            .collect()
    })
}

/// The band when the nearest older family stands in: the [`BAND_QUANTILE`] of |measured ÷
/// predicted − 1| over every family's servers predicted by its predecessor's curve.
pub fn stand_in_uncertainty() -> f64 {
    static U: OnceLock<f64> = OnceLock::new();
    *U.get_or_init(|| {
        let mut e = Vec::new();
        for (family, older) in PREDECESSORS {
            let older = of_family(older);
            if older.len() < MIN_SERVERS {
                continue;
            }
            let c = curve_of(&older);
            for s in of_family(family) {
                e.extend(errors(s, &c));
            }
        }
        quantile(&mut e, BAND_QUANTILE)
    })
}

/// One server held out of its family's fit.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Held {
    /// Its row in [`servers`].
    pub index: usize,
    pub family: &'static str,
    pub system: &'static str,
    pub cpu: &'static str,
    pub threads: u32,
    pub memory_gb: f64,
    pub measured_w: [f64; STEPS],
    pub predicted_w: [f64; STEPS],
    pub uncertainty: f64,
    /// greenai's TDP model for the same server where its TDP table knows the CPU's name: one
    /// TDP, linear from the idle share to all of it (what the estimate did before the curves).
    pub tdp_model_w: Option<[f64; STEPS]>,
}

/// The leave-one-out validation over every server whose family keeps [`MIN_SERVERS`] without it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Validation {
    pub servers: usize,
    /// Servers not predicted (their family too small once they are held out).
    pub skipped: usize,
    pub points: usize,
    /// Median and 90th percentile of |predicted − measured| ÷ measured over all points.
    pub median_error: f64,
    pub p90_error: f64,
    /// Share of measured points inside the band fitted without them.
    pub coverage: f64,
    pub held: Vec<Held>,
}

/// Error and coverage over a set of held-out servers.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    pub family: String,
    pub servers: usize,
    pub median_error: f64,
    pub p90_error: f64,
    pub coverage: f64,
    /// The band of the family's full fit (what a user of the family gets).
    pub uncertainty: f64,
}

fn summarise<'a>(family: &str, held: impl Iterator<Item = &'a Held>) -> Summary {
    let (mut err, mut inside, mut n) = (Vec::new(), 0usize, 0usize);
    for h in held {
        n += 1;
        for k in 0..STEPS {
            let (p, m) = (h.predicted_w[k], h.measured_w[k]);
            err.push((p - m).abs() / m);
            inside += usize::from((m / p - 1.0).abs() <= h.uncertainty);
        }
    }
    Summary {
        family: family.to_string(),
        servers: n,
        median_error: quantile(&mut err.clone(), 0.5),
        p90_error: quantile(&mut err, 0.9),
        coverage: inside as f64 / (n * STEPS).max(1) as f64,
        uncertainty: fits()
            .iter()
            .find(|f| f.family == family)
            .map_or(f64::NAN, |f| f.uncertainty),
    }
}

impl Validation {
    /// The same figures family by family.
    pub fn by_family(&self) -> Vec<Summary> {
        let mut names: Vec<&str> = self.held.iter().map(|h| h.family).collect();
        names.sort_unstable();
        names.dedup();
        names
            .into_iter()
            .map(|f| summarise(f, self.held.iter().filter(|h| h.family == f)))
            .collect()
    }
}

/// Holds each server out of its family's fit (curve and band) and predicts it.
pub fn leave_one_out() -> Validation {
    let all = servers();
    let mut held = Vec::new();
    let mut skipped = 0;
    for (i, s) in all.iter().enumerate() {
        let rest: Vec<&Server> = all
            .iter()
            .enumerate()
            .filter(|(j, o)| *j != i && o.family == s.family)
            .map(|(_, o)| o)
            .collect();
        let Some(f) = fit(s.family, &rest) else {
            skipped += 1;
            continue;
        };
        let mut predicted_w = [0.0; STEPS];
        for (p, w) in predicted_w.iter_mut().zip(f.w_per_thread) {
            *p = w * s.threads as f64;
        }
        held.push(Held {
            index: i,
            family: s.family,
            system: s.system,
            cpu: s.cpu,
            threads: s.threads,
            memory_gb: s.memory_gb,
            measured_w: s.watts,
            predicted_w,
            uncertainty: f.uncertainty,
            tdp_model_w: lookup_tdp(s.cpu).map(|(tdp, _)| {
                std::array::from_fn(|k| {
                    linear_cpu_watts(tdp, DEFAULT_IDLE_SHARE, k as f64 / (STEPS - 1) as f64)
                })
            }),
        });
    }
    let all_held = summarise("all", held.iter());
    Validation {
        servers: held.len(),
        skipped,
        points: held.len() * STEPS,
        median_error: all_held.median_error,
        p90_error: all_held.p90_error,
        coverage: all_held.coverage,
        held,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_results_parse_and_every_family_has_a_rising_curve() {
        let s = servers();
        assert!(s.len() >= 600, "{} results", s.len());
        assert!(s.iter().all(|s| s.watts[0] < s.watts[STEPS - 1]));
        let f = fits();
        assert!(f.len() >= 15, "{} families", f.len());
        for fit in f {
            assert!(fit.servers >= MIN_SERVERS);
            assert!(fit.w_per_thread.windows(2).all(|w| w[0] <= w[1]), "{fit:?}");
            assert!(
                fit.uncertainty > 0.0 && fit.uncertainty.is_finite(),
                "{fit:?}"
            );
        }
        let u = stand_in_uncertainty();
        assert!(u > 0.0 && u.is_finite());
    }

    #[test]
    fn a_curve_is_the_median_per_thread_linear_between_steps() {
        let mk = |threads: u32, scale: f64| Server {
            published: "",
            vendor: "",
            system: "",
            cpu: "",
            family: "X",
            chips: 1,
            cores: threads,
            threads,
            memory_gb: 1.0,
            tdp_w: 0.0,
            watts: std::array::from_fn(|k| scale * threads as f64 * (1.0 + k as f64)),
        };
        let (a, b, c) = (mk(2, 1.0), mk(4, 2.0), mk(8, 10.0));
        let curve = curve_of(&[&a, &b, &c]);
        assert_eq!(curve[0], 2.0);
        assert_eq!(curve[10], 22.0);
        assert_eq!(at(&curve, 0.05), 3.0);
        assert_eq!(at(&curve, 1.0), 22.0);
        assert_eq!(at(&curve, f64::NAN), 2.0);
        // Holding each out: the band covers the worst held-out miss at the 95th percentile.
        let f = fit("X", &[&a, &b, &c]).unwrap();
        assert_eq!(f.servers, 3);
        assert!(f.uncertainty > 1.0, "{f:?}");
        assert!(fit("X", &[&a, &b]).is_none());
        assert_eq!(quantile(&mut [3.0, 1.0, 2.0, 4.0], 0.5), 2.0);
        // Leaving one out of the sorted values is the median of the rest.
        assert_eq!(median_without(&[1.0, 2.0, 3.0, 4.0], Some(1)), 3.0);
        assert_eq!(median_without(&[1.0, 2.0, 3.0, 4.0], Some(3)), 2.0);
        assert_eq!(median_without(&[1.0, 2.0, 3.0], Some(0)), 2.5);
        assert_eq!(median_without(&[1.0, 2.0, 3.0], None), 2.0);
        let sorted = sorted_steps(&[&a, &b, &c]);
        assert_eq!(curve_from(&sorted, Some(&c)), curve_of(&[&a, &b]));
        assert_eq!(curve_from(&sorted, Some(&a)), curve_of(&[&b, &c]));
        assert_eq!(quantile(&mut [3.0, 1.0, 2.0, 4.0], 0.9), 4.0);
    }

    #[test]
    fn model_names_find_their_family_in_the_results() {
        assert_eq!(
            model_number("Intel(R) Xeon(R) CPU E5-2660 v3 @ 2.60GHz"),
            Some(("e5-2660v3".into(), "xeon"))
        );
        assert_eq!(
            model_number("AMD EPYC 7763 64-Core Processor"),
            Some(("7763".into(), "epyc"))
        );
        assert_eq!(model_number("AMD EPYC"), None);
        assert_eq!(model_number("Apple M2"), None);
        assert_eq!(
            family_of_model("AMD EPYC 7763 64-Core Processor"),
            Some("AMD EPYC 3rd Gen")
        );
        assert_eq!(family_of_model("Intel Xeon E5-2660"), Some("Sandy Bridge"));
        assert_eq!(family_of_model("Intel Xeon X5670"), Some("Nehalem"));
        assert_eq!(family_of_model("AMD EPYC 9999"), None);
    }

    /// The proof, on the bundled results: each server predicted by its family's curve
    /// fitted without it. CodeCarbon's model on the same servers is in
    /// `bench/estimate_validation.py`.
    #[test]
    fn held_out_servers_are_predicted_within_the_fitted_band() {
        let v = leave_one_out();
        assert!(v.servers >= 600, "{v:?}");
        assert_eq!(v.points, v.servers * STEPS);
        assert!(v.median_error < 0.2, "median error {}", v.median_error);
        assert!(v.coverage >= 0.9, "coverage {}", v.coverage);
        let fams = v.by_family();
        assert!(fams.len() >= 15);
        assert_eq!(fams.iter().map(|f| f.servers).sum::<usize>(), v.servers);
        assert!(fams.iter().all(|f| f.uncertainty.is_finite()));
    }
}
