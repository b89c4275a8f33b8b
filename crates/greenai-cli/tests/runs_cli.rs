//! The run database through the real binary: recording, listing, exporting, surviving a killed
//! greenai, concurrent writers, and the OpenMetrics exporter.

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use util::*;

fn with_db(db: &Path) -> Command {
    let mut c = greenai();
    c.arg("--db").arg(db);
    c
}

fn json_of(cmd: &mut Command) -> serde_json::Value {
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn a_run_is_recorded_listed_shown_and_exported() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.sqlite");
    let run = json_of(
        with_db(&db)
            .args([
                "run",
                "--json",
                "--interval",
                "0.02",
                "--project",
                "mnist",
                "--",
            ])
            .args([
                "sh",
                "-c",
                "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done",
            ]),
    );
    let id = run["run_id"].as_str().unwrap().to_string();

    let list = json_of(with_db(&db).args(["runs", "list", "--json"]));
    assert_eq!(list[0]["run_id"], id.as_str());
    assert_eq!(list[0]["status"], "complete");
    assert_eq!(list[0]["provenance"], run["provenance"]);

    let shown = json_of(with_db(&db).args(["runs", "show", "--json", &id[..8]]));
    assert_eq!(shown, run, "the stored report is the printed one");

    let o = with_db(&db).args(["runs", "show", &id]).output().unwrap();
    let text = stdout(&o);
    assert!(
        text.contains("power ") && text.contains(" samples"),
        "{text}"
    );
    assert!(
        text.chars().any(|c| ('▁'..='█').contains(&c)),
        "a sparkline: {text}"
    );

    let o = with_db(&db)
        .args(["runs", "export", "--format", "csv"])
        .output()
        .unwrap();
    let csv = stdout(&o);
    let mut lines = csv.lines();
    let header = greenai_store::export::split_csv_line(lines.next().unwrap());
    let row = greenai_store::export::split_csv_line(lines.next().unwrap());
    assert_eq!(header.len(), row.len());
    let col = |n: &str| row[header.iter().position(|h| h == n).unwrap()].as_str();
    assert_eq!(col("project_name"), "mnist");
    assert_eq!(col("run_id"), id);
    let kwh: f64 = col("energy_consumed").parse().unwrap();
    assert!((kwh * 3.6e6 - run["energy_j"].as_f64().unwrap()).abs() < 1e-6);

    let exported = json_of(with_db(&db).args(["runs", "export", "--format", "json"]));
    assert_eq!(exported[0], run);
}

#[test]
fn a_killed_greenai_leaves_its_samples_and_an_incomplete_run() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.sqlite");
    let mut g = with_db(&db)
        .args(["run", "--interval", "0.05", "--", "sleep", "30"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until samples have been committed, reading the database as any other process would.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let n: i64 = rusqlite::Connection::open(&db)
            .and_then(|c| c.query_row("SELECT count(*) FROM samples", [], |r| r.get(0)))
            .unwrap_or(0);
        if n >= 10 {
            break;
        }
        assert!(Instant::now() < deadline, "no samples were committed");
        std::thread::sleep(Duration::from_millis(50));
    }
    let child: i32 = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", g.id()))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    g.kill().unwrap(); // SIGKILL: no chance to finish the run
    g.wait().unwrap();
    // SAFETY: the orphaned `sleep` is ours to end.
    unsafe { libc::kill(child, libc::SIGKILL) };

    let list = json_of(with_db(&db).args(["runs", "list", "--json"]));
    assert_eq!(list[0]["status"], "incomplete");
    assert!(list[0]["provenance"].is_string(), "{}", list[0]);
    let id = list[0]["run_id"].as_str().unwrap();
    let r = json_of(with_db(&db).args(["runs", "show", "--json", id]));
    assert_eq!(r["complete"], false);
    assert!(r["samples"].as_u64().unwrap() >= 10);
    assert!(r["energy_j"].as_f64().unwrap() > 0.0);
    assert!(r["duration_s"].as_f64().unwrap() > 0.4);
    let text = stdout(&with_db(&db).args(["runs", "show", id]).output().unwrap());
    assert!(text.contains("INCOMPLETE"), "{text}");
}

