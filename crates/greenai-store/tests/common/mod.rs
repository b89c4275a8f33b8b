//! Runs and samples the store's tests record.
#![allow(dead_code)]

use greenai_meter::{Component, ComponentKind, Provenance, Reading, Sample};
use greenai_store::{HostInfo, RunStart};
use greenai_units::{Energy, Power};
use std::collections::BTreeMap;
use std::time::Duration;

pub fn component(id: &str, kind: ComponentKind, counted: bool) -> Component {
    Component {
        id: id.into(),
        kind,
        sensor: format!("test:{id}"),
        provenance: Provenance::Measured,
        uncertainty: None,
        counted,
        within: None,
    }
}

pub fn start(id: &str) -> RunStart {
    RunStart {
        run_id: id.into(),
        project_name: "p".into(),
        command: "train --fast".into(),
        argv: vec!["train".into(), "--fast".into()],
        labels: BTreeMap::from([("team".into(), "green".into())]),
        started_unix_s: 1_795_829_186.0,
        interval_s: 0.1,
        host: HostInfo {
            os: "Linux-test".into(),
            cpu_count: 2,
            ..Default::default()
        },
        components: vec![
            component("cpu-package-0", ComponentKind::CpuPackage, true),
            component("cpu-core-0", ComponentKind::CpuCore, false),
            component("gpu-amd-0", ComponentKind::Gpu, true),
        ],
        missing: vec![],
        carbon: greenai_carbon::CarbonSettings {
            region: Some("FR".into()),
            ..Default::default()
        },
    }
}

/// Sample `i` of a run whose package uses 10 W (counter) and whose GPU draws 50 W (power only).
pub fn sample(i: u32) -> Sample {
    let t = i as f64 * 0.5;
    Sample {
        elapsed: Duration::from_secs_f64(t),
        unix_s: 1_795_829_186.0 + t,
        readings: vec![
            Reading {
                energy: Some(Energy::from_joules(100.0 + 10.0 * t)),
                ..Default::default()
            },
            Reading {
                energy: Some(Energy::from_joules(7.0 * t)),
                ..Default::default()
            },
            Reading {
                power: Some(Power::from_watts(50.0)),
                ..Default::default()
            },
        ],
        total_power: Power::from_watts(60.0),
    }
}
