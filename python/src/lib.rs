//! `greenai._greenai`: the Rust side of greenai's Python package.
//!
//! [`Meter`] owns a running [`greenai_meter::Monitor`] (whose sampling thread never touches
//! Python), and, when recording, a run in the same SQLite database the CLI uses. Measurements
//! cross into Python as JSON text, which `greenai/__init__.py` turns into dataclasses; every
//! blocking call releases the GIL.

use greenai_carbon::{CarbonReport, CarbonSettings};
use greenai_meter::{detect, Measurement, Monitor};
use greenai_store::{ComponentReport, SessionOptions};
use pyo3::create_exception;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

create_exception!(
    greenai,
    GreenaiError,
    PyRuntimeError,
    "An error from greenai, with the same message the greenai command prints."
);

fn err(e: impl std::fmt::Display) -> PyErr {
    GreenaiError::new_err(e.to_string())
}

/// The window that spans a meter's whole life, for its run record.
/// The store's session (detection, monitor, recording, carbon) and the windows Python opened.
struct Session {
    inner: greenai_store::Session,
    monitor: Arc<Monitor>,
    open: Vec<String>,
}

/// A measurement as JSON: the run report's component shape, plus carbon where known.
fn measurement_json(m: &Measurement, carbon: Option<&CarbonReport>) -> String {
    let mut v = serde_json::json!({
        "name": m.name,
        "start_unix_s": m.start_unix_s,
        "duration_s": m.duration.as_secs_f64(),
        "energy_j": m.energy.joules(),
        "energy_kwh": m.energy.kwh(),
        "avg_power_w": m.avg_power.watts(),
        "peak_power_w": m.peak_power.map(|p| p.watts()),
        "provenance": m.provenance,
        "uncertainty": m.uncertainty,
        "components": m.components.iter().map(ComponentReport::from).collect::<Vec<_>>(),
        "process_energy_j": m.process.as_ref().map(|p| p.energy.joules()),
        "process_cpu_time_s": m.process.as_ref().map(|p| p.cpu_time.as_secs_f64()),
        "cpu_utilisation": m.cpu_utilisation,
        "missing": m.missing,
        "faults": m.faults,
        "samples": m.samples,
    });
    if let (Some(c), Some(obj)) = (carbon, v.as_object_mut()) {
        if let Ok(serde_json::Value::Object(cm)) = serde_json::to_value(c) {
            obj.extend(cm);
        }
    }
    v.to_string()
}

/// The Rust half of `greenai.Meter`; use `greenai.Meter`, which adds the context manager.
#[pyclass(module = "greenai._greenai")]
struct Meter {
    session: Mutex<Option<Session>>,
}

impl Meter {
    fn with_session<T>(&self, f: impl FnOnce(&mut Session) -> PyResult<T>) -> PyResult<T> {
        let mut guard = self
            .session
            .lock()
            .map_err(|_| err("the meter's lock was poisoned"))?;
        match guard.as_mut() {
            Some(s) => f(s),
            None => Err(err("this meter is closed")),
        }
    }
}

