//! Knobs over fixture trees: ranges refused, changes journaled and restored however the guard
//! ends, and a killed owner's changes recovered.

use greenai_power::guard::{recover, set_manually, Change, Guard, Journal, Owner, Pending};
use greenai_power::{discover, Access, Knob, PowerError, Range, Setting};
use std::path::Path;
use std::sync::{Arc, Mutex};

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A package with a long- and a short-term limit, two cpufreq policies.
pub fn machine(root: &Path) {
    let z = "class/powercap/intel-rapl:0";
    write(root, &format!("{z}/name"), "package-0\n");
    write(root, &format!("{z}/energy_uj"), "0\n");
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
    write(root, &format!("{z}/constraint_1_name"), "short_term\n");
    write(
        root,
        &format!("{z}/constraint_1_power_limit_uw"),
        "80000000\n",
    );
    for (p, max) in [("policy0", 3_500_000), ("policy1", 3_300_000)] {
        let d = format!("devices/system/cpu/cpufreq/{p}");
        write(root, &format!("{d}/scaling_max_freq"), &format!("{max}\n"));
        write(root, &format!("{d}/cpuinfo_min_freq"), "800000\n");
        write(root, &format!("{d}/cpuinfo_max_freq"), &format!("{max}\n"));
        write(root, &format!("{d}/scaling_governor"), "schedutil\n");
        write(
            root,
            &format!("{d}/scaling_available_governors"),
            "performance powersave schedutil\n",
        );
    }
}

#[derive(Default, Clone)]
struct MemJournal(Arc<Mutex<Vec<(i64, Change, bool)>>>);

impl Journal for MemJournal {
    fn record(&mut self, c: &Change) -> Result<i64, String> {
        let mut v = self.0.lock().unwrap();
        let id = v.len() as i64 + 1;
        v.push((id, c.clone(), false));
        Ok(id)
    }
    fn update_applied(&mut self, id: i64, a: &Setting) -> Result<(), String> {
        self.0.lock().unwrap()[id as usize - 1].1.applied = a.clone();
        Ok(())
    }
    fn restored(&mut self, id: i64) -> Result<(), String> {
        self.0.lock().unwrap()[id as usize - 1].2 = true;
        Ok(())
    }
    fn pending(&mut self) -> Result<Vec<Pending>, String> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|e| !e.2)
            .map(|e| Pending {
                id: e.0,
                change: e.1.clone(),
            })
            .collect())
    }
}

fn knob(root: &Path, id: &str) -> Box<dyn Knob> {
    discover(root, false)
        .0
        .into_iter()
        .find(|k| k.id() == id)
        .unwrap()
}

#[test]
fn knobs_are_found_with_their_values_and_ranges() {
    let dir = tempfile::tempdir().unwrap();
    machine(dir.path());
    let (knobs, notes) = discover(dir.path(), false);
    let ids: Vec<String> = knobs.iter().map(|k| k.id()).collect();
    assert_eq!(
        ids,
        [
            "powercap:intel-rapl:0:long_term",
            "powercap:intel-rapl:0:short_term",
            "cpufreq:max_freq",
            "cpufreq:governor"
        ]
    );
    assert!(notes.is_empty(), "{notes:?}");
    let k = &knobs[0];
    assert_eq!(k.read().unwrap(), Setting::Number(65.0));
    assert_eq!(
        k.range().unwrap(),
        Range::Numeric {
            min: 1.0,
            max: 95.0
        }
    );
    assert_eq!(k.access(), Access::Writable);
    // No stated maximum: never above what the firmware set.
    assert_eq!(
        knobs[1].range().unwrap(),
        Range::Numeric {
            min: 1.0,
            max: 80.0
        }
    );
    // The frequency range every policy accepts.
    assert_eq!(
        knobs[2].range().unwrap(),
        Range::Numeric {
            min: 800_000.0,
            max: 3_300_000.0
        }
    );
    assert_eq!(
        knobs[3].range().unwrap(),
        Range::Choices(vec![
            "performance".into(),
            "powersave".into(),
            "schedutil".into()
        ])
    );
    let (none, notes) = discover(&dir.path().join("nothing"), false);
    assert!(none.is_empty());
    assert_eq!(notes.len(), 2, "{notes:?}");
}

