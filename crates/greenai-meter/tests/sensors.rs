//! Sensors on fixture sysfs trees.

mod util;

use greenai_meter::sensors::hwmon::HwmonSensor;
use greenai_meter::sensors::powercap::PowercapSensor;
use greenai_meter::{detect, ComponentKind, EnergySensor, MeterError, Provenance};
use greenai_units::{Energy, Power};
use util::*;

fn summary(s: &dyn EnergySensor) -> Vec<(String, ComponentKind, bool)> {
    s.components()
        .iter()
        .map(|c| (c.id.clone(), c.kind, c.counted))
        .collect()
}

#[test]
fn two_socket_server_counts_packages_and_dram_but_not_psys() {
    let s = PowercapSensor::open(&fixture("intel-2s-server")).unwrap();
    use ComponentKind::*;
    assert_eq!(
        summary(&s),
        vec![
            ("cpu-package-0".into(), CpuPackage, true),
            ("dram-0".into(), Dram, true),
            ("cpu-package-1".into(), CpuPackage, true),
            ("dram-1".into(), Dram, true),
            ("psys-2".into(), Platform, false),
        ]
    );
    assert!(s
        .components()
        .iter()
        .all(|c| c.provenance == Provenance::Measured));
    assert!(s.components()[4]
        .within
        .as_deref()
        .unwrap()
        .contains("platform"));
}

#[test]
fn amd_cores_nest_in_their_packages() {
    let s = PowercapSensor::open(&fixture("amd-epyc")).unwrap();
    use ComponentKind::*;
    assert_eq!(
        summary(&s),
        vec![
            ("cpu-package-0".into(), CpuPackage, true),
            ("cpu-core-0".into(), CpuCore, false),
            ("cpu-package-1".into(), CpuPackage, true),
            ("cpu-core-1".into(), CpuCore, false),
        ]
    );
    assert_eq!(s.components()[3].within.as_deref(), Some("cpu-package-1"));
}

#[test]
fn laptop_mmio_twin_and_subzones_are_not_added() {
    let s = PowercapSensor::open(&fixture("laptop-psys")).unwrap();
    let counted: Vec<&str> = s
        .components()
        .iter()
        .filter(|c| c.counted)
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(counted, vec!["cpu-package-0", "dram-0"]);
    let mmio = s
        .components()
        .iter()
        .find(|c| c.sensor.contains("mmio"))
        .unwrap();
    assert_eq!(mmio.within.as_deref(), Some("duplicates cpu-package-0"));
}

#[test]
fn counters_read_as_energy_since_open() {
    let dir = fixture_copy("intel-2s-server");
    let mut s = PowercapSensor::open(dir.path()).unwrap();
    let first = s.read().unwrap();
    assert!(first.iter().all(|r| r.energy == Some(Energy::ZERO)));
    advance_zone(dir.path(), "intel-rapl:0", 2_500_000);
    advance_zone(dir.path(), "intel-rapl:1:0", 750_000);
    let r = s.read().unwrap();
    assert_eq!(r[0].energy, Some(Energy::from_joules(2.5)));
    assert_eq!(r[3].energy, Some(Energy::from_joules(0.75)));
    assert_eq!(r[1].energy, Some(Energy::ZERO));
}

#[test]
fn a_counter_wrap_at_max_energy_range_is_undone() {
    let dir = fixture_copy("intel-2s-server");
    let root = dir.path();
    let max = read(root, "class/powercap/intel-rapl:0/max_energy_range_uj");
    write(
        root,
        "class/powercap/intel-rapl:0/energy_uj",
        max - 1_000_000,
    );
    let mut s = PowercapSensor::open(root).unwrap();
    // 1 J up to the top, then through zero to 4 J: 5 J in all (plus the one-µJ step at zero).
    write(root, "class/powercap/intel-rapl:0/energy_uj", 3_999_999);
    let r = s.read().unwrap();
    assert_eq!(r[0].energy, Some(Energy::from_joules(5.0)));
    // A second wrap keeps adding.
    advance_zone(root, "intel-rapl:0", max);
    let r = s.read().unwrap();
    assert!((r[0].energy.unwrap().joules() - (5.0 + max as f64 * 1e-6)).abs() < 1e-6);
}

