//! Energy across a cluster: `increase()` of greenai's counters over a range, per node (Prometheus'
//! `instance`), each node's intensity and PUE applied.

use crate::prom::{Client, PromError};
use serde::Serialize;
use std::collections::BTreeMap;

/// What to total.
#[derive(Debug, Clone, PartialEq)]
pub enum Selector {
    /// A job: `slurm/42`, `k8s/<uid>`, or a bare Slurm job id.
    Job(String),
    /// A node's whole energy (an `instance` or its host part).
    Node(String),
    /// Jobs with a label `KEY=VALUE` (`slurm_job_name=train`).
    Label(String, String),
}

fn quote(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"")
}

impl Selector {
    /// The PromQL of the energy counter this selects.
    pub fn metric(&self) -> String {
        match self {
            Selector::Job(j) if j.contains('/') => {
                format!(
                    "greenai_job_energy_joules_total{{greenai_job=\"{}\"}}",
                    quote(j)
                )
            }
            Selector::Job(j) => format!(
                "greenai_job_energy_joules_total{{slurm_job_id=\"{}\"}}",
                quote(j)
            ),
            Selector::Node(n) => format!(
                "greenai_machine_energy_joules_total{{instance=~\"{}(:[0-9]+)?\"}}",
                quote(n).replace('.', "\\\\.")
            ),
            Selector::Label(k, v) => {
                format!("greenai_job_energy_joules_total{{{k}=\"{}\"}}", quote(v))
            }
        }
    }
}

/// A node's part.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeEnergy {
    pub node: String,
    pub energy_j: f64,
    pub provenance: String,
    pub g_per_kwh: f64,
    pub pue: f64,
    pub emissions_g: f64,
}

/// The total, per node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetEnergy {
    pub query: String,
    pub start_unix_s: f64,
    pub end_unix_s: f64,
    pub nodes: Vec<NodeEnergy>,
    pub energy_j: f64,
    pub emissions_g: f64,
    /// Partial answers, nodes without a grid, anything the totals do not cover.
    pub warnings: Vec<String>,
}

/// Where each node's electricity comes from: an intensity (gCO2e/kWh) and PUE per node, and the
/// default for the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct Grids {
    pub default: (f64, f64),
    pub nodes: BTreeMap<String, (f64, f64)>,
}

impl Grids {
    fn of(&self, node: &str) -> (f64, f64) {
        let host = node.split(':').next().unwrap_or(node);
        self.nodes
            .get(node)
            .or_else(|| self.nodes.get(host))
            .copied()
            .unwrap_or(self.default)
    }
}

/// The selected energy over `[start, end]` (unix seconds), per node.
pub fn energy(
    client: &Client,
    sel: &Selector,
    start: f64,
    end: f64,
    grids: &Grids,
) -> Result<FleetEnergy, PromError> {
    let range_ms = ((end - start) * 1e3).round().max(1.0) as u64;
    let query = format!(
        "sum by (instance, provenance) (increase({}[{range_ms}ms]))",
        sel.metric()
    );
    let answer = client.query(&query, end)?;
    let mut warnings = answer.warnings;
    let mut by_node: BTreeMap<String, (f64, String)> = BTreeMap::new();
    for p in answer.points {
        let node = p
            .labels
            .get("instance")
            .cloned()
            .unwrap_or_else(|| "?".into());
        let prov = p
            .labels
            .get("provenance")
            .cloned()
            .unwrap_or_else(|| "unknown".into());
        let e = by_node.entry(node).or_insert((0.0, prov.clone()));
        e.0 += p.value;
        if e.1 != prov {
            e.1 = "mixed".into();
        }
    }
    if by_node.is_empty() {
        warnings.push(format!(
            "no series matched {} between the two times: wrong name, or nothing exported it",
            sel.metric()
        ));
    }
    let nodes: Vec<NodeEnergy> = by_node
        .into_iter()
        .map(|(node, (e, provenance))| {
            let (g, pue) = grids.of(&node);
            NodeEnergy {
                emissions_g: e * pue / 3.6e6 * g,
                energy_j: e,
                provenance,
                g_per_kwh: g,
                pue,
                node,
            }
        })
        .collect();
    Ok(FleetEnergy {
        query,
        start_unix_s: start,
        end_unix_s: end,
        energy_j: nodes.iter().map(|n| n.energy_j).sum(),
        emissions_g: nodes.iter().map(|n| n.emissions_g).sum(),
        nodes,
        warnings,
    })
}
