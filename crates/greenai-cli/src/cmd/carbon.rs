//! `greenai carbon`: the emissions of an amount of energy, and the known regions.

use crate::cli::{CarbonArgs, CarbonCommand};
use crate::render;
use anyhow::bail;
use greenai_carbon::grid;
use greenai_units::Energy;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

pub fn carbon(
    command: Option<CarbonCommand>,
    energy_kwh: Option<f64>,
    duration_s: f64,
    args: &CarbonArgs,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    if let Some(CarbonCommand::Regions { json }) = command {
        if json {
            serde_json::to_writer_pretty(&mut out, grid::table())?;
            writeln!(out)?;
        } else {
            writeln!(
                out,
                "{:<22} {:<12} {:>10}  {:<5} {:<32} source",
                "region", "kind", "gCO2e/kWh", "year", "name"
            )?;
            for e in grid::table() {
                writeln!(
                    out,
                    "{:<22} {:<12} {:>10.1}  {:<5} {:<32} {}",
                    e.code,
                    format!("{:?}", e.kind).to_lowercase(),
                    e.intensity.g_per_kwh(),
                    e.year.map(|y| y.to_string()).unwrap_or_default(),
                    e.name,
                    e.source
                )?;
            }
            writeln!(
                out,
                "\nwithout a region: the world average, {} gCO2e/kWh ({}), with a warning",
                grid::WORLD_AVERAGE.g_per_kwh(),
                grid::WORLD_AVERAGE_SOURCE
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(kwh) = energy_kwh else {
        bail!(
            "give the energy with --energy-kwh KWH (or `greenai carbon regions` to list regions)"
        );
    };
    if !(kwh >= 0.0 && kwh.is_finite()) {
        bail!("--energy-kwh {kwh} is not a non-negative amount");
    }
    let settings = args.settings();
    let resolved = settings.resolve()?;
    if let Some(w) = &resolved.warning {
        eprintln!("greenai: warning: {w}");
    }
    let report = greenai_carbon::assess(
        &settings,
        &resolved,
        Energy::from_kwh(kwh),
        Duration::from_secs_f64(duration_s.max(0.0)),
        &[],
    );
    if json {
        let mut v = serde_json::to_value(&report)?;
        v["energy_kwh"] = kwh.into();
        serde_json::to_writer_pretty(&mut out, &v)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{kwh} kWh")?;
        write!(out, "{}", render::carbon(&report))?;
    }
    Ok(ExitCode::SUCCESS)
}
