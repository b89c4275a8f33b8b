//! The sampling monitor and its named windows.

use crate::accumulator::EnergyAccumulator;
use crate::component::{Component, ComponentKind, Missing, Provenance, Reading};
use crate::error::{MeterError, Result};
use crate::faults::{self, Fault, Guard};
pub use crate::measurement::{
    ComponentMeasurement, Measurement, ModelCheck, ProcessMeasurement, Sample,
};
use crate::procfs::{CpuTimes, ProcessTree, StatFile};
use crate::sensor::EnergySensor;
use greenai_units::{Energy, Power};
use std::collections::HashMap;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The default sampling interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(100);
/// The shortest interval the monitor accepts.
pub const MIN_INTERVAL: Duration = Duration::from_millis(1);
/// The longest interval the monitor accepts.
pub const MAX_INTERVAL: Duration = Duration::from_secs(60);
/// How often the tracked process tree is walked between window edges.
const PROCESS_WALK_EVERY: Duration = Duration::from_secs(1);
/// Counter deltas over less than this are too coarse to give a power (RAPL updates about every
/// millisecond; procfs ticks are 10 ms), so the previous power is kept.
const MIN_POWER_SPAN_S: f64 = 0.02;

type SampleSink = Box<dyn FnMut(&Sample) + Send>;

/// Configures and starts a [`Monitor`].
pub struct MonitorBuilder {
    interval: Duration,
    sensors: Vec<Box<dyn EnergySensor>>,
    components: Vec<Component>,
    missing: Vec<Missing>,
    proc_root: PathBuf,
    track_pid: Option<u32>,
    sink: Option<SampleSink>,
    series_capacity: usize,
}

impl Default for MonitorBuilder {
    fn default() -> Self {
        MonitorBuilder {
            interval: DEFAULT_INTERVAL,
            sensors: Vec::new(),
            components: Vec::new(),
            missing: Vec::new(),
            proc_root: PathBuf::from("/proc"),
            track_pid: None,
            sink: None,
            series_capacity: 1 << 20,
        }
    }
}

impl MonitorBuilder {
    /// The sampling interval, from [`MIN_INTERVAL`] to [`MAX_INTERVAL`].
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }
    pub fn sensor(mut self, sensor: Box<dyn EnergySensor>) -> Self {
        self.components.extend(sensor.components().iter().cloned());
        self.sensors.push(sensor);
        self
    }
    /// Records a component that no sensor covers.
    pub fn missing(mut self, missing: Missing) -> Self {
        self.missing.push(missing);
        self
    }
    /// The components so far, to adjust what is counted when sensors overlap.
    pub fn components_mut(&mut self) -> &mut [Component] {
        &mut self.components
    }
    pub fn components(&self) -> &[Component] {
        &self.components
    }
    /// Where procfs lives (`/proc`; a fixture tree in tests).
    pub fn proc_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.proc_root = root.into();
        self
    }
    /// Attributes energy to the process tree rooted at `pid`.
    pub fn track_process(mut self, pid: u32) -> Self {
        self.track_pid = Some(pid);
        self
    }
    /// Called with every sample as it is taken (to stream it to a database).
    pub fn on_sample(mut self, sink: impl FnMut(&Sample) + Send + 'static) -> Self {
        self.sink = Some(Box::new(sink));
        self
    }
    /// How many samples the in-memory series keeps (the oldest go first). Windows do not depend
    /// on it: they are accumulated as samples arrive.
    pub fn series_capacity(mut self, n: usize) -> Self {
        self.series_capacity = n.max(1);
        self
    }

    /// Takes a first sample and starts the sampling thread.
    pub fn start(self) -> Result<Monitor> {
        if self.interval < MIN_INTERVAL || self.interval > MAX_INTERVAL {
            return Err(MeterError::Invalid(format!(
                "sampling interval {:?} is outside 1 ms ..= 60 s",
                self.interval
            )));
        }
        if self.sensors.is_empty() {
            return Err(MeterError::Unavailable {
                reason: "the monitor has no sensor".into(),
            });
        }
        let n = self.components.len();
        let mut ids: Vec<&str> = self.components.iter().map(|c| c.id.as_str()).collect();
        ids.sort_unstable();
        if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
            return Err(MeterError::Invalid(format!(
                "two components share the id {:?}",
                w[0]
            )));
        }
        let mut state = State {
            sensors: self.sensors,
            components: self.components,
            missing: self.missing,
            proc_root: self.proc_root.clone(),
            stat: StatFile::open(&self.proc_root).ok(),
            start: Instant::now(),
            start_unix_s: unix_s(SystemTime::now()),
            last_energy: vec![None; n],
            power_ref: vec![None; n],
            last_power: vec![None; n],
            windows: HashMap::new(),
            series: VecDeque::new(),
            series_capacity: self.series_capacity,
            process: self
                .track_pid
                .map(|pid| ProcessTree::new(&self.proc_root, pid)),
            sink: self.sink,
            read_errors: 0,
            last_error: None,
            guards: Vec::new(),
            last_walk: None,
        };
        state.guards = guards(&state.sensors);
        state.take_sample(false);
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            stop: AtomicBool::new(false),
        });
        let interval = self.interval;
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("greenai-sampler".into())
                .spawn(move || sampler(shared, interval))
                .map_err(|e| MeterError::Unavailable {
                    reason: format!("cannot start the sampling thread: {e}"),
                })?
        };
        Ok(Monitor {
            shared,
            thread: Some(thread),
            interval,
        })
    }
}

