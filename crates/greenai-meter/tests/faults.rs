//! Sensor faults on fixture trees, through the monitor: a fault is detected, bounded and reported
//! (in the window's `faults`, its component no longer `measured`), never recorded as energy.

mod util;

use greenai_meter::sensors::hwmon::HwmonSensor;
use greenai_meter::sensors::powercap::PowercapSensor;
use greenai_meter::{FaultKind, Monitor, Provenance};
use std::time::Duration;
use util::*;

/// Lets `ms` milliseconds pass, then has the monitor read every sensor: each state the test
/// writes is read at least once, however late the monitor's own ticks come on a loaded machine.
fn settle(m: &Monitor, ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
    m.sample_now();
}

fn monitor(sensor: Box<dyn greenai_meter::EnergySensor>) -> Monitor {
    Monitor::builder()
        .interval(Duration::from_millis(5))
        .sensor(sensor)
        .proc_root(fixture("proc-2cpu"))
        .start()
        .unwrap()
}

/// A package counter that steps back by 1 kJ mid-run: the sensor takes it for a wrap, which
/// reads as about 261 kJ in a few milliseconds. Before, that was recorded as 261 kJ "measured";
/// now it is a fault, the interval bridged, the package's figure a few joules, estimated.
#[test]
fn a_counter_stepping_back_is_a_fault_not_261_kilojoules() {
    let dir = fixture_copy("intel-2s-server");
    let root = dir.path();
    let m = monitor(Box::new(PowercapSensor::open(root).unwrap()));
    m.begin_window("w").unwrap();
    for _ in 0..5 {
        advance_zone(root, "intel-rapl:0", 100_000); // 0.1 J a step
        settle(&m, 10);
    }
    let now = read(root, "class/powercap/intel-rapl:0/energy_uj");
    write(
        root,
        "class/powercap/intel-rapl:0/energy_uj",
        now - 1_000_000_000,
    );
    settle(&m, 20);
    advance_zone(root, "intel-rapl:0", 100_000);
    settle(&m, 10);
    let w = m.end_window("w").unwrap();
    let pkg = w
        .components
        .iter()
        .find(|c| c.component.id == "cpu-package-0")
        .unwrap();
    let e = pkg.energy.unwrap().joules();
    assert!(e < 10.0, "{e} J: the spurious wrap was counted");
    assert!(e >= 0.5, "{e} J: the good intervals were lost");
    assert_eq!(pkg.component.provenance, Provenance::Estimated);
    // (A read may also fail while the test rewrites the file: that is a fault of its own.)
    let f = w
        .faults
        .iter()
        .find(|f| f.component == "cpu-package-0" && f.kind == FaultKind::ImplausibleJump)
        .expect("the fault is reported");
    assert_eq!(f.count, 1);
    assert!(f.first_unix_s >= w.start_unix_s);
    // The other package was untouched: still measured, no fault.
    assert!(w.faults.iter().all(|f| f.component == "cpu-package-0"));
    let other = w
        .components
        .iter()
        .find(|c| c.component.id == "cpu-package-1")
        .unwrap();
    assert_eq!(other.component.provenance, Provenance::Measured);
}

/// An absurd hwmon power reading (a petawatt) is dropped, not integrated into terajoules.
#[test]
fn an_absurd_power_reading_is_dropped() {
    let dir = fixture_copy("laptop-psys");
    let root = dir.path();
    let m = monitor(Box::new(HwmonSensor::open(root).unwrap()));
    m.begin_window("w").unwrap();
    settle(&m, 30);
    write(
        root,
        "class/hwmon/hwmon1/power1_average",
        1_000_000_000_000_000_000,
    );
    settle(&m, 30);
    write(root, "class/hwmon/hwmon1/power1_average", 12_500_000);
    settle(&m, 30);
    let w = m.end_window("w").unwrap();
    let gpu = &w.components[0];
    let e = gpu.energy.unwrap().joules();
    assert!(e < 13.0 * 0.5, "{e} J over ~0.1 s at 13 W");
    assert!(w
        .faults
        .iter()
        .any(|f| f.kind == FaultKind::ImplausiblePower && f.count >= 1));
    assert!(gpu.peak_power.unwrap().watts() < 100.0);
}

/// A device that disappears mid-run is that component's read failure, reported; the monitor
/// keeps reading the rest.
#[test]
fn a_vanished_device_is_reported_and_the_others_go_on() {
    let dir = fixture_copy("amd-epyc");
    let root = dir.path();
    let m = monitor(Box::new(HwmonSensor::open(root).unwrap()));
    let ids: Vec<String> = m.components().iter().map(|c| c.id.clone()).collect();
    assert!(ids.len() >= 2, "{ids:?}");
    m.begin_window("w").unwrap();
    settle(&m, 20);
    std::fs::write(root.join("class/hwmon/hwmon1/energy1_input"), "garbage\n").unwrap();
    for _ in 0..4 {
        let e = read(root, "class/hwmon/hwmon1/energy2_input");
        write(root, "class/hwmon/hwmon1/energy2_input", e + 100_000);
        settle(&m, 15);
    }
    let w = m.end_window("w").unwrap();
    // The garbled device fails every read after the write; the other may fail one read that
    // races with the test's rewrite of its file.
    let broken = w
        .faults
        .iter()
        .filter(|f| f.kind == FaultKind::ReadFailed)
        .max_by_key(|f| f.count)
        .map(|f| f.component.as_str())
        .expect("the read failures are reported");
    let fails = |id: &str| {
        w.faults
            .iter()
            .filter(|f| f.component == id)
            .map(|f| f.count)
            .sum::<u32>()
    };
    assert!(fails(broken) >= 3, "{:?}", w.faults);
    let healthy = w
        .components
        .iter()
        .find(|c| c.component.id != broken)
        .unwrap();
    assert!(
        healthy.energy.unwrap().joules() >= 0.4 - 1e-9,
        "the other device was still read: {:?}",
        healthy.energy
    );
    let stale = w
        .components
        .iter()
        .find(|c| c.component.id == broken)
        .unwrap();
    assert_eq!(stale.component.provenance, Provenance::Estimated);
}
