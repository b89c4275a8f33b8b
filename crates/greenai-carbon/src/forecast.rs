//! Forecasts as the services that publish them write them: parsing only (the bytes come from
//! whoever fetched them, a file or `greenai-sched`'s HTTP client).
//!
//! | format | what it is | values |
//! | --- | --- | --- |
//! | `csv` | greenai's intensity file ([`crate::series`]) | average, optional marginal |
//! | `carbon-aware-sdk` | the Carbon Aware SDK's `/emissions/forecasts/current` (an array of forecasts; the first is read) | `forecastData[].{timestamp, duration (min), value}` |
//! | `electricity-maps` | Electricity Maps' `/v3/carbon-intensity/forecast` | `forecast[].{datetime, carbonIntensity}` |
//! | `watttime` | WattTime's `/v3/forecast` (`data[].{point_time, value}`, `meta.units`), or v2's `forecast[]` | marginal (MOER) unless `meta.signal_type` says average |
//! | `uk-carbon-intensity` | the UK Carbon Intensity API's `/intensity/{from}/fw48h`, national or one region | `data[].{from, to, intensity.forecast}` |
//!
//! Values are gCO2e/kWh; WattTime's pounds per MWh are converted (1 lb/MWh = 0.453592 g/kWh).

use crate::error::{CarbonError, Result};
use crate::series::{parse_timestamp, IntensitySeries};
use greenai_units::CarbonIntensity;
use serde_json::Value;

/// Pounds of CO2 per MWh in grams per kWh.
pub const LB_PER_MWH_IN_G_PER_KWH: f64 = 0.453_592_37;

/// A forecast's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForecastFormat {
    Csv,
    CarbonAwareSdk,
    ElectricityMaps,
    WattTime,
    UkCarbonIntensity,
}

impl ForecastFormat {
    pub const ALL: [ForecastFormat; 5] = [
        ForecastFormat::Csv,
        ForecastFormat::CarbonAwareSdk,
        ForecastFormat::ElectricityMaps,
        ForecastFormat::WattTime,
        ForecastFormat::UkCarbonIntensity,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ForecastFormat::Csv => "csv",
            ForecastFormat::CarbonAwareSdk => "carbon-aware-sdk",
            ForecastFormat::ElectricityMaps => "electricity-maps",
            ForecastFormat::WattTime => "watttime",
            ForecastFormat::UkCarbonIntensity => "uk-carbon-intensity",
        }
    }

    pub fn from_name(s: &str) -> Option<ForecastFormat> {
        Self::ALL.into_iter().find(|f| f.name() == s)
    }

    /// Which format `text` is in, from its shape; `None` when it is JSON of no known shape.
    pub fn detect(text: &str) -> Option<ForecastFormat> {
        let t = text.trim_start();
        if !(t.starts_with('{') || t.starts_with('[')) {
            return Some(ForecastFormat::Csv);
        }
        let v: Value = serde_json::from_str(t).ok()?;
        detect_json(&v)
    }
}

fn detect_json(v: &Value) -> Option<ForecastFormat> {
    if let Some(a) = v.as_array() {
        return a
            .first()
            .filter(|f| f.get("forecastData").is_some())
            .map(|_| ForecastFormat::CarbonAwareSdk);
    }
    let first = |key: &str| v.get(key).and_then(Value::as_array).and_then(|a| a.first());
    if first("forecast").is_some_and(|p| p.get("carbonIntensity").is_some()) {
        return Some(ForecastFormat::ElectricityMaps);
    }
    if first("data").is_some_and(|p| p.get("point_time").is_some())
        || first("forecast").is_some_and(|p| p.get("point_time").is_some())
    {
        return Some(ForecastFormat::WattTime);
    }
    if first("data").is_some_and(|p| {
        p.get("from").is_some() || p.get("regionid").is_some() || p.get("data").is_some()
    }) {
        return Some(ForecastFormat::UkCarbonIntensity);
    }
    None
}

