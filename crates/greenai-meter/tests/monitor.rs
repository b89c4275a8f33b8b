//! The monitor on fixture trees whose counters the test moves while the sampler runs.

mod util;

use greenai_meter::sensors::estimate::{EstimateSensor, EstimateTargets, MachineModel};
use greenai_meter::sensors::hwmon::HwmonSensor;
use greenai_meter::sensors::nvml::fake::{FakeGpu, FakeGpuState, FakeLibrary};
use greenai_meter::sensors::nvml::NvmlSensor;
use greenai_meter::sensors::powercap::PowercapSensor;
use greenai_meter::{detect, ComponentKind, DiscoverOptions, MeterError, Monitor, Provenance};
use greenai_units::Energy;
use proptest::prelude::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use util::*;

fn rapl_monitor(root: &std::path::Path, interval_ms: u64) -> Monitor {
    Monitor::builder()
        .interval(Duration::from_millis(interval_ms))
        .sensor(Box::new(PowercapSensor::open(root).unwrap()))
        .proc_root(fixture("proc-2cpu"))
        .start()
        .unwrap()
}

#[test]
fn window_energy_is_exact_at_its_edges_while_the_sampler_runs() {
    let dir = fixture_copy("intel-2s-server");
    let root = dir.path();
    let m = rapl_monitor(root, 2);
    advance_zone(root, "intel-rapl:0", 1_000_000); // before the window: not counted
    m.begin_window("w").unwrap();
    for _ in 0..20 {
        advance_zone(root, "intel-rapl:0", 250_000);
        advance_zone(root, "intel-rapl:0:0", 50_000);
        std::thread::sleep(Duration::from_millis(3)); // let ticks land mid-window
    }
    // Ticks land inside the window, not only its two edges: wait (with a deadline) for three.
    let before = m.series().len();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while m.series().len() < before + 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    let w = m.end_window("w").unwrap();
    advance_zone(root, "intel-rapl:0", 9_000_000); // after: not counted
    let by_id = |id: &str| {
        w.components
            .iter()
            .find(|c| c.component.id == id)
            .unwrap()
            .energy
    };
    assert_eq!(by_id("cpu-package-0"), Some(Energy::from_joules(5.0)));
    assert_eq!(by_id("dram-0"), Some(Energy::from_joules(1.0)));
    assert_eq!(by_id("cpu-package-1"), Some(Energy::ZERO));
    assert_eq!(w.energy, Energy::from_joules(6.0), "psys is not added");
    assert_eq!(w.provenance, Provenance::Measured);
    assert!(
        w.samples >= 5,
        "the edges and at least three ticks: {}",
        w.samples
    );
    assert!(w.peak_power.is_some());
}

#[test]
fn a_wrap_during_a_window_is_counted_once() {
    let dir = fixture_copy("intel-2s-server");
    let root = dir.path();
    let max = read(root, "class/powercap/intel-rapl:1/max_energy_range_uj");
    write(root, "class/powercap/intel-rapl:1/energy_uj", max - 500_000);
    let m = rapl_monitor(root, 1);
    m.begin_window("w").unwrap();
    for _ in 0..10 {
        advance_zone(root, "intel-rapl:1", 100_000);
        std::thread::sleep(Duration::from_millis(2));
    }
    let w = m.end_window("w").unwrap();
    assert_eq!(
        w.energy_of(ComponentKind::CpuPackage),
        Some(Energy::from_joules(1.0))
    );
}

