//! RFC 3339 timestamps in UTC, without a date-time dependency.

/// `2026-11-28T01:26:26.123Z` for seconds since the Unix epoch.
pub fn rfc3339(unix_s: f64) -> String {
    let (date, time, ms) = parts(unix_s);
    format!("{date}T{time}.{ms:03}Z")
}

/// `2026-11-28T01:26:26`, the form of CodeCarbon's `timestamp` column.
pub fn codecarbon_timestamp(unix_s: f64) -> String {
    let (date, time, _) = parts(unix_s);
    format!("{date}T{time}")
}

fn parts(unix_s: f64) -> (String, String, i64) {
    let millis = (unix_s * 1000.0).round() as i64;
    let (secs, ms) = (millis.div_euclid(1000), millis.rem_euclid(1000));
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!("{:02}:{:02}:{:02}", sod / 3600, (sod / 60) % 60, sod % 60),
        ms,
    )
}

/// Howard Hinnant's `civil_from_days`: proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400.5), "2000-02-29T00:00:00.500Z");
        assert_eq!(rfc3339(1_795_829_186.0), "2026-11-28T01:26:26.000Z");
        assert_eq!(codecarbon_timestamp(1_795_829_186.4), "2026-11-28T01:26:26");
    }
}
