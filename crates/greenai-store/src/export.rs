//! Exports of stored runs: JSON (greenai's own report) and CSV in CodeCarbon's `emissions.csv`
//! layout, so that tools which read CodeCarbon's files read greenai's.

use crate::report::RunReport;
use crate::timefmt;
use std::io::{self, Write};

/// CodeCarbon 3.3.2's `emissions.csv` columns, in its order, then greenai's own.
pub const CSV_COLUMNS: &[&str] = &[
    "timestamp",
    "project_name",
    "run_id",
    "experiment_id",
    "duration",
    "emissions",
    "emissions_rate",
    "cpu_power",
    "gpu_power",
    "ram_power",
    "cpu_energy",
    "gpu_energy",
    "ram_energy",
    "energy_consumed",
    "water_consumed",
    "country_name",
    "country_iso_code",
    "region",
    "cloud_provider",
    "cloud_region",
    "os",
    "python_version",
    "codecarbon_version",
    "cpu_count",
    "cpu_model",
    "gpu_count",
    "gpu_model",
    "longitude",
    "latitude",
    "ram_total_size",
    "tracking_mode",
    "cpu_utilization_percent",
    "gpu_utilization_percent",
    "ram_utilization_percent",
    "ram_used_gb",
    "on_cloud",
    "pue",
    "wue",
    // greenai's own, after CodeCarbon's:
    "greenai_provenance",
    "greenai_uncertainty",
    "greenai_complete",
    "greenai_exit_code",
    "greenai_process_energy",
    "greenai_command",
    "greenai_net_emissions",
    "greenai_intensity_g_per_kwh",
    "greenai_intensity_source",
];

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn num(v: Option<f64>) -> String {
    // `+ 0.0` turns an empty sum's -0.0 into 0.
    v.map(|v| format!("{}", v + 0.0)).unwrap_or_default()
}

fn kwh(j: f64) -> f64 {
    greenai_units::Energy::from_joules(j).kwh()
}

/// One CSV row in CodeCarbon's units: seconds, kg, kg/s, W, kWh, GB. A missing component's
/// columns are empty, never 0; so are emissions for a run recorded without carbon settings.
pub fn csv_row(r: &RunReport) -> Vec<String> {
    let d = r.duration_s;
    let cpu = r.energy_of(&["cpu_package", "platform"]);
    let gpu = r.energy_of(&["gpu"]);
    let ram = r.energy_of(&["dram"]);
    let watts = |e: Option<f64>| e.filter(|_| d > 0.0).map(|e| e / d);
    let cpu_util = r.cpu_utilisation.map(|u| u * 100.0);
    let c = r.carbon.as_ref();
    let text = |v: Option<&String>| v.cloned().unwrap_or_default();
    let emissions_kg = c.map(|c| c.emissions_g / 1000.0);
    vec![
        timefmt::codecarbon_timestamp(r.started_unix_s + d),
        r.project_name.clone(),
        r.run_id.clone(),
        String::new(),
        format!("{d}"),
        num(emissions_kg),
        num(emissions_kg.filter(|_| d > 0.0).map(|e| e / d)),
        num(watts(cpu)),
        num(watts(gpu)),
        num(watts(ram)),
        num(cpu.map(kwh)),
        num(gpu.map(kwh)),
        num(ram.map(kwh)),
        format!("{}", kwh(r.energy_j)),
        String::new(),
        text(c.and_then(|c| c.country_name.as_ref())),
        text(c.and_then(|c| c.country_iso_code.as_ref())),
        text(c.map(|c| &c.region)),
        text(c.and_then(|c| c.cloud_provider.as_ref())),
        text(c.and_then(|c| c.cloud_region.as_ref())),
        r.host.os.clone(),
        String::new(),
        String::new(),
        r.host.cpu_count.to_string(),
        r.host.cpu_model.clone(),
        r.host.gpu_count.to_string(),
        r.host.gpu_model.clone(),
        String::new(),
        String::new(),
        format!("{}", r.host.ram_total_gb),
        "machine".into(),
        num(cpu_util),
        String::new(),
        String::new(),
        String::new(),
        if c.is_some_and(|c| c.cloud_provider.is_some()) {
            "Y"
        } else {
            "N"
        }
        .into(),
        num(Some(c.map_or(1.0, |c| c.pue))),
        "0".into(),
        r.provenance.as_str().into(),
        num(r.uncertainty),
        r.complete.to_string(),
        r.exit_code.map(|c| c.to_string()).unwrap_or_default(),
        num(r.process_energy_j.map(kwh)),
        r.command.clone(),
        num(c.map(|c| c.net_emissions_g / 1000.0)),
        num(c.map(|c| c.intensity_g_per_kwh)),
        text(c.map(|c| &c.intensity_source)),
    ]
}

/// Splits one line of CSV as [`write_csv`] writes it (RFC 4180 quoting), for readers of the
/// export.
pub fn split_csv_line(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

pub fn write_csv(out: &mut dyn Write, reports: &[RunReport]) -> io::Result<()> {
    writeln!(out, "{}", CSV_COLUMNS.join(","))?;
    for r in reports {
        let row: Vec<String> = csv_row(r).iter().map(|f| field(f)).collect();
        writeln!(out, "{}", row.join(","))?;
    }
    Ok(())
}

pub fn write_json(out: &mut dyn Write, reports: &[RunReport]) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, reports)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_has_every_column_and_quotes_what_needs_it() {
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("plain"), "plain");
        let row = ["a,b", "say \"hi\"", "", "plain"];
        let line: Vec<String> = row.iter().map(|f| field(f)).collect();
        assert_eq!(split_csv_line(&line.join(",")), row);
        let idx = |c: &str| CSV_COLUMNS.iter().position(|x| *x == c).unwrap();
        // CodeCarbon's order is kept where the columns mean the same thing.
        assert!(idx("timestamp") < idx("duration") && idx("duration") < idx("energy_consumed"));
        assert_eq!(idx("pue"), 36);
    }
}
