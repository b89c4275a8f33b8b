//! Value parsers for numeric flags: every number is checked for finiteness and range when it is
//! parsed, so a bad flag is a one-line error and exit 2 before anything runs, and nothing
//! downstream meets a NaN, an infinity or a zero it would divide by.

use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

/// A number in `lo..=hi` (finite, for floats: NaN and infinities fail the range check).
fn within<T>(s: &str, lo: T, hi: T, what: &str) -> Result<T, String>
where
    T: FromStr + PartialOrd + Display + Copy,
{
    let v: T = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number ({what})"))?;
    if !(v >= lo && v <= hi) {
        return Err(format!("{v} is outside {lo} ..= {hi} ({what})"));
    }
    Ok(v)
}

/// The meter's sampling interval: 1 ms to 60 s.
pub fn interval(s: &str) -> Result<Duration, String> {
    within(s, 0.001, 60.0, "seconds between samples").map(Duration::from_secs_f64)
}

/// A grid intensity in gCO2e/kWh.
pub fn intensity(s: &str) -> Result<f64, String> {
    within(s, 0.0, 5000.0, "gCO2e/kWh")
}

/// A facility's power usage effectiveness.
pub fn pue(s: &str) -> Result<f64, String> {
    within(s, 1.0, greenai_carbon::footprint::MAX_PUE, "a PUE")
}

/// A share between 0 and 1.
pub fn fraction(s: &str) -> Result<f64, String> {
    within(s, 0.0, 1.0, "a fraction")
}

/// A share of the hardware a job reserved: above 0, at most 1.
pub fn share(s: &str) -> Result<f64, String> {
    let v = fraction(s)?;
    if v == 0.0 {
        return Err("a resource share of 0 reserves nothing; give a share above 0".into());
    }
    Ok(v)
}

/// Embodied emissions in kgCO2e (a rack of servers is a few tonnes).
pub fn kg(s: &str) -> Result<f64, String> {
    within(s, 0.0, 1e7, "kgCO2e")
}

/// A hardware lifespan in years.
pub fn years(s: &str) -> Result<f64, String> {
    let v = within(s, 0.0, 100.0, "years")?;
    if v == 0.0 {
        return Err("a lifespan of 0 years amortises nothing; give the years in use".into());
    }
    Ok(v)
}

/// A duration in seconds (up to about 30 years).
pub fn seconds(s: &str) -> Result<f64, String> {
    within(s, 0.0, 1e9, "seconds")
}

/// An amount of energy in kWh (up to a terawatt-hour: beyond, joules overflow nothing but no
/// single job spends it).
pub fn kwh(s: &str) -> Result<f64, String> {
    within(s, 0.0, 1e9, "kWh")
}

/// An energy budget in joules, above 0.
pub fn joules(s: &str) -> Result<f64, String> {
    let v = within(s, 0.0, 1e15, "joules")?;
    if v == 0.0 {
        return Err("a budget of 0 J stops everything; give a budget above 0".into());
    }
    Ok(v)
}

/// A learning rate: above 0, at most 10.
pub fn lr(s: &str) -> Result<f32, String> {
    let v = within(s, 0.0f32, 10.0, "a learning rate")?;
    if v == 0.0 {
        return Err("a learning rate of 0 learns nothing; give one above 0".into());
    }
    Ok(v)
}

/// Weight decay: 0 to 1.
pub fn weight_decay(s: &str) -> Result<f32, String> {
    within(s, 0.0f32, 1.0, "weight decay")
}

/// A count of at least 1 and at most `hi`.
fn count(s: &str, hi: usize, what: &str) -> Result<usize, String> {
    within(s, 1, hi, what)
}

/// A target accuracy: above 0, at most 1.
pub fn accuracy(s: &str) -> Result<f64, String> {
    let v = fraction(s)?;
    if v == 0.0 {
        return Err("a target accuracy of 0 is reached before training; give one above 0".into());
    }
    Ok(v)
}

