//! `greenai plan`: forecasts from files and from services on a local server, and its faults.

mod forecast_server;
mod util;

use util::{greenai, json_of, stderr};

fn data(name: &str) -> String {
    format!("{}/../../data/forecasts/{name}", env!("CARGO_MANIFEST_DIR"))
}

const NOW: &str = "2026-11-30T00:00:00Z";

fn plan(forecast: &str, extra: &[&str]) -> std::process::Output {
    greenai()
        .args([
            "plan",
            "--duration",
            "3h",
            "--deadline",
            "+20h",
            "--now",
            NOW,
            "--json",
        ])
        .args(["--forecast", forecast])
        .args(extra)
        .env("TZ", "UTC")
        .output()
        .unwrap()
}

#[test]
fn every_service_fetched_over_http_gives_the_plan_its_file_gives() {
    let server = forecast_server::start();
    let b = &server.base;
    for (url, file, headers) in [
        (
            format!("{b}/emissions/forecasts/current?location=eastus"),
            "carbon-aware-sdk.json",
            vec![],
        ),
        (
            format!("{b}/v3/carbon-intensity/forecast?zone=DE"),
            "electricity-maps.json",
            vec!["auth-token: test-token"],
        ),
        (
            format!("{b}/v3/forecast?region=CAISO_NORTH&signal_type=co2_moer"),
            "watttime.json",
            vec!["Authorization: Bearer test-token"],
        ),
        (
            format!("{b}/intensity/2026-11-30T00:00Z/fw48h"),
            "uk-carbon-intensity.json",
            vec![],
        ),
    ] {
        let mut extra = Vec::new();
        for h in &headers {
            extra.extend(["--forecast-header", h]);
        }
        let o = plan(&url, &extra);
        assert!(o.status.success(), "{url}: {}", stderr(&o));
        let from_url = json_of(&o);
        let from_file = json_of(&plan(&data(file), &[]));
        assert_eq!(from_url["start"], from_file["start"], "{file}");
        assert_eq!(
            from_url["mean_g_per_kwh"], from_file["mean_g_per_kwh"],
            "{file}"
        );
        // Within the day the fixtures cover, the cleanest 3 h of 20 is the same everywhere.
        assert_eq!(from_url["start"], "2026-11-30T07:00:00Z", "{file}");
        assert!(from_url["saving"].as_f64().unwrap() > 0.0);
    }
    // Without its token the service refuses, and greenai says so in one line.
    let o = plan(&format!("{b}/v3/carbon-intensity/forecast?zone=DE"), &[]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("the service answered HTTP 401"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
}

#[test]
fn a_service_that_is_down_or_slow_is_an_error_not_a_wait() {
    let server = forecast_server::start();
    server
        .shared
        .down
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let o = plan(&format!("{}/greenai.csv", server.base), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("HTTP 503"), "{}", stderr(&o));
    let t = std::time::Instant::now();
    let o = plan(
        &format!("{}/slow", server.base),
        &["--forecast-timeout", "1"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(t.elapsed().as_secs_f64() < 10.0);
    assert!(
        stderr(&o).contains("cannot fetch the forecast"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_plan_prints_for_people_and_for_at_cron_and_slurm() {
    let o = greenai()
        .args([
            "plan",
            "--duration",
            "2h",
            "--deadline",
            "2026-12-01T12:00",
            "--now",
            "2026-12-01T00:00:00Z",
        ])
        .args([
            "--forecast",
            &data("week-hourly-synthetic.csv"),
            "--energy-kwh",
            "0.5",
        ])
        .env("TZ", "Europe/Paris")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = util::stdout(&o);
    // The deadline is local (Paris, UTC+1): 11:00Z. The cleanest 2 h before it start at 05:00Z.
    assert!(out.contains("deadline 2026-12-01T11:00:00Z"), "{out}");
    assert!(out.contains("best start 2026-12-01T05:00:00Z"), "{out}");
    assert!(out.contains("at -t 202612010600"), "{out}");
    assert!(out.contains("0 6 1 12 *"), "{out}");
    assert!(out.contains("sbatch --begin=2026-12-01T06:00:00"), "{out}");
    assert!(out.contains("gCO2e against"), "{out}");
}

#[test]
fn an_interruptible_job_gets_windows() {
    let o = greenai()
        .args([
            "plan",
            "--duration",
            "4h",
            "--deadline",
            "+24h",
            "--now",
            NOW,
            "--interruptible",
            "--json",
        ])
        .args(["--forecast", &data("week-hourly-synthetic.csv")])
        .output()
        .unwrap();
    let v = json_of(&o);
    let windows = v["windows"].as_array().unwrap();
    assert!(windows.len() > 1, "{v}");
    let contiguous = json_of(
        &greenai()
            .args([
                "plan",
                "--duration",
                "4h",
                "--deadline",
                "+24h",
                "--now",
                NOW,
                "--json",
            ])
            .args(["--forecast", &data("week-hourly-synthetic.csv")])
            .output()
            .unwrap(),
    );
    assert!(v["mean_g_per_kwh"].as_f64() <= contiguous["mean_g_per_kwh"].as_f64());
}

#[test]
fn impossible_requests_are_one_line_errors() {
    let week = data("week-hourly-synthetic.csv");
    for (args, want) in [
        (
            vec!["--duration", "3h", "--deadline", "+12h"],
            "no forecast: give --forecast",
        ),
        (
            vec![
                "--duration",
                "3h",
                "--deadline",
                "2026-11-29T00:00:00Z",
                "--forecast",
                &week,
            ],
            "the deadline has passed",
        ),
        (
            vec!["--duration", "3h", "--deadline", "+2h", "--forecast", &week],
            "the job needs 3h but only 2h remain",
        ),
        (
            vec![
                "--duration",
                "soon",
                "--deadline",
                "+2h",
                "--forecast",
                &week,
            ],
            "is not a duration",
        ),
        (
            vec![
                "--duration",
                "1h",
                "--deadline",
                "tomorrow",
                "--forecast",
                &week,
            ],
            "--deadline: \"tomorrow\" is not a time",
        ),
        (
            vec![
                "--like",
                "nothing-like-it",
                "--deadline",
                "+2h",
                "--forecast",
                &week,
            ],
            "no complete run matches",
        ),
        (
            vec![
                "--duration",
                "1h",
                "--deadline",
                "+2h",
                "--forecast",
                "/nonexistent.csv",
            ],
            "cannot fetch the forecast /nonexistent.csv",
        ),
        (
            vec![
                "--duration",
                "1h",
                "--deadline",
                "+2h",
                "--forecast",
                &week,
                "--forecast-format",
                "tea-leaves",
            ],
            "not a forecast format",
        ),
    ] {
        let o = greenai()
            .arg("plan")
            .args(&args)
            .args(["--now", NOW])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let e = stderr(&o);
        assert!(e.contains(want), "{args:?}: {e}");
        assert!(e.trim().lines().count() <= 3, "{args:?}: {e}");
    }
}

#[test]
fn a_forecast_that_ends_before_the_deadline_says_what_is_assumed() {
    let o = greenai()
        .args([
            "plan",
            "--duration",
            "2h",
            "--deadline",
            "+48h",
            "--now",
            NOW,
            "--json",
        ])
        .args(["--forecast", &data("electricity-maps.json")])
        .output()
        .unwrap();
    let v = json_of(&o);
    let a = v["assumption"].as_str().unwrap();
    assert!(a.contains("outside it greenai assumes its mean"), "{a}");
}

#[test]
fn like_takes_duration_and_energy_from_earlier_runs() {
    let db = util::fresh_db();
    for _ in 0..3 {
        let o = greenai()
            .env("GREENAI_DB", &db)
            .args(["run", "--project", "nightly", "--", "sleep", "0.3"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = greenai()
        .env("GREENAI_DB", &db)
        .args([
            "plan",
            "--like",
            "nightly",
            "--deadline",
            "+6h",
            "--now",
            NOW,
            "--json",
        ])
        .args(["--forecast", &data("week-hourly-synthetic.csv")])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json_of(&o);
    let d = v["duration_s"].as_f64().unwrap();
    assert!((0.3..2.0).contains(&d), "{d}");
    assert!(v["energy_kwh"].as_f64().unwrap() > 0.0);
    assert!(v["emissions_g"].as_f64().unwrap() > 0.0);
    assert_eq!(v["expected_from"], "median of 3 run(s) of project nightly");
}
