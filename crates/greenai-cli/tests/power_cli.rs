//! `greenai power` and `greenai run --power-limit` over a fixture sysfs tree: ranges refused,
//! every change restored, whatever way the job ends.

mod util;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use util::{stderr, stdout};

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

struct Machine {
    dir: tempfile::TempDir,
    db: PathBuf,
}

impl Machine {
    /// One package (65 W long-term limit, 95 W max), two cpufreq policies.
    fn new() -> Machine {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("sys");
        let z = "class/powercap/intel-rapl:0";
        write(&root, &format!("{z}/name"), "package-0\n");
        write(&root, &format!("{z}/energy_uj"), "1000000\n");
        write(&root, &format!("{z}/max_energy_range_uj"), "262143328850\n");
        write(&root, &format!("{z}/constraint_0_name"), "long_term\n");
        write(
            &root,
            &format!("{z}/constraint_0_power_limit_uw"),
            "65000000\n",
        );
        write(
            &root,
            &format!("{z}/constraint_0_max_power_uw"),
            "95000000\n",
        );
        for p in ["policy0", "policy1"] {
            let d = format!("devices/system/cpu/cpufreq/{p}");
            write(&root, &format!("{d}/scaling_max_freq"), "3500000\n");
            write(&root, &format!("{d}/cpuinfo_min_freq"), "800000\n");
            write(&root, &format!("{d}/cpuinfo_max_freq"), "3500000\n");
        }
        Machine {
            db: dir.path().join("g.sqlite"),
            dir,
        }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("sys")
    }

    fn limit_file(&self) -> PathBuf {
        self.root()
            .join("class/powercap/intel-rapl:0/constraint_0_power_limit_uw")
    }

    fn limit(&self) -> String {
        std::fs::read_to_string(self.limit_file())
            .unwrap()
            .trim()
            .to_string()
    }

    fn cmd(&self) -> Command {
        let mut c = util::greenai();
        c.env("GREENAI_SYSFS_ROOT", self.root())
            .env("GREENAI_DB", &self.db)
            .env("GREENAI_NO_NVML", "1");
        c
    }
}

#[test]
fn show_lists_knobs_with_values_ranges_and_access() {
    let m = Machine::new();
    let o = m.cmd().args(["power", "show"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("powercap:intel-rapl:0:long_term"), "{out}");
    assert!(out.contains("65 W"), "{out}");
    assert!(out.contains("range 1–95 W"), "{out}");
    assert!(out.contains("cpufreq:max_freq"), "{out}");
    let v = util::json_of(&m.cmd().args(["power", "show", "--json"]).output().unwrap());
    assert_eq!(v["knobs"].as_array().unwrap().len(), 2);
    assert_eq!(v["knobs"][0]["value"], 65.0);
    let o = util::greenai()
        .env("GREENAI_SYSFS_ROOT", m.dir.path().join("nothing"))
        .env("GREENAI_NO_NVML", "1")
        .args(["power", "show"])
        .output()
        .unwrap();
    let out = stdout(&o);
    assert!(out.contains("no power knobs on this machine"), "{out}");
    assert!(out.contains("no RAPL power limits"), "{out}");
}

#[test]
fn set_refuses_out_of_range_changes_with_dry_run_and_restore_puts_it_back() {
    let m = Machine::new();
    let o = m
        .cmd()
        .args([
            "power",
            "set",
            "powercap:intel-rapl:0:long_term",
            "40W",
            "--dry-run",
        ])
        .output()
        .unwrap();
    assert!(
        stdout(&o).contains("would set powercap:intel-rapl:0:long_term from 65 W to 40 W"),
        "{}",
        stdout(&o)
    );
    assert_eq!(m.limit(), "65000000");
    for (args, want) in [
        (
            vec!["powercap:intel-rapl:0:long_term", "120"],
            "120 W is outside the hardware's range 1–95 W",
        ),
        (
            vec!["powercap:intel-rapl:0:long_term", "lots"],
            "is not watts",
        ),
        (
            vec!["cpufreq:max_freq", "9GHz"],
            "outside the hardware's range",
        ),
        (
            vec!["nvml:0:power_limit", "200"],
            "no knob \"nvml:0:power_limit\" on this machine",
        ),
    ] {
        let o = m.cmd().args(["power", "set"]).args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
    }
    assert_eq!(m.limit(), "65000000");
    let o = m
        .cmd()
        .args(["power", "set", "cpufreq:max_freq", "2.4GHz"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let f = m
        .root()
        .join("devices/system/cpu/cpufreq/policy1/scaling_max_freq");
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "2400000");
    // A deliberate change survives the next greenai start; `power restore` undoes it.
    assert!(m
        .cmd()
        .args(["run", "--", "true"])
        .output()
        .unwrap()
        .status
        .success());
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "2400000");
    let o = m.cmd().args(["power", "restore"]).output().unwrap();
    assert!(
        stdout(&o).contains("restored cpufreq:max_freq to 3500000"),
        "{}",
        stdout(&o)
    );
    assert_eq!(std::fs::read_to_string(&f).unwrap().trim(), "3500000");
    let o = m.cmd().args(["power", "restore"]).output().unwrap();
    assert!(stdout(&o).contains("nothing to restore"), "{}", stdout(&o));
}

#[test]
fn run_under_a_cap_sees_it_and_leaves_the_machine_as_it_found_it() {
    let m = Machine::new();
    let file = m.limit_file();
    let o = m
        .cmd()
        .args([
            "run",
            "--power-limit",
            "40",
            "--cpu-max-freq",
            "2000MHz",
            "--",
            "cat",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).trim(),
        "40000000",
        "the command ran under the cap"
    );
    assert_eq!(m.limit(), "65000000");
    // A failing command: restored all the same.
    let o = m
        .cmd()
        .args(["run", "--power-limit", "40", "--", "sh", "-c", "exit 3"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(m.limit(), "65000000");
    // Out of range: refused before the command runs.
    let marker = m.dir.path().join("ran");
    let o = m
        .cmd()
        .args(["run", "--power-limit", "500", "--", "touch"])
        .arg(&marker)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--power-limit: powercap:intel-rapl:0:long_term: 500 W is outside"),
        "{}",
        stderr(&o)
    );
    assert!(!marker.exists());
    // No such knob here.
    let o = util::greenai()
        .env("GREENAI_SYSFS_ROOT", m.dir.path().join("nothing"))
        .env("GREENAI_NO_NVML", "1")
        .args(["run", "--power-limit", "40", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("this machine has no RAPL package limit"),
        "{}",
        stderr(&o)
    );
}

fn wait_for(what: &str, f: impl Fn() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(20), "{what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_signalled_run_restores_and_a_killed_one_is_restored_on_the_next_start() {
    let m = Machine::new();
    // SIGTERM: greenai run forwards it to the command, records the run and restores.
    let mut child = m
        .cmd()
        .args(["run", "--power-limit", "30", "--", "sleep", "30"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the cap is set", || m.limit() == "30000000");
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
    assert_eq!(m.limit(), "65000000");
    // SIGKILL: nothing runs in greenai; the journal remembers, and the next start restores.
    let mut child = m
        .cmd()
        .args(["run", "--power-limit", "30", "--", "sleep", "30"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the cap is set", || m.limit() == "30000000");
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(m.limit(), "30000000", "kill -9 leaves it changed");
    let o = m.cmd().args(["power", "show"]).output().unwrap();
    assert!(
        stderr(&o).contains("greenai: restored powercap:intel-rapl:0:long_term to 65"),
        "{}",
        stderr(&o)
    );
    assert_eq!(m.limit(), "65000000");
}