/// Training steps.
pub fn steps(s: &str) -> Result<u64, String> {
    within(s, 1, 1_000_000_000, "steps")
}

/// Runs of each configuration.
pub fn repeats(s: &str) -> Result<usize, String> {
    count(s, 50, "runs")
}

/// Images per batch.
pub fn batch(s: &str) -> Result<usize, String> {
    count(s, 65_536, "images per batch")
}

/// Epochs.
pub fn epochs(s: &str) -> Result<usize, String> {
    count(s, 100_000, "epochs")
}

/// Images (training, test or calibration subsets); capped by the data at run time.
pub fn images(s: &str) -> Result<usize, String> {
    count(s, 100_000_000, "images")
}

/// The side of the square images a pretrained backbone sees.
pub fn image_size(s: &str) -> Result<usize, String> {
    within(s, 32, 1024, "pixels")
}

/// Threads: at least 1, at most four per logical CPU of this machine (more only queue).
pub fn threads(s: &str) -> Result<usize, String> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let most = (4 * cpus).max(4);
    let v: usize = within(s, 1, usize::MAX, "threads")?;
    if v > most {
        return Err(format!(
            "{v} threads on a machine with {cpus} logical CPUs; at most {most}"
        ));
    }
    Ok(v)
}

/// SCI's functional unit and how many the work produced: `NAME=COUNT`.
pub fn functional_unit(s: &str) -> Result<(String, f64), String> {
    let (name, n) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not NAME=COUNT (inference=10000)"))?;
    let n = within(n, 0.0, 1e18, "a count of functional units")?;
    if name.trim().is_empty() || n == 0.0 {
        return Err(format!("{s:?}: give a name and a count above 0"));
    }
    Ok((name.to_string(), n))
}

/// A forecast format by name.
pub fn forecast_format(s: &str) -> Result<greenai_carbon::forecast::ForecastFormat, String> {
    greenai_carbon::forecast::ForecastFormat::from_name(s).ok_or_else(|| {
        format!(
            "{s:?} is not a forecast format: {}",
            greenai_carbon::forecast::ForecastFormat::ALL
                .map(|f| f.name())
                .join(", ")
        )
    })
}

/// A network timeout in seconds.
pub fn timeout(s: &str) -> Result<f64, String> {
    within(s, 0.1, 600.0, "seconds")
}

/// `KEY=VALUE`, a non-empty key.
pub fn label(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_and_out_of_range_numbers_are_refused() {
        for bad in ["nan", "NaN", "inf", "-inf", "1e400", "-0.5", "", "x"] {
            assert!(pue(bad).is_err(), "{bad}");
            assert!(fraction(bad).is_err(), "{bad}");
            assert!(kwh(bad).is_err(), "{bad}");
        }
        assert!(pue("0.9").is_err() && pue("1e10").is_err());
        assert_eq!(pue("1.2"), Ok(1.2));
        assert!(share("0").is_err() && share("1.5").is_err());
        assert_eq!(share("0.25"), Ok(0.25));
        assert!(years("0").is_err() && years("inf").is_err());
        assert!(lr("0").is_err() && lr("-1").is_err() && lr("nan").is_err());
        assert!(batch("0").is_err() && batch("-3").is_err() && batch("1000000").is_err());
        assert_eq!(batch("64"), Ok(64));
        assert!(threads("0").is_err() && threads("100000").is_err());
        assert_eq!(threads("1"), Ok(1));
        assert!(interval("0").is_err() && interval("61").is_err());
        assert!(joules("0").is_err());
        assert!(functional_unit("x=inf").is_err() && functional_unit("x=0").is_err());
        assert!(functional_unit("=5").is_err() && functional_unit("x").is_err());
        assert_eq!(
            functional_unit("inference=10"),
            Ok(("inference".into(), 10.0))
        );
        let e = pue("nan").unwrap_err();
        assert!(!e.contains('\n'), "one line: {e}");
    }
}
