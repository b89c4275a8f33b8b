//! What the monitor hands out: samples of every component, and measurements of windows.

use crate::component::{Component, ComponentKind, Missing, Provenance, Reading, MODEL_SENSOR};
use crate::faults::Fault;
use greenai_units::{Energy, Power};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One reading of every component at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Time since the monitor started.
    #[serde(with = "secs", rename = "elapsed_s")]
    pub elapsed: Duration,
    /// Wall-clock time, seconds since the Unix epoch.
    pub unix_s: f64,
    /// One entry per [`Monitor::components`], in that order. `power` is the sensor's own reading,
    /// else the counter's rate since the previous sample.
    pub readings: Vec<Reading>,
    /// The sum of the counted components' power.
    pub total_power: Power,
}

/// What one component used during a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentMeasurement {
    #[serde(flatten)]
    pub component: Component,
    /// `None` when the sensor gave no reading in the window (never shown as 0 J).
    pub energy: Option<Energy>,
    pub avg_power: Option<Power>,
    pub peak_power: Option<Power>,
    /// The integral of the sensor's power readings, where it has both a counter and power
    /// readings (NVML on Volta and newer).
    pub integrated_energy: Option<Energy>,
    /// `(integrated − counter) / counter`: how far the two disagree.
    pub disagreement: Option<f64>,
    /// Mean utilisation in 0..=1, where the sensor reports one.
    pub utilisation: Option<f64>,
    /// The tracked process tree's share of this component, where attribution ran.
    pub process_share: Option<f64>,
}

/// The tracked process tree's part of a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessMeasurement {
    pub pid: u32,
    /// The tree's CPU time over the machine's busy CPU time.
    pub cpu_share: f64,
    /// The tree's CPU time in the window.
    #[serde(with = "secs", rename = "cpu_time_s")]
    pub cpu_time: Duration,
    pub energy: Energy,
    pub provenance: Provenance,
}

/// What a window used: per component, in total, and for the tracked process tree.
///
/// `energy` adds the counted components only, so nested and duplicate readings are never summed
/// twice; `provenance` is the least direct of theirs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    pub name: String,
    pub start_unix_s: f64,
    #[serde(with = "secs", rename = "duration_s")]
    pub duration: Duration,
    #[serde(rename = "energy_j")]
    pub energy: Energy,
    pub provenance: Provenance,
    /// Relative uncertainty of `energy` (the sum of the parts' absolute bands), where any part has
    /// one.
    pub uncertainty: Option<f64>,
    #[serde(rename = "avg_power_w")]
    pub avg_power: Power,
    #[serde(rename = "peak_power_w")]
    pub peak_power: Option<Power>,
    pub components: Vec<ComponentMeasurement>,
    /// Components that no sensor covers, with the reason.
    pub missing: Vec<Missing>,
    /// Machine CPU utilisation (busy / total CPU time) over the window: the CPU's RUR.
    pub cpu_utilisation: Option<f64>,
    pub process: Option<ProcessMeasurement>,
    /// Samples taken in the window, its two edges included.
    pub samples: u32,
    /// Sensor reads that failed during the window (their previous values were kept).
    pub read_errors: u32,
    /// Faults in the window, per component and kind: never counted as measurements.
    #[serde(default)]
    pub faults: Vec<Fault>,
}

impl Measurement {
    /// The counted components of one kind, summed; `None` when no counted component of that kind
    /// had a reading.
    pub fn energy_of(&self, kind: ComponentKind) -> Option<Energy> {
        let parts: Vec<Energy> = self
            .components
            .iter()
            .filter(|c| c.component.counted && c.component.kind == kind)
            .filter_map(|c| c.energy)
            .collect();
        (!parts.is_empty()).then(|| parts.into_iter().sum())
    }

    /// The model's figure beside the sensors' for the same window, where the model ran beside
    /// them (its components present but not counted): see [`ModelCheck`].
    pub fn model_check(&self) -> Option<ModelCheck> {
        let is_model = |c: &ComponentMeasurement| c.component.sensor.starts_with(MODEL_SENSOR);
        let shadow: Vec<&ComponentMeasurement> = self
            .components
            .iter()
            .filter(|c| is_model(c) && !c.component.counted && c.energy.is_some())
            .collect();
        if shadow.is_empty() {
            return None;
        }
        let kinds: Vec<ComponentKind> = shadow.iter().map(|c| c.component.kind).collect();
        let measured: Vec<&ComponentMeasurement> = self
            .components
            .iter()
            .filter(|c| {
                !is_model(c)
                    && c.component.counted
                    && c.energy.is_some()
                    && (kinds.contains(&c.component.kind)
                        || c.component.kind == ComponentKind::Platform)
            })
            .collect();
        if measured.is_empty() {
            return None;
        }
        let sum =
            |cs: &[&ComponentMeasurement]| -> Energy { cs.iter().filter_map(|c| c.energy).sum() };
        let estimated = sum(&shadow);
        let measured_e = sum(&measured);
        let band: f64 = shadow
            .iter()
            .filter_map(|c| Some(c.energy?.joules() * c.component.uncertainty?))
            .sum();
        let ids = |cs: &[&ComponentMeasurement]| {
            cs.iter()
                .map(|c| c.component.id.clone())
                .collect::<Vec<_>>()
        };
        let difference = (measured_e.joules() > 0.0)
            .then(|| (estimated.joules() - measured_e.joules()) / measured_e.joules());
        Some(ModelCheck {
            estimated,
            estimated_components: ids(&shadow),
            uncertainty: (estimated.joules() > 0.0).then(|| band / estimated.joules()),
            measured: measured_e,
            measured_components: ids(&measured),
            measured_provenance: measured
                .iter()
                .map(|c| c.component.provenance)
                .max()
                .unwrap_or(Provenance::Measured),
            difference,
            within_band: (estimated.joules() - measured_e.joules()).abs() <= band,
        })
    }
}

/// The model's estimate for a window beside what the sensors measured in it: on a machine with
/// RAPL (or a whole-system meter) the model runs too, its figure is kept but not added, and every
/// run says how far the estimate a machine without sensors would have been given is from the
/// measurement. The model's CPU figure is wall power per vCPU (SPECpower's), so against RAPL's
/// package and DRAM domains it is expected to run high by the rest of the server (power supply,
/// fans, board); against a whole-system meter the two cover the same thing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCheck {
    #[serde(rename = "estimated_j")]
    pub estimated: Energy,
    pub estimated_components: Vec<String>,
    /// The model's stated band, relative to `estimated`.
    pub uncertainty: Option<f64>,
    #[serde(rename = "measured_j")]
    pub measured: Energy,
    /// The counted sensor components of the kinds the model covered (a whole-platform reading
    /// stands for all of them).
    pub measured_components: Vec<String>,
    /// `measured`, or `estimated` where a fault was bridged in the measured figure.
    pub measured_provenance: Provenance,
    /// `(estimated − measured) / measured`; `None` when nothing was measured.
    pub difference: Option<f64>,
    /// The measurement lies inside the model's stated band.
    pub within_band: bool,
}

pub(crate) mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom)
    }
}