/// Samples every sensor at a fixed interval and measures named, overlapping windows.
///
/// A window's energy is exact at its edges: `begin_window` and `end_window` read every counter
/// at that instant rather than waiting for a tick. Samples in between give power, peaks and the
/// integral of power-only sensors.
///
/// ```
/// use greenai_meter::{Monitor, sensors::estimate::*};
/// use std::time::Duration;
/// # fn main() -> Result<(), greenai_meter::MeterError> {
/// let proc = std::path::Path::new("/proc");
/// let model = MachineModel::detect(proc)?;
/// let sensor = EstimateSensor::open(proc, model, EstimateTargets { cpu: true, dram: true })?;
/// let monitor = Monitor::builder()
///     .interval(Duration::from_millis(50))
///     .sensor(Box::new(sensor))
///     .start()?;
///
/// monitor.begin_window("epoch-1")?;
/// monitor.begin_window("training")?;            // windows may overlap
/// let _work: u64 = (0..1_000_000u64).sum();
/// let epoch = monitor.end_window("epoch-1")?;
/// let training = monitor.end_window("training")?;
/// assert!(epoch.energy <= training.energy);
/// println!("{}: {} ({})", epoch.name, epoch.energy, epoch.provenance);
/// # Ok(()) }
/// ```
pub struct Monitor {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    interval: Duration,
}

struct Shared {
    state: Mutex<State>,
    stop: AtomicBool,
}

fn sampler(shared: Arc<Shared>, interval: Duration) {
    let mut next = Instant::now() + interval;
    loop {
        // Parking is one futex wait with no lock around it; `shutdown` unparks.
        loop {
            if shared.stop.load(Ordering::Acquire) {
                return;
            }
            let now = Instant::now();
            if now >= next {
                break;
            }
            std::thread::park_timeout(next - now);
        }
        shared
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take_sample(false);
        next += interval;
        let now = Instant::now();
        if next < now {
            // Fell behind (a slow sensor, a suspended machine): skip the missed ticks.
            next = now + interval;
        }
    }
}

struct WindowAcc {
    start_t: f64,
    start_unix_s: f64,
    /// Each component's energy since the window opened.
    acc: Vec<EnergyAccumulator>,
    peak: Vec<Option<Power>>,
    util_sum: Vec<f64>,
    util_n: Vec<u32>,
    share_sum: Vec<f64>,
    share_n: Vec<u32>,
    total_peak: Option<Power>,
    start_cpu: Option<CpuTimes>,
    start_ticks: Option<u64>,
    samples: u32,
    start_errors: u32,
    /// Faults seen while the window was open.
    faults: Vec<Fault>,
}

