//! `greenai run` under a real single-node Slurm (Debian's `slurm-wlm` and `munge`; `.ci/run`
//! installs them): `tests/slurm/start.sh` starts munged, slurmctld and slurmd as root with a
//! generated configuration in a temporary directory, and the test stops what it started. The
//! tests take turns: one Slurm at a time on a 2-core machine.

mod util;

use std::path::{Path, PathBuf};
use std::process::Command;

struct Slurm {
    dir: tempfile::TempDir,
}

/// The runs in database `db`, as `runs export --format json` writes them.
fn exported_runs(db: &Path) -> Vec<serde_json::Value> {
    let o = util::greenai()
        .env("GREENAI_DB", db)
        .args(["runs", "export", "--format", "json"])
        .output()
        .unwrap();
    util::json_of(&o).as_array().unwrap().clone()
}

/// One test's Slurm at a time.
static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Slurm {
    fn start() -> Slurm {
        let dir = tempfile::tempdir().unwrap();
        let port = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        };
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slurm/start.sh");
        let o = Command::new("sh")
            .arg(script)
            .arg(dir.path())
            .arg(port().to_string())
            .arg(port().to_string())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "a single-node Slurm could not start here: {}",
            util::stderr(&o)
        );
        Slurm { dir }
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("slurm.conf")
    }
}

impl Drop for Slurm {
    fn drop(&mut self) {
        for d in ["slurmd", "slurmctld", "munged"] {
            if let Ok(pid) = std::fs::read_to_string(self.dir.path().join(format!("{d}.pid"))) {
                if let Ok(pid) = pid.trim().parse::<i32>() {
                    // SAFETY: a daemon this test started.
                    unsafe { libc::kill(pid, libc::SIGTERM) };
                }
            }
        }
    }
}

#[test]
fn srun_records_each_task_with_its_slurm_labels() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let slurm = Slurm::start();
    let db = slurm.dir.path().join("g.sqlite");
    let o = Command::new("srun")
        .env("SLURM_CONF", slurm.conf())
        .env("GREENAI_SYSFS_ROOT", util::fixtures().join("empty-sysfs"))
        .args(["-n2", "--job-name", "greenai-test"])
        .arg(env!("CARGO_BIN_EXE_greenai"))
        .arg("--db")
        .arg(&db)
        .args(["run", "--json", "--", "true"])
        .output()
        .unwrap();
    assert!(o.status.success(), "srun: {}", util::stderr(&o));
    let runs = exported_runs(&db);
    assert_eq!(runs.len(), 2, "{runs:#?}");
    let mut tasks: Vec<String> = runs
        .iter()
        .map(|r| r["labels"]["slurm_task_id"].as_str().unwrap().to_string())
        .collect();
    tasks.sort();
    assert_eq!(tasks, ["0", "1"]);
    let job = runs[0]["labels"]["slurm_job_id"].as_str().unwrap();
    assert!(runs.iter().all(|r| r["labels"]["slurm_job_id"] == job));
    assert!(runs
        .iter()
        .all(|r| r["labels"]["slurm_job_name"] == "greenai-test"));
    assert!(runs.iter().all(|r| r["labels"]["slurm_node"].is_string()));
}

/// `greenai compare --slurm` on a tiny grid: one array task per configuration, each on a
/// node-local database that is gone afterwards; the tasks' runs land in this database with their
/// array labels; the table is built from them (every row reused, the int8 row included). A
/// second compare submits nothing; an unknown configuration and a partition sbatch refuses are
/// one-line errors with exit 2.
#[test]
fn compare_runs_the_grid_as_a_job_array() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let slurm = Slurm::start();
    let data = slurm.dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    util::write_subset(&data, greenai_nn::data::Split::Train, 600, "train");
    util::write_subset(&data, greenai_nn::data::Split::Test, 200, "t10k");
    let db = slurm.dir.path().join("main.sqlite");
    let node_tmp = slurm.dir.path().join("node-tmp");
    std::fs::create_dir(&node_tmp).unwrap();
    let array_dir = slurm.dir.path().join("array");
    let compare = |extra: &[&str]| {
        util::greenai()
            .env("SLURM_CONF", slurm.conf())
            .env("GREENAI_DB", &db)
            .env("TMPDIR", &node_tmp)
            .args(["compare", "--slurm", "--json", "--region", "FR"])
            .args(["--target-accuracy", "0.5", "--repeat", "1", "--data"])
            .arg(&data)
            .arg("--slurm-dir")
            .arg(&array_dir)
            .args(extra)
            .output()
            .unwrap()
    };
    let o = compare(&["--only", "baseline,lenet-1ep"]);
    let v = util::json_of(&o);
    let err = util::stderr(&o);
    assert!(err.contains("job array "), "{err}");
    let rows = v["rows"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["config"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["baseline", "baseline-int8", "lenet-1ep", "lenet-1ep-int8"]
    );
    assert!(rows
        .iter()
        .all(|r| r["reused"] == true && r["run_id"].is_string()));
    assert!(v["best"].is_string() && v.get("missing").is_none(), "{v}");
    // Every row's run is in this database, recorded by its array task on the node.
    let runs = exported_runs(&db);
    assert_eq!(runs.len(), 4, "{runs:#?}");
    for r in rows {
        let run = runs.iter().find(|x| x["run_id"] == r["run_id"]).unwrap();
        let task = run["labels"]["slurm_array_task_id"].as_str().unwrap();
        let lenet = r["config"].as_str().unwrap().starts_with("lenet");
        let want = if lenet { "1" } else { "0" };
        assert_eq!(task, want, "{run:#}");
        assert!(run["labels"]["slurm_node"].is_string());
    }
    // The node-local databases are gone; the logs, exit statuses and runs stay for people.
    assert_eq!(std::fs::read_dir(&node_tmp).unwrap().count(), 0);
    for f in ["task-0.rc", "task-1.rc", "task-0.runs.json", "task-1.out"] {
        assert!(array_dir.join(f).exists(), "{f}");
    }
    // Everything is stored: nothing is submitted again.
    let o = compare(&["--only", "baseline,lenet-1ep"]);
    let again = util::json_of(&o);
    assert!(
        util::stderr(&o).contains("nothing to submit"),
        "{}",
        util::stderr(&o)
    );
    assert_eq!(again["rows"], v["rows"]);
    // Refused before anything runs, in one line.
    let o = compare(&["--only", "no-such-config"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        util::stderr(&o).contains("--only no-such-config"),
        "{}",
        util::stderr(&o)
    );
    let o = compare(&["--only", "lenet-1ep-bf16", "--slurm-arg=--partition=nosuch"]);
    assert_eq!(o.status.code(), Some(2));
    let err = util::stderr(&o);
    let last = err.trim().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("greenai: sbatch refused the job array: "),
        "{err}"
    );
}
