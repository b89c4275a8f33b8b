//! `greenai detect` and `greenai run`, end to end.

mod util;

use std::time::Duration;
use util::*;

#[test]
fn detect_on_a_server_tree_lists_what_is_added_and_what_is_not() {
    let o = greenai()
        .env("GREENAI_SYSFS_ROOT", fixtures().join("intel-2s-server"))
        .arg("detect")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("powercap  available"), "{out}");
    assert!(out.contains("psys-2") && out.contains("not added"), "{out}");
    let added = out
        .lines()
        .find(|l| l.starts_with("greenai will add up"))
        .unwrap();
    assert_eq!(
        added,
        "greenai will add up: cpu-package-0 (measured), dram-0 (measured), cpu-package-1 (measured), dram-1 (measured)"
    );
}

/// A GPU without a driver greenai can read is named from the PCI bus, not passed over (issue 25).
#[test]
fn detect_names_a_gpu_on_the_pci_bus_that_nothing_measures() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("bus/pci/devices/0000:00:1e.0");
    std::fs::create_dir_all(&d).unwrap();
    for (f, v) in [
        ("class", "0x030200"),
        ("vendor", "0x10de"),
        ("device", "0x2237"),
    ] {
        std::fs::write(d.join(f), format!("{v}\n")).unwrap();
    }
    let o = greenai()
        .env("GREENAI_SYSFS_ROOT", dir.path())
        .env("GREENAI_NVML", "off")
        .arg("detect")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("GPU on the PCI bus: NVIDIA") && out.contains("at 0000:00:1e.0"),
        "{out}"
    );
    let v = json_of(
        &greenai()
            .env("GREENAI_SYSFS_ROOT", dir.path())
            .env("GREENAI_NVML", "off")
            .args(["detect", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(v["gpus_visible"][0]["device_id"], 0x2237, "{v}");
}

#[test]
fn detect_json_on_a_bare_machine_says_it_falls_back_to_the_model() {
    let o = greenai().args(["detect", "--json"]).output().unwrap();
    assert!(
        o.status.success(),
        "exit 0: greenai can measure by estimate"
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let powercap = &v["interfaces"][0];
    assert_eq!(powercap["interface"], "powercap");
    assert_eq!(powercap["available"], false);
    assert!(powercap["notes"][0]
        .as_str()
        .unwrap()
        .contains("no powercap"));
    let ids: Vec<&str> = v["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["cpu-package-est", "dram-est"]);
    assert!(v["components"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["provenance"] == "estimated" && c["uncertainty"].as_f64().unwrap() > 0.0));
}

/// A cloud guest that names its instance type: `detect` explains the model it uses and why, and
/// the host's embodied emissions count by default, apart from the operational ones, unless a flag
/// overrides them (issue 25).
#[test]
fn an_ec2_guest_gets_its_instance_and_embodied_emissions() {
    let ec2 = || {
        let mut c = greenai();
        c.env("GREENAI_SYSFS_ROOT", fixtures().join("aws-c6a-large"));
        c
    };
    let o = ec2().arg("detect").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("cloud: AWS c6a.large"), "{out}");
    assert!(out.contains("  CPU: ") && out.contains("family"), "{out}");
    assert!(
        out.contains("embodied emissions by default") && out.contains("2 of 192 vCPUs"),
        "{out}"
    );
    let v = json_of(&ec2().args(["detect", "--json"]).output().unwrap());
    let share = v["model"]["embodied"]["share"].as_f64().unwrap();
    assert!((share - 2.0 / 192.0).abs() < 1e-9, "{v}");

    // `greenai carbon` for 1 kWh over an hour, on the EC2 tree or on the bare one.
    let carbon = |tree: &str, extra: &[&str]| {
        let mut c = greenai();
        c.env("GREENAI_SYSFS_ROOT", fixtures().join(tree));
        c.args(["carbon", "--energy-kwh", "1", "--duration-s", "3600"])
            .args(["--region", "FR", "--json"])
            .args(extra);
        json_of(&c.output().unwrap())
    };
    // 1,510 kg over 4 years, 2 of 192 vCPUs, one hour: about 0.45 g, beside the operational grams.
    let by_default = carbon("aws-c6a-large", &[]);
    let m = by_default["embodied_g"].as_f64().unwrap();
    assert!(m > 0.3 && m < 0.6, "{by_default}");
    assert!(by_default["emissions_g"].as_f64().unwrap() > 10.0);
    assert!(carbon("aws-c6a-large", &["--embodied-kg", "0"])["embodied_g"].is_null());
    let whole = carbon("aws-c6a-large", &["--resource-share", "1"])["embodied_g"]
        .as_f64()
        .unwrap();
    assert!(
        (whole / m - 96.0).abs() < 1e-6,
        "the flag overrides the share: {whole} {m}"
    );
    // Elsewhere (no DMI strings) there is no default.
    let bare = carbon("empty-sysfs", &[]);
    assert!(bare["embodied_g"].is_null(), "{bare}");
}

/// `greenai estimate` asks the model directly, and refuses what it cannot answer with exit 2.
#[test]
fn estimate_answers_for_a_family_an_instance_or_a_model_name() {
    let v = json_of(
        &greenai()
            .args([
                "estimate", "--family", "Skylake", "--vcpus", "4", "--load", "0.5", "--json",
            ])
            .output()
            .unwrap(),
    );
    // 4 vCPUs × the Skylake curve fitted on the SPECpower results, at its 50 % step.
    let sky = greenai_meter::hardware::curve::family("Skylake").unwrap();
    assert!(
        (v["watts"].as_f64().unwrap() - 4.0 * sky.points[5]).abs() < 1e-9,
        "{v}"
    );
    assert_eq!(v["uncertainty"].as_f64(), Some(sky.uncertainty));
    assert!(v["low_w"].as_f64().unwrap() < v["high_w"].as_f64().unwrap());
    let o = greenai()
        .args(["estimate", "--instance", "aws:c6a.large", "--load", "1"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let milan = greenai_meter::hardware::curve::family("AMD EPYC 3rd Gen").unwrap();
    assert!(
        out.contains(&format!("{:.2} W", 2.0 * milan.max_w_per_vcpu()))
            && out.contains("AMD EPYC 3rd Gen")
            && out.contains("embodied"),
        "{out}"
    );
    // The curves' validation: every SPECpower result held out of its family's fit.
    let o = greenai().args(["estimate", "--validate"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("held out") && out.contains("Skylake"), "{out}");
    let v = json_of(
        &greenai()
            .args(["estimate", "--validate", "--json"])
            .output()
            .unwrap(),
    );
    assert!(v["servers"].as_u64().unwrap() >= 600, "{}", v["servers"]);
    assert!(v["coverage"].as_f64().unwrap() >= 0.9);
    let held = &v["held"][0];
    assert_eq!(held["measured_w"].as_array().unwrap().len(), 11);
    for bad in [
        vec!["estimate", "--family", "Pentium"],
        vec!["estimate", "--instance", "aws:q9.nothing"],
        vec!["estimate", "--family", "Skylake", "--load", "1.5"],
        vec!["estimate", "--family", "Skylake", "--vcpus", "0"],
        vec!["estimate", "--validate", "--family", "Skylake"],
        vec!["estimate"],
    ] {
        let o = greenai().args(&bad).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
        let e = stderr(&o);
        assert!(
            !e.contains("panicked") && !e.trim().is_empty(),
            "{bad:?}: {e}"
        );
    }
}

#[test]
fn run_reports_a_cpu_burning_child_and_its_share() {
    let o = greenai()
        .args([
            "run",
            "--json",
            "--interval",
            "0.02",
            "--label",
            "team=green",
            "--",
        ])
        .args([
            "sh",
            "-c",
            "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for key in [
        "run_id",
        "command",
        "exit_code",
        "started_at",
        "duration_s",
        "energy_j",
        "components",
        "process_energy_j",
        "avg_power_w",
        "peak_power_w",
        "complete",
    ] {
        assert!(v.get(key).is_some(), "missing {key} in {v}");
    }
    assert_eq!(v["exit_code"], 0);
    assert_eq!(v["complete"], true);
    assert_eq!(v["labels"]["team"], "green");
    let total = v["energy_j"].as_f64().unwrap();
    let ours = v["process_energy_j"].as_f64().unwrap();
    assert!(
        total > 0.0 && ours > 0.0 && ours <= total + 1e-9,
        "{ours} of {total}"
    );
    assert!(v["process_cpu_time_s"].as_f64().unwrap() > 0.05);
    let comps = v["components"].as_array().unwrap();
    for c in comps {
        for key in [
            "name",
            "kind",
            "energy_j",
            "avg_power_w",
            "provenance",
            "sensor",
        ] {
            assert!(c.get(key).is_some(), "component lacks {key}: {c}");
        }
    }
    let sum: f64 = comps.iter().map(|c| c["energy_j"].as_f64().unwrap()).sum();
    assert!((sum - total).abs() < 1e-9);
    // The text report goes to stderr, with provenance.
    let err = stderr(&o);
    assert!(err.contains("estimated ±"), "{err}");
    assert!(err.contains("process tree: "), "{err}");
}

/// On a machine RAPL measures, the model still runs beside it, is not added, and the run says how
/// far its estimate was from the measurement (issue 25).
#[test]
fn run_on_a_rapl_server_reports_the_estimate_beside_the_measurement() {
    let sys = tempfile::tempdir().unwrap();
    assert!(std::process::Command::new("cp")
        .arg("-r")
        .arg(format!(
            "{}/.",
            fixtures().join("intel-2s-server").display()
        ))
        .arg(sys.path())
        .status()
        .unwrap()
        .success());
    // The child moves each counter once: 2 J per package, 0.5 J per DRAM zone, 5 J in all.
    let mut script = String::from("sleep 0.2");
    for (zone, uj) in [
        ("intel-rapl:0", 2_000_000u64),
        ("intel-rapl:0:0", 500_000),
        ("intel-rapl:1", 2_000_000),
        ("intel-rapl:1:0", 500_000),
    ] {
        let f = sys
            .path()
            .join("class/powercap")
            .join(zone)
            .join("energy_uj");
        let now: u64 = std::fs::read_to_string(&f).unwrap().trim().parse().unwrap();
        script += &format!("; echo {} > '{}'", now + uj, f.display());
    }
    script += "; sleep 0.2";
    let o = greenai()
        .env("GREENAI_SYSFS_ROOT", sys.path())
        .args(["run", "--json", "--", "sh", "-c", &script])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!((v["energy_j"].as_f64().unwrap() - 5.0).abs() < 1e-6, "{v}");
    assert_eq!(v["provenance"], "measured");
    let check = &v["model_check"];
    assert!(
        (check["measured_j"].as_f64().unwrap() - 5.0).abs() < 1e-6,
        "{check}"
    );
    let est = check["estimated_j"].as_f64().unwrap();
    assert!(est > 0.0, "{check}");
    let diff = check["difference"].as_f64().unwrap();
    assert!((diff - (est - 5.0) / 5.0).abs() < 1e-9, "{check}");
    assert_eq!(check["estimated_components"][0], "cpu-package-est");
    // The model's components are in the report, marked as not added.
    let comps = v["components"].as_array().unwrap();
    let shadow = comps
        .iter()
        .find(|c| c["name"] == "cpu-package-est")
        .unwrap();
    assert_eq!(shadow["counted"], false, "{shadow}");
    let err = stderr(&o);
    let line = err
        .lines()
        .find(|l| l.contains("model check:"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains("against measured 5.00 J"), "{line}");
}

#[test]
fn run_exits_with_the_childs_status() {
    let o = greenai()
        .args(["run", "--", "sh", "-c", "exit 7"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(7));
    assert!(stderr(&o).contains("exited with 7"));
}

#[test]
fn a_child_killed_by_a_signal_gives_128_plus_n() {
    let o = greenai()
        .args(["run", "--json", "--", "sh", "-c", "kill -KILL $$"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(128 + 9));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["signal"], 9);
    assert_eq!(v["exit_code"], 137);
}

#[test]
fn sigterm_to_greenai_reaches_the_child() {
    let child = greenai()
        .args(["run", "--json", "--", "sleep", "30"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until greenai has spawned `sleep` (its only child), then signal greenai alone.
    let pid = child.id();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let kids =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        if !kids.trim().is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "greenai never started its child"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: plain kill of our own child.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(128 + 15), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["signal"], 15);
    assert!(v["duration_s"].as_f64().unwrap() < 30.0);
}

#[test]
fn an_unknown_command_is_a_clear_error_with_exit_2() {
    let o = greenai()
        .args(["run", "--", "no-such-program-xyz"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("command not found"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[test]
fn bad_flags_exit_2() {
    for args in [
        vec!["run", "--interval", "0", "--", "true"],
        vec!["run", "--interval", "soon", "--", "true"],
        vec!["run", "--label", "novalue", "--", "true"],
        vec!["frobnicate"],
    ] {
        let o = greenai().args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
}