struct State {
    sensors: Vec<Box<dyn EnergySensor>>,
    components: Vec<Component>,
    missing: Vec<Missing>,
    proc_root: PathBuf,
    stat: Option<StatFile>,
    start: Instant,
    start_unix_s: f64,
    last_energy: Vec<Option<Energy>>,
    power_ref: Vec<Option<(f64, Energy)>>,
    last_power: Vec<Option<Power>>,
    windows: HashMap<String, WindowAcc>,
    series: VecDeque<Sample>,
    series_capacity: usize,
    process: Option<ProcessTree>,
    last_walk: Option<Instant>,
    sink: Option<SampleSink>,
    read_errors: u32,
    last_error: Option<String>,
    /// One per component: its readings checked against its physical ceiling.
    guards: Vec<Guard>,
}

/// What a sample adds beyond the series entry: CPU times and attribution.
struct Extra {
    cpu: Option<CpuTimes>,
    ticks: Option<u64>,
    shares: Vec<Option<f64>>,
}

impl State {
    /// Reads every sensor. `edge`: a window opens or closes here, so machine CPU times are read
    /// too (utilisation and process shares are taken between edges only).
    fn take_sample(&mut self, edge: bool) -> Extra {
        let elapsed = self.start.elapsed();
        let t = elapsed.as_secs_f64();
        let mut readings: Vec<Reading> = Vec::with_capacity(self.components.len());
        let mut shares: Vec<Option<f64>> = Vec::new();
        // The tree is walked at every edge and at most once a second between them (its members
        // for per-process GPU shares; exited children's CPU time): a walk is a dozen procfs
        // reads, most of a tick's cost at 10 Hz.
        let walk = edge
            || self
                .last_walk
                .is_none_or(|w| w.elapsed() >= PROCESS_WALK_EVERY);
        let ticks = if walk {
            self.last_walk = Some(Instant::now());
            self.process.as_mut().map(|p| p.cpu_ticks())
        } else {
            None
        };
        let members = self.process.as_ref().map(|p| p.members());
        for s in &mut self.sensors {
            let n = s.components().len();
            let read = if edge { s.read_edge() } else { s.read() };
            match read {
                Ok(r) if r.len() == n => readings.extend(r),
                Ok(_) | Err(_) => {
                    self.read_errors += 1;
                    self.last_error = Some(format!("{} read failed", s.interface()));
                    let failed = Reading {
                        failed: true,
                        ..Reading::default()
                    };
                    readings.extend(std::iter::repeat_n(failed, n));
                }
            }
            if let Some(m) = members {
                shares.extend(s.process_share(m));
            }
        }
        let cpu = if edge {
            self.stat.as_mut().and_then(|s| s.read().ok())
        } else {
            None
        };

        // A fault is bounded here, before any figure is taken from the reading.
        let unix = self.start_unix_s + t;
        let mut events: Vec<(usize, faults::FaultKind, f64)> = Vec::new();
        let mut found = Vec::new();
        for (i, r) in readings.iter_mut().enumerate() {
            if r.failed {
                events.push((i, faults::FaultKind::ReadFailed, 0.0));
                continue;
            }
            *r = self.guards[i].check(t, *r, &mut found);
            events.extend(found.drain(..).map(|f| (i, f.kind, f.bridged.joules())));
        }
        for w in self.windows.values_mut() {
            for &(i, kind, bridged) in &events {
                faults::note(&mut w.faults, &self.components[i].id, kind, unix, bridged);
            }
        }
        for (i, r) in readings.iter_mut().enumerate() {
            match r.energy {
                Some(e) => self.last_energy[i] = Some(e),
                // A failed read keeps the counter where it was last seen.
                None => r.energy = self.last_energy[i].filter(|_| r.power.is_none()),
            }
            if let Some(e) = r.energy {
                match self.power_ref[i] {
                    Some((t0, e0)) if t - t0 >= MIN_POWER_SPAN_S => {
                        self.last_power[i] = Some((e - e0) / Duration::from_secs_f64(t - t0));
                        self.power_ref[i] = Some((t, e));
                    }
                    Some(_) => {}
                    None => self.power_ref[i] = Some((t, e)),
                }
            }
            if r.power.is_none() {
                r.power = self.last_power[i];
            }
        }
        let total_power: Power = self
            .components
            .iter()
            .zip(&readings)
            .filter(|(c, _)| c.counted)
            .filter_map(|(_, r)| r.power)
            .sum();

        for w in self.windows.values_mut() {
            w.samples += 1;
            for (i, r) in readings.iter().enumerate() {
                w.acc[i].push(t, r.energy, r.power);
                if let Some(p) = r.power {
                    // The edge sample's power describes the time before the window.
                    if t > w.start_t {
                        w.peak[i] = Some(w.peak[i].map_or(p, |q| q.max(p)));
                    }
                }
                if let Some(u) = r.utilisation {
                    w.util_sum[i] += u;
                    w.util_n[i] += 1;
                }
                if let Some(Some(s)) = shares.get(i) {
                    w.share_sum[i] += s;
                    w.share_n[i] += 1;
                }
            }
            if t > w.start_t {
                w.total_peak = Some(w.total_peak.map_or(total_power, |q| q.max(total_power)));
            }
        }

        let sample = Sample {
            elapsed,
            unix_s: self.start_unix_s + t,
            readings,
            total_power,
        };
        if let Some(sink) = &mut self.sink {
            sink(&sample);
        }
        if self.series.len() >= self.series_capacity {
            self.series.pop_front();
        }
        self.series.push_back(sample);
        Extra { cpu, ticks, shares }
    }

