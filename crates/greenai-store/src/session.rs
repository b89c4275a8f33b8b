//! A measured piece of work from sensor detection to its carbon: the one lifecycle that
//! `greenai run`, every engine job (train, eval, transfer, compare's configurations) and the
//! Python meter share.
//!
//! [`Session::start`] resolves the carbon settings, detects the sensors, opens the database (when
//! recording), starts the monitor and opens the session's own window; [`Session::finish`] closes
//! it, stores the run with its typed results and works out the carbon once, from the energy series
//! the writer kept (never read back from SQLite).

use crate::error::{Result, StoreError};
use crate::recording::Recording;
use crate::report::{RunReport, RunStart};
use crate::writer::WriterOutcome;
use crate::Store;
use greenai_carbon::{CarbonReport, CarbonSettings, Resolved};
use greenai_meter::{detect, DetectReport, DiscoverOptions, Measurement, Monitor};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What a session measures and where it is recorded.
pub struct SessionOptions {
    /// The project the run is filed under (`runs list` shows it).
    pub project: String,
    /// The command line the run stands for.
    pub argv: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub interval: Duration,
    pub carbon: CarbonSettings,
    /// The run database; `None` measures without recording.
    pub db: Option<PathBuf>,
    /// Attribute energy to this process tree from the start (the Python meter: its own pid).
    pub track_pid: Option<u32>,
    /// Where sensors are discovered (fixture roots in tests; `from_env` otherwise).
    pub discover: DiscoverOptions,
}

impl SessionOptions {
    /// A recorded session of `project` with the given carbon settings, this process's argv and
    /// the default sensors.
    pub fn new(project: &str, carbon: CarbonSettings, db: Option<&Path>) -> SessionOptions {
        SessionOptions {
            project: project.to_string(),
            argv: std::env::args().collect(),
            labels: BTreeMap::new(),
            interval: greenai_meter::DEFAULT_INTERVAL,
            carbon,
            db: db.map(Path::to_path_buf),
            track_pid: None,
            discover: DiscoverOptions::from_env(),
        }
    }
}

/// How a session ended.
#[derive(Debug)]
pub struct SessionEnd {
    /// The session window's measurement.
    pub measurement: Measurement,
    /// The run's report, carbon included, whether or not it was stored.
    pub report: RunReport,
    /// Its carbon (also in `report.carbon`).
    pub carbon: CarbonReport,
    /// The run id where it was stored; `None` when not recording or when storing failed.
    pub run_id: Option<String>,
    /// What the caller should tell the user: a run not stored, samples lost, a carbon fallback.
    pub warnings: Vec<String>,
    /// Why the run, or some of its samples, were not stored (also in `warnings`).
    pub store_error: Option<String>,
}

/// A measured, recorded piece of work. See the module documentation.
pub struct Session {
    monitor: Arc<Monitor>,
    recording: Option<Recording>,
    start: RunStart,
    settings: CarbonSettings,
    resolved: Resolved,
    detected: DetectReport,
    db: Option<PathBuf>,
    results: Option<serde_json::Value>,
}

impl Session {
    /// The session's own window, open from start to finish.
    pub const WINDOW: &'static str = "\u{0}session";

    /// Checks everything that can fail for greenai's own reasons (carbon settings, the database,
    /// the sensors) before any work starts, then starts measuring.
    pub fn start(opts: SessionOptions) -> Result<Session> {
        let settings = opts.carbon.clone();
        let resolved = settings
            .resolve()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let discovery = detect::discover(opts.discover);
        let detected = discovery.report.clone();
        let builder = discovery.into_builder().interval(opts.interval);
        let start = RunStart::new(
            &opts.project,
            opts.argv.clone(),
            opts.labels.clone(),
            opts.interval,
            &detected,
            &builder,
            settings.clone(),
        );
        let keep_series = resolved.series.is_some();
        let (recording, builder) = match &opts.db {
            Some(db) => {
                let store = Store::open(db)?;
                let (r, b) = Recording::begin(store, start.clone(), builder, keep_series)?;
                (Some(r), b)
            }
            None => (None, builder),
        };
        let builder = match opts.track_pid {
            Some(pid) => builder.track_process(pid),
            None => builder,
        };
        let monitor = builder.start().map_err(|e| {
            StoreError::Invalid(format!(
                "starting the energy monitor (see `greenai detect`): {e}"
            ))
        })?;
        monitor
            .begin_window(Self::WINDOW)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        Ok(Session {
            monitor: Arc::new(monitor),
            recording,
            start,
            settings,
            resolved,
            detected,
            db: opts.db,
            results: None,
        })
    }

