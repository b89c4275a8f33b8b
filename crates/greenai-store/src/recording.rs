//! A run being recorded, from its first row to its final report: what `greenai run` and the
//! Python meter both do.

use crate::db::Store;
use crate::error::Result;
use crate::report::{new_run_id, RunReport, RunStart};
use crate::writer::{SampleWriter, WriterOutcome};
use greenai_carbon::{CarbonSettings, Resolved};
use greenai_meter::{DetectReport, Measurement, MonitorBuilder};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often samples are committed: a killed greenai loses at most this much of its series.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// `argv` as one shell-quoted line.
pub fn command_line(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl RunStart {
    /// A run on this machine starting now, with the components `builder` will sample.
    pub fn new(
        project_name: &str,
        argv: Vec<String>,
        labels: BTreeMap<String, String>,
        interval: Duration,
        detected: &DetectReport,
        builder: &MonitorBuilder,
        carbon: CarbonSettings,
    ) -> RunStart {
        RunStart {
            run_id: new_run_id(),
            project_name: project_name.to_string(),
            command: command_line(&argv),
            argv,
            labels,
            started_unix_s: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64(),
            interval_s: interval.as_secs_f64(),
            host: crate::host::host_info(Path::new("/proc"), detected),
            components: builder.components().to_vec(),
            missing: detected.missing.clone(),
            carbon,
        }
    }
}

/// How a recording ended.
#[derive(Debug)]
pub struct Finished {
    /// The final report, carbon included (whether or not it was stored).
    pub report: RunReport,
    pub samples: WriterOutcome,
    pub stored: Result<()>,
}

/// A run's row in the database and the writer streaming its samples.
pub struct Recording {
    store: Store,
    writer: SampleWriter,
    start: RunStart,
}

impl Recording {
    /// Records `start` as a run (incomplete until [`Recording::finish`]) and routes `builder`'s
    /// samples into the database; `keep_series` keeps the energy series in memory too, for
    /// carbon over a time-resolved intensity.
    pub fn begin(
        store: Store,
        start: RunStart,
        builder: MonitorBuilder,
        keep_series: bool,
    ) -> Result<(Recording, MonitorBuilder)> {
        store.begin_run(&start)?;
        let writer = SampleWriter::start(
            store.path(),
            &start.run_id,
            &start.components,
            FLUSH_EVERY,
            keep_series,
        )?;
        let builder = builder.on_sample(writer.sink());
        Ok((
            Recording {
                store,
                writer,
                start,
            },
            builder,
        ))
    }

    pub fn start(&self) -> &RunStart {
        &self.start
    }

    /// Adds or replaces a label; it is stored when the run finishes.
    pub fn set_label(&mut self, key: &str, value: impl Into<String>) {
        self.start.labels.insert(key.to_string(), value.into());
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Writes the pending samples, works out the carbon (integrating a time-resolved intensity
    /// over the energy series the writer kept, see [`Recording::begin`]'s `keep_series`) and
    /// stores the final report with the job's typed `results`.
    pub fn finish(
        self,
        m: &Measurement,
        exit_code: i32,
        signal: Option<i32>,
        resolved: &Resolved,
        results: Option<serde_json::Value>,
    ) -> Finished {
        let mut samples = self.writer.finish();
        let mut report = self.start.finish(m, exit_code, signal);
        report.results = results;
        let series = std::mem::take(&mut samples.series);
        report.carbon = Some(greenai_carbon::assess(
            &self.start.carbon,
            resolved,
            m.energy,
            m.duration,
            &series,
        ));
        let stored = self.store.finish_run(&report);
        if stored.is_err() {
            report.complete = false;
        }
        Finished {
            report,
            samples,
            stored,
        }
    }

    /// Removes a run that never started its command.
    pub fn discard(self) {
        self.writer.finish();
        let _ = self.store.discard_run(&self.start.run_id);
    }
}