    /// The sample just taken.
    fn newest(&self) -> &Sample {
        self.series
            .back()
            .expect("take_sample always keeps the newest sample")
    }

    fn open_window(&mut self, name: &str) -> Result<()> {
        if self.windows.contains_key(name) {
            return Err(MeterError::Invalid(format!(
                "a window named {name:?} is already open; end it first or use another name"
            )));
        }
        let extra = self.take_sample(true);
        let sample = self.newest();
        let n = self.components.len();
        let t = sample.elapsed.as_secs_f64();
        let mut w = WindowAcc {
            start_t: t,
            start_unix_s: sample.unix_s,
            acc: sample
                .readings
                .iter()
                .map(|r| {
                    let mut a = EnergyAccumulator::default();
                    a.push(t, r.energy, r.power);
                    a
                })
                .collect(),
            peak: vec![None; n],
            util_sum: vec![0.0; n],
            util_n: vec![0; n],
            share_sum: vec![0.0; n],
            share_n: vec![0; n],
            total_peak: None,
            start_cpu: extra.cpu,
            start_ticks: extra.ticks,
            samples: 1,
            start_errors: self.read_errors,
            faults: Vec::new(),
        };
        for (i, s) in extra.shares.iter().enumerate() {
            if let Some(s) = s {
                w.share_sum[i] += s;
                w.share_n[i] += 1;
            }
        }
        self.windows.insert(name.to_string(), w);
        Ok(())
    }

