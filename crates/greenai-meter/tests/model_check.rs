//! The model beside the sensors (issue 25): on a measured machine the estimate still runs, is
//! kept but never added, and each window says how far it was from the measurement.

mod util;

use greenai_meter::detect::{self, Discovery, BESIDE};
use greenai_meter::{ComponentKind, Measurement, Provenance};
use std::path::Path;
use std::time::Duration;
use util::*;

/// One window on the discovered sensors, around `during`.
fn measure(d: Discovery, proc: &Path, during: impl FnOnce()) -> Measurement {
    let m = d
        .into_builder()
        .interval(Duration::from_millis(20))
        .proc_root(proc)
        .start()
        .unwrap();
    m.begin_window("w").unwrap();
    during();
    let w = m.end_window("w").unwrap();
    m.stop();
    w
}

const ZONES: [&str; 4] = [
    "intel-rapl:0",
    "intel-rapl:0:0",
    "intel-rapl:1",
    "intel-rapl:1:0",
];

#[test]
fn on_a_rapl_server_the_model_is_present_but_not_added() {
    let d = detect::discover_at(&fixture("intel-2s-server"), &fixture("proc-2cpu"), false);
    let counted: Vec<&str> = d
        .report
        .components
        .iter()
        .filter(|c| c.counted)
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(
        counted,
        vec!["cpu-package-0", "dram-0", "cpu-package-1", "dram-1"]
    );
    for id in ["cpu-package-est", "dram-est"] {
        let c = d.report.components.iter().find(|c| c.id == id).unwrap();
        assert!(!c.counted, "{c:?}");
        assert_eq!(c.within.as_deref(), Some(BESIDE));
        assert_eq!(c.provenance, Provenance::Estimated);
    }
    let est = d
        .report
        .interfaces
        .iter()
        .find(|i| i.interface == "estimate")
        .unwrap();
    assert!(est.available);
    assert_eq!(
        est.notes,
        vec!["beside the sensors, for comparison (not added): CPU, DRAM"]
    );
    // detect explains the model even where it only runs beside the sensors.
    assert!(d.report.model.is_some());
    assert!(
        d.report
            .missing
            .iter()
            .all(|m| m.kind == ComponentKind::Gpu),
        "{:?}",
        d.report.missing
    );
}

#[test]
fn a_window_reports_the_estimate_beside_the_measurement_and_the_difference() {
    let sys = fixture_copy("intel-2s-server");
    let proc = fixture_copy("proc-2cpu");
    let d = detect::discover_at(sys.path(), proc.path(), false);
    let w = measure(d, proc.path(), || {
        // 40 J and 10 J per socket, packages and DRAM: 100 J measured.
        for (zone, joules) in ZONES.iter().zip([40u64, 10, 40, 10]) {
            advance_zone(sys.path(), zone, joules * 1_000_000);
        }
        // The CPUs three quarters busy between the edges (300 busy ticks, 100 idle).
        std::fs::write(
            proc.path().join("stat"),
            "cpu  1200 0 600 8100 100 0 0 0 0 0\ncpu0 600 0 300 4050 50 0 0 0 0 0\n\
             cpu1 600 0 300 4050 50 0 0 0 0 0\nintr 0\n",
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(200));
    });

    // Only the sensors are added.
    assert!((w.energy.joules() - 100.0).abs() < 1e-6, "{}", w.energy);
    assert_eq!(w.provenance, Provenance::Measured);
    let check = w.model_check().expect("the model ran beside the sensors");
    assert_eq!(
        check.measured_components,
        vec!["cpu-package-0", "dram-0", "cpu-package-1", "dram-1"]
    );
    assert_eq!(
        check.estimated_components,
        vec!["cpu-package-est", "dram-est"]
    );
    assert!((check.measured.joules() - 100.0).abs() < 1e-6);
    assert_eq!(check.measured_provenance, Provenance::Measured);

    // The model's own figure: Gold 6248 at 150 W TDP, linear from 30 % at idle, at 75 % load,
    // plus 16 GiB × 0.375 W, over the window.
    let watts = 150.0 * (0.3 + 0.7 * 0.75) + 16.0 * 0.375;
    let expect = watts * w.duration.as_secs_f64();
    let est = check.estimated.joules();
    assert!(
        (est - expect).abs() < 0.05 * expect,
        "estimate {est} J, model {expect} J"
    );
    let shadow: f64 = w
        .components
        .iter()
        .filter(|c| !c.component.counted && c.component.sensor.starts_with("estimate:"))
        .filter_map(|c| c.energy.map(|e| e.joules()))
        .sum();
    assert!((shadow - est).abs() < 1e-9);
    let diff = check.difference.unwrap();
    assert!((diff - (est - 100.0) / 100.0).abs() < 1e-9, "{diff}");
    let band = check.uncertainty.unwrap() * est;
    assert_eq!(check.within_band, (est - 100.0).abs() <= band + 1e-9);
}

#[test]
fn where_the_model_stands_in_for_everything_there_is_nothing_to_check() {
    let bare = tempfile::tempdir().unwrap();
    let d = detect::discover_at(bare.path(), &fixture("proc-2cpu"), false);
    let w = measure(d, &fixture("proc-2cpu"), || {});
    assert!(w.components.iter().all(|c| c.component.counted));
    assert_eq!(w.model_check(), None);
}

#[test]
fn on_amd_the_model_checks_the_package_and_stands_in_for_dram() {
    let sys = fixture_copy("amd-epyc");
    let d = detect::discover_at(sys.path(), &fixture("proc-2cpu"), false);
    let est: Vec<(&str, bool)> = d
        .report
        .components
        .iter()
        .filter(|c| c.sensor.starts_with("estimate:"))
        .map(|c| (c.id.as_str(), c.counted))
        .collect();
    assert_eq!(est, vec![("cpu-package-est", false), ("dram-est", true)]);
    let w = measure(d, &fixture("proc-2cpu"), || {
        advance_zone(sys.path(), "intel-rapl:0", 30_000_000);
        std::thread::sleep(Duration::from_millis(50));
    });
    let check = w.model_check().unwrap();
    // The CPU estimate against the package alone; the DRAM estimate is counted, not checked.
    assert_eq!(check.estimated_components, vec!["cpu-package-est"]);
    assert!(check
        .measured_components
        .iter()
        .all(|id| w.components.iter().any(|c| &c.component.id == id
            && c.component.kind == ComponentKind::CpuPackage
            && c.component.counted)));
    assert!((check.measured.joules() - 30.0).abs() < 1e-6, "{check:?}");
}