#[test]
fn a_missing_domain_is_simply_absent_and_the_model_fills_only_that_gap() {
    let dir = fixture_copy("intel-2s-server");
    for z in ["intel-rapl:0:0", "intel-rapl:1:0"] {
        std::fs::remove_dir_all(dir.path().join("class/powercap").join(z)).unwrap();
    }
    let d = detect::discover_at(dir.path(), &fixture("proc-2cpu"), false);
    let ids: Vec<(&str, bool, Provenance)> = d
        .report
        .components
        .iter()
        .map(|c| (c.id.as_str(), c.counted, c.provenance))
        .collect();
    assert_eq!(
        ids,
        vec![
            ("cpu-package-0", true, Provenance::Measured),
            ("cpu-package-1", true, Provenance::Measured),
            ("psys-2", false, Provenance::Measured),
            // The CPU estimate runs beside the packages, not added (tests/model_check.rs).
            ("cpu-package-est", false, Provenance::Estimated),
            ("dram-est", true, Provenance::Estimated),
        ]
    );
}

#[test]
fn no_powercap_at_all_is_unavailable_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    match PowercapSensor::open(dir.path()) {
        Err(MeterError::Unavailable { reason }) => assert!(reason.contains("powercap"), "{reason}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[test]
fn a_garbled_counter_is_an_error_not_zero() {
    let dir = fixture_copy("amd-epyc");
    std::fs::write(
        dir.path().join("class/powercap/intel-rapl:0/energy_uj"),
        "n/a\n",
    )
    .unwrap();
    let s = PowercapSensor::open(dir.path()).unwrap();
    // The broken zone is skipped and said so; the others still measure.
    assert_eq!(s.components().len(), 3);
    assert!(s.skipped()[0]
        .to_string()
        .contains("not an unsigned integer"));
}

#[test]
fn hwmon_gpu_power_is_integrated_and_converted_from_microwatts() {
    let dir = fixture_copy("laptop-psys");
    let mut s = HwmonSensor::open(dir.path()).unwrap();
    assert_eq!(
        s.components().len(),
        1,
        "power1_average and power1_input are one channel"
    );
    let c = &s.components()[0];
    assert_eq!(
        (c.id.as_str(), c.kind, c.provenance),
        ("gpu-amd-0", ComponentKind::Gpu, Provenance::Integrated)
    );
    assert!(c.sensor.contains("power1_average"));
    assert_eq!(s.read().unwrap()[0].power, Some(Power::from_watts(12.5)));
}

#[test]
fn hwmon_energy_counters_are_measured_and_dedupe_against_rapl() {
    let dir = fixture_copy("amd-epyc");
    let mut s = HwmonSensor::open(dir.path()).unwrap();
    let kinds: Vec<(&str, ComponentKind, Provenance)> = s
        .components()
        .iter()
        .map(|c| (c.id.as_str(), c.kind, c.provenance))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (
                "cpu-core-000-hwmon1",
                ComponentKind::CpuCore,
                Provenance::Measured
            ),
            (
                "cpu-package-0-hwmon1",
                ComponentKind::CpuPackage,
                Provenance::Measured
            ),
        ]
    );
    write(
        dir.path(),
        "class/hwmon/hwmon1/energy2_input",
        31_000_000_000 + 8_000_000,
    );
    assert_eq!(s.read().unwrap()[1].energy, Some(Energy::from_joules(8.0)));

    // Discovery keeps RAPL's package and marks the hwmon copy as a duplicate.
    let d = detect::discover_at(dir.path(), &fixture("proc-2cpu"), false);
    let hw = d
        .report
        .components
        .iter()
        .find(|c| c.sensor.starts_with("hwmon:") && c.kind == ComponentKind::CpuPackage)
        .unwrap();
    assert!(!hw.counted);
    // AMD has no dram zone: the model stands in for DRAM alone (its CPU figure runs beside).
    let est: Vec<&str> = d
        .report
        .components
        .iter()
        .filter(|c| c.provenance == Provenance::Estimated && c.counted)
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(est, vec!["dram-est"]);
}

#[test]
fn a_bare_machine_falls_back_to_the_model_for_cpu_and_dram() {
    let dir = tempfile::tempdir().unwrap();
    let d = detect::discover_at(dir.path(), &fixture("proc-2cpu"), false);
    assert!(d.report.can_measure());
    let ids: Vec<&str> = d.report.components.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, vec!["cpu-package-est", "dram-est"]);
    let model = d.report.model.as_ref().unwrap();
    assert_eq!(model.tdp_entry.as_deref(), Some("Intel Xeon Gold 6248"));
    assert_eq!(model.cpu_max_power_w, 150.0);
    assert!(d.report.components.iter().all(|c| c.uncertainty.is_some()));
}
