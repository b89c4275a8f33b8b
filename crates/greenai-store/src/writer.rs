//! Streams a running monitor's samples into the database from a thread of its own, one
//! transaction a second, so that a killed greenai loses at most the last second.

use crate::db::SampleSink;
use crate::error::Result;
use greenai_meter::{accumulators, counted_total, Component, EnergyAccumulator, Sample};
use greenai_units::Energy;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Samples kept in memory while the database refuses writes; beyond this the oldest go.
const MAX_PENDING: usize = 200_000;

/// Samples handed over by the sampler, and whether the recording is closing. The sampler only
/// pushes under a short lock (no wake-up: a futex wake and a context switch at every tick were
/// most of a 10 Hz run's cost); the writer takes them once a second.
#[derive(Default)]
struct Handover {
    pending: Mutex<Vec<Sample>>,
    closed: AtomicBool,
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
    handover: Arc<Handover>,
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
        let handover = Arc::new(Handover::default());
        let running = Running::new(components);
        let h = Arc::clone(&handover);
        let handle = std::thread::Builder::new()
            .name("greenai-db-writer".into())
            .spawn(move || write_loop(sink, &h, running, flush_every, keep_series))
            .map_err(|e| {
                crate::StoreError::Transient(format!("cannot start the writer thread: {e}"))
            })?;
        Ok(SampleWriter {
            handover,
            handle: Some(handle),
        })
    }

    /// A callback for [`greenai_meter::MonitorBuilder::on_sample`].
    pub fn sink(&self) -> impl FnMut(&Sample) + Send + 'static {
        let h = Arc::clone(&self.handover);
        move |s: &Sample| {
            h.pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(s.clone());
        }
    }

    /// Writes what is pending and stops the thread.
    pub fn finish(mut self) -> WriterOutcome {
        self.handover.closed.store(true, Ordering::Release);
        let Some(h) = self.handle.take() else {
            return WriterOutcome::default();
        };
        h.thread().unpark();
        h.join().unwrap_or_default()
    }
}

fn write_loop(
    mut sink: SampleSink,
    handover: &Handover,
    mut running: Running,
    flush_every: Duration,
    keep_series: bool,
) -> WriterOutcome {
    let mut out = WriterOutcome::default();
    let mut pending: Vec<(Sample, Option<Energy>)> = Vec::new();
    loop {
        let closing = handover.closed.load(Ordering::Acquire);
        let taken =
            std::mem::take(&mut *handover.pending.lock().unwrap_or_else(|e| e.into_inner()));
        for s in taken {
            let e = running.push(&s);
            if keep_series {
                out.series.push((s.unix_s, e));
            }
            pending.push((s, Some(e)));
        }
        match sink.write(&pending) {
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
        }
        if closing {
            out.lost += pending.len() as u64;
            return out;
        }
        std::thread::park_timeout(flush_every);
    }
}
