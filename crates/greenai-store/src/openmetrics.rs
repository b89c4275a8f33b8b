//! Metrics text for Prometheus: energy counters and power gauges per component, in either of the
//! two formats Prometheus scrapes ([`Format`]): OpenMetrics 1.0 to a client that asks for it,
//! the Prometheus text format 0.0.4 otherwise (what `promtool check metrics` reads).

use greenai_meter::{Component, Provenance, Sample};
use greenai_units::Energy;
use std::fmt::Write;

/// The content type Prometheus negotiates for this format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The Prometheus text format's content type.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Which text format a scrape is answered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0: counter families named without `_total`, units, `# EOF`.
    OpenMetrics,
    /// The Prometheus text format 0.0.4: families named as their samples, no `# EOF`.
    Prometheus,
}

impl Format {
    /// The format a client's `Accept` header asks for: OpenMetrics when it names it (as
    /// Prometheus does), the Prometheus text format otherwise.
    pub fn negotiate(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => CONTENT_TYPE,
            Format::Prometheus => PROMETHEUS_CONTENT_TYPE,
        }
    }
}

/// A metric family's HELP and TYPE (and, in OpenMetrics, UNIT) lines.
fn family(s: &mut String, f: Format, name: &str, kind: &str, unit: &str, help: &str) {
    let full = if kind == "counter" && f == Format::Prometheus {
        format!("{name}_total")
    } else {
        name.to_string()
    };
    let _ = writeln!(s, "# HELP {full} {help}");
    let _ = writeln!(s, "# TYPE {full} {kind}");
    if f == Format::OpenMetrics {
        let _ = writeln!(s, "# UNIT {full} {unit}");
    }
}

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Renders one scrape: `greenai_energy_joules_total` (a counter since the exporter started) and
/// `greenai_power_watts` per component, and the machine's counted totals.
///
/// `energy[i]` is component `i`'s energy since the start (`None`: no reading yet).
pub fn render(
    components: &[Component],
    energy: &[Option<Energy>],
    latest: Option<&Sample>,
    format: Format,
) -> String {
    render_with_jobs(components, energy, latest, None, format)
}

