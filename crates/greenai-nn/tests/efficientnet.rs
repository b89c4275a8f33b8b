//! EfficientNet-Lite0 with its ImageNet weights classifies real photographs as PyTorch does:
//! scikit-image's chelsea (a tabby cat) and coffee (a cup), preprocessed once
//! (`bench/transfer/reference_logits.py`), against logits computed once with PyTorch.
//!
//! Needs `data/efficientnet-lite0.safetensors` (`python3 scripts/convert_efficientnet_lite0.py`,
//! which `.ci/run` runs); without it the test says so and passes, except under CI, where it fails.

use greenai_nn::efficientnet;
use greenai_nn::model::Inference;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[test]
fn photos_get_the_reference_classes_and_logits() {
    let weights = root().join("data/efficientnet-lite0.safetensors");
    if !weights.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is missing: run python3 scripts/convert_efficientnet_lite0.py",
            weights.display()
        );
        eprintln!("skipped: run python3 scripts/convert_efficientnet_lite0.py for this test");
        return;
    }
    let model = efficientnet::load(&weights, 224, true).unwrap();
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("data/imagenet-check/reference.json")).unwrap(),
    )
    .unwrap();
    for name in ["chelsea", "coffee"] {
        let rgb = std::fs::read(root().join(format!("data/imagenet-check/{name}.rgb"))).unwrap();
        let mut x = Vec::new();
        efficientnet::normalise(&rgb, 224, &mut x);
        let mut inf = Inference::default();
        let z = inf.infer(&model, &x, 1);
        let mut order: Vec<usize> = (0..z.len()).collect();
        order.sort_by(|&a, &b| z[b].total_cmp(&z[a]));
        let r = &reference["photos"][name];
        let want: Vec<usize> = r["top10"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(order[0], want[0], "{name}: top-1");
        let mut a = order[..5].to_vec();
        let mut b = want[..5].to_vec();
        a.sort();
        b.sort();
        assert_eq!(a, b, "{name}: top-5");
        for (i, v) in r["first16"].as_array().unwrap().iter().enumerate() {
            let v = v.as_f64().unwrap() as f32;
            assert!(
                (z[i] - v).abs() < 2e-3 * (1.0 + v.abs()),
                "{name} logit {i}: {} vs {v}",
                z[i]
            );
        }
        for (c, v) in want.iter().zip(r["top10_logits"].as_array().unwrap()) {
            let v = v.as_f64().unwrap() as f32;
            assert!(
                (z[*c] - v).abs() < 2e-3 * (1.0 + v.abs()),
                "{name} class {c}: {} vs {v}",
                z[*c]
            );
        }
    }
    // ImageNet classes 281–285 are cats; 967 is espresso, 968 cup.
}

/// A wrong tensor in the weights file is named.
#[test]
fn a_wrong_tensor_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.safetensors");
    let g = efficientnet::graph(32, Some(1000)).unwrap();
    let model = greenai_nn::train::Model {
        kind: greenai_nn::models::ModelKind::EfficientnetLite0,
        params: g.init(0),
        buffers: g.init_buffers(),
        graph: g,
        quant: None,
    };
    // A greenai checkpoint has the folded names, not the state dict's BatchNorm tensors.
    greenai_nn::checkpoint::save(&p, &model, None, &[]).unwrap();
    let e = efficientnet::load(&p, 32, true).unwrap_err().to_string();
    assert!(e.contains("tensor _bn0.weight is missing"), "{e}");
    assert!(e.contains("convert_efficientnet_lite0.py"), "{e}");
}
