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
    "greenai_not_measured",
];

/// A text cell that a spreadsheet will show, not run: one that starts with `=`, `+`, `-`, `@`, a
/// tab or a carriage return (a formula, to Excel and LibreOffice) gets a leading `'`, as OWASP
/// advises for CSV injection. Numbers are written by [`num`] and never pass through here.
fn cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

fn num(v: Option<f64>) -> String {
    // `+ 0.0` turns an empty sum's -0.0 into 0.
    v.map(|v| format!("{}", v + 0.0)).unwrap_or_default()
}

/// A number in a column where CodeCarbon always writes one: 0 where greenai has no figure (the
/// `greenai_not_measured` column then names it, so the 0 is never taken for a measurement).
fn num0(v: Option<f64>) -> String {
    num(Some(v.unwrap_or(0.0)))
}

fn kwh(j: f64) -> f64 {
    greenai_units::Energy::from_joules(j).kwh()
}

/// One CSV row in CodeCarbon's units: seconds, kg, kg/s, W, kWh, GB. Where CodeCarbon always
/// writes a number, so does greenai: a component it did not measure (no GPU, no DRAM sensor, no
/// carbon settings on an old run) is 0 there, and named in `greenai_not_measured`
/// (`cpu;gpu;ram;emissions`, what applies), so no tool reading the file meets an empty number and
/// no person takes the 0 for a measurement.
pub fn csv_row(r: &RunReport) -> Vec<String> {
    let d = r.duration_s;
    let cpu = r.energy_of(&["cpu_package", "platform"]);
    let gpu = r.energy_of(&["gpu"]);
    let ram = r.energy_of(&["dram"]);
    let watts = |e: Option<f64>| e.filter(|_| d > 0.0).map(|e| e / d);
    let cpu_util = r.cpu_utilisation.map(|u| u * 100.0);
    let c = r.carbon.as_ref();
    let text = |v: Option<&String>| v.map(|s| cell(s)).unwrap_or_default();
    let emissions_kg = c.map(|c| c.emissions_g / 1000.0);
    vec![
        timefmt::codecarbon_timestamp(r.started_unix_s + d),
        cell(&r.project_name),
        cell(&r.run_id),
        String::new(),
        format!("{d}"),
        num0(emissions_kg),
        num0(emissions_kg.filter(|_| d > 0.0).map(|e| e / d)),
        num0(watts(cpu)),
        num0(watts(gpu)),
        num0(watts(ram)),
        num0(cpu.map(kwh)),
        num0(gpu.map(kwh)),
        num0(ram.map(kwh)),
        format!("{}", kwh(r.energy_j)),
        "0".into(),
        text(c.and_then(|c| c.country_name.as_ref())),
        text(c.and_then(|c| c.country_iso_code.as_ref())),
        text(c.map(|c| &c.region)),
        text(c.and_then(|c| c.cloud_provider.as_ref())),
        text(c.and_then(|c| c.cloud_region.as_ref())),
        cell(&r.host.os),
        String::new(),
        String::new(),
        r.host.cpu_count.to_string(),
        cell(&r.host.cpu_model),
        r.host.gpu_count.to_string(),
        cell(&r.host.gpu_model),
        String::new(),
        String::new(),
        format!("{}", r.host.ram_total_gb),
        "machine".into(),
        num0(cpu_util),
        "0".into(),
        "0".into(),
        "0".into(),
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
        cell(&r.command),
        num(c.map(|c| c.net_emissions_g / 1000.0)),
        num(c.map(|c| c.intensity_g_per_kwh)),
        text(c.map(|c| &c.intensity_source)),
        [
            ("cpu", cpu.is_none()),
            ("gpu", gpu.is_none()),
            ("ram", ram.is_none()),
            ("emissions", c.is_none()),
        ]
        .iter()
        .filter(|(_, missing)| *missing)
        .map(|(k, _)| *k)
        .collect::<Vec<_>>()
        .join(";"),
    ]
}

/// Splits one line of CSV as [`write_csv`] writes it (RFC 4180 quoting, by the `csv` crate), for
/// readers of the export.
pub fn split_csv_line(line: &str) -> Vec<String> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(line.as_bytes())
        .records()
        .next()
        .and_then(|r| r.ok())
        .map(|r| r.iter().map(str::to_string).collect())
        .unwrap_or_default()
}

/// The runs in CodeCarbon's `emissions.csv` layout, a header then one row each (the `csv` crate
/// quotes what needs it).
pub fn write_csv(out: &mut dyn Write, reports: &[RunReport]) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CSV_COLUMNS)?;
    for r in reports {
        w.write_record(csv_row(r))?;
    }
    w.flush()
}

/// The reports of a `runs export --format json` file (an array), or of one report: what
/// [`crate::Store::import_report`] takes. A file that is not one is refused, saying which entry.
pub fn read_json(path: &std::path::Path) -> Result<Vec<RunReport>, crate::StoreError> {
    let invalid = crate::StoreError::Invalid;
    let text = greenai_meter::sysfs::read_bounded(path, 256 << 20)
        .map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| invalid(format!("{} is not JSON: {e}", path.display())))?;
    let items = match v {
        serde_json::Value::Array(a) => a,
        one => vec![one],
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            serde_json::from_value(item).map_err(|e| {
                invalid(format!(
                    "{}: entry {i} is not a greenai run report ({e}; write it with `greenai runs export --format json`)",
                    path.display()
                ))
            })
        })
        .collect()
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
        let row = ["a,b", "say \"hi\"", "", "plain", "two\nlines"];
        let mut out = Vec::new();
        {
            let mut w = csv::Writer::from_writer(&mut out);
            w.write_record(row).unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("\"a,b\",\"say \"\"hi\"\"\",,plain,"),
            "{text}"
        );
        assert_eq!(split_csv_line(text.trim_end()), row);
        let idx = |c: &str| CSV_COLUMNS.iter().position(|x| *x == c).unwrap();
        // CodeCarbon's order is kept where the columns mean the same thing.
        assert!(idx("timestamp") < idx("duration") && idx("duration") < idx("energy_consumed"));
        assert_eq!(idx("pue"), 36);
    }

    /// Text that a spreadsheet would execute is shown as text; other text and numbers are as
    /// they were.
    #[test]
    fn formulas_in_text_cells_are_neutralised() {
        for bad in [
            "=1+2",
            "+cmd|' /C calc'!A0",
            "-2+3",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            let c = cell(bad);
            assert!(c.starts_with('\''), "{c:?}");
            assert_eq!(&c[1..], bad);
        }
        assert_eq!(cell("python3 train.py"), "python3 train.py");
        assert_eq!(cell(""), "");
        assert_eq!(num(Some(-0.0)), "0");
    }
}
