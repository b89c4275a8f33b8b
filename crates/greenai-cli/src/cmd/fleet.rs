//! `greenai fleet`: a job's, node's or label's energy across a cluster, from Prometheus.

use crate::cli_fleet::{FleetArgs, FleetFormat};
use anyhow::{anyhow, bail};
use greenai_fleet::energy::{energy, Grids, Selector};
use greenai_fleet::prom::Client;
use greenai_sched::time::{local_zone, parse_when};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

fn intensity(region: &str) -> anyhow::Result<f64> {
    Ok(greenai_carbon::grid::lookup(region)?.intensity.g_per_kwh())
}

/// `-2h` and `+2h` from now, else what [`parse_when`] reads.
fn when(s: &str, now: f64) -> anyhow::Result<f64> {
    let tz = local_zone();
    if let Some(back) = s.strip_prefix('-') {
        let d = greenai_sched::time::parse_duration(back).map_err(|e| anyhow!(e))?;
        return Ok(now - d);
    }
    parse_when(s, now, &tz).map_err(|e| anyhow!(e))
}

pub fn fleet(args: FleetArgs) -> anyhow::Result<ExitCode> {
    let sel = match (&args.job, &args.node, &args.label) {
        (Some(j), _, _) => Selector::Job(j.clone()),
        (_, Some(n), _) => Selector::Node(n.clone()),
        (_, _, Some((k, v))) => {
            if !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                bail!("--label {k:?}: a Prometheus label name is letters, digits and _");
            }
            Selector::Label(k.clone(), v.clone())
        }
        _ => bail!("say what to total: --job ID, --node NAME or --label KEY=VALUE"),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs_f64();
    let start = when(&args.start, now).map_err(|e| anyhow!("--start: {e}"))?;
    let end = match &args.end {
        Some(e) => when(e, now).map_err(|e| anyhow!("--end: {e}"))?,
        None => now,
    };
    if end <= start {
        bail!("--end must come after --start");
    }
    let default_g = match &args.region {
        Some(r) => intensity(r)?,
        None => {
            eprintln!(
                "greenai: warning: no --region: the nodes' emissions use the {} g/kWh world average",
                greenai_carbon::grid::WORLD_AVERAGE.g_per_kwh()
            );
            greenai_carbon::grid::WORLD_AVERAGE.g_per_kwh()
        }
    };
    let mut nodes: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for (node, region) in &args.node_regions {
        nodes.entry(node.clone()).or_insert((default_g, args.pue)).0 = intensity(region)?;
    }
    for (node, pue) in &args.node_pues {
        let p = crate::parse::pue(pue).map_err(|e| anyhow!("--node-pue {node}: {e}"))?;
        nodes.entry(node.clone()).or_insert((default_g, args.pue)).1 = p;
    }
    let grids = Grids {
        default: (default_g, args.pue),
        nodes,
    };
    let client = Client::new(&args.prometheus, Duration::from_secs_f64(args.timeout));
    let r = energy(&client, &sel, start, end, &grids)?;
    match args.format {
        FleetFormat::Json => println!("{}", serde_json::to_string_pretty(&r)?),
        FleetFormat::Csv => {
            let mut w = csv::Writer::from_writer(std::io::stdout());
            w.write_record([
                "node",
                "energy_j",
                "energy_kwh",
                "provenance",
                "g_per_kwh",
                "pue",
                "emissions_g",
            ])?;
            for n in &r.nodes {
                w.write_record([
                    n.node.clone(),
                    format!("{}", n.energy_j),
                    format!("{}", n.energy_j / 3.6e6),
                    n.provenance.clone(),
                    format!("{}", n.g_per_kwh),
                    format!("{}", n.pue),
                    format!("{}", n.emissions_g),
                ])?;
            }
            w.flush()?;
        }
        FleetFormat::Table => {
            println!(
                "{:<28} {:>14} {:>12} {:>10} {:>5} {:>14}",
                "node", "energy", "provenance", "gCO2e/kWh", "PUE", "emissions"
            );
            for n in &r.nodes {
                println!(
                    "{:<28} {:>12.1} J {:>12} {:>10.0} {:>5.2} {:>11.3} g",
                    n.node, n.energy_j, n.provenance, n.g_per_kwh, n.pue, n.emissions_g
                );
            }
            println!(
                "{:<28} {:>12.1} J {:>12} {:>10} {:>5} {:>11.3} g",
                "total", r.energy_j, "", "", "", r.emissions_g
            );
        }
    }
    for w in &r.warnings {
        eprintln!("greenai: warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}
