//! `greenai train --power-tune` against a small power model run by the test: writing the package
//! limit changes how fast a fake RAPL counter advances and how fast the job runs (the test stops
//! and continues it, as a lower frequency would slow it), so the optimizer's choice is known.

mod util;

use greenai_nn::data::Split;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use util::{json_of, stderr};

/// No static power in the model: all of it follows the limit.
const STATIC_W: f64 = 0.0;
const MAX_W: f64 = 95.0;

/// The tests time training: one at a time, or they slow each other and blur the measurements.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn sysfs(root: &Path) {
    let z = "class/powercap/intel-rapl:0";
    write(root, &format!("{z}/name"), "package-0\n");
    write(root, &format!("{z}/energy_uj"), &format!("{:020}\n", 0));
    write(root, &format!("{z}/max_energy_range_uj"), "262143328850\n");
    write(root, &format!("{z}/constraint_0_name"), "long_term\n");
    write(
        root,
        &format!("{z}/constraint_0_power_limit_uw"),
        "65000000\n",
    );
    write(
        root,
        &format!("{z}/constraint_0_max_power_uw"),
        "95000000\n",
    );
}

/// The model: at limit L the CPU runs at a share d = (L/M)^k of full speed drawing L watts; the
/// counter advances by L·dt and the job runs d of each 10 ms. With k = ¼ (power ∝ f⁴, voltage
/// falling with frequency) energy per sample, ∝ L^¾, falls with the limit by 13–16 % a candidate:
/// the lowest wins on energy, by more than this VM's noise. Time per sample differs by only 4–6 %
/// a candidate there, inside the noise, so the time-only choice is checked with k = 1.
fn power_model(
    root: PathBuf,
    pid: i32,
    exponent: f64,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let z = root.join("class/powercap/intel-rapl:0");
        let mut counter = std::fs::OpenOptions::new()
            .write(true)
            .open(z.join("energy_uj"))
            .unwrap();
        let mut uj = 0.0f64;
        let mut last = Instant::now();
        while !stop.load(Ordering::SeqCst) {
            let limit_w = std::fs::read_to_string(z.join("constraint_0_power_limit_uw"))
                .ok()
                .and_then(|s| s.trim().parse::<f64>().ok())
                .map_or(MAX_W, |u| u / 1e6);
            let d = ((limit_w - STATIC_W) / (MAX_W - STATIC_W))
                .clamp(0.05, 1.0)
                .powf(exponent);
            // Long enough that stopping and resuming the job (its threads rescheduled, caches
            // refilled) is small beside the time it runs: at 10 ms that overhead, larger at lower
            // limits, once made the lowest limit cost more than the next on a loaded host.
            let period = Duration::from_millis(40);
            // SAFETY: signals to the test's own child.
            unsafe { libc::kill(pid, libc::SIGCONT) };
            std::thread::sleep(period.mul_f64(d));
            if d < 1.0 {
                unsafe { libc::kill(pid, libc::SIGSTOP) };
                std::thread::sleep(period.mul_f64(1.0 - d));
            }
            let now = Instant::now();
            uj += limit_w * 1e6 * now.duration_since(last).as_secs_f64();
            last = now;
            counter.seek(SeekFrom::Start(0)).unwrap();
            counter
                .write_all(format!("{:020}\n", uj as u64).as_bytes())
                .unwrap();
        }
        unsafe { libc::kill(pid, libc::SIGCONT) };
    })
}

fn tune(eta: &str, exponent: f64) -> (serde_json::Value, String, String) {
    let dir = tempfile::tempdir().unwrap();
    util::write_subset(dir.path(), Split::Train, 6000, "train");
    util::write_subset(dir.path(), Split::Test, 200, "t10k");
    let root = dir.path().join("sys");
    sysfs(&root);
    let child = util::greenai()
        .env("GREENAI_SYSFS_ROOT", &root)
        .env("GREENAI_DB", dir.path().join("g.sqlite"))
        .args([
            "train",
            "--model",
            "cnn",
            "--epochs",
            "8",
            "--validation",
            "0",
        ])
        .args([
            "--batch",
            "32",
            "--threads",
            "1",
            "--interval",
            "0.02",
            "--power-tune",
        ])
        .args(["--power-tune-steps", "250", "--power-eta", eta])
        .args(["--json", "--region", "FR", "--data"])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let model = power_model(root.clone(), child.id() as i32, exponent, Arc::clone(&stop));
    let o = child.wait_with_output().unwrap();
    stop.store(true, Ordering::SeqCst);
    model.join().unwrap();
    let limit = std::fs::read_to_string(
        root.join("class/powercap/intel-rapl:0/constraint_0_power_limit_uw"),
    )
    .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    (json_of(&o), stderr(&o), limit.trim().to_string())
}