/// Parses a forecast; `format` `None` detects it from the text's shape.
pub fn parse(source: &str, text: &str, format: Option<ForecastFormat>) -> Result<IntensitySeries> {
    let bad = |reason: String| CarbonError::BadForecast {
        origin: source.to_string(),
        reason,
    };
    let format = match format {
        Some(f) => f,
        None => ForecastFormat::detect(text).ok_or_else(|| {
            bad(
                "JSON of no forecast shape greenai knows (the Carbon Aware SDK, Electricity Maps, \
                 WattTime or the UK Carbon Intensity API); name it with --forecast-format"
                    .into(),
            )
        })?,
    };
    if format == ForecastFormat::Csv {
        return IntensitySeries::from_csv(source, text);
    }
    let v: Value = serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let ctx = Ctx { source, bad: &bad };
    let series = match format {
        ForecastFormat::Csv => unreachable!("handled above"),
        ForecastFormat::CarbonAwareSdk => carbon_aware_sdk(&ctx, &v)?,
        ForecastFormat::ElectricityMaps => electricity_maps(&ctx, &v)?,
        ForecastFormat::WattTime => watttime(&ctx, &v)?,
        ForecastFormat::UkCarbonIntensity => uk(&ctx, &v)?,
    };
    Ok(series)
}

struct Ctx<'a> {
    source: &'a str,
    bad: &'a dyn Fn(String) -> CarbonError,
}

impl Ctx<'_> {
    fn time(&self, p: &Value, key: &str, i: usize) -> Result<f64> {
        let s = p
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| (self.bad)(format!("point {i} has no {key:?} timestamp")))?;
        parse_timestamp(s)
            .ok_or_else(|| (self.bad)(format!("point {i}: {s:?} is not an RFC 3339 timestamp")))
    }

    fn value(
        &self,
        v: Option<&Value>,
        what: &str,
        i: usize,
        scale: f64,
    ) -> Result<CarbonIntensity> {
        let x = v
            .and_then(Value::as_f64)
            .ok_or_else(|| (self.bad)(format!("point {i} has no number {what}")))?
            * scale;
        if !(0.0..=5000.0).contains(&x) {
            return Err((self.bad)(format!(
                "point {i}: {x} gCO2e/kWh is not a plausible intensity"
            )));
        }
        Ok(CarbonIntensity::from_g_per_kwh(x))
    }

    fn series(&self, what: &str, points: Vec<(f64, CarbonIntensity)>) -> Result<IntensitySeries> {
        if points.is_empty() {
            return Err((self.bad)(format!("the {what} holds no points")));
        }
        IntensitySeries::from_points(
            &format!("{} ({what})", self.source),
            points.into_iter().map(|(t, v)| (t, v, None)).collect(),
        )
    }
}

fn array<'v>(ctx: &Ctx, v: &'v Value, key: &str) -> Result<&'v Vec<Value>> {
    v.get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| (ctx.bad)(format!("no {key:?} array")))
}

fn carbon_aware_sdk(ctx: &Ctx, v: &Value) -> Result<IntensitySeries> {
    let f = match v.as_array() {
        Some(a) => a
            .first()
            .ok_or_else(|| (ctx.bad)("an empty array: the SDK returned no forecast".into()))?,
        None => v,
    };
    let mut end = f64::NEG_INFINITY;
    let mut points = Vec::new();
    for (i, p) in array(ctx, f, "forecastData")?.iter().enumerate() {
        let t = ctx.time(p, "timestamp", i)?;
        let minutes = p.get("duration").and_then(Value::as_f64).unwrap_or(0.0);
        end = end.max(t + minutes.max(0.0) * 60.0);
        points.push((t, ctx.value(p.get("value"), "value", i, 1.0)?));
    }
    let what = match f.get("location").and_then(Value::as_str) {
        Some(l) => format!("Carbon Aware SDK forecast for {l}"),
        None => "Carbon Aware SDK forecast".into(),
    };
    Ok(ctx.series(&what, points)?.ending_at(end))
}

