//! Times as people and schedulers write them: RFC 3339, durations (`90m`, `2h30m`, `PT2H`),
//! deadlines (an instant, a local date and time, or `+12h` from now), and the start-time forms
//! that `at`, cron and Slurm's `sbatch --begin` accept. Time zones and calendars are jiff's.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// `2026-12-03T14:00:00Z`, whole seconds.
pub fn rfc3339(t: f64) -> String {
    match Timestamp::from_second(t.round() as i64) {
        Ok(ts) => ts.to_string(),
        Err(_) => format!("{t} (unix seconds)"),
    }
}

/// `2h 30m`, `45s`: a duration as people read it.
pub fn human_duration(s: f64) -> String {
    if !s.is_finite() {
        return format!("{s} s");
    }
    let total = s.round().abs() as u64;
    let sign = if s < 0.0 { "-" } else { "" };
    let (d, h, m, sec) = (
        total / 86_400,
        total / 3600 % 24,
        total / 60 % 60,
        total % 60,
    );
    let mut parts = Vec::new();
    for (v, u) in [(d, "d"), (h, "h"), (m, "m"), (sec, "s")] {
        if v > 0 {
            parts.push(format!("{v}{u}"));
        }
    }
    if parts.is_empty() {
        parts.push("0s".into());
    }
    format!("{sign}{}", parts.join(" "))
}

/// Seconds in a duration: `90m`, `2h30m`, `1.5h`, `3600` (seconds), `PT2H`.
pub fn parse_duration(s: &str) -> Result<f64, String> {
    let t = s.trim();
    if let Ok(v) = t.parse::<f64>() {
        return if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(format!("{s:?} is not a duration"))
        };
    }
    // A decimal count of one unit (`1.5h`), which jiff's friendly format does not take.
    for (suffix, unit) in [("h", 3600.0), ("m", 60.0), ("s", 1.0), ("d", 86_400.0)] {
        if let Some(n) = t.strip_suffix(suffix).and_then(|n| n.parse::<f64>().ok()) {
            if n.is_finite() && n >= 0.0 {
                return Ok(n * unit);
            }
        }
    }
    match t.parse::<SignedDuration>() {
        Ok(d) if !d.is_negative() => Ok(d.as_secs_f64()),
        _ => Err(format!(
            "{s:?} is not a duration (write 90m, 2h30m, 1.5h, PT2H or seconds)"
        )),
    }
}

/// An instant: `+12h` (from `now`), an RFC 3339 time, or a local date and time (`2026-12-03
/// 18:00`, `2026-12-03T18:00`) in `tz`.
pub fn parse_when(s: &str, now: f64, tz: &TimeZone) -> Result<f64, String> {
    let t = s.trim();
    if let Some(rel) = t.strip_prefix('+') {
        return Ok(now + parse_duration(rel)?);
    }
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Ok(ts.as_millisecond() as f64 / 1e3);
    }
    match t.parse::<jiff::civil::DateTime>() {
        Ok(dt) => dt
            .to_zoned(tz.clone())
            .map(|z| z.timestamp().as_millisecond() as f64 / 1e3)
            .map_err(|e| format!("{s:?}: {e}")),
        Err(_) => Err(format!(
            "{s:?} is not a time (write +12h, 2026-12-03T18:00:00Z or a local 2026-12-03T18:00)"
        )),
    }
}

/// The start in the forms schedulers take, in `tz` (their clocks are local).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StartForms {
    /// `at -t 202612031400`
    pub at: String,
    /// `0 14 3 12 *`: a crontab's time fields (it repeats yearly: remove the line once run).
    pub cron: String,
    /// `2026-12-03T14:00:00`, for `sbatch --begin=`.
    pub sbatch_begin: String,
}

pub fn start_forms(t: f64, tz: &TimeZone) -> StartForms {
    // at and cron count minutes: round up, so the job never starts before its window.
    let minute = (t / 60.0).ceil() as i64 * 60;
    let z = Timestamp::from_second(minute)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_zoned(tz.clone());
    StartForms {
        at: z.strftime("%Y%m%d%H%M").to_string(),
        cron: format!("{} {} {} {} *", z.minute(), z.hour(), z.day(), z.month()),
        sbatch_begin: z.strftime("%Y-%m-%dT%H:%M:%S").to_string(),
    }
}

/// The machine's time zone (`$TZ`, else `/etc/localtime`), UTC when it cannot be found.
pub fn local_zone() -> TimeZone {
    TimeZone::try_system().unwrap_or(TimeZone::UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("90m"), Ok(5400.0));
        assert_eq!(parse_duration("2h30m"), Ok(9000.0));
        assert_eq!(parse_duration("2h 30m"), Ok(9000.0));
        assert_eq!(parse_duration("1.5h"), Ok(5400.0));
        assert_eq!(parse_duration("PT2H"), Ok(7200.0));
        assert_eq!(parse_duration("3600"), Ok(3600.0));
        assert!(parse_duration("-2h").is_err());
        assert!(parse_duration("soon")
            .unwrap_err()
            .contains("not a duration"));
        assert_eq!(human_duration(9000.0), "2h 30m");
        assert_eq!(human_duration(0.2), "0s");
    }

    #[test]
    fn instants_relative_absolute_and_local() {
        let now = 1_796_313_600.0; // 2026-12-03T16:00:00Z
        assert_eq!(parse_when("+2h", now, &TimeZone::UTC), Ok(now + 7200.0));
        assert_eq!(
            parse_when("2026-12-03T18:00:00Z", now, &TimeZone::UTC),
            Ok(now + 7200.0)
        );
        let paris = TimeZone::get("Europe/Paris").unwrap();
        assert_eq!(
            parse_when("2026-12-03T19:00", now, &paris),
            Ok(now + 7200.0)
        );
        assert_eq!(
            parse_when("2026-12-03 19:00", now, &paris),
            Ok(now + 7200.0)
        );
        assert!(parse_when("teatime", now, &paris).is_err());
        assert_eq!(rfc3339(now), "2026-12-03T16:00:00Z");
    }

    #[test]
    fn scheduler_forms_are_local_and_never_early() {
        let t = 1_796_313_600.0 + 30.0; // 16:00:30Z: rounds up to 16:01
        let paris = TimeZone::get("Europe/Paris").unwrap();
        let f = start_forms(t, &paris);
        assert_eq!(f.at, "202612031701");
        assert_eq!(f.cron, "1 17 3 12 *");
        assert_eq!(f.sbatch_begin, "2026-12-03T17:01:00");
    }
}
