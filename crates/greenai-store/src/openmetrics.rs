//! OpenMetrics text for Prometheus: energy counters and power gauges per component.

use greenai_meter::{Component, Provenance, Sample};
use greenai_units::Energy;
use std::fmt::Write;

/// The content type Prometheus negotiates for this format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

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
    s.push_str("# TYPE greenai_energy_joules counter\n# UNIT greenai_energy_joules joules\n");
    s.push_str(
        "# HELP greenai_energy_joules Energy used by each component since greenai started.\n",
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
    s.push_str("# TYPE greenai_power_watts gauge\n# UNIT greenai_power_watts watts\n");
    s.push_str("# HELP greenai_power_watts Power of each component at the latest sample.\n");
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
    s.push_str("# TYPE greenai_machine_energy_joules counter\n# UNIT greenai_machine_energy_joules joules\n");
    s.push_str(
        "# HELP greenai_machine_energy_joules The machine's energy: counted components only.\n",
    );
    let _ = writeln!(
        s,
        "greenai_machine_energy_joules_total{{provenance=\"{provenance}\"}} {}",
        total.joules()
    );
    if let Some(sample) = latest {
        s.push_str(
            "# TYPE greenai_machine_power_watts gauge\n# UNIT greenai_machine_power_watts watts\n",
        );
        s.push_str(
            "# HELP greenai_machine_power_watts The machine's power: counted components only.\n",
        );
        let _ = writeln!(
            s,
            "greenai_machine_power_watts{{provenance=\"{provenance}\"}} {}",
            sample.total_power.watts()
        );
    }
    s.push_str("# EOF\n");
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
            }],
            total_power: Power::from_watts(42.5),
        };
        let text = render(&[c], &[Some(Energy::from_joules(12.5))], Some(&sample));
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
    }
}