#[test]
fn energy_first_tuning_takes_the_lowest_limit_time_first_keeps_the_default_and_both_restore() {
    let _one = serial();
    let (v, err, limit) = tune("1", 0.25);
    let t = &v["training"]["power_tune"];
    assert_eq!(t["knob"], "powercap:intel-rapl:0:long_term", "{t:#}");
    let trials = t["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 4, "{t:#}\n{err}");
    assert_eq!(t["default"], 65.0);
    assert_eq!(t["chosen"], 35.75, "{t:#}");
    assert!(t["energy_saving"].as_f64().unwrap() > 0.05, "{t:#}");
    assert!(
        err.contains("power tuning chose powercap:intel-rapl:0:long_term = 35.75 W"),
        "{err}"
    );
    assert_eq!(limit, "65000000", "restored after the job");
    // Time only, on a model where speed follows the limit (d = L/M): the default is fastest by
    // 15 % or more a setting. Under CI's load one run in about ten measured the second setting as
    // fast as the default, so the check is that time-first tuning keeps one of the two fastest and
    // never the energy-first choice.
    let (v, _, limit) = tune("0", 1.0);
    let t = &v["training"]["power_tune"];
    let chosen = t["chosen"].as_f64().unwrap();
    assert!(chosen == 65.0 || chosen == 55.25, "{t:#}");
    assert_eq!(limit, "65000000");
}

#[test]
fn without_a_writable_knob_it_says_so_and_trains_at_the_default() {
    let _one = serial();
    let dir = tempfile::tempdir().unwrap();
    util::write_subset(dir.path(), Split::Train, 500, "train");
    util::write_subset(dir.path(), Split::Test, 100, "t10k");
    let o = util::greenai()
        .env("GREENAI_DB", dir.path().join("g.sqlite"))
        .args([
            "train",
            "--epochs",
            "1",
            "--validation",
            "0",
            "--power-tune",
            "--json",
            "--region",
            "FR",
            "--data",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let v = json_of(&o);
    let t = &v["training"]["power_tune"];
    assert!(t["knob"].is_null(), "{t:#}");
    assert!(
        t["reason"]
            .as_str()
            .unwrap()
            .contains("no writable power knob"),
        "{t:#}"
    );
    assert!(
        stderr(&o).contains("greenai: power tuning: no writable power knob"),
        "{}",
        stderr(&o)
    );
    let o = util::greenai()
        .args([
            "train",
            "--epochs",
            "1",
            "--validation",
            "0",
            "--power-tune",
            "--no-store",
            "--data",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("drop --no-store"), "{}", stderr(&o));
}

#[test]
fn a_tuning_job_ended_by_a_signal_restores_the_limit_as_it_dies() {
    let _one = serial();
    let dir = tempfile::tempdir().unwrap();
    util::write_subset(dir.path(), Split::Train, 6000, "train");
    util::write_subset(dir.path(), Split::Test, 100, "t10k");
    let root = dir.path().join("sys");
    sysfs(&root);
    let limit = root.join("class/powercap/intel-rapl:0/constraint_0_power_limit_uw");
    let mut child = util::greenai()
        .env("GREENAI_SYSFS_ROOT", &root)
        .env("GREENAI_DB", dir.path().join("g.sqlite"))
        .args([
            "train",
            "--model",
            "cnn",
            "--epochs",
            "20",
            "--validation",
            "0",
        ])
        .args(["--power-tune", "--power-tune-steps", "20", "--data"])
        .arg(dir.path())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while std::fs::read_to_string(&limit).unwrap().trim() == "65000000" {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the tuner never changed the limit"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: a signal to the test's own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGTERM)
    );
    // Restored by the dying process itself, before any later greenai starts.
    assert_eq!(std::fs::read_to_string(&limit).unwrap().trim(), "65000000");
}