    /// The running monitor: open windows of your own inside the session's.
    pub fn monitor(&self) -> &Arc<Monitor> {
        &self.monitor
    }

    /// The session's energy so far (counted components).
    pub fn energy_so_far(&self) -> Option<greenai_units::Energy> {
        self.monitor.window_energy(Self::WINDOW)
    }

    /// The sensors found, and those missing with the reason.
    pub fn detected(&self) -> &DetectReport {
        &self.detected
    }

    /// Sensors that exist but could not start, or started without some of their parts (a
    /// root-only counter, a skipped zone), each with why and the fix: what a user should hear
    /// before the work starts. An interface this machine simply lacks is not among them.
    pub fn sensor_warnings(&self) -> Vec<String> {
        self.detected
            .interfaces
            .iter()
            .filter(|i| i.fix.is_some() || i.notes.iter().any(|n| n.starts_with("skipped:")))
            .map(|i| {
                let mut w = format!("{}: {}", i.interface, i.notes.join("; "));
                if let Some(fix) = &i.fix {
                    w.push_str(&format!(" (fix: {fix})"));
                }
                w
            })
            .collect()
    }

    /// The grid intensity in use, with its source (and a warning when it is a fallback).
    pub fn resolved(&self) -> &Resolved {
        &self.resolved
    }

    /// The run's id in the database, when recording.
    pub fn run_id(&self) -> Option<&str> {
        self.recording.as_ref().map(|_| self.start.run_id.as_str())
    }

    /// The carbon of a measurement taken inside this session (a window of the caller's).
    pub fn carbon(&self, m: &Measurement) -> CarbonReport {
        greenai_carbon::assess(&self.settings, &self.resolved, m.energy, m.duration, &[])
    }

    /// Adds or replaces a label (stored when the run finishes).
    pub fn label(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into();
        if let Some(r) = &mut self.recording {
            r.set_label(key, value.clone());
        }
        self.start.labels.insert(key.to_string(), value);
    }

    /// The job's typed results, stored with the run as a JSON document ([`RunReport::results`]),
    /// so that nothing parses numbers back out of labels.
    pub fn set_results<T: Serialize>(&mut self, results: &T) -> Result<()> {
        let v = serde_json::to_value(results)
            .map_err(|e| StoreError::Invalid(format!("job results: {e}")))?;
        self.results = Some(v);
        Ok(())
    }

    /// Closes the session's window, stores the run and works out its carbon. A failure to store
    /// is a warning in [`SessionEnd::warnings`]: the figures are still returned.
    pub fn finish(mut self, exit_code: i32, signal: Option<i32>) -> Result<SessionEnd> {
        let m = self
            .monitor
            .end_window(Self::WINDOW)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut warnings = Vec::new();
        let mut store_error = None;
        let results = self.results.take();
        let (report, run_id) = match self.recording.take() {
            Some(rec) => {
                let done = rec.finish(&m, exit_code, signal, &self.resolved, results);
                let db = self.db.as_deref().unwrap_or(Path::new("?")).display();
                match (&done.stored, &done.samples) {
                    (Err(e), _) => {
                        store_error = Some(e.to_string());
                        warnings.push(format!(
                            "the run was not stored in {db} ({e}); the report is complete"
                        ))
                    }
                    (
                        Ok(()),
                        WriterOutcome {
                            first_error: Some(e),
                            lost,
                            written,
                            ..
                        },
                    ) => {
                        store_error = Some(format!("{lost} samples were not stored: {e}"));
                        warnings.push(format!(
                            "{lost} of {} samples were not stored ({e}); the totals are complete",
                            lost + written
                        ))
                    }
                    _ => {}
                }
                let id = done.stored.is_ok().then(|| done.report.run_id.clone());
                (done.report, id)
            }
            None => {
                let mut report = self.start.finish(&m, exit_code, signal);
                report.carbon = Some(self.carbon(&m));
                report.results = results;
                (report, None)
            }
        };
        if let Some(w) = &self.resolved.warning {
            warnings.push(w.clone());
        }
        let carbon = report
            .carbon
            .clone()
            .expect("both paths above fill in the carbon");
        Ok(SessionEnd {
            measurement: m,
            report,
            carbon,
            run_id,
            warnings,
            store_error,
        })
    }

    /// Ends the session without keeping a run (the work never started).
    pub fn discard(self) {
        let _ = self.monitor.end_window(Self::WINDOW);
        if let Some(r) = self.recording {
            r.discard();
        }
    }
}