/// [`render`], and the node's energy split among its jobs ([`greenai_meter::cgroup::Ledger`]):
/// `greenai_job_energy_joules_total` and `greenai_job_power_watts` per job with its labels, and
/// `greenai_unattributed_energy_joules_total` for the rest (idle, system work), so that the jobs
/// and the rest add up to the node's counted energy. Their provenance is the machine total's.
pub fn render_with_jobs(
    components: &[Component],
    energy: &[Option<Energy>],
    latest: Option<&Sample>,
    jobs: Option<&greenai_meter::cgroup::Ledger>,
    format: Format,
) -> String {
    let mut s = String::new();
    let labels = |c: &Component| {
        format!(
            "component=\"{}\",kind=\"{}\",provenance=\"{}\",counted=\"{}\"",
            label(&c.id),
            c.kind.as_str(),
            c.provenance.as_str(),
            c.counted
        )
    };
    let f = format;
    family(
        &mut s,
        f,
        "greenai_energy_joules",
        "counter",
        "joules",
        "Energy used by each component since greenai started.",
    );
    for (c, e) in components.iter().zip(energy) {
        if let Some(e) = e {
            let _ = writeln!(
                s,
                "greenai_energy_joules_total{{{}}} {}",
                labels(c),
                e.joules()
            );
        }
    }
    family(
        &mut s,
        f,
        "greenai_power_watts",
        "gauge",
        "watts",
        "Power of each component at the latest sample.",
    );
    if let Some(sample) = latest {
        for (c, r) in components.iter().zip(&sample.readings) {
            if let Some(p) = r.power {
                let _ = writeln!(s, "greenai_power_watts{{{}}} {}", labels(c), p.watts());
            }
        }
    }
    let counted: Vec<(&Component, Energy)> = components
        .iter()
        .zip(energy)
        .filter(|(c, _)| c.counted)
        .filter_map(|(c, e)| Some((c, (*e)?)))
        .collect();
    let total: Energy = counted.iter().map(|(_, e)| *e).sum();
    // The total is as direct as its least direct part.
    let provenance = counted
        .iter()
        .map(|(c, _)| c.provenance)
        .max()
        .unwrap_or(Provenance::Estimated)
        .as_str();
    family(
        &mut s,
        f,
        "greenai_machine_energy_joules",
        "counter",
        "joules",
        "The machine's energy: counted components only.",
    );
    let _ = writeln!(
        s,
        "greenai_machine_energy_joules_total{{provenance=\"{provenance}\"}} {}",
        total.joules()
    );
    if let Some(sample) = latest {
        family(
            &mut s,
            f,
            "greenai_machine_power_watts",
            "gauge",
            "watts",
            "The machine's power: counted components only.",
        );
        let _ = writeln!(
            s,
            "greenai_machine_power_watts{{provenance=\"{provenance}\"}} {}",
            sample.total_power.watts()
        );
    }
    if let Some(l) = jobs {
        family(
            &mut s,
            f,
            "greenai_job_energy_joules",
            "counter",
            "joules",
            "The node's energy attributed to each job by its cgroup's share of CPU time.",
        );
        let job_labels = |id: &str, labels: &std::collections::BTreeMap<String, String>| {
            // Not `job`: Prometheus keeps that label for its own scrape job.
            let mut out = format!("greenai_job=\"{}\"", label(id));
            for (k, v) in labels {
                let _ = write!(out, ",{k}=\"{}\"", label(v));
            }
            let _ = write!(out, ",provenance=\"{provenance}\"");
            out
        };
        for (id, j) in &l.jobs {
            let _ = writeln!(
                s,
                "greenai_job_energy_joules_total{{{}}} {}",
                job_labels(id, &j.labels),
                j.energy_j
            );
        }
        family(
            &mut s,
            f,
            "greenai_job_power_watts",
            "gauge",
            "watts",
            "Each job's attributed power over the last interval.",
        );
        for (id, j) in &l.jobs {
            let _ = writeln!(
                s,
                "greenai_job_power_watts{{{}}} {}",
                job_labels(id, &j.labels),
                j.power_w
            );
        }
        family(
            &mut s,
            f,
            "greenai_unattributed_energy_joules",
            "counter",
            "joules",
            "The node's energy no job's CPU time accounts for: idle and system work.",
        );
        let _ = writeln!(
            s,
            "greenai_unattributed_energy_joules_total{{provenance=\"{provenance}\"}} {}",
            l.unattributed_j
        );
    }
    if f == Format::OpenMetrics {
        s.push_str("# EOF\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use greenai_meter::{ComponentKind, Reading};
    use greenai_units::Power;

    #[test]
    fn renders_counters_gauges_and_eof() {
        let c = Component {
            id: "cpu-package-0".into(),
            kind: ComponentKind::CpuPackage,
            sensor: "powercap:intel-rapl:0".into(),
            provenance: Provenance::Measured,
            uncertainty: None,
            counted: true,
            within: None,
        };
        let sample = Sample {
            elapsed: std::time::Duration::from_secs(1),
            unix_s: 0.0,
            readings: vec![Reading {
                energy: Some(Energy::from_joules(5.0)),
                power: Some(Power::from_watts(42.5)),
                utilisation: None,
                failed: false,
            }],
            total_power: Power::from_watts(42.5),
        };
        let energy = [Some(Energy::from_joules(12.5))];
        let prom = render(
            std::slice::from_ref(&c),
            &energy,
            Some(&sample),
            Format::Prometheus,
        );
        assert!(
            prom.contains("# TYPE greenai_energy_joules_total counter\n"),
            "{prom}"
        );
        assert!(prom.contains("# HELP greenai_power_watts "), "{prom}");
        assert!(
            !prom.contains("# EOF") && !prom.contains("# UNIT"),
            "{prom}"
        );
        let text = render(&[c], &energy, Some(&sample), Format::OpenMetrics);
        assert!(
            text.contains("# TYPE greenai_energy_joules counter\n"),
            "{text}"
        );
        assert!(
            text.contains("# UNIT greenai_energy_joules joules\n"),
            "{text}"
        );
        assert!(text.contains("greenai_energy_joules_total{component=\"cpu-package-0\",kind=\"cpu_package\",provenance=\"measured\",counted=\"true\"} 12.5\n"), "{text}");
        assert!(text.contains("greenai_power_watts{component=\"cpu-package-0\""));
        assert!(
            text.contains("greenai_machine_power_watts{provenance=\"measured\"} 42.5\n"),
            "{text}"
        );
        assert!(
            text.contains("greenai_machine_energy_joules_total{provenance=\"measured\"} 12.5\n"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
        assert_eq!(Format::negotiate(None), Format::Prometheus);
        let prometheus_asks =
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
        assert_eq!(
            Format::negotiate(Some(prometheus_asks)),
            Format::OpenMetrics
        );
        assert_eq!(Format::negotiate(Some("text/plain")), Format::Prometheus);
    }
}
