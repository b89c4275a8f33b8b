//! `greenai submit`, `queue` and `scheduler` end to end, on a compressed clock: one real second
//! stands for one hour of the forecast (`GREENAI_CLOCK`).

mod forecast_server;
mod util;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use util::{greenai, stderr};

const ORIGIN: f64 = 1_767_571_200.0; // 2026-01-05T00:00:00Z
const HOUR: f64 = 3600.0;

/// A day of hourly intensity: clean at 02–04, very clean at 06, 08 and 10, dirty between.
fn day_csv() -> String {
    let v = [300, 300, 100, 100, 300, 300, 50, 400, 50, 400, 50, 300];
    let mut s = String::from("timestamp,g_per_kwh\n");
    for h in 0..24 {
        s += &format!(
            "{},{}\n",
            ORIGIN as i64 + h * 3600,
            v.get(h as usize).unwrap_or(&300)
        );
    }
    s
}

struct Env {
    _dir: tempfile::TempDir,
    db: PathBuf,
    cwd: PathBuf,
    clock: String,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let real = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        Env {
            db: dir.path().join("g.sqlite"),
            cwd: dir.path().to_path_buf(),
            clock: format!("{ORIGIN},{real},3600"),
            _dir: dir,
        }
    }

    /// Starts the compressed clock again at ORIGIN (after slow set-up).
    fn restart_clock(&mut self) {
        let real = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        self.clock = format!("{ORIGIN},{real},3600");
    }

    fn cmd(&self) -> Command {
        let mut c = greenai();
        c.env("GREENAI_DB", &self.db)
            .env("GREENAI_CLOCK", &self.clock)
            .env("TZ", "UTC")
            .current_dir(&self.cwd);
        c
    }

    fn submit(&self, args: &[&str]) -> i64 {
        let o = self.cmd().arg("submit").args(args).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        util::stdout(&o).trim().parse().unwrap()
    }

    fn scheduler(&self, forecast: &str, extra: &[&str]) -> Scheduler {
        let log = self.cwd.join(format!("scheduler-{}.log", rand_suffix()));
        let child = self
            .cmd()
            .args([
                "scheduler",
                "--forecast",
                forecast,
                "--tick",
                "0.05",
                "--refresh",
                "0.5",
            ])
            .args(extra)
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Scheduler { child, log }
    }

    fn jobs(&self) -> Vec<Value> {
        let o = self
            .cmd()
            .args(["queue", "list", "--json"])
            .output()
            .unwrap();
        util::json_of(&o).as_array().unwrap().clone()
    }

    fn wait_until(&self, what: &str, limit: f64, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let t = Instant::now();
        loop {
            let jobs = self.jobs();
            if done(&jobs) {
                return jobs;
            }
            assert!(t.elapsed().as_secs_f64() < limit, "{what}: {jobs:#?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

struct Scheduler {
    child: Child,
    log: PathBuf,
}

impl Scheduler {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hours(v: &Value) -> f64 {
    (v.as_f64().unwrap() - ORIGIN) / HOUR
}

fn all_ended(jobs: &[Value]) -> bool {
    !jobs.is_empty()
        && jobs
            .iter()
            .all(|j| ["done", "failed", "cancelled"].contains(&j["state"].as_str().unwrap()))
}

#[test]
fn three_jobs_run_at_their_clean_hours_one_pausing_and_all_meet_their_deadlines() {
    let env = Env::new();
    let server = forecast_server::start();
    *server.shared.csv.lock().unwrap() = day_csv();
    let url = format!("{}/greenai.csv", server.base);
    // A: one hour by +5h: the clean hours 02–04. B: two hours by +6h: 02–04 as well.
    let a = env.submit(&[
        "--name",
        "a",
        "--duration",
        "1h",
        "--deadline",
        "+5h",
        "--",
        "sleep",
        "1",
    ]);
    let b = env.submit(&[
        "--name",
        "b",
        "--duration",
        "2h",
        "--deadline",
        "+6h",
        "--",
        "sleep",
        "2",
    ]);
    // C may pause: three hours expected (25 steps of a tenth of an hour, and their forks) by
    // +12h: 06, 08 and 10.
    let c = env.submit(&[
        "--name",
        "c",
        "--duration",
        "3h",
        "--deadline",
        "+12h",
        "--interruptible",
        "--",
        "sh",
        "-c",
        "i=0; while [ $i -lt 25 ]; do sleep 0.1; i=$((i+1)); done",
    ]);
    let sched = env.scheduler(&url, &["--max-jobs", "2", "--exit-when-idle"]);
    // Midway the service goes down: the scheduler keeps its last good forecast. "Midway" is
    // once A and B have started on the forecast (polled, not a fixed wait).
    env.wait_until("A and B start at their planned hour", 30.0, |jobs| {
        jobs.iter()
            .filter(|j| (j["id"] == a || j["id"] == b) && j["state"] != "queued")
            .count()
            >= 2
    });
    server
        .shared
        .down
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let jobs = env.wait_until("all three jobs end", 40.0, all_ended);
    let log = sched.log();
    let job = |id: i64| jobs.iter().find(|j| j["id"] == id).unwrap().clone();
    for id in [a, b, c] {
        let j = job(id);
        assert_eq!(j["state"], "done", "{j:#}\n{log}");
        assert!(
            j["finished_unix_s"].as_f64() <= j["deadline_unix_s"].as_f64(),
            "{j:#}"
        );
        let (e, cf) = (
            j["emissions_g"].as_f64().unwrap(),
            j["counterfactual_g"].as_f64().unwrap(),
        );
        assert!(e < cf, "job {id}: {e} g is not below {cf} g\n{j:#}");
        assert!(j["run_id"].is_string());
    }
    let start = |id: i64| hours(&job(id)["active"][0][0]);
    assert!(
        (start(a) - 2.0).abs() < 0.5,
        "a started at {}\n{log}",
        start(a)
    );
    assert!(
        (start(b) - 2.0).abs() < 0.5,
        "b started at {}\n{log}",
        start(b)
    );
    let cw = job(c)["active"].as_array().unwrap().clone();
    assert!(cw.len() >= 3, "c ran in {cw:?}\n{log}");
    for (w, want) in cw.iter().zip([6.0, 8.0, 10.0]) {
        assert!(
            (hours(&w[0]) - want).abs() < 0.5,
            "c's windows {cw:?}\n{log}"
        );
    }
    assert!(log.contains(&format!("job {c} paused")), "{log}");
    assert!(log.contains(&format!("job {c} resumed")), "{log}");
    assert!(log.contains("forecast unavailable"), "{log}");
    assert!(log.contains("keeping the last good one"), "{log}");
    eprintln!("{log}");
    // The run of C says what its scheduling saved.
    let run = job(c)["run_id"].as_str().unwrap().to_string();
    let o = env.cmd().args(["runs", "show", &run]).output().unwrap();
    let out = util::stdout(&o);
    assert!(out.contains("had it started at submission: saved"), "{out}");
    let o = env
        .cmd()
        .args(["runs", "show", &run, "--json"])
        .output()
        .unwrap();
    let v = util::json_of(&o);
    assert!(v["scheduling"]["emissions_g"].as_f64().unwrap() > 0.0);
}

fn wait_exit(child: &mut Child, limit: f64) -> std::process::ExitStatus {
    let t = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(t.elapsed().as_secs_f64() < limit, "still running");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_second_scheduler_refuses_and_a_killed_one_is_replaced_without_losing_its_job() {
    let env = Env::new();
    let flat = env.cwd.join("flat.csv");
    std::fs::write(
        &flat,
        day_csv()
            .replace(",50\n", ",300\n")
            .replace(",100\n", ",300\n")
            .replace(",400\n", ",300\n"),
    )
    .unwrap();
    let flat = flat.display().to_string();
    // Runs at once (a flat forecast: the earliest start wins), for three hours (3 s).
    let id = env.submit(&["--duration", "3h", "--deadline", "+10h", "--", "sleep", "3"]);
    let mut first = env.scheduler(&flat, &[]);
    env.wait_until("the job starts", 10.0, |j| j[0]["state"] == "running");
    let mut second = env.scheduler(&flat, &[]);
    let s = wait_exit(&mut second.child, 10.0);
    assert_eq!(s.code(), Some(2));
    let mut err = String::new();
    std::io::Read::read_to_string(second.child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains("another scheduler holds"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // Killed mid-job: the job goes on (its own process group) and the next scheduler records it.
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    assert_eq!(env.jobs()[0]["state"], "running");
    let _third = env.scheduler(&flat, &["--exit-when-idle"]);
    let jobs = env.wait_until("the job is recorded", 20.0, all_ended);
    assert_eq!(jobs[0]["state"], "done", "{:#}", jobs[0]);
    assert!(jobs[0]["run_id"].is_string(), "{:#}", jobs[0]);
    assert!(jobs[0]["emissions_g"].as_f64().is_some(), "{:#}", jobs[0]);
    let _ = id;
}

#[test]
fn cancel_ends_a_running_job_and_a_queued_one_never_starts() {
    let env = Env::new();
    let week = format!(
        "{}/../../data/forecasts/week-hourly-synthetic.csv",
        env!("CARGO_MANIFEST_DIR")
    );
    let csv = env.cwd.join("day.csv");
    std::fs::write(&csv, day_csv()).unwrap();
    let _ = week;
    let running = env.submit(&["--duration", "1h", "--deadline", "+1h", "--", "sleep", "30"]);
    let queued = env.submit(&[
        "--duration",
        "1h",
        "--deadline",
        "+20h",
        "--",
        "sleep",
        "30",
    ]);
    let o = env
        .cmd()
        .args(["queue", "cancel", &queued.to_string()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let _s = env.scheduler(&csv.display().to_string(), &["--exit-when-idle"]);
    env.wait_until("it runs", 10.0, |j| j[0]["state"] == "running");
    let o = env
        .cmd()
        .args(["queue", "cancel", &running.to_string()])
        .output()
        .unwrap();
    assert!(
        stderr(&o).contains("the scheduler ends it"),
        "{}",
        stderr(&o)
    );
    let jobs = env.wait_until("both cancelled", 15.0, all_ended);
    assert!(jobs.iter().all(|j| j["state"] == "cancelled"), "{jobs:#?}");
    assert!(jobs[1]["run_id"].is_null());
    let o = env
        .cmd()
        .args(["queue", "cancel", &queued.to_string()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cancelled already"), "{}", stderr(&o));
}

#[test]
fn submit_refuses_what_cannot_be_met() {
    let env = Env::new();
    for (args, want) in [
        (
            vec!["--duration", "3h", "--deadline", "+2h", "--", "true"],
            "the job needs 3h but only 2h remain",
        ),
        (
            vec![
                "--duration",
                "1h",
                "--deadline",
                "2025-01-01T00:00:00Z",
                "--",
                "true",
            ],
            "has passed",
        ),
        (vec!["--deadline", "+2h", "--", "true"], "give --duration"),
    ] {
        let o = env.cmd().arg("submit").args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
    assert!(env.jobs().is_empty());
    let _ = Path::new("");
}

#[test]
fn a_changed_forecast_moves_a_queued_job() {
    let env = Env::new();
    let server = forecast_server::start();
    *server.shared.csv.lock().unwrap() = day_csv();
    let url = format!("{}/greenai.csv", server.base);
    // One hour by +10h: 06:00 on the first forecast.
    let id = env.submit(&["--duration", "1h", "--deadline", "+10h", "--", "sleep", "1"]);
    let sched = env.scheduler(&url, &["--exit-when-idle"]);
    env.wait_until("planned", 10.0, |j| j[0]["plan"].is_array());
    assert!((hours(&env.jobs()[0]["plan"][0][0]) - 6.0).abs() < 1e-6);
    // The new forecast makes 04:00 the cleanest hour.
    *server.shared.csv.lock().unwrap() = day_csv().replacen(
        &format!("{},300\n", ORIGIN as i64 + 4 * 3600),
        &format!("{},10\n", ORIGIN as i64 + 4 * 3600),
        1,
    );
    let jobs = env.wait_until("run", 30.0, all_ended);
    let log = sched.log();
    assert!(log.contains("forecast changed"), "{log}");
    let started = hours(&jobs[0]["active"][0][0]);
    assert!((started - 4.0).abs() < 0.5, "started at {started}\n{log}");
    assert_eq!(jobs[0]["id"], id);
}

#[test]
fn the_systemd_unit_starts_a_scheduler_greenai_accepts() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/greenai-scheduler.service"
    ))
    .unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart line");
    let env = Env::new();
    let home = env.cwd.display().to_string();
    let forecast = env.cwd.join(".local/share/greenai/forecast.csv");
    std::fs::create_dir_all(forecast.parent().unwrap()).unwrap();
    std::fs::write(&forecast, day_csv()).unwrap();
    let words: Vec<String> = exec
        .split_whitespace()
        .map(|w| w.replace("%h", &home))
        .collect();
    assert!(words[0].ends_with("/greenai"), "{exec}");
    assert_eq!(words[1], "scheduler");
    let o = env
        .cmd()
        .args(&words[1..])
        .arg("--exit-when-idle")
        .output()
        .unwrap();
    assert!(o.status.success(), "{exec}: {}", stderr(&o));
    assert!(
        unit.contains("KillMode=process"),
        "stopping the service must not kill its jobs"
    );
}

#[test]
fn a_training_job_pauses_at_an_epoch_end_and_resumes_from_its_checkpoint() {
    use greenai_nn::data::Split;
    let mut env = Env::new();
    util::write_subset(&env.cwd, Split::Train, 4000, "train");
    util::write_subset(&env.cwd, Split::Test, 500, "t10k");
    // Clean at 00 and 05–08, dirty between: four hours of expected work get [0, 1) and [5, 8).
    // From 08 to the deadline the grid is in between: on a slow host the job overruns its four
    // hours (each real second is an hour here) and carries on past 08, where waiting must still
    // beat having started at submission through the dirty 01–05.
    let mut csv = String::from("timestamp,g_per_kwh\n");
    for h in 0..24 {
        let g = if h == 0 || (5..8).contains(&h) {
            50
        } else if (8..12).contains(&h) {
            100
        } else {
            500
        };
        csv += &format!("{},{g}\n", ORIGIN as i64 + h * 3600);
    }
    let forecast = env.cwd.join("f.csv");
    std::fs::write(&forecast, csv).unwrap();
    let exe = env!("CARGO_BIN_EXE_greenai");
    env.restart_clock();
    let id = env.submit(&[
        "--name",
        "lenet",
        "--duration",
        "4h",
        "--deadline",
        "+12h",
        "--interruptible",
        "--",
        exe,
        "train",
        "--model",
        "lightweight",
        "--epochs",
        "20",
        "--validation",
        "0",
        "--data",
        ".",
        "--save",
        "ck.safetensors",
        "--region",
        "FR",
    ]);
    let sched = env.scheduler(&forecast.display().to_string(), &["--exit-when-idle"]);
    let jobs = env.wait_until("trained", 60.0, all_ended);
    let log = sched.log();
    let j = &jobs[0];
    assert_eq!(j["id"], id);
    assert_eq!(j["state"], "done", "{j:#}\n{log}");
    assert!(
        log.contains(&format!("job {id} asked to pause at its next epoch end")),
        "{log}"
    );
    assert!(
        log.contains(&format!("job {id} paused at an epoch end")),
        "{log}"
    );
    assert!(
        log.contains(&format!("job {id} resumed from its checkpoint")),
        "{log}"
    );
    // Two runs: the one that paused and the one that finished.
    assert_eq!(j["prior_runs"].as_array().unwrap().len(), 1, "{j:#}");
    assert!(j["prior_energy_j"].as_f64().unwrap() > 0.0);
    let windows = j["active"].as_array().unwrap();
    assert_eq!(windows.len(), 2, "{j:#}");
    assert!(
        hours(&windows[0][0]) < 0.5 && hours(&windows[0][1]) < 2.0,
        "{j:#}"
    );
    assert!((hours(&windows[1][0]) - 5.0).abs() < 0.5, "{j:#}\n{log}");
    let out = std::fs::read_to_string(env.cwd.join(format!("greenai-job-{id}.out"))).unwrap();
    assert!(out.contains("pausing after epoch"), "{out}");
    assert!(
        out.contains("continue with --resume ck.safetensors"),
        "{out}"
    );
    assert!(
        j["emissions_g"].as_f64() < j["counterfactual_g"].as_f64(),
        "{j:#}"
    );
}
