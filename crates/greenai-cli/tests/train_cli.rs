//! `greenai train`, end to end, on small IDX sets cut from the bundled MNIST.

mod util;

use greenai_nn::data::{bundled_mnist_dir, idx, Dataset, Split};
use std::path::Path;
use util::*;

/// Writes the first `n` images of a split, downsampled to 14×14 (every other pixel), as IDX.
fn write_subset(dir: &Path, split: Split, n: usize, prefix: &str) {
    let d = Dataset::load(&bundled_mnist_dir(), split).unwrap();
    let mut images = Vec::with_capacity(n * 196);
    for i in 0..n {
        let img = d.image(i);
        for y in (0..28).step_by(2) {
            for x in (0..28).step_by(2) {
                images.push(img[y * 28 + x]);
            }
        }
    }
    std::fs::write(
        dir.join(format!("{prefix}-images-idx3-ubyte")),
        idx::encode(&[n, 14, 14], &images),
    )
    .unwrap();
    std::fs::write(
        dir.join(format!("{prefix}-labels-idx1-ubyte")),
        idx::encode(&[n], &d.labels[..n]),
    )
    .unwrap();
}

#[test]
fn trains_on_another_image_size_and_reports_every_field() {
    let dir = tempfile::tempdir().unwrap();
    write_subset(dir.path(), Split::Train, 4000, "train");
    write_subset(dir.path(), Split::Test, 1000, "t10k");
    let o = greenai()
        .args([
            "train", "--epochs", "2", "--json", "--region", "FR", "--data",
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
    assert_eq!(v["per_epoch"].as_array().unwrap().len(), 2);
    assert!(v["accuracy"].as_f64().unwrap() > 0.8, "{}", v["accuracy"]);
    assert!(v["energy_j"].as_f64().unwrap() > 0.0);
    let per_epoch: f64 = v["per_epoch"]
        .as_array()
        .unwrap()
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
