//! Text reports for people: every figure with its unit and its provenance.

use greenai_carbon::CarbonReport;
use greenai_meter::{DetectReport, Provenance};
use greenai_store::RunReport;
use greenai_units::{Emissions, Energy, Power};
use std::fmt::Write;

fn band(u: Option<f64>) -> String {
    u.map(|u| format!(" ±{:.0}%", u * 100.0))
        .unwrap_or_default()
}

fn prov(p: Provenance, u: Option<f64>) -> String {
    format!("{p}{}", band(u))
}

/// A run's report: one row per component, then the total and the process tree.
pub fn report(r: &RunReport) -> String {
    let mut s = String::new();
    if !r.complete {
        let _ = writeln!(
            s,
            "  run {} is INCOMPLETE: greenai stopped before it ended; figures cover the {} stored samples",
            r.run_id, r.samples
        );
    }
    let _ = writeln!(
        s,
        "  {:<18} {:<11} {:>12} {:>12} {:>10} {:>10}  {:<16} sensor",
        "component", "kind", "energy", "kWh", "avg", "peak", "provenance"
    );
    let j = |v: f64| format!("{:.2}", Energy::from_joules(v));
    let w = |v: f64| format!("{:.1}", Power::from_watts(v));
    for c in &r.components {
        let mut note = c.sensor.clone();
        if let Some(within) = &c.within {
            note = format!("not added ({within}); {note}");
        }
        if let (Some(i), Some(d)) = (c.integrated_energy_j, c.disagreement) {
            let _ = write!(
                note,
                "; power samples integrate to {} ({:+.1}%)",
                j(i),
                d * 100.0
            );
        }
        let _ = writeln!(
            s,
            "  {:<18} {:<11} {:>12} {:>12} {:>10} {:>10}  {:<16} {}",
            c.name,
            c.kind,
            c.energy_j.map(j).unwrap_or_else(|| "no reading".into()),
            c.energy_j
                .map(|e| format!("{:.3e}", Energy::from_joules(e).kwh()))
                .unwrap_or_default(),
            c.avg_power_w.map(w).unwrap_or_default(),
            c.peak_power_w.map(w).unwrap_or_default(),
            prov(c.provenance, c.uncertainty),
            note
        );
    }
    let _ = writeln!(
        s,
        "  {:<18} {:<11} {:>12} {:>12} {:>10} {:>10}  {:<16}",
        "total",
        "",
        j(r.energy_j),
        format!("{:.3e}", r.energy_kwh),
        w(r.avg_power_w),
        r.peak_power_w.map(w).unwrap_or_default(),
        prov(r.provenance, r.uncertainty),
    );
    if let Some(m) = &r.model_check {
        let _ = writeln!(
            s,
            "  model check: the estimate ({}) gives {}{} against {} {} ({}){}",
            m.estimated_components.join(" + "),
            j(m.estimated.joules()),
            band(m.uncertainty),
            m.measured_provenance,
            j(m.measured.joules()),
            m.measured_components.join(" + "),
            match m.difference {
                Some(d) => format!(
                    ": {:+.1}%, {} its band",
                    d * 100.0,
                    if m.within_band { "inside" } else { "outside" }
                ),
                None => String::new(),
            }
        );
    }
    if let (Some(e), Some(cpu), Some(share)) = (
        r.process_energy_j,
        r.process_cpu_time_s,
        r.process_cpu_share,
    ) {
        let _ = writeln!(
            s,
            "  process tree: {} ({:.1}% of the total), {cpu:.2} s of CPU time = {:.1}% of the machine's busy CPU time; estimated",
            j(e),
            if r.energy_j > 0.0 { 100.0 * e / r.energy_j } else { 0.0 },
            100.0 * share,
        );
    }
    if let Some(u) = r.cpu_utilisation {
        let _ = writeln!(s, "  machine CPU utilisation: {:.1}%", u * 100.0);
    }
    if let Some(c) = &r.carbon {
        s.push_str(&carbon(c));
    }
    for miss in &r.missing {
        let _ = writeln!(s, "  not measured: {} ({})", miss.kind, miss.reason);
    }
    for f in &r.faults {
        let _ = writeln!(s, "  fault: {}", f.describe());
    }
    s
}

