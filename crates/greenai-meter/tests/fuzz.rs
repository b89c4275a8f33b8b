//! Arbitrary bytes where the meter reads files: procfs lines, sysfs counters and power files,
//! through the real sensors on tempdir trees. Every value is read or refused, never a panic, and
//! the monitor's energy never exceeds what its components' ceilings allow, whatever the counters
//! say. `GREENAI_FUZZ_CASES` sets the cases per property.

mod util;

use greenai_meter::procfs::{parse_proc_stat, parse_stat_cpu_line, CpuInfo};
use greenai_meter::sensors::hwmon::HwmonSensor;
use greenai_meter::sensors::powercap::PowercapSensor;
use greenai_meter::{EnergySensor, Monitor};
use proptest::prelude::*;
use std::time::Duration;
use util::*;

fn cases() -> u32 {
    std::env::var("GREENAI_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn procfs_text_never_panics(a in ".{0,300}", b in ".{0,300}") {
        let _ = parse_stat_cpu_line(&a);
        let _ = parse_proc_stat(&a);
        let _ = CpuInfo::parse(&a, &b);
    }

    /// Any bytes in RAPL and hwmon files: the sensors open or refuse, and read or fail.
    #[test]
    fn sysfs_values_never_panic(
        energy in proptest::collection::vec(any::<u8>(), 0..40),
        range in proptest::collection::vec(any::<u8>(), 0..40),
        power in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let dir = fixture_copy("amd-epyc");
        let root = dir.path();
        std::fs::write(root.join("class/powercap/intel-rapl:0/energy_uj"), &energy).unwrap();
        std::fs::write(root.join("class/powercap/intel-rapl:0/max_energy_range_uj"), &range).unwrap();
        std::fs::write(root.join("class/hwmon/hwmon1/energy1_input"), &power).unwrap();
        if let Ok(mut s) = PowercapSensor::open(root) {
            std::fs::write(root.join("class/powercap/intel-rapl:0/energy_uj"), &power).unwrap();
            let _ = s.read();
        }
        if let Ok(mut s) = HwmonSensor::open(root) {
            std::fs::write(root.join("class/hwmon/hwmon1/energy1_input"), &energy).unwrap();
            let _ = s.read();
        }
    }

    /// Whatever values a RAPL counter takes (backwards, wrapped, huge), a window's energy for
    /// that package never exceeds its ceiling (1 kW here: no constraint files) times the
    /// window's duration, with the guard's slack.
    #[test]
    fn counters_cannot_claim_more_than_the_hardware_could_spend(
        steps in proptest::collection::vec(any::<u32>(), 1..12),
    ) {
        let dir = fixture_copy("intel-2s-server");
        let root = dir.path();
        let m = Monitor::builder()
            .interval(Duration::from_millis(2))
            .sensor(Box::new(PowercapSensor::open(root).unwrap()))
            .proc_root(fixture("proc-2cpu"))
            .start()
            .unwrap();
        m.begin_window("w").unwrap();
        for v in steps {
            write(root, "class/powercap/intel-rapl:0/energy_uj", v as u64);
            std::thread::sleep(Duration::from_millis(3));
        }
        let w = m.end_window("w").unwrap();
        let pkg = w.components.iter().find(|c| c.component.id == "cpu-package-0").unwrap();
        let e = pkg.energy.unwrap().joules();
        let most = 1000.0 * (w.duration.as_secs_f64() + 0.05 * w.samples as f64) * 1.1;
        prop_assert!(e >= 0.0 && e <= most, "{e} J in {:?} ({} samples)", w.duration, w.samples);
    }
}
