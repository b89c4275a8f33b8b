//! Streams a running monitor's samples into the database from a thread of its own, one
//! transaction a second, so that a killed greenai loses at most the last second.

use crate::db::SampleSink;
use crate::error::Result;
use greenai_meter::{accumulators, counted_total, Component, EnergyAccumulator, Sample};
use greenai_units::Energy;
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Samples kept in memory while the database refuses writes; beyond this the oldest go.
const MAX_PENDING: usize = 200_000;

enum Msg {
    Sample(Box<Sample>),
    Close,
}

/// What the writer managed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriterOutcome {
    pub written: u64,
    /// Samples never written (the database kept refusing).
    pub lost: u64,
    pub first_error: Option<String>,
    /// `(unix time, counted energy since the first sample)` of every sample, when asked for (a
    /// time-resolved intensity needs it): what carbon over time is worked out from, without
    /// reading the samples back.
    pub series: Vec<(f64, Energy)>,
}

/// The counted components' energy since the first sample, one sample at a time (the meter's one
/// accumulator rule: counters by difference, power-only components by the trapezoid).
struct Running {
    counted: Vec<bool>,
    acc: Vec<EnergyAccumulator>,
}

impl Running {
    fn new(components: &[Component]) -> Self {
        Running {
            counted: components.iter().map(|c| c.counted).collect(),
            acc: accumulators(components.len()),
        }
    }

    fn push(&mut self, s: &Sample) -> Energy {
        let t = s.elapsed.as_secs_f64();
        for (a, r) in self.acc.iter_mut().zip(&s.readings) {
            a.push(t, r.energy, r.power);
        }
        counted_total(&self.acc, |i| self.counted[i])
    }
}

/// The writer thread's handle.
pub struct SampleWriter {
    tx: mpsc::Sender<Msg>,
    handle: Option<JoinHandle<WriterOutcome>>,
}

impl SampleWriter {
    /// Opens the database for the run's samples (failing now rather than later) and starts the
    /// writer thread.
    pub fn start(
        path: &Path,
        run_id: &str,
        components: &[Component],
        flush_every: Duration,
        keep_series: bool,
    ) -> Result<Self> {
        let sink = SampleSink::open(path, run_id)?;
        let (tx, rx) = mpsc::channel();
        let running = Running::new(components);
        let handle = std::thread::Builder::new()
            .name("greenai-db-writer".into())
            .spawn(move || write_loop(sink, rx, running, flush_every, keep_series))
            .map_err(|e| {
                crate::StoreError::Transient(format!("cannot start the writer thread: {e}"))
            })?;
        Ok(SampleWriter {
            tx,
            handle: Some(handle),
        })
    }

    /// A callback for [`greenai_meter::MonitorBuilder::on_sample`].
    pub fn sink(&self) -> impl FnMut(&Sample) + Send + 'static {
        let tx = self.tx.clone();
        move |s: &Sample| {
            let _ = tx.send(Msg::Sample(Box::new(s.clone())));
        }
    }

    /// Writes what is pending and stops the thread.
    pub fn finish(mut self) -> WriterOutcome {
        let _ = self.tx.send(Msg::Close);
        self.handle
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }
}

fn write_loop(
    mut sink: SampleSink,
    rx: mpsc::Receiver<Msg>,
    mut running: Running,
    flush_every: Duration,
    keep_series: bool,
) -> WriterOutcome {
    let mut out = WriterOutcome::default();
    let mut pending: Vec<(Sample, Option<Energy>)> = Vec::new();
    let mut last_flush = Instant::now();
    let mut flush =
        |pending: &mut Vec<(Sample, Option<Energy>)>, out: &mut WriterOutcome| match sink
            .write(pending)
        {
            Ok(()) => {
                out.written += pending.len() as u64;
                pending.clear();
            }
            Err(e) => {
                out.first_error.get_or_insert_with(|| e.to_string());
                if pending.len() > MAX_PENDING {
                    let drop = pending.len() - MAX_PENDING;
                    pending.drain(..drop);
                    out.lost += drop as u64;
                }
            }
        };
    loop {
        let wait = flush_every.saturating_sub(last_flush.elapsed());
        match rx.recv_timeout(wait) {
            Ok(Msg::Sample(s)) => {
                let e = running.push(&s);
                if keep_series {
                    out.series.push((s.unix_s, e));
                }
                pending.push((*s, Some(e)));
            }
            Ok(Msg::Close) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                flush(&mut pending, &mut out);
                out.lost += pending.len() as u64;
                return out;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if last_flush.elapsed() >= flush_every {
            flush(&mut pending, &mut out);
            last_flush = Instant::now();
        }
    }
}