    fn close_window(&mut self, name: &str) -> Result<Measurement> {
        if !self.windows.contains_key(name) {
            return Err(MeterError::Invalid(format!(
                "no window named {name:?} is open"
            )));
        }
        let extra = self.take_sample(true);
        let sample = self.newest().clone();
        let w = self.windows.remove(name).expect("checked above");
        let end_t = sample.elapsed.as_secs_f64();
        let duration = Duration::from_secs_f64((end_t - w.start_t).max(0.0));

        let cpu_utilisation = match (extra.cpu, w.start_cpu) {
            (Some(end), Some(start)) => end.utilisation_since(&start),
            _ => None,
        };
        // A tree attached after the window opened started from zero.
        let start_ticks = w.start_ticks.or(extra.ticks.map(|_| 0));
        let cpu_share = match (extra.cpu, w.start_cpu, extra.ticks, start_ticks) {
            (Some(ec), Some(sc), Some(et), Some(st)) => {
                let busy = ec.busy.saturating_sub(sc.busy);
                let ours = et.saturating_sub(st);
                Some((
                    ours,
                    if busy > 0 {
                        (ours as f64 / busy as f64).min(1.0)
                    } else {
                        0.0
                    },
                ))
            }
            _ => None,
        };

        let mut components = Vec::with_capacity(self.components.len());
        for (i, c) in self.components.iter().enumerate() {
            let counter = w.acc[i].counter();
            let integrated = w.acc[i].integrated();
            let energy = w.acc[i].energy();
            let independent = c.provenance != Provenance::Estimated;
            let disagreement = match (counter, integrated.filter(|_| independent)) {
                (Some(c), Some(i)) if c.joules() > 0.0 && c != i => Some((i - c) / c),
                (Some(_), Some(_)) => Some(0.0),
                _ => None,
            };
            let provenance = if counter.is_some() {
                c.provenance
            } else {
                c.provenance.max(Provenance::Integrated)
            };
            let process_share = if self.process.is_some() {
                if c.kind == ComponentKind::Gpu {
                    (w.share_n[i] > 0).then(|| w.share_sum[i] / w.share_n[i] as f64)
                } else {
                    cpu_share.map(|s| s.1)
                }
            } else {
                None
            };
            let mut component = c.clone();
            component.provenance = provenance;
            // Faulty intervals were bridged by an estimate (or dropped): the figure says so. A
            // failed read between the edges changes nothing a counter difference gives; one at
            // the closing edge leaves the figure stale.
            let bridged: f64 = w
                .faults
                .iter()
                .filter(|f| f.component == c.id && f.kind != faults::FaultKind::ReadFailed)
                .map(|f| f.bridged_j)
                .sum();
            let spoiled = sample.readings[i].failed
                || w.faults
                    .iter()
                    .any(|f| f.component == c.id && f.kind != faults::FaultKind::ReadFailed);
            if spoiled {
                component.provenance = component.provenance.max(Provenance::Estimated);
                if let Some(e) = energy.filter(|e| e.joules() > 0.0) {
                    component.uncertainty =
                        Some(component.uncertainty.unwrap_or(0.0) + bridged / e.joules());
                }
            }
            let avg_power = energy.map(|e| e / duration);
            components.push(ComponentMeasurement {
                component,
                energy,
                avg_power,
                // A mean never exceeds the peak: tick readings can miss the busiest moment (and a
                // model's tick readings lag its edge readings).
                peak_power: max_power(w.peak[i], avg_power),
                integrated_energy: counter.and(integrated).filter(|_| independent),
                disagreement: counter.and(disagreement),
                utilisation: (w.util_n[i] > 0).then(|| w.util_sum[i] / w.util_n[i] as f64),
                process_share,
            });
        }

        let counted: Vec<&ComponentMeasurement> = components
            .iter()
            .filter(|c| c.component.counted && c.energy.is_some())
            .collect();
        let energy: Energy = counted.iter().filter_map(|c| c.energy).sum();
        let provenance = counted
            .iter()
            .map(|c| c.component.provenance)
            .max()
            .unwrap_or(Provenance::Estimated);
        let band: f64 = counted
            .iter()
            .filter_map(|c| Some(c.energy?.joules() * c.component.uncertainty?))
            .sum();
        let uncertainty = (counted.iter().any(|c| c.component.uncertainty.is_some())
            && energy.joules() > 0.0)
            .then(|| band / energy.joules());

        let process = match (&self.process, cpu_share) {
            (Some(tree), Some((ticks, share))) => {
                let mut e = Energy::ZERO;
                let mut prov = Provenance::Measured;
                for c in &counted {
                    if let (Some(ce), Some(s)) = (c.energy, c.process_share) {
                        e += ce * s;
                        prov = prov.max(c.component.provenance);
                    }
                }
                let hz = clock_ticks_per_second();
                Some(ProcessMeasurement {
                    pid: tree.root(),
                    cpu_share: share,
                    cpu_time: Duration::from_secs_f64(ticks as f64 / hz),
                    energy: e,
                    // Splitting by CPU time is itself a model.
                    provenance: prov.max(Provenance::Estimated),
                })
            }
            _ => None,
        };

        Ok(Measurement {
            name: name.to_string(),
            start_unix_s: w.start_unix_s,
            duration,
            energy,
            provenance,
            uncertainty,
            avg_power: energy / duration,
            peak_power: max_power(w.total_peak, Some(energy / duration)),
            components,
            missing: self.missing.clone(),
            cpu_utilisation,
            process,
            samples: w.samples,
            read_errors: self.read_errors - w.start_errors,
            faults: w.faults,
        })
    }
}