#[derive(Debug, Clone)]
enum Step {
    Burn(u32),
    Begin(u8),
    End(u8),
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(
        prop_oneof![
            (1u32..5_000_000).prop_map(Step::Burn),
            (0u8..4).prop_map(Step::Begin),
            (0u8..4).prop_map(Step::End),
        ],
        1..30,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Every window equals the counter increments made while it was open, however windows
    /// overlap; so windows nested inside one add up to it.
    #[test]
    fn overlapping_windows_each_see_exactly_their_increments(steps in steps()) {
        let dir = fixture_copy("amd-epyc");
        let root = dir.path();
        let m = rapl_monitor(root, 1);
        let mut open: [Option<u64>; 4] = [None; 4];
        let mut total: u64 = 0;
        for s in steps {
            match s {
                Step::Burn(uj) => { advance_zone(root, "intel-rapl:0", uj as u64); total += uj as u64; }
                Step::Begin(i) => {
                    let r = m.begin_window(&format!("w{i}"));
                    prop_assert_eq!(r.is_ok(), open[i as usize].is_none());
                    open[i as usize].get_or_insert(total);
                }
                Step::End(i) => {
                    let r = m.end_window(&format!("w{i}"));
                    match open[i as usize].take() {
                        Some(start) => {
                            let e = r.unwrap().energy_of(ComponentKind::CpuPackage).unwrap();
                            prop_assert!((e.joules() - (total - start) as f64 * 1e-6).abs() < 1e-9);
                        }
                        None => prop_assert!(matches!(r, Err(MeterError::Invalid(_)))),
                    }
                }
            }
        }
    }
}

#[test]
fn power_only_sensors_are_integrated_over_the_window() {
    let dir = fixture_copy("laptop-psys");
    let m = Monitor::builder()
        .interval(Duration::from_millis(5))
        .sensor(Box::new(HwmonSensor::open(dir.path()).unwrap()))
        .proc_root(fixture("proc-2cpu"))
        .start()
        .unwrap();
    m.begin_window("gpu").unwrap();
    std::thread::sleep(Duration::from_millis(60));
    let w = m.end_window("gpu").unwrap();
    let c = &w.components[0];
    assert_eq!(c.component.provenance, Provenance::Integrated);
    // Constant 12.5 W: the trapezoid over the edges and ticks is exactly P × t.
    let expect = 12.5 * w.duration.as_secs_f64();
    assert!((c.energy.unwrap().joules() - expect).abs() < 1e-9, "{c:?}");
    assert_eq!(w.provenance, Provenance::Integrated);
}

#[test]
fn gpu_counter_is_primary_and_its_disagreement_with_power_is_reported() {
    let gpu = FakeGpu::new(
        "GPU-abc",
        FakeGpuState {
            energy_mj: Some(5_000),
            power_mw: Some(200_000),
            utilisation_percent: Some(90),
            ..Default::default()
        },
    );
    let sensor = NvmlSensor::from_library(&FakeLibrary(vec![gpu.clone()]), None).unwrap();
    let m = Monitor::builder()
        .interval(Duration::from_millis(5))
        .sensor(Box::new(sensor))
        .proc_root(fixture("proc-2cpu"))
        .start()
        .unwrap();
    m.begin_window("w").unwrap();
    std::thread::sleep(Duration::from_millis(40));
    gpu.state.lock().unwrap().energy_mj = Some(5_000 + 10_000);
    let w = m.end_window("w").unwrap();
    let c = &w.components[0];
    assert_eq!(c.energy, Some(Energy::from_joules(10.0)));
    assert_eq!(c.component.provenance, Provenance::Measured);
    let integrated = 200.0 * w.duration.as_secs_f64();
    assert!((c.integrated_energy.unwrap().joules() - integrated).abs() < 1e-9);
    let d = c.disagreement.unwrap();
    assert!((d - (integrated - 10.0) / 10.0).abs() < 1e-9);
    assert!((c.utilisation.unwrap() - 0.9).abs() < 1e-12);
}

#[test]
fn a_missing_gpu_is_listed_never_zero() {
    let dir = tempfile::tempdir().unwrap();
    let d = detect::discover(DiscoverOptions {
        sysfs_root: dir.path().into(),
        proc_root: fixture("proc-2cpu"),
        nvml: true,
        gpu_library: Some(Box::new(FakeLibrary(vec![]))),
        cuda_visible_devices: None,
    });
    let m = d
        .into_builder()
        .proc_root(fixture("proc-2cpu"))
        .start()
        .unwrap();
    m.begin_window("w").unwrap();
    let w = m.end_window("w").unwrap();
    assert!(w
        .components
        .iter()
        .all(|c| c.component.kind != ComponentKind::Gpu));
    assert_eq!(w.missing.len(), 1);
    assert_eq!(w.missing[0].kind, ComponentKind::Gpu);
    assert!(
        w.missing[0].reason.contains("no NVIDIA GPU"),
        "{:?}",
        w.missing
    );
    assert_eq!(w.energy_of(ComponentKind::Gpu), None);
}

#[test]
fn intervals_outside_1ms_to_60s_are_refused() {
    let dir = fixture_copy("amd-epyc");
    for bad in [Duration::from_micros(500), Duration::from_secs(61)] {
        let r = Monitor::builder()
            .interval(bad)
            .sensor(Box::new(PowercapSensor::open(dir.path()).unwrap()))
            .start();
        assert!(matches!(r, Err(MeterError::Invalid(_))));
    }
}

#[test]
fn every_sample_reaches_the_sink_in_order() {
    let dir = fixture_copy("amd-epyc");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = Arc::clone(&seen);
    let m = Monitor::builder()
        .interval(Duration::from_millis(2))
        .sensor(Box::new(PowercapSensor::open(dir.path()).unwrap()))
        .proc_root(fixture("proc-2cpu"))
        .on_sample(move |s| s2.lock().unwrap().push(s.elapsed))
        .start()
        .unwrap();
    m.begin_window("w").unwrap();
    // Ticks between the edges too (waited for, with a deadline), not only the edges.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while m.series().len() < 10 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    m.end_window("w").unwrap();
    let series = m.series();
    m.stop();
    let seen = seen.lock().unwrap();
    assert!(seen.len() >= 11, "ticks and both edges: {}", seen.len());
    assert_eq!(seen.len(), series.len());
    assert!(seen.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn the_tracked_process_gets_its_cpu_share_of_the_estimate() {
    let proc = std::path::Path::new("/proc");
    let model = MachineModel::detect(proc).unwrap();
    let sensor = EstimateSensor::open(
        proc,
        model,
        EstimateTargets {
            cpu: true,
            dram: true,
        },
    )
    .unwrap();
    let m = Monitor::builder()
        .interval(Duration::from_millis(20))
        .sensor(Box::new(sensor))
        .track_process(std::process::id())
        .start()
        .unwrap();
    m.begin_window("burn").unwrap();
    let t = std::time::Instant::now();
    let mut x = 0u64;
    while t.elapsed() < Duration::from_millis(300) {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
    }
    std::hint::black_box(x);
    let w = m.end_window("burn").unwrap();
    let p = w.process.expect("process attribution ran");
    assert_eq!(p.pid, std::process::id());
    assert!(p.cpu_time >= Duration::from_millis(100), "{p:?}");
    assert!(p.cpu_share > 0.0 && p.cpu_share <= 1.0, "{p:?}");
    assert!(
        p.energy > Energy::ZERO && p.energy <= w.energy,
        "{p:?} vs {}",
        w.energy
    );
    assert_eq!(p.provenance, Provenance::Estimated);
    assert_eq!(w.provenance, Provenance::Estimated);
    let u = w.uncertainty.unwrap();
    assert!(u > 0.3 && u < 0.7, "{u}");
}