#[test]
fn values_outside_the_hardware_range_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    machine(dir.path());
    let mut g = Guard::new(Box::new(MemJournal::default()));
    for (id, v, want) in [
        (
            "powercap:intel-rapl:0:long_term",
            Setting::Number(120.0),
            "120 W is outside the hardware's range 1–95 W",
        ),
        (
            "powercap:intel-rapl:0:long_term",
            Setting::Number(f64::NAN),
            "outside",
        ),
        (
            "powercap:intel-rapl:0:long_term",
            Setting::Text("max".into()),
            "is not a number",
        ),
        (
            "cpufreq:max_freq",
            Setting::Number(3_400_000.0),
            "outside the hardware's range",
        ),
        (
            "cpufreq:governor",
            Setting::Text("turbo".into()),
            "is not one of performance, powersave, schedutil",
        ),
    ] {
        let e = g.set(knob(dir.path(), id), &v).unwrap_err();
        assert!(matches!(e, PowerError::OutOfRange(_)), "{e}");
        assert!(e.to_string().contains(want), "{e}");
    }
    assert!(g.changed().is_empty());
    assert_eq!(
        knob(dir.path(), "powercap:intel-rapl:0:long_term")
            .read()
            .unwrap(),
        Setting::Number(65.0)
    );
}

#[test]
fn a_guard_journals_first_and_restores_each_policy_its_own_value() {
    let dir = tempfile::tempdir().unwrap();
    machine(dir.path());
    let journal = MemJournal::default();
    {
        let mut g = Guard::new(Box::new(journal.clone()));
        g.set(
            knob(dir.path(), "powercap:intel-rapl:0:long_term"),
            &Setting::Number(40.0),
        )
        .unwrap();
        g.set(
            knob(dir.path(), "cpufreq:max_freq"),
            &Setting::Number(2_000_000.0),
        )
        .unwrap();
        // Set again: the original stays the first one.
        g.set(
            knob(dir.path(), "powercap:intel-rapl:0:long_term"),
            &Setting::Number(30.0),
        )
        .unwrap();
        let j = journal.0.lock().unwrap().clone();
        assert_eq!(j.len(), 2);
        assert_eq!(j[0].1.original, Setting::Number(65.0));
        assert_eq!(j[0].1.applied, Setting::Number(30.0));
        assert_eq!(j[0].1.owner, Owner::Job);
        assert_eq!(
            std::fs::read_to_string(
                dir.path()
                    .join("class/powercap/intel-rapl:0/constraint_0_power_limit_uw")
            )
            .unwrap(),
            "30000000"
        );
        let p1 = dir
            .path()
            .join("devices/system/cpu/cpufreq/policy1/scaling_max_freq");
        assert_eq!(std::fs::read_to_string(&p1).unwrap(), "2000000");
    }
    // Dropped: every file has its own text back, and the journal is closed.
    assert_eq!(
        std::fs::read_to_string(
            dir.path()
                .join("class/powercap/intel-rapl:0/constraint_0_power_limit_uw")
        )
        .unwrap(),
        "65000000"
    );
    for (p, max) in [("policy0", "3500000"), ("policy1", "3300000")] {
        let f = dir
            .path()
            .join(format!("devices/system/cpu/cpufreq/{p}/scaling_max_freq"));
        assert_eq!(std::fs::read_to_string(f).unwrap().trim(), max);
    }
    assert!(journal.0.lock().unwrap().iter().all(|e| e.2));
}

