//! Hostile and mistaken input, end to end: every malformed or out-of-range value is refused with
//! exit 2 and a short message, before anything runs; no input makes greenai panic (exit 101).

mod util;

use greenai_nn::checkpoint::{read_tensors, write_tensors};
use std::collections::BTreeMap;
use util::*;

/// Exit 2, a message, no panic.
fn refused(args: &[&str]) -> String {
    let o = greenai()
        .arg("--db")
        .arg(fresh_db())
        .args(args)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert!(!err.trim().is_empty(), "{args:?}");
    err
}

#[test]
fn numeric_flags_are_checked_for_finiteness_and_range() {
    for args in [
        &["train", "--batch", "0"][..],
        &["train", "--batch", "-1"],
        &["train", "--threads", "0"],
        &["train", "--threads", "100000"],
        &["train", "--epochs", "0"],
        &["train", "--lr", "nan"],
        &["train", "--lr", "inf"],
        &["train", "--weight-decay", "-0.1"],
        &["train", "--weight-decay", "nan"],
        &["train", "--patience", "0"],
        &["compare", "--budget-j", "0"],
        &["compare", "--budget-j", "inf"],
        &["compare", "--eta", "1.5"],
        &["compare", "--target-accuracy", "nan"],
        &["transfer", "--input-size", "100000"],
        &["transfer", "--train-samples", "0"],
        &["quantize", "x.safetensors", "--calibration", "0"],
        &["carbon", "--energy-kwh", "1e308", "--region", "FR"],
        &["carbon", "--energy-kwh", "nan", "--region", "FR"],
        &["carbon", "--energy-kwh", "1", "--pue", "1e10"],
        &["carbon", "--energy-kwh", "1", "--pue", "inf"],
        &["carbon", "--energy-kwh", "1", "--erf", "-0.1"],
        &["carbon", "--energy-kwh", "1", "--intensity", "nan"],
        &["carbon", "--energy-kwh", "1", "--functional-unit", "x=inf"],
        &["carbon", "--energy-kwh", "1", "--functional-unit", "x=-3"],
        &["carbon", "--energy-kwh", "1", "--embodied-kg", "-5"],
        &[
            "carbon",
            "--energy-kwh",
            "1",
            "--embodied-kg",
            "1",
            "--lifespan-years",
            "inf",
        ],
        &[
            "carbon",
            "--energy-kwh",
            "1",
            "--embodied-kg",
            "1",
            "--lifespan-years",
            "0",
        ],
        &[
            "carbon",
            "--energy-kwh",
            "1",
            "--embodied-kg",
            "1",
            "--resource-share",
            "0",
        ],
        &[
            "carbon",
            "--energy-kwh",
            "1",
            "--embodied-kg",
            "1",
            "--resource-share",
            "2",
        ],
        &["carbon", "--energy-kwh", "1", "--duration-s", "-1"],
        &["run", "--interval", "nan", "--", "true"],
        &["exporter", "--interval", "inf"],
        &["predict", "x.safetensors", "--limit", "0"],
    ] {
        refused(args);
    }
}

/// Spoils one tensor of a checkpoint: its shape, its values.
type Spoil = fn(&mut Vec<usize>, &mut Vec<f32>);

/// An int8 checkpoint whose scales, ranges or weights are not what int8 layers can hold is
/// refused as malformed (it made eval exit 101 before), and so is a tensor of the right size but
/// the wrong shape.
#[test]
fn a_lying_int8_checkpoint_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.sqlite");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    write_subset(&data, greenai_nn::data::Split::Train, 600, "train");
    write_subset(&data, greenai_nn::data::Split::Test, 100, "t10k");
    let data = data.to_str().unwrap();
    let f32_ck = dir.path().join("lenet.safetensors");
    let int8_ck = dir.path().join("lenet-int8.safetensors");
    let run = |args: &[&str]| greenai().arg("--db").arg(&db).args(args).output().unwrap();
    let o = run(&[
        "train",
        "--model",
        "lenet",
        "--epochs",
        "1",
        "--validation",
        "0",
        "--no-store",
        "--save",
        f32_ck.to_str().unwrap(),
        "--data",
        data,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&[
        "quantize",
        f32_ck.to_str().unwrap(),
        "--calibration",
        "50",
        // Every layer int8 whatever this CPU times (the spoiled tensors must exist).
        "--int8-layers",
        "all",
        "--no-store",
        "--save",
        int8_ck.to_str().unwrap(),
        "--data",
        data,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (tensors, meta) = read_tensors(&int8_ck).unwrap();
    let bad = dir.path().join("bad.safetensors");
    let cases: [(&str, Spoil); 5] = [
        ("conv1.weight_scale", |_, v| v[0] = f32::NAN),
        ("conv1.weight_scale", |_, v| v[0] = -1.0),
        ("conv1.input_range", |_, v| v[0] = f32::INFINITY),
        ("conv1.weight", |_, v| v[0] = 300.0),
        ("fc3.bias", |s, _| *s = vec![2, 5]),
    ];
    for (name, spoil) in cases {
        let mut t = tensors.clone();
        let (shape, values) = t
            .get_mut(name)
            .unwrap_or_else(|| panic!("{name} in the file"));
        spoil(shape, values);
        let owned: Vec<(&str, Vec<usize>, &[f32])> = t
            .iter()
            .map(|(k, (s, v))| (k.as_str(), s.clone(), v.as_slice()))
            .collect();
        let meta: BTreeMap<String, String> = meta.clone();
        write_tensors(&bad, &owned, &meta).unwrap();
        let o = run(&["eval", bad.to_str().unwrap(), "--no-store", "--data", data]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{name}: {err}");
    }
}