fn electricity_maps(ctx: &Ctx, v: &Value) -> Result<IntensitySeries> {
    let mut points = Vec::new();
    for (i, p) in array(ctx, v, "forecast")?.iter().enumerate() {
        let t = ctx.time(p, "datetime", i)?;
        points.push((
            t,
            ctx.value(p.get("carbonIntensity"), "carbonIntensity", i, 1.0)?,
        ));
    }
    let what = match v.get("zone").and_then(Value::as_str) {
        Some(z) => format!("Electricity Maps forecast for {z}"),
        None => "Electricity Maps forecast".into(),
    };
    ctx.series(&what, points)
}

fn watttime(ctx: &Ctx, v: &Value) -> Result<IntensitySeries> {
    let meta = v.get("meta");
    let units = meta
        .and_then(|m| m.get("units"))
        .and_then(Value::as_str)
        .unwrap_or("lbs_co2_per_mwh");
    let scale = match units {
        "lbs_co2_per_mwh" => LB_PER_MWH_IN_G_PER_KWH,
        "g_co2_per_kwh" | "kg_co2_per_mwh" => 1.0,
        other => {
            return Err((ctx.bad)(format!(
                "units {other:?}: greenai reads lbs_co2_per_mwh or g_co2_per_kwh"
            )))
        }
    };
    let signal = meta
        .and_then(|m| m.get("signal_type"))
        .and_then(Value::as_str)
        .unwrap_or("co2_moer");
    let key = if v.get("data").is_some() {
        "data"
    } else {
        "forecast"
    };
    let mut points = Vec::new();
    for (i, p) in array(ctx, v, key)?.iter().enumerate() {
        let t = ctx.time(p, "point_time", i)?;
        points.push((t, ctx.value(p.get("value"), "value", i, scale)?));
    }
    let region = meta
        .and_then(|m| m.get("region"))
        .or_else(|| array(ctx, v, key).ok()?.first()?.get("ba"))
        .and_then(Value::as_str);
    let what = format!(
        "WattTime {signal}{}",
        region.map(|r| format!(" for {r}")).unwrap_or_default()
    );
    let mut s = ctx.series(&what, points)?;
    if let Some(period) = meta
        .and_then(|m| m.get("data_point_period_seconds"))
        .and_then(Value::as_f64)
    {
        let last = s.steps(crate::series::Signal::Average).last().map(|p| p.0);
        if let Some(last) = last {
            s = s.ending_at(last + period);
        }
    }
    Ok(if signal.contains("moer") {
        s.marginal_only()
    } else {
        s
    })
}

fn uk(ctx: &Ctx, v: &Value) -> Result<IntensitySeries> {
    let data = array(ctx, v, "data")?;
    // National: data[] holds the periods. One region: data[0].data[] does. Data may also be an
    // object (the `/regional/regionid/N` form).
    let (periods, what) = match data.first() {
        Some(first) if first.get("from").is_some() => {
            if first.get("regions").is_some() {
                return Err((ctx.bad)(
                    "every region at once: ask the API for one region \
                     (/regional/intensity/{from}/fw48h/regionid/N) or the national forecast"
                        .into(),
                ));
            }
            (data, "UK Carbon Intensity forecast (national)".to_string())
        }
        Some(region) => {
            let name = region
                .get("shortname")
                .and_then(Value::as_str)
                .unwrap_or("one region");
            (
                array(ctx, region, "data")?,
                format!("UK Carbon Intensity forecast ({name})"),
            )
        }
        None => return Err((ctx.bad)("the data array is empty".into())),
    };
    let mut end = f64::NEG_INFINITY;
    let mut points = Vec::new();
    for (i, p) in periods.iter().enumerate() {
        let t = ctx.time(p, "from", i)?;
        if let Ok(to) = ctx.time(p, "to", i) {
            end = end.max(to);
        }
        let intensity = p.get("intensity");
        let value = intensity
            .and_then(|x| x.get("forecast"))
            .filter(|x| !x.is_null())
            .or_else(|| intensity.and_then(|x| x.get("actual")));
        points.push((t, ctx.value(value, "intensity.forecast", i, 1.0)?));
    }
    Ok(ctx.series(&what, points)?.ending_at(end))
}

#[cfg(test)]
mod tests;
