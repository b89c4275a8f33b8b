//! `greenai serve` in a real headless browser: Debian's `chromium`, driven through
//! `chromedriver` (WebDriver; `.ci/run` installs both), loads each page from a dashboard started
//! on a free loopback port over a database these tests fill, and checks what a person sees. When
//! a check fails, the page's screenshot is kept in `target/dashboard-screenshots/`.

mod util;

use fantoccini::{Client, ClientBuilder, Locator};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use util::Kill;

/// `greenai serve` on a free port over `db`; its address from the line it prints.
fn serve(db: &Path) -> (Kill, String) {
    let mut child = util::greenai()
        .env("GREENAI_DB", db)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .trim_end_matches('/')
        .to_string();
    (Kill(child), url)
}

/// chromedriver on a free port, and a headless Chromium session through it.
/// A process group stopped (SIGKILL to the group, then the leader reaped) when dropped.
struct Group(std::process::Child);

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: a signal to the process group this test started.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

async fn browser() -> (Group, Client) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let port = util::free_port();
    // chromedriver and the Chromium it starts in a process group of their own, all stopped when
    // the test ends (passed or failed).
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("chromedriver is missing: apt-get install chromium chromium-driver");
    let driver = Group(driver);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900"]
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if let Ok(c) = ClientBuilder::rustls()
            .expect("rustls")
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            return (driver, c);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start a Chromium session");
}

/// Keeps the page's screenshot when `ok` is false, then fails with `msg`.
async fn check(c: &Client, name: &str, ok: bool, msg: String) {
    if ok {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/dashboard-screenshots");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{name}.png"));
    if let Ok(png) = c.screenshot().await {
        let _ = std::fs::write(&path, png);
    }
    panic!("{msg} (screenshot: {})", path.display());
}