#[pymethods]
impl Meter {
    #[new]
    #[pyo3(signature = (interval=0.1, region=None, db=None, record=true, project="python".to_string(),
                        argv=Vec::new(), pue=None, erf=None, intensity=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        interval: f64,
        region: Option<String>,
        db: Option<PathBuf>,
        record: bool,
        project: String,
        argv: Vec<String>,
        pue: Option<f64>,
        erf: Option<f64>,
        intensity: Option<f64>,
    ) -> PyResult<Self> {
        if !(interval.is_finite() && interval > 0.0) {
            return Err(err(format!(
                "sampling interval {interval} s is outside 1 ms ..= 60 s"
            )));
        }
        let settings = CarbonSettings {
            region,
            intensity_g_per_kwh: intensity,
            pue,
            erf,
            ..Default::default()
        };
        let session = py
            .detach(move || -> Result<Session, String> {
                let mut opts = SessionOptions::new(&project, settings, None);
                opts.db = record.then(|| db.unwrap_or_else(greenai_store::default_path));
                opts.argv = argv;
                opts.labels = BTreeMap::from([("source".to_string(), "python".to_string())]);
                opts.interval = Duration::from_secs_f64(interval);
                opts.track_pid = Some(std::process::id());
                let inner = greenai_store::Session::start(opts).map_err(|e| e.to_string())?;
                Ok(Session {
                    monitor: Arc::clone(inner.monitor()),
                    inner,
                    open: Vec::new(),
                })
            })
            .map_err(err)?;
        Ok(Meter {
            session: Mutex::new(Some(session)),
        })
    }

    /// Opens a window named `name`, reading every counter now.
    fn begin_window(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        self.with_session(|s| {
            let monitor = Arc::clone(&s.monitor);
            py.detach(|| monitor.begin_window(name)).map_err(err)?;
            s.open.push(name.to_string());
            Ok(())
        })
    }

    /// Closes the window named `name` and returns its measurement as JSON.
    fn end_window(&self, py: Python<'_>, name: &str) -> PyResult<String> {
        self.with_session(|s| {
            let monitor = Arc::clone(&s.monitor);
            let m = py.detach(|| monitor.end_window(name)).map_err(err)?;
            s.open.retain(|n| n != name);
            let carbon = s.inner.carbon(&m);
            Ok(measurement_json(&m, Some(&carbon)))
        })
    }

    /// Names of the windows still open, oldest first.
    fn open_windows(&self) -> PyResult<Vec<String>> {
        self.with_session(|s| Ok(s.open.clone()))
    }

    /// The run id in the database, when recording.
    #[getter]
    fn run_id(&self) -> PyResult<Option<String>> {
        self.with_session(|s| Ok(s.inner.run_id().map(str::to_string)))
    }

    /// The warning about the carbon intensity (no region: the world average), if any.
    #[getter]
    fn carbon_warning(&self) -> PyResult<Option<String>> {
        self.with_session(|s| Ok(s.inner.resolved().warning.clone()))
    }

    /// Closes every open window, stops sampling, stores the run, and returns the whole session's
    /// measurement as JSON, and the JSON of each window that was still open.
    fn close(&self, py: Python<'_>) -> PyResult<(String, Vec<(String, String)>)> {
        let session = self
            .session
            .lock()
            .map_err(|_| err("the meter's lock was poisoned"))?
            .take()
            .ok_or_else(|| err("this meter is closed"))?;
        py.detach(move || -> Result<(String, Vec<(String, String)>), String> {
            let mut left = Vec::new();
            for name in session.open.iter().rev() {
                if let Ok(m) = session.monitor.end_window(name) {
                    let c = session.inner.carbon(&m);
                    left.push((name.clone(), measurement_json(&m, Some(&c))));
                }
            }
            let end = session.inner.finish(0, None).map_err(|e| e.to_string())?;
            if let Some(e) = end.store_error {
                return Err(e);
            }
            let (m, carbon) = (end.measurement, end.carbon);
            Ok((measurement_json(&m, Some(&carbon)), left))
        })
        .map_err(err)
    }
}

/// `greenai detect --json`, as a JSON string.
#[pyfunction]
fn detect_json(py: Python<'_>) -> PyResult<String> {
    let report = py.detach(|| detect::discover(greenai_meter::DiscoverOptions::from_env()).report);
    serde_json::to_string(&report).map_err(err)
}

/// The default database path (`$GREENAI_DB`, else `~/.local/share/greenai/greenai.sqlite`).
#[pyfunction]
fn default_db() -> String {
    greenai_store::default_path().display().to_string()
}

#[pymodule]
fn _greenai(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Meter>()?;
    m.add_function(wrap_pyfunction!(detect_json, m)?)?;
    m.add_function(wrap_pyfunction!(default_db, m)?)?;
    m.add("GreenaiError", m.py().get_type::<GreenaiError>())?;
    Ok(())
}
