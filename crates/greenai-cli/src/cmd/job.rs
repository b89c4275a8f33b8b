//! A job greenai runs in its own process (train, eval, predict): metered from start to end in one
//! window, recorded as a run in the database (unless `--no-store`), with the carbon worked out
//! the same way as for `greenai run`.

use crate::cli::JobArgs;
use anyhow::{bail, Context};
use greenai_carbon::{CarbonReport, CarbonSettings, Resolved};
use greenai_meter::{detect, Measurement, Monitor};
use greenai_store::{Finished, Recording, RunStart};
use std::collections::BTreeMap;
use std::path::Path;

const WINDOW: &str = "job";

/// Run labels from string pairs.
pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl JobArgs {
    /// The engine's runner for these threads and batch size.
    pub fn runner(&self) -> greenai_nn::train::Runner<'static> {
        greenai_nn::train::Runner {
            threads: self.threads,
            batch: self.batch,
            ..greenai_nn::train::Runner::default()
        }
    }
}

pub struct Job {
    pub meter: Monitor,
    recording: Option<Recording>,
    settings: CarbonSettings,
    resolved: Resolved,
    db: std::path::PathBuf,
}

/// How a job ended: its whole measurement, carbon, and where it was recorded.
pub struct JobEnd {
    pub measurement: Measurement,
    pub carbon: CarbonReport,
    pub run_id: Option<String>,
}

impl Job {
    /// Checks the arguments, opens the database and starts the meter; fails before any work is
    /// done.
    pub fn start(
        args: &JobArgs,
        db: &Path,
        labels: BTreeMap<String, String>,
    ) -> anyhow::Result<Job> {
        if args.threads == 0 || args.batch == 0 {
            bail!("--threads and --batch must be at least 1");
        }
        let settings = args.carbon.settings();
        let resolved = settings.resolve()?;
        let (builder, detected) = detect::machine_builder();
        let builder = builder.interval(args.interval);
        let (recording, builder) = if args.no_store {
            (None, builder)
        } else {
            let store = super::open_store(db)?;
            let start = RunStart::new(
                &args.project,
                std::env::args().collect(),
                labels,
                args.interval,
                &detected,
                &builder,
                settings.clone(),
            );
            let (r, b) = Recording::begin(store, start, builder)?;
            (Some(r), b)
        };
        let meter = builder
            .start()
            .context("starting the energy monitor (see `greenai detect`)")?;
        meter.begin_window(WINDOW)?;
        Ok(Job {
            meter,
            recording,
            settings,
            resolved,
            db: db.to_path_buf(),
        })
    }

    /// Adds a label to the recorded run (stored when it finishes).
    pub fn label(&mut self, key: &str, value: impl ToString) {
        if let Some(r) = &mut self.recording {
            r.set_label(key, value.to_string());
        }
    }

    /// Ends the job's window and stores the run. A failure to store is a warning: the figures
    /// are still returned and printed.
    pub fn finish(self) -> anyhow::Result<JobEnd> {
        let m = self.meter.end_window(WINDOW)?;
        let (carbon, run_id) = match self.recording {
            Some(rec) => {
                let Finished {
                    report,
                    samples,
                    stored,
                } = rec.finish(&m, 0, None, &self.resolved);
                match (&stored, &samples.first_error) {
                    (Ok(()), None) => {}
                    (Err(e), _) => eprintln!(
                        "greenai: warning: the run was not stored in {} ({e}); the report is complete",
                        self.db.display()
                    ),
                    (Ok(()), Some(e)) => eprintln!(
                        "greenai: warning: {} samples were not stored ({e}); the totals are complete",
                        samples.lost
                    ),
                }
                let carbon = report.carbon.clone().unwrap_or_else(|| {
                    greenai_carbon::assess(
                        &self.settings,
                        &self.resolved,
                        m.energy,
                        m.duration,
                        &[],
                    )
                });
                (carbon, stored.is_ok().then_some(report.run_id))
            }
            None => (
                greenai_carbon::assess(&self.settings, &self.resolved, m.energy, m.duration, &[]),
                None,
            ),
        };
        if let Some(w) = &self.resolved.warning {
            eprintln!("greenai: warning: {w}");
        }
        Ok(JobEnd {
            measurement: m,
            carbon,
            run_id,
        })
    }
}
