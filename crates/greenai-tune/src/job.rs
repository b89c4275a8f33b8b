//! How an engine job is metered and recorded: [`JobSettings`] (threads, batch, where the run goes,
//! its carbon settings) turned into a [`Session`], and [`Progress`], the seam through which a job
//! tells a front end what it is doing (a progress bar, a log line) without printing itself.

use crate::error::Result;
use greenai_carbon::CarbonSettings;
use greenai_meter::Measurement;
use greenai_store::{Session, SessionOptions};
use greenai_units::Energy;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// How a job runs and where it is recorded.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// Threads for the forward and backward passes.
    pub threads: usize,
    /// Images per batch.
    pub batch: usize,
    /// The meter's sampling interval.
    pub interval: Duration,
    /// Project name of the recorded run.
    pub project: String,
    /// The run database; `None` does not record the run.
    pub db: Option<PathBuf>,
    /// Where jobs keep their files (feature caches, compare's checkpoints): beside the database.
    pub state_dir: PathBuf,
    pub carbon: CarbonSettings,
    /// The job's identity (Slurm's job, step and array task, a Kubernetes pod, `--label`),
    /// added to every run the job records; a job's own labels win over these.
    pub labels: BTreeMap<String, String>,
}

impl JobSettings {
    /// Refuses settings no job can run with, before anything is measured.
    pub fn check(&self) -> Result<()> {
        if self.threads == 0 || self.batch == 0 {
            crate::invalid!("--threads and --batch must be at least 1");
        }
        if self.threads > 1024 {
            crate::invalid!(
                "--threads {} is more than any machine greenai runs on",
                self.threads
            );
        }
        Ok(())
    }

    /// The engine's runner for these threads and batch size.
    pub fn runner(&self) -> greenai_nn::train::Runner<'static> {
        greenai_nn::train::Runner {
            threads: self.threads,
            batch: self.batch,
            ..greenai_nn::train::Runner::default()
        }
    }

    /// Starts the job's session: everything that can fail for greenai's own reasons fails here,
    /// before any work is done.
    pub fn start(&self, labels: BTreeMap<String, String>) -> Result<Session> {
        self.check()?;
        let mut opts = SessionOptions::new(&self.project, self.carbon.clone(), self.db.as_deref());
        opts.labels = self.labels.clone();
        opts.labels.extend(labels);
        opts.interval = self.interval;
        Ok(Session::start(opts)?)
    }
}

/// Run labels from string pairs.
pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Where a job's training stands, for a progress display.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    pub epoch: usize,
    pub epochs: usize,
    /// Samples done in this epoch, of `samples_per_epoch`.
    pub samples: usize,
    pub samples_per_epoch: usize,
    pub mean_loss: f64,
    pub train_accuracy: f64,
    /// The job's energy so far.
    pub energy: Option<Energy>,
}

/// What a job tells whoever runs it. Every method has a silent default.
pub trait Progress: Sync {
    /// A line for the person watching (a configuration starting, a stop and why).
    fn note(&self, _line: &str) {}
    /// Training progress within an epoch (called every batch: keep it cheap).
    fn step(&self, _s: &Step) {}
    /// An epoch of `epochs` ended.
    fn epoch(&self, _r: &crate::train::EpochReport, _epochs: usize) {}
    /// Whether the job should pause at the next epoch boundary (with a checkpoint to resume).
    fn pause_requested(&self) -> bool {
        false
    }
}

/// Tells the user what a finished session warns of: a run not stored, samples lost, a carbon
/// fallback, and every sensor fault (bounded, never counted as a measurement).
pub fn tell_end(progress: &dyn Progress, end: &greenai_store::SessionEnd) {
    for w in &end.warnings {
        progress.note(&format!("greenai: warning: {w}"));
    }
    for f in &end.measurement.faults {
        progress.note(&format!("greenai: warning: {}", f.describe()));
    }
}

/// A [`Progress`] that shows nothing.
pub struct Quiet;
impl Progress for Quiet {}

/// The uncertainty of a sum of measurements, as a fraction of the sum.
pub fn combined_uncertainty<'a>(ms: impl Iterator<Item = &'a Measurement>) -> Option<f64> {
    let (mut band, mut total) = (Some(0.0), 0.0);
    for m in ms {
        band = band.and_then(|b| m.uncertainty.map(|u| b + u * m.energy.joules()));
        total += m.energy.joules();
    }
    band.filter(|_| total > 0.0).map(|b| b / total)
}

/// The weakest provenance among a job's windows and its whole run (estimated when there are
/// none): a figure summed from them is only as good as its weakest part.
pub fn weakest_provenance<'a>(
    windows: impl IntoIterator<Item = &'a Measurement>,
    run: &'a Measurement,
) -> greenai_meter::Provenance {
    windows
        .into_iter()
        .chain([run])
        .map(|m| m.provenance)
        .max()
        .unwrap_or(greenai_meter::Provenance::Estimated)
}

/// The newest run in `store` labelled `label = key` whose stored results read as `T`: what a
/// grid reuses instead of training a configuration again. `(run id, provenance, results)`.
pub fn latest_results<T: serde::de::DeserializeOwned>(
    store: &greenai_store::Store,
    label: &str,
    key: &str,
) -> Result<Option<(String, Option<greenai_meter::Provenance>, T)>> {
    Ok(store
        .runs_labelled(label, key)?
        .into_iter()
        .rev()
        .find_map(|r| {
            let res: T = serde_json::from_value(r.results?).ok()?;
            Some((r.run_id, r.provenance, res))
        }))
}