/// The carbon lines of a report.
pub fn carbon(c: &CarbonReport) -> String {
    let mut s = String::new();
    let g = |v: f64| format!("{:.3}", Emissions::from_grams(v));
    let _ = writeln!(
        s,
        "  emissions: {} gross, {} net of heat reuse (ERF {}); PUE {}",
        g(c.emissions_g),
        g(c.net_emissions_g),
        c.erf,
        c.pue
    );
    let _ = writeln!(
        s,
        "  intensity: {:.1} gCO2e/kWh for {} ({}{}{})",
        c.intensity_g_per_kwh,
        c.region,
        c.intensity_source,
        c.intensity_year
            .map(|y| format!(", {y}"))
            .unwrap_or_default(),
        if c.intensity_mode == "time_resolved" {
            format!(
                "; integrated over the run, {:.0}% covered by the series",
                100.0 * c.intensity_coverage.unwrap_or(0.0)
            )
        } else {
            String::new()
        }
    );
    if let Some(m) = c.marginal_emissions_g {
        let _ = writeln!(s, "  at the marginal intensity: {}", g(m));
    }
    if let (Some(sci), Some(unit)) = (c.sci_g_per_unit, &c.functional_unit) {
        let _ = writeln!(
            s,
            "  SCI: {} per {unit}{}",
            g(sci),
            c.embodied_g
                .map(|e| format!(" (embodied share {})", g(e)))
                .unwrap_or_default()
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
            "\nmodel: CPU {:?}, {} logical CPUs, {}, idle share {:.2}; {:.1} GiB of RAM",
            m.cpu_model,
            m.logical_cpus,
            match (&m.tdp_entry, &m.curve_family) {
                (Some(e), _) => format!("TDP {} W ({e})", m.cpu_max_power_w),
                (None, Some(f)) => format!(
                    "no TDP entry: the {f} load-to-power curve, {:.2} W at full load",
                    m.cpu_max_power_w
                ),
                (None, None) => format!(
                    "no TDP entry: {} W assumed (4 W per logical CPU)",
                    m.cpu_max_power_w
                ),
            },
            m.idle_share,
            m.memory_gib
        );
        let _ = writeln!(
            s,
            "  CPU: {}{}{}",
            m.cpu_id,
            m.generation
                .as_ref()
                .map(|g| format!(", {g}"))
                .unwrap_or_else(|| ", generation not in greenai's table".into()),
            if m.virtual_machine {
                ", virtual machine"
            } else {
                ""
            }
        );
        if let Some(why) = &m.curve_why {
            let _ = writeln!(s, "  why that curve: {why}");
        }
        if let Some(c) = &m.cloud {
            let _ = writeln!(s, "  cloud: {c}");
        }
        if let Some(e) = &m.embodied {
            let _ = writeln!(
                s,
                "  embodied emissions by default (SCI's M, apart from operational): {}",
                e.source
            );
        }
    }
    for g in &r.gpus_visible {
        let _ = writeln!(s, "GPU on the PCI bus: {g}");
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

/// A grid row's notes column: `best`, `pareto`, `reused`, as they apply.
pub fn row_notes(best: bool, pareto: bool, reused: bool) -> String {
    [(best, "best"), (pareto, "pareto"), (reused, "reused")]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `greenai estimate`'s answer in words.
pub fn estimate(e: &greenai_meter::hardware::Estimate) -> String {
    let mut s = format!(
        "CPU power at {:.0} % load: {:.2} W (estimated, ±{:.0} %: {:.2} to {:.2} W)\n  model: {}\n  basis: {}\n",
        e.load * 100.0,
        e.watts,
        e.uncertainty * 100.0,
        e.low_w,
        e.high_w,
        e.model,
        e.why
    );
    if let (Some(m), Some(g)) = (&e.embodied, e.embodied_g_per_hour) {
        s.push_str(&format!(
            "  embodied (SCI's M, apart from operational): {:.3} gCO2e per hour of use ({})\n",
            g, m.source
        ));
    }
    s
}

/// `greenai estimate --validate`: the leave-one-out figures, overall and family by family.
pub fn validation(v: &greenai_meter::hardware::specpower::Validation) -> String {
    let mut s = format!(
        "SPECpower_ssj2008 results held out of their family's fit, one at a time: {} servers ({} points, {} left out: family too small without them)\n\
         error |predicted − measured| ÷ measured: median {:.1} %, 90th percentile {:.1} %; band covers {:.1} % of the points\n\n\
         {:<22} {:>7} {:>9} {:>9} {:>9} {:>7}\n",
        v.servers,
        v.points,
        v.skipped,
        v.median_error * 100.0,
        v.p90_error * 100.0,
        v.coverage * 100.0,
        "family",
        "servers",
        "median %",
        "p90 %",
        "covered %",
        "band %"
    );
    for f in v.by_family() {
        s.push_str(&format!(
            "{:<22} {:>7} {:>9.1} {:>9.1} {:>9.1} {:>7.0}\n",
            f.family,
            f.servers,
            f.median_error * 100.0,
            f.p90_error * 100.0,
            f.coverage * 100.0,
            f.uncertainty * 100.0
        ));
    }
    s
}

/// What the cloud's metadata service said (`greenai detect --cloud-metadata`).
pub fn cloud_metadata(a: &Result<greenai_meter::hardware::CloudSummary, String>) -> String {
    match a {
        Err(e) => format!("\ncloud metadata: {e}\n"),
        Ok(c) => {
            let mut s = format!(
                "\ncloud metadata: {} {}{}\n",
                c.provider,
                c.instance.as_deref().unwrap_or("?"),
                if c.known {
                    ""
                } else {
                    " (not in the bundled table: no curve or embodied figure for it)"
                }
            );
            if let Some(f) = c.curve_family {
                s.push_str(&format!(
                    "  its CPU family: {f} (greenai estimate --family \"{f}\" asks its curve)\n"
                ));
            }
            if let Some(e) = &c.embodied {
                s.push_str(&format!("  its embodied default: {}\n", e.source));
            }
            s
        }
    }
}
