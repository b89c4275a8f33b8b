//! `greenai run` under a real single-node Slurm (Debian's `slurm-wlm` and `munge`; `.ci/run`
//! installs them): `tests/slurm/start.sh` starts munged, slurmctld and slurmd as root with a
//! generated configuration in a temporary directory, and the test stops what it started.

mod util;

use std::path::{Path, PathBuf};
use std::process::Command;

struct Slurm {
    dir: tempfile::TempDir,
}

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
    let o = util::greenai()
        .env("GREENAI_DB", &db)
        .args(["runs", "export", "--format", "json"])
        .output()
        .unwrap();
    let runs = util::json_of(&o);
    let runs = runs.as_array().unwrap();
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