async fn text(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Comparison runs made from a real run's report: `(config, accuracy, training J)`.
fn import_comparison(db: &Path, template: &serde_json::Value, rows: &[(&str, f64, f64)]) {
    let runs: Vec<serde_json::Value> = rows
        .iter()
        .enumerate()
        .map(|(i, (name, acc, j))| {
            let mut r = template.clone();
            r["run_id"] = format!("c0ffee{i:04x}").into();
            r["labels"] =
                serde_json::json!({ "compare_config": name, "compare_key": format!("k-{name}") });
            r["results"] = serde_json::json!({
                "model": "lenet", "precision": "f32", "quantization": "none", "accuracy": acc,
                "training_energy_j": j, "params": 1, "flops": 1, "threads": 2, "batch": 64
            });
            r
        })
        .collect();
    let file = db.with_extension("compare.json");
    std::fs::write(&file, serde_json::to_string(&runs).unwrap()).unwrap();
    let o = util::greenai()
        .env("GREENAI_DB", db)
        .args(["runs", "import"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", util::stderr(&o));
}

/// The runs page lists what the database holds (a label `<script>` shown as text, never run),
/// sorts and filters; a run's page shows its energy with its provenance and a power chart with
/// its samples' points; the comparison page marks the Pareto front and the best; the live page's
/// figures move between two moments while a run goes on.
#[tokio::test(flavor = "current_thread")]
async fn the_dashboard_shows_runs_comparisons_and_a_live_run() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.sqlite");
    for (label, cmd) in [
        ("note=<script>window.hacked=1</script>", "true"),
        ("team=green", "sleep"),
    ] {
        let mut c = util::greenai();
        c.env("GREENAI_DB", &db)
            .args(["run", "--interval", "0.1", "--label", label, "--"]);
        if cmd == "sleep" {
            c.args(["sleep", "1"]);
        } else {
            c.arg("true");
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", util::stderr(&o));
    }
    let o = util::greenai()
        .env("GREENAI_DB", &db)
        .args(["runs", "export", "--format", "json"])
        .output()
        .unwrap();
    let runs = util::json_of(&o);
    let slept = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["command"] == "sleep 1")
        .unwrap()
        .clone();
    import_comparison(
        &db,
        &slept,
        &[
            ("baseline", 0.985, 400.0),
            ("good", 0.981, 50.0),
            ("weak", 0.95, 10.0),
            ("dominated", 0.97, 90.0),
        ],
    );
    let (_server, url) = serve(&db);
    let (_driver, c) = browser().await;

    // Runs: six rows, the script label as text and not executed.
    c.goto(&format!("{url}/")).await.unwrap();
    let rows = c.find_all(Locator::Css("#runs tbody tr")).await.unwrap();
    check(&c, "runs", rows.len() == 6, format!("{} rows", rows.len())).await;
    let page = c.source().await.unwrap();
    let hacked = c
        .execute("return window.hacked === undefined;", vec![])
        .await
        .unwrap();
    check(
        &c,
        "runs-escaped",
        hacked == serde_json::json!(true)
            && text(&c, "#runs")
                .await
                .contains("<script>window.hacked=1</script>"),
        "the label's script ran, or its text is not shown".into(),
    )
    .await;
    assert!(!page.contains("<script>window.hacked"));
    // Filtered by a label.
    c.goto(&format!("{url}/?label=team%3Dgreen")).await.unwrap();
    let count = text(&c, "#count").await;
    check(&c, "filter", count.contains("Runs 1–1 of 1"), count).await;

    // One run: energy with provenance, a chart with the samples' points.
    let id = slept["run_id"].as_str().unwrap();
    c.goto(&format!("{url}/runs/{id}")).await.unwrap();
    let energy = text(&c, "#energy").await;
    check(
        &c,
        "run",
        energy.contains(" J") && energy.contains("estimated"),
        energy,
    )
    .await;
    let total = c
        .find(Locator::Css("#power polyline[data-series=\"total\"]"))
        .await
        .unwrap();
    let n: usize = total
        .attr("data-points")
        .await
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    // Every stored sample, counted in the database: the report counts only those inside its
    // window, and the monitor's first sample and its last at stop may fall outside it.
    let stored: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM samples WHERE run_id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    check(
        &c,
        "run-chart",
        n as i64 == stored && n >= 5,
        format!("{n} points for {stored} stored samples"),
    )
    .await;

    // Comparisons: the front is weak, good, baseline; good is best, 8× less than the baseline.
    c.goto(&format!("{url}/compare")).await.unwrap();
    let choice = text(&c, "#choice").await;
    check(
        &c,
        "compare",
        choice.contains("good") && choice.contains("8.0×"),
        choice,
    )
    .await;
    let mut front = Vec::new();
    for p in c
        .find_all(Locator::Css("#pareto circle[fill=\"#2ca02c\"]"))
        .await
        .unwrap()
    {
        front.push(p.attr("data-point").await.unwrap().unwrap());
    }
    front.sort();
    check(
        &c,
        "pareto",
        front == ["baseline", "good", "weak"],
        format!("{front:?}"),
    )
    .await;

    // Live: a run in progress; its sample count and energy move between two moments.
    let mut live = util::greenai();
    live.env("GREENAI_DB", &db)
        .args(["run", "--interval", "0.1", "--", "sleep", "30"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _live = Kill(live.spawn().unwrap());
    let mut link = None;
    for _ in 0..50 {
        c.goto(&format!("{url}/live")).await.unwrap();
        if let Ok(a) = c.find(Locator::Css("#running a")).await {
            link = a.attr("href").await.unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let link = link.expect("the running run is listed on /live");
    c.goto(&format!("{url}{link}")).await.unwrap();
    // The figures as the first events fill them, then until they move (each with a deadline).
    let samples = |t: String| t.trim().parse::<u64>().unwrap_or(0);
    let mut first = (0, String::new());
    for _ in 0..100 {
        first = (
            samples(text(&c, "#live-samples").await),
            text(&c, "#live-energy").await,
        );
        if first.0 > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut second = first.clone();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        second = (
            samples(text(&c, "#live-samples").await),
            text(&c, "#live-energy").await,
        );
        if second.0 > first.0 && second.1 != first.1 {
            break;
        }
    }
    check(
        &c,
        "live",
        first.0 > 0 && second.0 > first.0 && second.1 != first.1,
        format!(
            "samples {} then {}, energy {} then {}",
            first.0, second.0, first.1, second.1
        ),
    )
    .await;
    let drawn: usize = c
        .find(Locator::Css("#live-chart polyline[data-series=\"total\"]"))
        .await
        .unwrap()
        .attr("data-points")
        .await
        .unwrap()
        .unwrap_or_default()
        .parse()
        .unwrap_or(0);
    check(
        &c,
        "live-chart",
        drawn >= 2,
        format!("{drawn} points drawn"),
    )
    .await;
    c.close().await.unwrap();
}

/// The JSON API answers what the pages show, and bad requests get a status and a sentence.
#[test]
fn the_api_answers_and_refuses_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.sqlite");
    let o = util::greenai()
        .env("GREENAI_DB", &db)
        .args(["run", "--label", "k=v", "--", "true"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let (_server, url) = serve(&db);
    let get = |path: &str| -> (u16, serde_json::Value) {
        let mut r = ureq::get(&format!("{url}{path}"))
            .config()
            .http_status_as_error(false)
            .build()
            .call()
            .unwrap();
        let body = r.body_mut().read_to_string().unwrap();
        (r.status().as_u16(), serde_json::from_str(&body).unwrap())
    };
    let (code, list) = get("/api/runs?label=k%3Dv");
    assert_eq!(code, 200);
    assert_eq!(list["total"], 1);
    let id = list["runs"][0]["run_id"].as_str().unwrap().to_string();
    let (_, run) = get(&format!("/api/runs/{id}"));
    assert_eq!(run["run_id"], id.as_str());
    let (_, series) = get(&format!("/api/runs/{id}/series?points=3"));
    assert!(series["points"].as_array().unwrap().len() <= 3);
    let (code, err) = get("/api/runs?sort=nope");
    assert_eq!(code, 400);
    assert!(err["error"].as_str().unwrap().contains("sort"));
    let (code, _) = get("/api/runs/not-an-id");
    assert_eq!(code, 404);
    let (code, _) = get("/api/runs/abcdef");
    assert_eq!(code, 404);
    let (code, q) = get("/api/queue");
    assert_eq!((code, q), (200, serde_json::json!([])));
    let (code, c) = get("/api/compare?target=0.5");
    assert_eq!(code, 200);
    assert_eq!(c["rows"], serde_json::json!([]));
}
