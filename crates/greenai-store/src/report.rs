//! The record of one run: what `greenai run --json` prints and what the database keeps.

use crate::timefmt;
use greenai_carbon::{CarbonReport, CarbonSettings};
use greenai_meter::{
    Component, ComponentMeasurement, Measurement, Missing, ModelCheck, Provenance,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One component in a run report. Field names are a stable interface (README, "JSON report").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentReport {
    pub name: String,
    pub kind: String,
    /// `null` when the sensor gave no reading: never 0 for "unknown".
    pub energy_j: Option<f64>,
    pub avg_power_w: Option<f64>,
    pub peak_power_w: Option<f64>,
    pub provenance: Provenance,
    pub sensor: String,
    pub uncertainty: Option<f64>,
    pub counted: bool,
    pub within: Option<String>,
    pub integrated_energy_j: Option<f64>,
    pub disagreement: Option<f64>,
}

impl From<&ComponentMeasurement> for ComponentReport {
    fn from(c: &ComponentMeasurement) -> Self {
        ComponentReport {
            name: c.component.id.clone(),
            kind: c.component.kind.as_str().to_string(),
            energy_j: c.energy.map(|e| e.joules()),
            avg_power_w: c.avg_power.map(|p| p.watts()),
            peak_power_w: c.peak_power.map(|p| p.watts()),
            provenance: c.component.provenance,
            sensor: c.component.sensor.clone(),
            uncertainty: c.component.uncertainty,
            counted: c.component.counted,
            within: c.component.within.clone(),
            integrated_energy_j: c.integrated_energy.map(|e| e.joules()),
            disagreement: c.disagreement,
        }
    }
}

/// What greenai knows of the machine a run ran on (CodeCarbon's host columns).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    pub hostname: String,
    /// `Linux-6.1.0-amd64-x86_64`, in the spirit of Python's `platform.platform()`.
    pub os: String,
    pub cpu_model: String,
    pub cpu_count: usize,
    pub ram_total_gb: f64,
    pub gpu_count: usize,
    pub gpu_model: String,
}

/// The report of one run. Field names are a stable interface (README, "JSON report").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub run_id: String,
    pub project_name: String,
    pub command: String,
    pub argv: Vec<String>,
    /// `null` for a run that never finished.
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub started_at: String,
    pub started_unix_s: f64,
    pub duration_s: f64,
    pub energy_j: f64,
    pub energy_kwh: f64,
    pub provenance: Provenance,
    pub uncertainty: Option<f64>,
    pub components: Vec<ComponentReport>,
    pub process_energy_j: Option<f64>,
    pub process_cpu_time_s: Option<f64>,
    pub process_cpu_share: Option<f64>,
    pub avg_power_w: f64,
    pub peak_power_w: Option<f64>,
    pub cpu_utilisation: Option<f64>,
    pub missing: Vec<Missing>,
    /// Sensor faults during the run, per component and kind (counter steps no hardware could
    /// make, absurd power readings, failed reads): bounded and reported, never counted as
    /// measurements.
    #[serde(default)]
    pub faults: Vec<greenai_meter::Fault>,
    /// Where sensors measured the run and the model ran beside them: the model's figure against
    /// the measurement, and the difference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_check: Option<ModelCheck>,
    pub labels: BTreeMap<String, String>,
    pub interval_s: f64,
    pub samples: u32,
    pub host: HostInfo,
    /// Carbon: gross and net emissions, the intensity used, its source and year, PUE, ERF, SCI.
    #[serde(flatten)]
    pub carbon: Option<CarbonReport>,
    /// A job's typed results (a training job's accuracy, training energy, ...), as the job wrote
    /// them; absent for a plain `greenai run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<serde_json::Value>,
    /// The run finished and was fully recorded. An incomplete run's figures cover what was
    /// stored before greenai stopped.
    pub complete: bool,
}

/// A new run id: 18 hex digits from the start time (µs), the process id and a per-process
/// counter, so ids sort by start time and two runs of one process never collide.
pub fn new_run_id() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as u64;
    format!(
        "{:012x}{:04x}{:02x}",
        us & 0xffff_ffff_ffff,
        std::process::id() & 0xffff,
        SEQ.fetch_add(1, Ordering::Relaxed) & 0xff
    )
}

/// What is known of a run when it starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStart {
    pub run_id: String,
    pub project_name: String,
    pub command: String,
    pub argv: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub started_unix_s: f64,
    pub interval_s: f64,
    pub host: HostInfo,
    pub components: Vec<Component>,
    pub missing: Vec<Missing>,
    pub carbon: CarbonSettings,
}

impl RunStart {
    /// The finished report from the run's measurement and how its command ended.
    pub fn finish(&self, m: &Measurement, exit_code: i32, signal: Option<i32>) -> RunReport {
        RunReport {
            run_id: self.run_id.clone(),
            project_name: self.project_name.clone(),
            command: self.command.clone(),
            argv: self.argv.clone(),
            exit_code: Some(exit_code),
            signal,
            started_at: timefmt::rfc3339(m.start_unix_s),
            started_unix_s: m.start_unix_s,
            duration_s: m.duration.as_secs_f64(),
            energy_j: m.energy.joules(),
            energy_kwh: m.energy.kwh(),
            provenance: m.provenance,
            uncertainty: m.uncertainty,
            components: m.components.iter().map(ComponentReport::from).collect(),
            process_energy_j: m.process.as_ref().map(|p| p.energy.joules()),
            process_cpu_time_s: m.process.as_ref().map(|p| p.cpu_time.as_secs_f64()),
            process_cpu_share: m.process.as_ref().map(|p| p.cpu_share),
            avg_power_w: m.avg_power.watts(),
            peak_power_w: m.peak_power.map(|p| p.watts()),
            cpu_utilisation: m.cpu_utilisation,
            missing: m.missing.clone(),
            faults: m.faults.clone(),
            model_check: m.model_check(),
            labels: self.labels.clone(),
            interval_s: self.interval_s,
            samples: m.samples,
            host: self.host.clone(),
            carbon: None,
            results: None,
            complete: true,
        }
    }
}

impl RunReport {
    /// Counted energy of the components of one kind (`cpu_package`, `dram`, `gpu`), or `None`
    /// when no counted component of that kind had a reading.
    pub fn energy_of(&self, kinds: &[&str]) -> Option<f64> {
        let parts: Vec<f64> = self
            .components
            .iter()
            .filter(|c| c.counted && kinds.contains(&c.kind.as_str()))
            .filter_map(|c| c.energy_j)
            .collect();
        (!parts.is_empty()).then(|| parts.iter().sum())
    }
}
