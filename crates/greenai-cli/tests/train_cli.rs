//! `greenai train`, end to end, on small IDX sets cut from the bundled MNIST.

mod util;

use greenai_nn::data::{bundled_mnist_dir, idx, Split};
use std::path::Path;
use util::*;

#[test]
fn trains_on_another_image_size_and_reports_every_field() {
    let dir = tempfile::tempdir().unwrap();
    write_subset(dir.path(), Split::Train, 4000, "train");
    write_subset(dir.path(), Split::Test, 1000, "t10k");
    let o = greenai()
        .args([
            "train",
            "--epochs",
            "2",
            "--validation",
            "500",
            "--json",
            "--region",
            "FR",
            "--no-store",
            "--data",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for key in [
        "model",
        "precision",
        "quantization",
        "accuracy",
        "energy_j",
        "duration_s",
        "train_samples_per_s",
        "inference_samples_per_s",
        "params",
        "flops",
        "provenance",
        "emissions_g",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["model"], "lightweight");
    assert_eq!(v["precision"], "f32");
    assert_eq!(v["params"], 16 * 9 + 16 + 10 * 16 * 196 + 10);
    let per_epoch = v["training"]["per_epoch"].as_array().unwrap();
    assert_eq!(per_epoch.len(), 2);
    assert!(per_epoch
        .iter()
        .all(|e| e["validation_accuracy"].as_f64().unwrap() > 0.5));
    assert_eq!(v["training"]["train_samples"], 3500);
    assert!(v["accuracy"].as_f64().unwrap() > 0.8, "{}", v["accuracy"]);
    assert!(v["energy_j"].as_f64().unwrap() > 0.0);
    // f16 with loss scaling reports its format and its scaler.
    let o = greenai()
        .args([
            "train",
            "--epochs",
            "1",
            "--precision",
            "f16",
            "--validation",
            "500",
            "--json",
            "--no-store",
            "--data",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let h = json_of(&o);
    assert_eq!(h["precision"], "f16");
    assert!(h["training"]["loss_scale"].as_f64().unwrap() > 0.0);
    assert!(h["accuracy"].as_f64().unwrap() > 0.7, "{}", h["accuracy"]);
    let per_epoch: f64 = per_epoch
        .iter()
        .map(|e| e["energy_j"].as_f64().unwrap())
        .sum();
    assert!((per_epoch - v["training_energy_j"].as_f64().unwrap()).abs() < 1e-9);
}

#[test]
fn bad_data_is_a_clear_error_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let o = greenai()
        .args(["train", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no train-images-idx3-ubyte"),
        "{}",
        stderr(&o)
    );

    write_subset(dir.path(), Split::Train, 100, "train");
    write_subset(dir.path(), Split::Test, 50, "t10k");
    std::fs::write(
        dir.path().join("t10k-labels-idx1-ubyte"),
        idx::encode(&[49], &[0; 49]),
    )
    .unwrap();
    let o = greenai()
        .args(["train", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("50 images but 49 labels"),
        "{}",
        stderr(&o)
    );

    std::fs::write(dir.path().join("t10k-labels-idx1-ubyte"), b"not idx at all").unwrap();
    let o = greenai()
        .args(["train", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad magic number"), "{}", stderr(&o));

    for args in [
        vec!["train", "--epochs", "0"],
        vec!["train", "--model", "resnet"],
        vec!["train", "--lr", "-1"],
    ] {
        let o = greenai().args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
    }
}

/// Train with a checkpoint, evaluate it, predict with it, resume it: the checkpoint carries the
/// whole model (BatchNorm statistics included) and the optimiser, and every job is a stored run.
#[test]
fn checkpoints_serve_eval_predict_and_resume() {
    let dir = tempfile::tempdir().unwrap();
    write_subset(dir.path(), Split::Train, 1200, "train");
    write_subset(dir.path(), Split::Test, 300, "t10k");
    let db = fresh_db();
    let ck = dir.path().join("m.safetensors");
    let train = |epochs: &str, extra: &[&str]| {
        greenai()
            .env("GREENAI_DB", &db)
            .args([
                "train",
                "--model",
                "mobilenet",
                "--threads",
                "1",
                "--validation",
                "200",
            ])
            .args(["--epochs", epochs, "--json", "--data"])
            .arg(dir.path())
            .args(extra)
            .output()
            .unwrap()
    };
    // Two epochs with a checkpoint per epoch; then the second epoch again, resumed from the
    // first checkpoint: the same model.
    let per_epoch = dir.path().join("m-{epoch}.safetensors");
    let straight = json_of(&train("2", &["--save", per_epoch.to_str().unwrap()]));
    assert_eq!(straight["training"]["epochs_run"], 2);
    let ck1 = dir.path().join("m-1.safetensors");
    let resumed = json_of(&train(
        "2",
        &[
            "--resume",
            ck1.to_str().unwrap(),
            "--save",
            ck.to_str().unwrap(),
        ],
    ));
    assert_eq!(resumed["training"]["epochs_run"], 1);
    assert_eq!(resumed["training"]["per_epoch"][0]["epoch"], 2);
    assert_eq!(
        resumed["accuracy"], straight["accuracy"],
        "resuming changes nothing"
    );
    assert_eq!(
        resumed["training"]["per_epoch"][0]["loss"],
        straight["training"]["per_epoch"][1]["loss"]
    );
    let o = train("2", &["--resume", ck.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("already holds 2 epochs"),
        "{}",
        stderr(&o)
    );

    let eval = json_of(
        &greenai()
            .env("GREENAI_DB", &db)
            .args(["eval", "--json", "--data"])
            .arg(dir.path())
            .arg(&ck)
            .output()
            .unwrap(),
    );
    assert_eq!(eval["accuracy"], resumed["accuracy"]);
    assert_eq!(eval["model"], "mobilenet");
    assert!(eval["joules_per_1000_inferences"].as_f64().unwrap() > 0.0);

    let images = dir.path().join("t10k-images-idx3-ubyte");
    let o = greenai()
        .env("GREENAI_DB", &db)
        .args(["predict", "--limit", "7", "--images"])
        .arg(&images)
        .arg(&ck)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<String> = stdout(&o).lines().map(String::from).collect();
    assert_eq!(lines.len(), 7);
    assert!(lines[0].starts_with("0\t"), "{lines:?}");

    // Four runs of the engine recorded (the refused resume is not one), with their job and accuracy labels.
    let runs = greenai()
        .env("GREENAI_DB", &db)
        .args(["runs", "list", "--json"])
        .output()
        .unwrap();
    let runs: serde_json::Value = json_of(&runs);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 4, "{runs:?}");
    let jobs: Vec<&str> = runs
        .iter()
        .filter_map(|r| r["labels"]["job"].as_str())
        .collect();
    assert_eq!(
        jobs.iter().filter(|j| **j == "train").count(),
        2,
        "{jobs:?}"
    );
    assert!(jobs.contains(&"eval") && jobs.contains(&"predict"));
    assert!(runs
        .iter()
        .any(|r| r["labels"]["accuracy"].as_str().is_some()));

    // A checkpoint of another image size, or not a checkpoint at all: exit 2, said clearly.
    let o = greenai()
        .args(["eval", "--no-store"])
        .arg(&ck)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("are 28×28 but the checkpoint's mobilenet model was trained on 14×14"),
        "{}",
        stderr(&o)
    );
    std::fs::write(&images, b"junk").unwrap();
    let o = greenai()
        .args(["eval", "--no-store"])
        .arg(&images)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not a safetensors file"),
        "{}",
        stderr(&o)
    );
}

/// The whole default grid on a small set: every configuration a stored run, the table's fields,
/// the Pareto front, the HTML report; a second run reuses every result; a budget stops the
/// expensive configurations.
#[test]
fn compare_runs_the_grid_reports_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    write_subset(dir.path(), Split::Train, 600, "train");
    write_subset(dir.path(), Split::Test, 200, "t10k");
    let db = fresh_db();
    let report = dir.path().join("report.html");
    let compare = |extra: &[&str]| {
        greenai()
            .env("GREENAI_DB", &db)
            .args([
                "compare",
                "--json",
                "--region",
                "FR",
                "--target-accuracy",
                "0.5",
                "--data",
            ])
            .arg(dir.path())
            .args(extra)
            .args(if extra.contains(&"--repeat") {
                &[][..]
            } else {
                &["--repeat", "1"][..]
            })
            .output()
            .unwrap()
    };
    let v = json_of(&compare(&["--report", report.to_str().unwrap()]));
    let rows = v["rows"].as_array().unwrap();
    // The transfer configuration runs where the converted weights are (CI converts them) and is
    // skipped, saying why, where they are not.
    let weights = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/efficientnet-lite0.safetensors")
        .exists();
    assert_eq!(rows.len(), 15 + usize::from(weights));
    // The searched configuration's rate and batch size come from six measured short runs, whose
    // energy its training energy counts.
    let search = &v["search_choice"];
    assert_eq!(
        search["candidates"].as_array().unwrap().len(),
        6,
        "{search}"
    );
    let searched = rows
        .iter()
        .find(|r| r["config"] == "lenet-1ep-searched")
        .unwrap();
    assert_eq!(searched["batch"], search["chosen_batch"]);
    assert!(
        searched["training_energy_j"].as_f64().unwrap()
            > search["search_energy_j"].as_f64().unwrap(),
        "{searched}"
    );
    // Every trained configuration but the seed's recipe as written stops at the target (the
    // same recipe under the rule is a row of its own); int8 and transfer rows carry no rule.
    for r in rows {
        let name = r["config"].as_str().unwrap();
        let ruled = name != "baseline"
            && !name.ends_with("-int8")
            && r["model"] != "efficientnet-lite0+linear";
        assert_eq!(r.get("target_reached").is_some(), ruled, "{r}");
    }
    assert!(rows.iter().any(|r| r["config"] == "baseline-to-target"));
    assert!(
        rows.iter().any(|r| r["target_reached"] == true),
        "a 50 % target is reached early by some configuration"
    );
    if weights {
        let t = rows
            .iter()
            .find(|r| r["config"] == "transfer-lite0-frozen")
            .unwrap();
        assert_eq!(t["model"], "efficientnet-lite0+linear");
        let backbone = greenai_nn::efficientnet::graph(64, None)
            .unwrap()
            .param_count();
        assert_eq!(t["params"], backbone + 1280 * 10 + 10);
        assert!(t["joules_per_1000_inferences"].as_f64().unwrap() > 0.0);
    }
    assert!(rows.iter().any(|r| r["precision"] == "bf16"));
    assert_eq!(rows[0]["config"], "baseline");
    // The int8 variants follow their f32 configurations, trained once.
    assert_eq!(rows[1]["config"], "baseline-int8");
    assert_eq!(rows[1]["precision"], "int8");
    assert_eq!(rows[1]["training_energy_j"], rows[0]["training_energy_j"]);
    assert!(
        (rows[1]["accuracy"].as_f64().unwrap() - rows[0]["accuracy"].as_f64().unwrap()).abs()
            < 0.03
    );
    for r in rows {
        for key in [
            "model",
            "precision",
            "quantization",
            "accuracy",
            "training_energy_j",
            "joules_per_1000_inferences",
            "training_duration_s",
            "training_emissions_g",
            "params",
            "flops",
            "provenance",
        ] {
            assert!(r.get(key).is_some(), "missing {key}: {r}");
        }
        assert!(r["training_energy_j"].as_f64().unwrap() > 0.0);
        assert_eq!(r["reused"], false);
    }
    // The best is the cheapest configuration at the target, and it is on the Pareto front.
    let best = v["best"].as_str().expect("some configuration passes 50 %");
    let best_row = rows.iter().find(|r| r["config"] == best).unwrap();
    assert_eq!(best_row["pareto"], true);
    let cheapest = rows
        .iter()
        .filter(|r| r["accuracy"].as_f64().unwrap() >= 0.5)
        .map(|r| r["training_energy_j"].as_f64().unwrap())
        .fold(f64::MAX, f64::min);
    assert_eq!(best_row["training_energy_j"].as_f64().unwrap(), cheapest);
    let ratio = v["saving_ratio"].as_f64().unwrap();
    let base = v["baseline_training_energy_j"].as_f64().unwrap();
    assert!((ratio - base / cheapest).abs() < 1e-9);
    assert!(v["settings_choice"]["profiles"].as_array().unwrap().len() >= 3);
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(
        html.starts_with("<!doctype html>") && html.matches("<svg").count() == 3,
        "three plots"
    );
    assert!(html.contains("Pareto front") && html.contains("lenet-1ep"));

    // Again: every row comes from the database, nothing is retrained.
    let again = json_of(&compare(&[]));
    let runs_before = rows.len();
    for (a, b) in again["rows"].as_array().unwrap().iter().zip(rows) {
        assert_eq!(a["reused"], true, "{a}");
        assert_eq!(a["accuracy"], b["accuracy"]);
        assert_eq!(a["run_id"], b["run_id"]);
    }
    let listed = json_of(
        &greenai()
            .env("GREENAI_DB", &db)
            .args(["runs", "list", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(listed.as_array().unwrap().len(), runs_before);

    // Two runs of each: the first ones reused, the second trained with another seed; medians
    // with their ranges, ties marked against the best's range.
    let two = json_of(&compare(&["--repeat", "2"]));
    let mut repeated = 0;
    for r in two["rows"].as_array().unwrap() {
        let name = r["config"].as_str().unwrap();
        if name.ends_with("-int8") || r["model"] == "efficientnet-lite0+linear" {
            assert_eq!(r["runs"], 1, "{r}");
            continue;
        }
        assert_eq!(r["runs"], 2, "{r}");
        let (lo, hi) = (
            r["training_energy_range_j"][0].as_f64().unwrap(),
            r["training_energy_range_j"][1].as_f64().unwrap(),
        );
        let median = r["training_energy_j"].as_f64().unwrap();
        assert!(lo <= median && median <= hi, "{r}");
        repeated += 1;
    }
    assert!(repeated >= 8);
    assert!(
        two["saving_range"].is_array() || two["saving_ratio"].is_null(),
        "{two}"
    );

    // A budget below one epoch of anything stops every multi-epoch configuration after epoch 1.
    let b = json_of(&compare(&["--fresh", "--budget-j", "1e-9"]));
    for r in b["rows"].as_array().unwrap() {
        let stopped = r["stopped_by_budget_predicted_j"].as_f64();
        if r["config"] == "baseline" {
            assert!(stopped.unwrap() > 1e-9, "{r}");
            assert_eq!(r["epochs"], 1);
        }
        if r["config"] == "lenet-1ep" {
            assert!(
                stopped.is_none(),
                "a one-epoch run has nothing left to stop: {r}"
            );
        }
    }
    assert!(
        b["saving_ratio"].is_null(),
        "no finished baseline, no ratio"
    );
}

/// `greenai quantize` on a trained checkpoint: both sides measured, int8 smaller, accuracy kept;
/// a static mode without calibration images is refused.
#[test]
fn quantize_reports_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    write_subset(dir.path(), Split::Train, 1500, "train");
    write_subset(dir.path(), Split::Test, 300, "t10k");
    let ck = dir.path().join("lw.safetensors");
    let o = greenai()
        .args([
            "train",
            "--model",
            "lightweight",
            "--epochs",
            "2",
            "--validation",
            "100",
            "--no-store",
            "--save",
        ])
        .arg(&ck)
        .arg("--data")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    for mode in ["per-tensor", "per-channel", "dynamic"] {
        let v = json_of(
            &greenai()
                .args([
                    "quantize",
                    "--no-store",
                    "--json",
                    "--int8-layers",
                    "all",
                    "--calibration",
                    "200",
                    "--mode",
                    mode,
                    "--data",
                ])
                .arg(dir.path())
                .arg(&ck)
                .output()
                .unwrap(),
        );
        assert_eq!(v["mode"], mode);
        assert_eq!(v["after"]["precision"], "int8");
        assert!(
            v["after"]["size_bytes"].as_u64().unwrap() * 3
                < v["before"]["size_bytes"].as_u64().unwrap()
        );
        let before = v["before"]["accuracy"].as_f64().unwrap();
        assert!(before > 0.7, "{v}");
        assert!(v["accuracy_change"].as_f64().unwrap() > -0.02, "{v}");
        assert!(v["after"]["joules_per_1000_inferences"].as_f64().unwrap() > 0.0);
        // Saved, the int8 model evaluates to the same accuracy and predicts.
        let q = dir.path().join(format!("{mode}.safetensors"));
        let o = greenai()
            .args([
                "quantize",
                "--no-store",
                "--int8-layers",
                "all",
                "--calibration",
                "200",
                "--mode",
                mode,
                "--save",
            ])
            .arg(&q)
            .arg("--data")
            .arg(dir.path())
            .arg(&ck)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let e = json_of(
            &greenai()
                .args(["eval", "--no-store", "--json", "--data"])
                .arg(dir.path())
                .arg(&q)
                .output()
                .unwrap(),
        );
        assert_eq!(e["precision"], "int8");
        assert_eq!(e["quantization"], mode);
        assert_eq!(e["accuracy"], v["after"]["accuracy"], "{e}");
        let p = greenai()
            .args(["predict", "--no-store", "--limit", "3", "--images"])
            .arg(dir.path().join("t10k-images-idx3-ubyte"))
            .arg(&q)
            .output()
            .unwrap();
        assert_eq!(stdout(&p).lines().count(), 3, "{}", stderr(&p));
    }
    let o = greenai()
        .args([
            "quantize",
            "--no-store",
            "--mode",
            "per-tensor",
            "--calibration",
            "0",
            "--data",
        ])
        .arg(dir.path())
        .arg(&ck)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--calibration must be at least 1"),
        "{}",
        stderr(&o)
    );
}

/// `--target-accuracy`: training stops at the first check that reaches it (energy and time to
/// accuracy reported, the checks' cost counted and stated); an unreachable target trains every
/// epoch and says it was not reached; the flags are checked.
#[test]
fn training_stops_at_its_target_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    write_subset(dir.path(), Split::Train, 1500, "train");
    write_subset(dir.path(), Split::Test, 300, "t10k");
    let train = |extra: &[&str]| {
        greenai()
            .args(["train", "--model", "lenet", "--no-store", "--json"])
            .args(extra)
            .args(if extra.contains(&"--validation") {
                &[][..]
            } else {
                &["--validation", "300"][..]
            })
            .arg("--data")
            .arg(dir.path())
            .output()
            .unwrap()
    };
    let v = json_of(&train(&[
        "--epochs",
        "5",
        "--target-accuracy",
        "0.3",
        "--check-every",
        "3",
    ]));
    let t = &v["training"]["target"];
    assert_eq!(t["reached"], true, "{v}");
    let step = t["step"].as_u64().unwrap();
    assert!(
        step.is_multiple_of(3) && step < 19,
        "reached within the first epoch's 19 steps: {t}"
    );
    assert_eq!(v["training"]["epochs_run"], 1, "{v}");
    assert_eq!(t["epoch"], 1);
    assert!(t["check_accuracy"].as_f64().unwrap() >= 0.3);
    let to_acc = t["energy_to_accuracy_j"].as_f64().unwrap();
    assert!(
        to_acc > 0.0 && to_acc <= v["energy_j"].as_f64().unwrap(),
        "{v}"
    );
    assert!(t["time_to_accuracy_s"].as_f64().unwrap() <= v["duration_s"].as_f64().unwrap());
    assert_eq!(t["checks"].as_u64().unwrap(), step / 3);
    assert_eq!(t["check_images"], 300);
    assert!(t["check_energy_j"].as_f64().unwrap() > 0.0, "{t}");
    // Fewer samples trained than one full epoch.
    assert!(v["training"]["per_epoch"][0]["energy_j"].as_f64().unwrap() > 0.0);
    let v = json_of(&train(&["--epochs", "2", "--target-accuracy", "0.9999"]));
    let t = &v["training"]["target"];
    assert_eq!(t["reached"], false, "{v}");
    assert!(t["energy_to_accuracy_j"].is_null() && t["step"].is_null());
    assert_eq!(v["training"]["epochs_run"], 2);
    // --max-steps ends the job inside its first epoch, the schedule planned to end there too.
    let v = json_of(&train(&[
        "--epochs",
        "3",
        "--max-steps",
        "7",
        "--target-accuracy",
        "0.9999",
        "--check-every",
        "3",
        "--batch",
        "64",
    ]));
    let t = &v["training"];
    assert_eq!(t["steps"], 7, "{v}");
    assert_eq!(t["max_steps"], 7, "{v}");
    assert_eq!(t["epochs_run"], 1, "{v}");
    assert_eq!(t["target"]["reached"], false, "{v}");
    // The check at step 3 is made; the one at step 6, one step of 64 images before the plan's
    // end, would cost 300 images' forward passes to save 192: skipped.
    assert_eq!(t["target"]["checks"], 1, "{v}");
    assert_eq!(t["target"]["skipped_checks"], 1, "{v}");
    assert!(t.get("pca_init").is_none(), "{v}");
    // The forecast counts the one epoch the plan holds, not the three asked for.
    let predicted = t["predicted_training_energy_j"].as_f64().unwrap();
    let spent = v["training_energy_j"].as_f64().unwrap();
    assert!((predicted - spent).abs() <= 1e-9 * spent, "{v}");
    // --pca-init sets the first convolution from the patches of (at most) 1,000 training images.
    let v = json_of(&train(&["--epochs", "1", "--max-steps", "3", "--pca-init"]));
    let p = &v["training"]["pca_init"];
    assert_eq!(p["layer"], "conv1", "{v}");
    assert_eq!(p["filters"], 6, "{v}");
    assert_eq!(p["images"], 1000, "{v}");
    assert!(p["variance_share"].as_f64().unwrap() > 0.5, "{v}");
    for bad in [
        &["--max-steps", "0"][..],
        &["--max-steps", "x"],
        &["--check-every", "5"][..],
        &["--target-accuracy", "0"],
        &["--target-accuracy", "1.5"],
        &["--target-accuracy", "0.9", "--check-every", "0"],
        &["--target-accuracy", "0.9", "--validation", "0"],
    ] {
        let o = train(bad);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", stderr(&o));
        assert!(
            !stderr(&o).contains("cannot be used multiple times"),
            "{bad:?}"
        );
        assert!(!stderr(&o).contains("panicked"));
    }
}

/// `greenai transfer`: frozen EfficientNet-Lite0 features, cached on the first run and reused on
/// the second, a head trained on them. Needs the converted weights (`.ci/run` makes them).
#[test]
fn transfer_caches_features_and_trains_a_head() {
    let weights = bundled_mnist_dir().join("../efficientnet-lite0.safetensors");
    if !weights.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "run python3 scripts/convert_efficientnet_lite0.py"
        );
        eprintln!("skipped: no converted EfficientNet-Lite0 weights");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_subset(dir.path(), Split::Train, 300, "train");
    write_subset(dir.path(), Split::Test, 100, "t10k");
    let db = fresh_db();
    let run = |extra: &[&str]| {
        json_of(
            &greenai()
                .env("GREENAI_DB", &db)
                .args([
                    "transfer",
                    "--json",
                    "--input-size",
                    "32",
                    "--train-samples",
                    "300",
                    "--lr",
                    "0.003",
                ])
                .args(["--test-samples", "100", "--epochs", "20", "--data"])
                .arg(dir.path())
                .args(extra)
                .output()
                .unwrap(),
        )
    };
    let first = run(&[]);
    assert_eq!(first["backbone"], "efficientnet-lite0");
    assert_eq!(first["frozen"], true);
    assert_eq!(first["feature_cache_hit"], false);
    assert!(first["feature_energy_j"].as_f64().unwrap() > 0.0);
    assert!(first["accuracy"].as_f64().unwrap() > 0.5, "{first}");
    let second = run(&[]);
    assert_eq!(second["feature_cache_hit"], true);
    assert_eq!(
        second["accuracy"], first["accuracy"],
        "the same features, the same head"
    );
    // The last block and the head convolution trained too, from their pretrained weights.
    let tuned = run(&["--fine-tune-last", "1"]);
    assert_eq!(tuned["frozen"], false);
    assert_eq!(tuned["fine_tuned_blocks"], 1);
    assert_eq!(tuned["feature_cache_hit"], false);
    assert!(tuned["trained_params"].as_u64().unwrap() > first["trained_params"].as_u64().unwrap());
    // The frozen part in int8: its own features (not the cached f32 ones), about as good.
    let int8 = run(&["--int8"]);
    assert_eq!(int8["quantization"], "per-channel");
    assert_eq!(int8["feature_cache_hit"], false);
    let (a8, a32) = (
        int8["accuracy"].as_f64().unwrap(),
        first["accuracy"].as_f64().unwrap(),
    );
    assert!((a8 - a32).abs() <= 0.1, "int8 {a8} against f32 {a32}");
    // Energy to accuracy: the last 50 training images held out, checked every 2 steps; the job
    // stops at the first check that reads 0.5 and reports every check it made.
    let to_target = run(&[
        "--validation",
        "50",
        "--target-accuracy",
        "0.5",
        "--check-every",
        "2",
    ]);
    let t = &to_target["target"];
    assert_eq!(t["reached"], true, "{to_target}");
    assert_eq!(to_target["validation_samples"], 50);
    let log = t["log"].as_array().unwrap();
    assert_eq!(log.len(), t["checks"].as_u64().unwrap() as usize);
    assert!(log.last().unwrap()["accuracy"].as_f64().unwrap() >= 0.5);
    assert!(to_target["validation_feature_energy_j"].as_f64().unwrap() > 0.0);
    let o = greenai()
        .env("GREENAI_DB", &db)
        .args(["transfer", "--target-accuracy", "0.5", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--validation"), "{}", stderr(&o));
    let o = greenai()
        .args(["transfer", "--weights", "/nonexistent.safetensors"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("convert_efficientnet_lite0.py"),
        "{}",
        stderr(&o)
    );
}
