//! The scheduler's clock. Real time by default; for simulations and tests, a compressed clock on
//! which seconds stand for hours, set for every greenai process alike by `GREENAI_CLOCK`.

/// The variable that compresses time: `SCHED_ORIGIN,REAL_ORIGIN,SCALE`: at real unix time
/// `REAL_ORIGIN` the schedule's clock reads `SCHED_ORIGIN` (unix seconds or RFC 3339), and it runs
/// `SCALE` times as fast.
pub const CLOCK_ENV: &str = "GREENAI_CLOCK";

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    sched_origin: f64,
    real_origin: f64,
    scale: f64,
}

fn real_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Clock {
    pub fn real() -> Clock {
        Clock {
            sched_origin: 0.0,
            real_origin: 0.0,
            scale: 1.0,
        }
    }

    /// `$GREENAI_CLOCK`, else real time.
    pub fn from_env() -> Result<Clock, String> {
        match std::env::var(CLOCK_ENV) {
            Ok(v) if !v.trim().is_empty() => Clock::parse(&v),
            _ => Ok(Clock::real()),
        }
    }

    pub fn parse(v: &str) -> Result<Clock, String> {
        let bad = || format!("{CLOCK_ENV}={v:?}: write SCHED_ORIGIN,REAL_ORIGIN,SCALE (SCALE > 0)");
        let f: Vec<&str> = v.split(',').map(str::trim).collect();
        let [s, r, k] = f[..] else { return Err(bad()) };
        let sched_origin = greenai_carbon::series::parse_timestamp(s).ok_or_else(bad)?;
        let real_origin = r.parse::<f64>().map_err(|_| bad())?;
        let scale = k.parse::<f64>().map_err(|_| bad())?;
        if !(scale.is_finite() && scale > 0.0 && real_origin.is_finite()) {
            return Err(bad());
        }
        Ok(Clock {
            sched_origin,
            real_origin,
            scale,
        })
    }

    pub fn is_real(&self) -> bool {
        *self == Clock::real()
    }

    /// Schedule time now, unix seconds.
    pub fn now(&self) -> f64 {
        self.sched_origin + (real_now() - self.real_origin) * self.scale
    }

    /// How many schedule seconds pass in one real second.
    pub fn scale(&self) -> f64 {
        self.scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compressed_clock_runs_fast_from_its_origin() {
        let real = real_now();
        let c = Clock::parse(&format!("2026-11-30T00:00:00Z,{real},3600")).unwrap();
        let now = c.now();
        let origin = 1_795_996_800.0; // 2026-11-30T00:00:00Z
        assert!(now >= origin && now < origin + 3600.0, "{now}");
        assert!(Clock::parse("1,2").is_err());
        assert!(Clock::parse("1,2,0").is_err());
        assert!(Clock::parse("noon,2,3").is_err());
        assert!(Clock::real().is_real());
    }
}