/// One guard per component, at its sensor's stated ceiling or its kind's.
fn guards(sensors: &[Box<dyn EnergySensor>]) -> Vec<Guard> {
    sensors
        .iter()
        .flat_map(|s| {
            s.components()
                .iter()
                .zip(s.ceilings())
                .map(|(c, ceiling)| Guard::new(ceiling.unwrap_or(faults::kind_ceiling(c.kind))))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn max_power(a: Option<Power>, b: Option<Power>) -> Option<Power> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn unix_s(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `sysconf(_SC_CLK_TCK)`, the unit of procfs CPU times.
pub fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}

impl Monitor {
    pub fn builder() -> MonitorBuilder {
        MonitorBuilder::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Every component, counted or not, in sample order.
    pub fn components(&self) -> Vec<Component> {
        self.state().components.clone()
    }

    /// Components that no sensor covers.
    pub fn missing(&self) -> Vec<Missing> {
        self.state().missing.clone()
    }

    /// Opens a window named `name`, reading every counter now.
    pub fn begin_window(&self, name: &str) -> Result<()> {
        self.state().open_window(name)
    }

    /// Closes the window named `name`, reading every counter now, and returns what it used.
    pub fn end_window(&self, name: &str) -> Result<Measurement> {
        self.state().close_window(name)
    }

    /// Takes a sample now, outside the schedule (for a live display, or before a known event).
    pub fn sample_now(&self) -> Sample {
        let mut st = self.state();
        st.take_sample(false);
        st.newest().clone()
    }

    /// The newest sample.
    pub fn latest(&self) -> Option<Sample> {
        self.state().series.back().cloned()
    }

    /// The kept power series (the newest [`MonitorBuilder::series_capacity`] samples).
    pub fn series(&self) -> Vec<Sample> {
        self.state().series.iter().cloned().collect()
    }

    /// Each component's energy in an open window so far, up to the newest sample (for a live
    /// display or a metrics scrape): the counter's difference, else the integral of power.
    pub fn window_components(&self, name: &str) -> Option<Vec<Option<Energy>>> {
        let st = self.state();
        let w = st.windows.get(name)?;
        // The window's accumulators have seen every sample up to the newest.
        Some(w.acc.iter().map(EnergyAccumulator::energy).collect())
    }

    /// The counted energy of an open window so far.
    pub fn window_energy(&self, name: &str) -> Option<Energy> {
        let counted: Vec<bool> = self.state().components.iter().map(|c| c.counted).collect();
        Some(
            self.window_components(name)?
                .into_iter()
                .zip(counted)
                .filter(|(_, c)| *c)
                .filter_map(|(e, _)| e)
                .sum(),
        )
    }

    /// Starts attributing energy to the process tree rooted at `pid` (a child spawned after the
    /// monitor started). Windows already open count the tree's CPU time from zero.
    pub fn track_process(&self, pid: u32) {
        let mut st = self.state();
        st.process = Some(ProcessTree::new(&st.proc_root, pid));
        st.last_walk = None;
    }

    /// Gives the tracked tree's exact CPU time after its root was reaped, so the closing edge
    /// does not miss what the tree used since the last tick.
    pub fn set_process_cpu_time(&self, cpu_time: Duration) {
        if let Some(p) = self.state().process.as_mut() {
            p.set_final_ticks((cpu_time.as_secs_f64() * clock_ticks_per_second()).round() as u64);
        }
    }

    /// The last sensor failure, if any.
    pub fn last_error(&self) -> Option<String> {
        self.state().last_error.clone()
    }

    /// Stops the sampling thread and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.shutdown();
    }
}
