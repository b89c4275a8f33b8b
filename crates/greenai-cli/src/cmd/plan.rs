//! `greenai plan`: the cleanest start before a deadline.

use crate::cli_sched::{ForecastArgs, JobArgs, PlanArgs};
use anyhow::{anyhow, bail};
use greenai_sched::clock::Clock;
use greenai_sched::fetch::ForecastSource;
use greenai_sched::plan::Job;
use greenai_sched::time::{human_duration, local_zone, parse_when};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// The forecast the flags name, or the error that says what to give.
pub fn source(f: &ForecastArgs) -> anyhow::Result<ForecastSource> {
    let Some(location) = &f.forecast else {
        bail!(
            "no forecast: give --forecast FILE|URL (greenai's intensity CSV, or the JSON of the \
             Carbon Aware SDK, Electricity Maps, WattTime or the UK Carbon Intensity API); greenai \
             does not invent one"
        )
    };
    let mut s = ForecastSource::new(location);
    s.format = f.forecast_format;
    s.headers = f.headers.clone();
    s.timeout = Duration::from_secs_f64(f.forecast_timeout);
    Ok(s)
}

/// A job's duration and energy (kWh) from the flags, or from earlier runs with `--like`.
pub fn expected(j: &JobArgs, db: &Path) -> anyhow::Result<(f64, Option<f64>, Option<String>)> {
    match (&j.like, j.duration) {
        (Some(key), _) => {
            let store = greenai_store::Store::open_for_reading(db)?;
            let e = greenai_sched::expect::like(&store, key).map_err(|e| anyhow!(e))?;
            let energy = j.energy_kwh.or(e.energy_j.map(|j| j / 3.6e6));
            let from = format!("median of {} run(s) of {}", e.runs, e.matched);
            Ok((e.duration_s.max(1.0), energy, Some(from)))
        }
        (None, Some(d)) if d > 0.0 => Ok((d, j.energy_kwh, None)),
        (None, Some(_)) => bail!("--duration must be more than zero"),
        (None, None) => bail!("give --duration DURATION or --like RUN|PROJECT|KEY=VALUE"),
    }
}

pub fn plan(args: PlanArgs, db: &Path) -> anyhow::Result<ExitCode> {
    let tz = local_zone();
    let clock = Clock::from_env().map_err(|e| anyhow!(e))?;
    let now = match &args.now {
        Some(t) => parse_when(t, clock.now(), &tz).map_err(|e| anyhow!("--now: {e}"))?,
        None => clock.now(),
    };
    let deadline =
        parse_when(&args.job.deadline, now, &tz).map_err(|e| anyhow!("--deadline: {e}"))?;
    let (duration_s, energy_kwh, from) = expected(&args.job, db)?;
    let series = source(&args.forecast)?.load()?;
    let job = Job {
        duration_s,
        earliest: now,
        deadline,
        interruptible: args.job.interruptible,
    };
    let r = greenai_sched::report::plan_report(&series, &job, energy_kwh, &tz)?;
    if args.json {
        let mut v = serde_json::to_value(&r)?;
        v["expected_from"] = serde_json::json!(from);
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "forecast   {} ({} intensity, {} to {})",
        r.forecast.source,
        match r.forecast.signal {
            greenai_carbon::series::Signal::Average => "average",
            greenai_carbon::series::Signal::Marginal => "marginal",
        },
        r.forecast.start,
        r.forecast.end
    );
    println!(
        "job        {}{}, from {} to deadline {}{}",
        human_duration(r.duration_s),
        if r.interruptible { " (may pause)" } else { "" },
        r.earliest,
        r.deadline,
        from.map(|f| format!(" ({f})")).unwrap_or_default()
    );
    if r.windows.len() == 1 {
        println!("best start {} (until {})", r.start, r.windows[0].1);
    } else {
        println!("windows    {} windows:", r.windows.len());
        for (a, b) in &r.windows {
            println!("           {a} to {b}");
        }
    }
    println!(
        "intensity  {:.1} gCO2e/kWh against {:.1} starting now: {:.1} % less",
        r.mean_g_per_kwh,
        r.now_mean_g_per_kwh,
        100.0 * r.saving
    );
    match (r.emissions_g, r.now_emissions_g, r.energy_kwh) {
        (Some(a), Some(b), Some(e)) => {
            println!("emissions  {a:.2} gCO2e against {b:.2} now, for {e:.4} kWh")
        }
        _ => println!("emissions  give --energy-kwh or --like for grams"),
    }
    if let Some(a) = &r.assumption {
        println!("assumed    {a}");
    }
    println!("at         at -t {}", r.forms.at);
    println!(
        "cron       {} (local time; remove the line once it ran)",
        r.forms.cron
    );
    println!("slurm      sbatch --begin={}", r.forms.sbatch_begin);
    Ok(ExitCode::SUCCESS)
}