#[test]
fn two_runs_on_one_database_at_once_both_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.sqlite");
    let spawn = || {
        with_db(&db)
            .args(["run", "--interval", "0.005", "--", "sh", "-c", "sleep 1.5"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for c in [a, b] {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(!stderr(&o).contains("not stored"), "{}", stderr(&o));
        assert!(stderr(&o).contains("recorded as run"), "{}", stderr(&o));
    }
    let list = json_of(with_db(&db).args(["runs", "list", "--json"]));
    let runs = list.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|r| r["status"] == "complete"));
    for r in runs {
        let id = r["run_id"].as_str().unwrap();
        let shown = json_of(with_db(&db).args(["runs", "show", "--json", id]));
        assert!(shown["samples"].as_u64().unwrap() > 50);
    }
}

#[test]
fn a_corrupt_or_unwritable_database_is_a_one_line_error_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.sqlite");
    std::fs::write(&db, vec![0x42u8; 4096]).unwrap();
    let marker = dir.path().join("ran");
    let o = with_db(&db)
        .args(["run", "--", "touch"])
        .arg(&marker)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("left untouched"), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1);
    assert!(
        !marker.exists(),
        "the command must not run without a database"
    );
    assert_eq!(std::fs::read(&db).unwrap(), vec![0x42u8; 4096]);

    let o = with_db(Path::new("/proc/version/g.sqlite"))
        .args(["run", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--db"), "{}", stderr(&o));
}

fn scrape(addr: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    // As Prometheus asks: OpenMetrics preferred; one request per connection.
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: application/openmetrics-text; version=1.0.0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}

/// Scrapes `addr` until `ok` holds of the body, for up to ten seconds; the last body either way.
fn scrape_until(addr: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let body = scrape(addr);
        if ok(&body) || std::time::Instant::now() > deadline {
            return body;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads stderr until greenai says where it serves, returning the address.
fn served_at(child: &mut std::process::Child) -> String {
    let err = child.stderr.take().unwrap();
    let mut lines = BufReader::new(err).lines();
    loop {
        let line = lines.next().expect("greenai said where it serves").unwrap();
        if let Some(rest) = line.split("http://").nth(1) {
            let addr = rest.split("/metrics").next().unwrap().to_string();
            std::thread::spawn(move || for _ in lines {});
            return addr;
        }
    }
}

#[test]
fn the_exporter_serves_openmetrics_on_loopback() {
    // Stopped when the test ends, passed or failed.
    let mut e = Kill(
        greenai()
            .args(["exporter", "--listen", "127.0.0.1:0", "--interval", "0.05"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let addr = served_at(&mut e.0);
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    // The first sample's metrics, once there.
    let first = scrape_until(&addr, |b| {
        b.contains("greenai_energy_joules_total{component=\"cpu-package-est\"")
    });
    assert!(first.starts_with("HTTP/1.1 200 OK"), "{first}");
    assert!(first.contains("application/openmetrics-text"), "{first}");
    assert!(first.contains("greenai_energy_joules_total{component=\"cpu-package-est\",kind=\"cpu_package\",provenance=\"estimated\""), "{first}");
    assert!(first.trim_end().ends_with("# EOF"));
    let total = |body: &str| -> f64 {
        body.lines()
            .find_map(|l| {
                l.strip_prefix("greenai_machine_energy_joules_total{provenance=\"estimated\"} ")
            })
            .unwrap()
            .parse()
            .unwrap()
    };
    let second = scrape_until(&addr, |b| total(b) > total(&first));
    assert!(total(&second) > total(&first), "a counter grows");
}

#[test]
fn run_serves_metrics_while_its_command_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = with_db(&dir.path().join("g.sqlite"))
        .args([
            "run",
            "--interval",
            "0.05",
            "--prometheus",
            "127.0.0.1:0",
            "--",
            "sleep",
            "2",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = served_at(&mut g);
    let body = scrape_until(&addr, |b| {
        b.contains("greenai_machine_power_watts{provenance=")
    });
    assert!(
        body.contains("greenai_machine_power_watts{provenance="),
        "{body}"
    );
    assert!(g.wait().unwrap().success());
}

#[test]
fn a_full_disk_mid_run_loses_no_recorded_data_and_keeps_the_exit_status() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.sqlite");
    // An earlier run, recorded before the disk fills.
    let first = json_of(with_db(&db).args(["run", "--json", "--", "true"]));
    let mut cmd = with_db(&db);
    cmd.args([
        "run",
        "--interval",
        "0.001",
        "--",
        "sh",
        "-c",
        "sleep 2; exit 3",
    ]);
    // SAFETY: only async-signal-safe calls between fork and exec. A 160 KiB file-size limit
    // makes the database's writes fail as on a full disk (EFBIG, with SIGXFSZ ignored).
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: 160 * 1024,
                rlim_max: 160 * 1024,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &lim);
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(3),
        "the child's status, not a storage error: {}",
        stderr(&o)
    );
    let err = stderr(&o);
    assert!(
        err.contains("were not stored") || err.contains("was not stored"),
        "{err}"
    );
    assert!(err.contains("total"), "the report is still printed: {err}");
    // What was recorded before stays readable.
    let list = json_of(with_db(&db).args(["runs", "list", "--json"]));
    let runs = list.as_array().unwrap();
    assert_eq!(runs[0]["run_id"], first["run_id"]);
    assert_eq!(runs[0]["status"], "complete");
    let second = runs[1]["run_id"].as_str().unwrap();
    let shown = json_of(with_db(&db).args(["runs", "show", "--json", second]));
    // The samples written before the disk filled are read back, and its energy from them.
    assert!(shown["samples"].as_u64().unwrap() > 10, "{shown}");
    assert!(shown["energy_j"].as_f64().unwrap() > 0.0, "{shown}");
}

#[test]
fn runs_exported_on_one_node_import_into_another_database_once() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        dir.path().join("node-a.sqlite"),
        dir.path().join("main.sqlite"),
    );
    for i in 0..2 {
        let o = greenai()
            .env("GREENAI_DB", &a)
            .args(["run", "--label", &format!("task={i}"), "--", "true"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = greenai()
        .env("GREENAI_DB", &a)
        .args(["runs", "export", "--format", "json"])
        .output()
        .unwrap();
    let file = dir.path().join("node-a.json");
    std::fs::write(&file, &o.stdout).unwrap();
    let o = greenai()
        .env("GREENAI_DB", &b)
        .args(["runs", "import"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("imported 2 run(s); 0 already here"),
        "{}",
        stdout(&o)
    );
    let o = greenai()
        .env("GREENAI_DB", &b)
        .args(["runs", "import"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        stdout(&o).contains("imported 0 run(s); 2 already here"),
        "{}",
        stdout(&o)
    );
    let exported = greenai()
        .env("GREENAI_DB", &b)
        .args(["runs", "export", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&exported.stdout).unwrap();
    let mut tasks: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["labels"]["task"].as_str().unwrap().to_string())
        .collect();
    tasks.sort();
    assert_eq!(tasks, ["0", "1"]);
    let list = greenai()
        .env("GREENAI_DB", &b)
        .args(["runs", "list"])
        .output()
        .unwrap();
    assert!(stdout(&list).contains("complete"), "{}", stdout(&list));
    // Not a report: one line, exit 2, nothing added.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"[{"hello": 1}]"#).unwrap();
    let o = greenai()
        .env("GREENAI_DB", &b)
        .args(["runs", "import"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("entry 0 is not a greenai run report"),
        "{}",
        stderr(&o)
    );
}
