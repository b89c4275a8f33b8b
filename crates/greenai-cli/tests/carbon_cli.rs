//! `greenai carbon` and the carbon fields of `greenai run`, end to end.

mod util;

use util::*;

fn fr() -> f64 {
    greenai_carbon::grid::lookup("FR")
        .unwrap()
        .intensity
        .g_per_kwh()
}

#[test]
fn a_quick_question_gets_gross_net_and_its_source() {
    let o = greenai()
        .args([
            "carbon",
            "--region",
            "FRA",
            "--energy-kwh",
            "2",
            "--pue",
            "1.5",
            "--erf",
            "0.2",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let gross = 2.0 * 1.5 * fr();
    assert!((v["emissions_g"].as_f64().unwrap() - gross).abs() < 1e-9);
    assert!((v["net_emissions_g"].as_f64().unwrap() - gross * 0.8).abs() < 1e-9);
    assert_eq!(v["region"], "FR");
    assert_eq!(v["intensity_year"], 2023);
    assert!(v["intensity_source"].as_str().unwrap().contains("Ember"));
    assert_eq!(v["pue"], 1.5);
    assert_eq!(v["erf"], 0.2);
    assert!(stderr(&o).is_empty(), "no warning with a region");
}

#[test]
fn no_region_falls_back_to_the_world_average_out_loud() {
    let o = greenai()
        .env_remove("GREENAI_REGION")
        .args(["carbon", "--energy-kwh", "1", "--json"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["region"], "world");
    assert_eq!(v["emissions_g"], 475.0);
    assert!(
        stderr(&o).contains("warning: no region given"),
        "{}",
        stderr(&o)
    );
    // GREENAI_REGION is honoured.
    let o = greenai()
        .env("GREENAI_REGION", "fr")
        .args(["carbon", "--energy-kwh", "1", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["region"], "FR");
}

#[test]
fn bad_carbon_input_is_one_line_and_exit_2() {
    for args in [
        vec!["carbon", "--region", "Narnia", "--energy-kwh", "1"],
        vec!["carbon", "--energy-kwh", "1", "--pue", "0.8"],
        vec!["carbon", "--region", "FR"],
        vec![
            "carbon",
            "--energy-kwh",
            "1",
            "--functional-unit",
            "inference",
        ],
    ] {
        let o = greenai().args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(!stderr(&o).trim().is_empty());
    }
}

#[test]
fn run_reports_carbon_and_exports_it_the_codecarbon_way() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.sqlite");
    let o = greenai()
        .arg("--db")
        .arg(&db)
        .args([
            "run",
            "--json",
            "--region",
            "FR",
            "--pue",
            "1.2",
            "--functional-unit",
            "inference=1000",
        ])
        .args([
            "--",
            "sh",
            "-c",
            "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let kwh = v["energy_j"].as_f64().unwrap() / 3.6e6;
    let gross = kwh * 1.2 * fr();
    assert!((v["emissions_g"].as_f64().unwrap() - gross).abs() < 1e-12);
    assert!((v["sci_g_per_unit"].as_f64().unwrap() - gross / 1000.0).abs() < 1e-15);
    assert_eq!(v["functional_unit"], "inference");
    assert!(stderr(&o).contains("emissions: "), "{}", stderr(&o));

    let o = greenai()
        .arg("--db")
        .arg(&db)
        .args(["runs", "export"])
        .output()
        .unwrap();
    let csv = stdout(&o);
    let mut lines = csv.lines();
    let header = greenai_store::export::split_csv_line(lines.next().unwrap());
    let row = greenai_store::export::split_csv_line(lines.next().unwrap());
    let col = |n: &str| row[header.iter().position(|h| h == n).unwrap()].clone();
    let kg: f64 = col("emissions").parse().unwrap();
    assert!((kg - gross / 1000.0).abs() < 1e-15);
    assert_eq!(col("country_iso_code"), "FRA");
    assert_eq!(col("pue"), "1.2");
}

#[test]
fn a_time_resolved_intensity_is_integrated_and_a_bad_file_stops_before_running() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("i.csv");
    std::fs::write(
        &good,
        "timestamp,g_per_kwh,marginal_g_per_kwh\n2000-01-01T00:00:00Z,200,600\n2100-01-01T00:00:00Z,200,600\n",
    )
    .unwrap();
    let o = greenai()
        .args(["run", "--json", "--interval", "0.02", "--intensity-file"])
        .arg(&good)
        .args(["--", "sleep", "0.3"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["intensity_mode"], "time_resolved");
    assert_eq!(v["intensity_coverage"], 1.0);
    // A constant series gives the average case: energy × 200 g/kWh (the stored series spans the
    // run's samples, which end at the window's edge).
    let kwh = v["energy_j"].as_f64().unwrap() / 3.6e6;
    let e = v["emissions_g"].as_f64().unwrap();
    assert!(
        (e - kwh * 200.0).abs() <= 0.05 * kwh * 200.0,
        "{e} vs {}",
        kwh * 200.0
    );
    assert!(
        (v["marginal_emissions_g"].as_f64().unwrap() - 3.0 * e).abs() < 1e-9 * e.max(1e-9) + 1e-12
    );

    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "timestamp,g_per_kwh\n2026-01-01T00:00:00Z,100\nlater,120\n",
    )
    .unwrap();
    let marker = dir.path().join("ran");
    let o = greenai()
        .args(["run", "--intensity-file"])
        .arg(&bad)
        .args(["--", "touch"])
        .arg(&marker)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("line 3"), "{}", stderr(&o));
    assert!(!marker.exists());
}