#[test]
fn a_dead_owners_changes_are_recovered_and_a_live_ones_left() {
    let dir = tempfile::tempdir().unwrap();
    machine(dir.path());
    let limit = dir
        .path()
        .join("class/powercap/intel-rapl:0/constraint_0_power_limit_uw");
    let mut journal = MemJournal::default();
    let change = |pid: i64, start: i64| Change {
        knob_id: "powercap:intel-rapl:0:long_term".into(),
        original: Setting::Number(65.0),
        files: vec![(limit.clone(), "65000000\n".into())],
        applied: Setting::Number(20.0),
        owner: Owner::Job,
        pid,
        pid_start: start,
    };
    std::fs::write(&limit, "20000000").unwrap();
    // Alive: this very process, with its start time.
    let me = std::process::id() as i64;
    let start = greenai_power::guard::start_ticks(me).unwrap();
    journal.record(&change(me, start)).unwrap();
    let (mut knobs, _) = discover(dir.path(), false);
    assert!(recover(&mut journal, &mut knobs, false).unwrap().is_empty());
    assert_eq!(std::fs::read_to_string(&limit).unwrap(), "20000000");
    // The same pid with another start time is another process: the owner is gone.
    journal.0.lock().unwrap().clear();
    journal.record(&change(me, start + 1)).unwrap();
    let r = recover(&mut journal, &mut knobs, false).unwrap();
    assert_eq!(r.len(), 1);
    assert!(r[0].result.is_ok());
    assert_eq!(std::fs::read_to_string(&limit).unwrap(), "65000000\n");
    assert!(journal.pending().unwrap().is_empty());
}

#[test]
fn a_manual_change_stays_until_restore_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    machine(dir.path());
    let mut journal = MemJournal::default();
    let mut k = knob(dir.path(), "cpufreq:governor");
    let was = set_manually(&mut journal, k.as_mut(), &Setting::Text("powersave".into())).unwrap();
    assert_eq!(was, Setting::Text("schedutil".into()));
    let (mut knobs, _) = discover(dir.path(), false);
    // Not on a plain start (its owner, this process, is alive anyway; manual changes wait).
    assert!(recover(&mut journal, &mut knobs, false).unwrap().is_empty());
    assert_eq!(
        knob(dir.path(), "cpufreq:governor").read().unwrap(),
        Setting::Text("powersave".into())
    );
    let r = recover(&mut journal, &mut knobs, true).unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(
        knob(dir.path(), "cpufreq:governor").read().unwrap(),
        Setting::Text("schedutil".into())
    );
}

#[test]
fn a_read_only_knob_says_how_to_allow_it() {
    let dir = tempfile::tempdir().unwrap();
    machine(dir.path());
    let limit = dir
        .path()
        .join("class/powercap/intel-rapl:0/constraint_0_power_limit_uw");
    let mut perms = std::fs::metadata(&limit).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o444);
    std::fs::set_permissions(&limit, perms).unwrap();
    // SAFETY: geteuid has no failure mode.
    if unsafe { libc::geteuid() } == 0 {
        eprintln!("skipped: running as root, which writes a read-only file anyway");
        return;
    }
    let k = knob(dir.path(), "powercap:intel-rapl:0:long_term");
    assert!(matches!(k.access(), Access::ReadOnly { .. }));
}

#[test]
fn a_fake_gpu_limit_is_set_and_restored() {
    use greenai_power::nvml::{FakeGpu, GpuPowerLimit};
    let limit = Arc::new(Mutex::new(300_000));
    let gpu = FakeGpu {
        index: 0,
        limit_mw: Arc::clone(&limit),
        range_mw: (100_000, 350_000),
        writable: true,
    };
    {
        let mut g = Guard::new(Box::new(MemJournal::default()));
        let e = g
            .set(
                Box::new(GpuPowerLimit(Box::new(gpu.clone()))),
                &Setting::Number(400.0),
            )
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("outside the hardware's range 100–350 W"),
            "{e}"
        );
        g.set(
            Box::new(GpuPowerLimit(Box::new(gpu.clone()))),
            &Setting::Number(200.0),
        )
        .unwrap();
        assert_eq!(*limit.lock().unwrap(), 200_000);
    }
    assert_eq!(*limit.lock().unwrap(), 300_000);
    let ro = FakeGpu {
        writable: false,
        ..gpu
    };
    let mut g = Guard::new(Box::new(MemJournal::default()));
    let e = g
        .set(
            Box::new(GpuPowerLimit(Box::new(ro))),
            &Setting::Number(200.0),
        )
        .unwrap_err();
    assert!(matches!(e, PowerError::PermissionDenied { .. }), "{e}");
}
