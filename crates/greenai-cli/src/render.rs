//! Text reports for people: every figure with its unit and its provenance.

use greenai_meter::{DetectReport, Measurement, Provenance};
use std::fmt::Write;

fn band(u: Option<f64>) -> String {
    u.map(|u| format!(" ±{:.0}%", u * 100.0))
        .unwrap_or_default()
}

fn prov(p: Provenance, u: Option<f64>) -> String {
    format!("{p}{}", band(u))
}

/// The measurement table: one row per component, then the total and the process tree.
pub fn measurement(m: &Measurement) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "  {:<18} {:<11} {:>12} {:>12} {:>10} {:>10}  {:<16} sensor",
        "component", "kind", "energy", "kWh", "avg", "peak", "provenance"
    );
    for c in &m.components {
        let energy = c
            .energy
            .map(|e| format!("{e:.2}"))
            .unwrap_or_else(|| "no reading".into());
        let kwh = c
            .energy
            .map(|e| format!("{:.3e}", e.kwh()))
            .unwrap_or_default();
        let avg = c.avg_power.map(|p| format!("{p:.1}")).unwrap_or_default();
        let peak = c.peak_power.map(|p| format!("{p:.1}")).unwrap_or_default();
        let mut note = c.component.sensor.clone();
        if let Some(w) = &c.component.within {
            note = format!("not added ({w}); {note}");
        }
        if let (Some(i), Some(d)) = (c.integrated_energy, c.disagreement) {
            let _ = write!(
                note,
                "; power samples integrate to {i:.2} ({:+.1}%)",
                d * 100.0
            );
        }
        let _ = writeln!(
            s,
            "  {:<18} {:<11} {:>12} {:>12} {:>10} {:>10}  {:<16} {}",
            c.component.id,
            c.component.kind.as_str(),
            energy,
            kwh,
            avg,
            peak,
            prov(c.component.provenance, c.component.uncertainty),
            note
        );
    }
    let _ = writeln!(
        s,
        "  {:<18} {:<11} {:>12} {:>12} {:>10} {:>10}  {:<16}",
        "total",
        "",
        format!("{:.2}", m.energy),
        format!("{:.3e}", m.energy.kwh()),
        format!("{:.1}", m.avg_power),
        m.peak_power.map(|p| format!("{p:.1}")).unwrap_or_default(),
        prov(m.provenance, m.uncertainty),
    );
    if let Some(p) = &m.process {
        let _ = writeln!(
            s,
            "  process tree (pid {}): {:.2} ({:.1}% of the total), {:.2} s of CPU time = {:.1}% of the machine's busy CPU time; {}",
            p.pid,
            p.energy,
            if m.energy.joules() > 0.0 { 100.0 * (p.energy / m.energy) } else { 0.0 },
            p.cpu_time.as_secs_f64(),
            100.0 * p.cpu_share,
            p.provenance
        );
    }
    if let Some(u) = m.cpu_utilisation {
        let _ = writeln!(s, "  machine CPU utilisation: {:.1}%", u * 100.0);
    }
    for miss in &m.missing {
        let _ = writeln!(s, "  not measured: {} ({})", miss.kind, miss.reason);
    }
    if m.read_errors > 0 {
        let _ = writeln!(
            s,
            "  warning: {} sensor reads failed; previous values were kept",
            m.read_errors
        );
    }
    s
}

/// `greenai detect` in words.
pub fn detect(r: &DetectReport) -> String {
    let mut s = String::new();
    for i in &r.interfaces {
        let _ = writeln!(
            s,
            "{:<9} {}",
            i.interface,
            if i.available {
                "available"
            } else {
                "not available"
            }
        );
        for n in &i.notes {
            let _ = writeln!(s, "          {n}");
        }
        if let Some(f) = &i.fix {
            let _ = writeln!(s, "          fix: {f}");
        }
        for c in &i.components {
            let _ = writeln!(
                s,
                "          {:<18} {:<11} {:<16} {}{}",
                c.id,
                c.kind.as_str(),
                prov(c.provenance, c.uncertainty),
                c.sensor,
                c.within
                    .as_ref()
                    .map(|w| format!(" [not added: {w}]"))
                    .unwrap_or_default()
            );
        }
    }
    if let Some(m) = &r.model {
        let _ = writeln!(
            s,
            "\nmodel: CPU {:?}, {} logical CPUs, {}, idle share {}; {:.1} GiB of RAM",
            m.cpu_model,
            m.logical_cpus,
            match &m.tdp_entry {
                Some(e) => format!("TDP {} W ({e})", m.cpu_max_power_w),
                None => format!(
                    "no TDP entry: {} W assumed (4 W per logical CPU)",
                    m.cpu_max_power_w
                ),
            },
            m.idle_share,
            m.memory_gib
        );
    }
    let counted: Vec<String> = r
        .components
        .iter()
        .filter(|c| c.counted)
        .map(|c| format!("{} ({})", c.id, c.provenance))
        .collect();
    let _ = writeln!(s, "\ngreenai will add up: {}", counted.join(", "));
    for m in &r.missing {
        let _ = writeln!(s, "not measured: {} ({})", m.kind, m.reason);
    }
    if !r.can_measure() {
        let _ = writeln!(
            s,
            "greenai cannot measure this machine, not even by estimate."
        );
    }
    s
}
