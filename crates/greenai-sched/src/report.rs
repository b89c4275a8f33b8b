//! What `greenai plan` prints: the plan with its forecast, its expected emissions against starting
//! now, and the start in the forms schedulers take.

use crate::plan::{self, Forecast, Job, Plan, PlanError};
use crate::time::{human_duration, rfc3339, start_forms, StartForms};
use greenai_carbon::series::{IntensitySeries, Signal};
use jiff::tz::TimeZone;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct ForecastInfo {
    pub source: String,
    pub signal: Signal,
    pub start: String,
    pub end: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    pub forecast: ForecastInfo,
    pub duration_s: f64,
    pub earliest: String,
    pub deadline: String,
    pub interruptible: bool,
    /// `(start, end)` RFC 3339.
    pub windows: Vec<(String, String)>,
    pub start: String,
    pub mean_g_per_kwh: f64,
    pub now_mean_g_per_kwh: f64,
    /// `1 − planned / now`.
    pub saving: f64,
    pub energy_kwh: Option<f64>,
    pub emissions_g: Option<f64>,
    pub now_emissions_g: Option<f64>,
    /// Forms of the start for `at -t`, a crontab line and `sbatch --begin=`, in local time.
    pub forms: StartForms,
    /// What is assumed outside the forecast, when the window reaches there.
    pub assumption: Option<String>,
    #[serde(skip)]
    pub plan: Plan,
}

/// Plans `job` on `series` and reports it; `energy_kwh` turns intensities into grams.
pub fn plan_report(
    series: &IntensitySeries,
    job: &Job,
    energy_kwh: Option<f64>,
    tz: &TimeZone,
) -> Result<PlanReport, PlanError> {
    let f = Forecast::new(series);
    let p = plan::plan(&f, job)?;
    let assumption = p.assumed.map(|(end, g)| {
        format!(
            "the forecast covers {} to {}; outside it greenai assumes its mean, {g:.0} gCO2e/kWh{}",
            rfc3339(f.start()),
            rfc3339(end),
            if p.outside_forecast_s > 0.0 {
                format!(
                    " ({} of the plan lies there)",
                    human_duration(p.outside_forecast_s)
                )
            } else {
                String::new()
            }
        )
    });
    Ok(PlanReport {
        forecast: ForecastInfo {
            source: series.source.clone(),
            signal: f.signal,
            start: rfc3339(f.start()),
            end: rfc3339(f.end()),
        },
        duration_s: job.duration_s,
        earliest: rfc3339(job.earliest),
        deadline: rfc3339(job.deadline),
        interruptible: job.interruptible,
        windows: p
            .windows
            .iter()
            .map(|w| (rfc3339(w.0), rfc3339(w.1)))
            .collect(),
        start: rfc3339(p.start()),
        mean_g_per_kwh: p.mean_g_per_kwh,
        now_mean_g_per_kwh: p.now_mean_g_per_kwh,
        saving: p.saving(),
        energy_kwh,
        emissions_g: energy_kwh.map(|e| e * p.mean_g_per_kwh),
        now_emissions_g: energy_kwh.map(|e| e * p.now_mean_g_per_kwh),
        forms: start_forms(p.start(), tz),
        assumption,
        plan: p,
    })
}
