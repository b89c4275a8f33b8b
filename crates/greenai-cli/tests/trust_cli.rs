//! The run database and `greenai run` under conditions a user does not plan for: a database this
//! user may read but not write, a signal greenai was not written to expect.

mod util;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};
use util::*;

fn chmod(path: &std::path::Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `runs list`, `show` and `export` read a database whose file and directory this user cannot
/// write (as root, the test runs them as `nobody`, for whom the modes hold), and write nothing.
#[test]
fn runs_read_a_database_this_user_cannot_write() {
    let dir = tempfile::Builder::new()
        .prefix("greenai-ro")
        .tempdir_in("/tmp")
        .unwrap();
    chmod(dir.path(), 0o755);
    let db = dir.path().join("g.sqlite");
    let o = greenai()
        .arg("--db")
        .arg(&db)
        .args(["run", "--interval", "0.02", "--", "sleep", "0.1"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&db).unwrap();
    chmod(&db, 0o444);
    chmod(dir.path(), 0o555);
    let reader = |args: &[&str]| {
        let mut c = greenai();
        c.arg("--db").arg(&db).args(args);
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            c.uid(65534).gid(65534);
        }
        c.output().unwrap()
    };
    let list = reader(&["runs", "list", "--json"]);
    let show = reader(&["runs", "show", "--json", ""]);
    let export = reader(&["runs", "export", "--format", "csv"]);
    chmod(dir.path(), 0o755);
    assert!(list.status.success(), "{}", stderr(&list));
    let runs: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 1, "{runs}");
    assert!(show.status.success(), "{}", stderr(&show));
    let report: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(report["run_id"], runs[0]["run_id"]);
    assert!(export.status.success(), "{}", stderr(&export));
    assert_eq!(stdout(&export).lines().count(), 2);
    assert_eq!(std::fs::read(&db).unwrap(), bytes, "nothing written");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(
        names.len(),
        1,
        "no journal or shared-memory file left beside it"
    );
}

/// SIGUSR1 sent to greenai reaches the command (whose default is to die of it) instead of
/// killing greenai: the run is recorded, complete, with the signal that ended the command.
#[test]
fn an_unexpected_signal_is_forwarded_and_the_run_kept() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.sqlite");
    let child = greenai()
        .arg("--db")
        .arg(&db)
        .args(["run", "--json", "--interval", "0.02", "--", "sleep", "20"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the run's first stored samples (the writer commits every second), then signal.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let o = greenai()
            .arg("--db")
            .arg(&db)
            .args(["runs", "show", "--json", ""])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
        if v["samples"].as_u64().is_some_and(|n| n > 0) {
            break;
        }
        assert!(Instant::now() < deadline, "the run never started recording");
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: kill with a valid pid and signal.
    unsafe { libc::kill(child.id() as i32, libc::SIGUSR1) };
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(128 + libc::SIGUSR1), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["signal"], libc::SIGUSR1);
    assert_eq!(report["complete"], true);
    assert!(report["samples"].as_u64().unwrap() >= 2, "{report}");
}

/// A sensor that exists but cannot read all it should (here one RAPL zone's counter is garbage)
/// says so when `greenai run` starts, not only in `greenai detect`; the other zones still count.
#[test]
fn a_sensor_that_cannot_start_says_why_in_run() {
    let sys = tempfile::tempdir().unwrap();
    let src = fixtures().join("intel-2s-server");
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(format!("{}/.", src.display()))
        .arg(sys.path())
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::write(
        sys.path().join("class/powercap/intel-rapl:1/energy_uj"),
        "garbage\n",
    )
    .unwrap();
    let o = greenai()
        .env("GREENAI_SYSFS_ROOT", sys.path())
        .args(["run", "--json", "--", "true"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("warning: powercap: skipped"), "{err}");
    assert!(err.contains("intel-rapl:1"), "{err}");
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(report["components"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "cpu-package-0" && c["provenance"] == "measured"));
    assert!(report["faults"].as_array().unwrap().is_empty());
}

/// A counter that steps back while a command runs: `greenai run` reports the fault in its JSON
/// and on stderr, the energy stays what the hardware could have spent, and the stored run keeps
/// the fault.
#[test]
fn a_fault_mid_run_is_reported_and_stored() {
    let sys = tempfile::tempdir().unwrap();
    let src = fixtures().join("intel-2s-server");
    assert!(std::process::Command::new("cp")
        .arg("-r")
        .arg(format!("{}/.", src.display()))
        .arg(sys.path())
        .status()
        .unwrap()
        .success());
    let counter = sys.path().join("class/powercap/intel-rapl:0/energy_uj");
    let script = format!("sleep 0.3; echo 5 > '{}'; sleep 0.3", counter.display());
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.sqlite");
    let o = greenai()
        .env("GREENAI_SYSFS_ROOT", sys.path())
        .arg("--db")
        .arg(&db)
        .args([
            "run",
            "--json",
            "--interval",
            "0.02",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let faults = report["faults"].as_array().unwrap();
    assert!(
        faults
            .iter()
            .any(|f| f["component"] == "cpu-package-0" && f["kind"] == "implausible_jump"),
        "{report}"
    );
    assert!(report["energy_j"].as_f64().unwrap() < 1000.0, "{report}");
    assert!(
        stderr(&o).contains("fault: cpu-package-0"),
        "{}",
        stderr(&o)
    );
    let shown = greenai()
        .arg("--db")
        .arg(&db)
        .args(["runs", "show", "--json", ""])
        .output()
        .unwrap();
    let stored: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(stored["faults"], report["faults"]);
}
