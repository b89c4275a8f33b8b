//! `greenai fleet` against a real Prometheus (Debian's `prometheus`, started here on a free
//! loopback port) scraping two `greenai exporter`s that stand for two nodes: fixture trees whose
//! RAPL counters move at known rates and whose cgroups hold jobs of known CPU use. Also checks the
//! deployment files with promtool.

mod util;

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use util::{free_port, json_of, stderr, Kill};

fn deploy(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(rel)
}

fn have(cmd: &str) -> bool {
    Command::new(cmd).arg("--version").output().is_ok()
}

#[test]
fn the_prometheus_files_pass_promtool() {
    if !have("promtool") {
        panic!("promtool is missing: `apt-get install prometheus` (.ci/run installs it)");
    }
    for args in [vec!["check", "config"], vec!["check", "rules"]] {
        let file = if args[1] == "config" {
            "prometheus/prometheus.yml"
        } else {
            "prometheus/greenai-rules.yml"
        };
        let o = Command::new("promtool")
            .args(&args)
            .arg(deploy(file))
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "promtool {args:?}: {}{}",
            util::stdout(&o),
            stderr(&o)
        );
    }
}

/// One node: a RAPL counter at `watts`, the node's CPU at 1 CPU-second a second, and jobs at the
/// given shares of it.
struct Node {
    root: PathBuf,
    watts: f64,
    jobs: Vec<(&'static str, f64)>,
}

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

impl Node {
    fn new(dir: &Path, name: &str, watts: f64, jobs: Vec<(&'static str, f64)>) -> Node {
        let root = dir.join(name);
        let z = root.join("class/powercap/intel-rapl:0");
        write(&z.join("name"), "package-0\n");
        write(&z.join("energy_uj"), &format!("{:020}\n", 0));
        write(&z.join("max_energy_range_uj"), "262143328850\n");
        let cg = root.join("fs/cgroup");
        write(&cg.join("cpu.stat"), &format!("usage_usec {:020}\n", 0));
        for (job, _) in &jobs {
            let d = cg.join(format!("system.slice/slurmstepd.scope/job_{job}"));
            write(&d.join("cpu.stat"), &format!("usage_usec {:020}\n", 0));
        }
        Node { root, watts, jobs }
    }

    /// Rewrites the counters for `t` seconds since the start (fixed width: one write, in place).
    fn tick(&self, t: f64) {
        // Errors are ignored: after a failed assertion the tree goes while this still runs.
        let set = |p: PathBuf, text: String| {
            if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(p) {
                let _ = f.seek(SeekFrom::Start(0));
                let _ = f.write_all(text.as_bytes());
            }
        };
        let z = self.root.join("class/powercap/intel-rapl:0/energy_uj");
        set(z, format!("{:020}\n", (self.watts * t * 1e6) as u64));
        let cg = self.root.join("fs/cgroup");
        set(
            cg.join("cpu.stat"),
            format!("usage_usec {:020}\n", (t * 1e6) as u64),
        );
        for (job, share) in &self.jobs {
            let p = cg.join(format!("system.slice/slurmstepd.scope/job_{job}/cpu.stat"));
            set(p, format!("usage_usec {:020}\n", (share * t * 1e6) as u64));
        }
    }
}

fn get(url: &str) -> Option<String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    agent.get(url).call().ok()?.body_mut().read_to_string().ok()
}

fn wait_for(what: &str, limit: Duration, f: impl Fn() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < limit, "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn rfc3339(t: f64) -> String {
    greenai_sched::time::rfc3339(t)
}

#[test]
fn fleet_totals_a_job_across_two_nodes_within_two_percent_of_the_truth() {
    if !have("prometheus") {
        panic!("prometheus is missing: `apt-get install prometheus` (.ci/run installs it)");
    }
    let dir = tempfile::tempdir().unwrap();
    // Job 42 runs on both nodes, job 7 on the first: 42 gets 0.3·40 + 0.5·60 = 42 W.
    let nodes = Arc::new(vec![
        Node::new(dir.path(), "node1", 40.0, vec![("42", 0.3), ("7", 0.2)]),
        Node::new(dir.path(), "node2", 60.0, vec![("42", 0.5)]),
    ]);
    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (nodes, stop) = (Arc::clone(&nodes), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let t = start.elapsed().as_secs_f64();
                for n in nodes.iter() {
                    n.tick(t);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let mut targets = Vec::new();
    let mut exporters = Vec::new();
    for n in nodes.iter() {
        let port = free_port();
        targets.push(format!("127.0.0.1:{port}"));
        exporters.push(Kill(
            util::greenai()
                .env("GREENAI_SYSFS_ROOT", &n.root)
                .args([
                    "exporter",
                    "--listen",
                    &format!("127.0.0.1:{port}"),
                    "--interval",
                    "0.05",
                ])
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        ));
    }
    for t in &targets {
        wait_for("an exporter answers", Duration::from_secs(20), || {
            get(&format!("http://{t}/metrics"))
                .is_some_and(|m| m.contains("greenai_job_energy_joules_total"))
        });
    }
    let prom_port = free_port();
    let config = dir.path().join("prometheus.yml");
    std::fs::copy(
        deploy("prometheus/greenai-rules.yml"),
        dir.path().join("greenai-rules.yml"),
    )
    .unwrap();
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - greenai-rules.yml\nscrape_configs:\n  - job_name: greenai\n    static_configs:\n      - targets: [\"{}\", \"{}\"]\n",
            targets[0], targets[1]
        ),
    )
    .unwrap();
    let _prom = Kill(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{prom_port}");
    wait_for("prometheus is ready", Duration::from_secs(30), || {
        get(&format!("{base}/-/ready")).is_some()
    });
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    // Wait until both targets have been scraped for a while, then total a window well inside the
    // scraped span (increase() extrapolates to a window's edges only where samples reach them).
    wait_for("both targets scraped", Duration::from_secs(30), || {
        get(&format!(
            "{base}/api/v1/query?query=count_over_time(up%5B5s%5D)%20%3E%3D%204"
        ))
        .is_some_and(|r| r.matches("\"instance\"").count() == 2)
    });
    let t0 = now();
    std::thread::sleep(Duration::from_secs(12));
    let t1 = now() - 1.0;
    let fleet = |what: &[&str]| {
        let o = util::greenai()
            .args([
                "fleet",
                "--prometheus",
                &base,
                "--format",
                "json",
                "--region",
                "FR",
            ])
            .args(["--start", &rfc3339(t0), "--end", &rfc3339(t1)])
            .args(what)
            .output()
            .unwrap();
        json_of(&o)
    };
    // Each node's total as exported (its counted components: the RAPL counter at 40 or 60 W and
    // the meter's DRAM estimate), over the same range.
    let node = fleet(&["--node", "127.0.0.1"]);
    let per_node: Vec<(String, f64)> = node["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["node"].as_str().unwrap().to_string(),
                n["energy_j"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(per_node.len(), 2, "{node:#}");
    let node_of = |t: &str| per_node.iter().find(|n| n.0 == t).unwrap().1;
    let (n1, n2) = (node_of(&targets[0]), node_of(&targets[1]));
    let span = node["end_unix_s"].as_f64().unwrap() - node["start_unix_s"].as_f64().unwrap();
    // The package counters' own increase, straight from Prometheus: 40 and 60 W (counted ones:
    // the model's CPU figure is exported beside them, not added).
    let q = format!(
        "{base}/api/v1/query?query=sum%20by%20(instance)(increase(greenai_energy_joules_total%7Bkind%3D%22cpu_package%22%2Ccounted%3D%22true%22%7D%5B{}ms%5D))&time={}",
        (span * 1e3).round() as u64,
        node["end_unix_s"].as_f64().unwrap()
    );
    let pkg: serde_json::Value = serde_json::from_str(&get(&q).unwrap()).unwrap();
    for r in pkg["data"]["result"].as_array().unwrap() {
        let inst = r["metric"]["instance"].as_str().unwrap();
        let watts = if inst == targets[0] { 40.0 } else { 60.0 };
        let v: f64 = r["value"][1].as_str().unwrap().parse().unwrap();
        assert!(
            (v - watts * span).abs() <= 0.02 * watts * span,
            "{inst}: {v} J against {} J",
            watts * span
        );
    }
    // Job 42 has 30 % of node 1's CPU time and 50 % of node 2's: that share of each node.
    let job = fleet(&["--job", "42"]);
    let truth = 0.3 * n1 + 0.5 * n2;
    let got = job["energy_j"].as_f64().unwrap();
    assert!(
        (got - truth).abs() <= 0.02 * truth,
        "job 42: {got} J against {truth} J\n{job:#}\n{node:#}"
    );
    assert_eq!(job["nodes"].as_array().unwrap().len(), 2, "{job:#}");
    assert!(job["emissions_g"].as_f64().unwrap() > 0.0);
    let seven = fleet(&["--job", "slurm/7"]);
    let truth7 = 0.2 * n1;
    let got7 = seven["energy_j"].as_f64().unwrap();
    assert!(
        (got7 - truth7).abs() <= 0.02 * truth7,
        "job 7: {got7} J against {truth7} J"
    );
    let by_label = fleet(&["--label", "slurm_job_id=7"]);
    assert_eq!(by_label["energy_j"], seven["energy_j"]);
    // The recording rules load and evaluate.
    let r = get(&format!(
        "{base}/api/v1/query?query=greenai:job_power_watts:sum"
    ))
    .unwrap();
    assert!(r.contains("slurm/42"), "{r}");
    // A job no node ran: an empty total, said.
    let o = util::greenai()
        .args([
            "fleet",
            "--prometheus",
            &base,
            "--job",
            "99",
            "--region",
            "FR",
        ])
        .args(["--start", &rfc3339(t0), "--end", &rfc3339(t1)])
        .output()
        .unwrap();
    assert!(stderr(&o).contains("no series matched"), "{}", stderr(&o));
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
}

#[test]
fn an_unreachable_or_wrong_server_is_a_one_line_error() {
    let port = free_port();
    let o = util::greenai()
        .args([
            "fleet",
            "--prometheus",
            &format!("http://127.0.0.1:{port}"),
            "--job",
            "1",
            "--timeout",
            "2",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot query http://127.0.0.1"),
        "{}",
        stderr(&o)
    );
    let o = util::greenai()
        .args(["fleet", "--prometheus", "http://x", "--start", "-1h"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("say what to total"), "{}", stderr(&o));
}

/// Every metric the deployment files name is one greenai exports or a recording rule makes.
#[test]
fn the_dashboard_and_scripts_name_only_what_exists() {
    let exported = [
        "greenai_energy_joules_total",
        "greenai_power_watts",
        "greenai_machine_energy_joules_total",
        "greenai_machine_power_watts",
        "greenai_job_energy_joules_total",
        "greenai_job_power_watts",
        "greenai_unattributed_energy_joules_total",
    ];
    let rules = std::fs::read_to_string(deploy("prometheus/greenai-rules.yml")).unwrap();
    let recorded: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- record: "))
        .collect();
    assert_eq!(recorded.len(), 5);
    let dash: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(deploy("grafana/greenai.json")).unwrap())
            .unwrap();
    let mut exprs: Vec<String> = Vec::new();
    for p in dash["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            exprs.push(t["expr"].as_str().unwrap().to_string());
        }
    }
    exprs.extend(
        rules
            .lines()
            .filter_map(|l| l.trim().strip_prefix("expr: ").map(str::to_string)),
    );
    for e in &exprs {
        for word in e.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')) {
            if word.starts_with("greenai") {
                // `greenai_job` is the job label (not `job`: Prometheus keeps that one).
                assert!(
                    exported.contains(&word) || recorded.contains(&word) || word == "greenai_job",
                    "{word} in {e:?} is neither exported nor recorded"
                );
            }
        }
    }
    for script in ["slurm/prolog.sh", "slurm/epilog.sh"] {
        let o = Command::new("sh")
            .arg("-n")
            .arg(deploy(script))
            .output()
            .unwrap();
        assert!(o.status.success(), "{script}: {}", stderr(&o));
    }
    // The DaemonSet's and the systemd unit's exporter flags are ones greenai takes.
    let ds = std::fs::read_to_string(deploy("kubernetes/greenai-exporter.yaml")).unwrap();
    assert!(ds.contains(r#"args: ["exporter", "--listen", "0.0.0.0:9875", "--interval", "1"]"#));
    let unit = std::fs::read_to_string(deploy("greenai-exporter.service")).unwrap();
    assert!(unit.contains("greenai exporter --listen 0.0.0.0:9875 --interval 1"));
    let o = util::greenai()
        .args([
            "exporter",
            "--listen",
            "0.0.0.0:9875",
            "--interval",
            "1",
            "--help",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}
