//! EfficientNet-Lite0 (Tan and Le, 2019; the Lite variant: no squeeze-and-excitation, ReLU6, fixed
//! stem and head) as an inference graph, with its ImageNet weights loaded from the safetensors file
//! that `scripts/convert_efficientnet_lite0.py` writes, BatchNorm folded into each convolution.
//!
//! Layer names follow the PyTorch state dict (`_conv_stem`, `_blocks.N._expand_conv`,
//! `_blocks.N._depthwise_conv`, `_blocks.N._project_conv`, `_conv_head`, `_fc`), and padding is
//! TensorFlow's "same" (uneven for strided convolutions, as the weights were trained).

pub use crate::models::efficientnet::{graph, BLOCK_COUNT, BN_EPS, FEATURES};

use crate::checkpoint::read_tensors;
use crate::graph::{Act, Graph, GraphBuilder, Op};
use crate::model::Model;
use crate::models::efficientnet::{blocks, conv_same, head};
use crate::models::ModelKind;
use crate::params::Params;
use crate::{NnError, Result};
use std::path::Path;

/// The backbone `features` (a model of [`graph`]`(size, None)`) cut before its last `trainable`
/// blocks, for transfer learning: a frozen part (the stem and the blocks before the cut; the
/// whole backbone when `trainable` is 0) whose outputs can be computed once, and a trainable part
/// that reads them (the last `trainable` blocks and the head convolution when `trainable` is at
/// least 1, then a new linear classifier `head` of `classes` outputs drawn with `seed`). Both
/// parts carry `features`' weights under their state-dict names.
pub fn split(
    features: &Model,
    size: usize,
    trainable: usize,
    classes: usize,
    seed: u64,
) -> Result<(Model, Model)> {
    if trainable > BLOCK_COUNT {
        return Err(NnError::Invalid(format!(
            "EfficientNet-Lite0 has {BLOCK_COUNT} blocks; {trainable} cannot be fine-tuned"
        )));
    }
    let cut = BLOCK_COUNT - trainable;
    let mut g = GraphBuilder::new(3, size, size);
    let x = g.input();
    let x = conv_same(&mut g, "_conv_stem", x, 32, 3, 2, 1, Act::Relu6)?;
    let mut x = blocks(&mut g, x, 0..cut)?;
    if trainable == 0 {
        x = head(&mut g, x)?;
    }
    let cut_shape = g.shape(x);
    let frozen = g.finish(x);
    let mut g = GraphBuilder::new(cut_shape.c, cut_shape.h, cut_shape.w);
    let mut x = g.input();
    if trainable > 0 {
        x = blocks(&mut g, x, cut..BLOCK_COUNT)?;
        x = head(&mut g, x)?;
    }
    let x = g.linear("head", x, classes, Act::None);
    let tuned = g.finish(x);
    let by_name: std::collections::HashMap<&str, usize> = features
        .graph
        .params
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let take = |graph: Graph| -> Result<Model> {
        let mut params = graph.init(seed);
        for (i, spec) in graph.params.iter().enumerate() {
            if let Some(&j) = by_name.get(spec.name.as_str()) {
                if features.params.0[j].len() != spec.len() {
                    return Err(NnError::Invalid(format!(
                        "{} has {} values in the backbone, not {}",
                        spec.name,
                        features.params.0[j].len(),
                        spec.len()
                    )));
                }
                params.0[i].copy_from_slice(&features.params.0[j]);
            } else if !spec.name.starts_with("head.") {
                return Err(NnError::Invalid(format!(
                    "{} is not in the backbone (was it loaded with its classifier?)",
                    spec.name
                )));
            }
        }
        Ok(Model {
            kind: ModelKind::EfficientnetLite0,
            buffers: graph.init_buffers(),
            graph,
            params,
            quant: None,
        })
    };
    Ok((take(frozen)?, take(tuned)?))
}

/// The BatchNorm that follows a convolution in the state dict.
fn bn_of(conv: &str) -> String {
    match conv {
        "_conv_stem" => "_bn0".into(),
        "_conv_head" => "_bn1".into(),
        _ => {
            let (block, layer) = conv.rsplit_once('.').unwrap_or(("", conv));
            let bn = match layer {
                "_expand_conv" => "_bn0",
                "_depthwise_conv" => "_bn1",
                _ => "_bn2",
            };
            format!("{block}.{bn}")
        }
    }
}

/// Loads the converted weights for `size × size` images, folding every BatchNorm into its
/// convolution. Names the first tensor that is missing or of the wrong shape.
pub fn load(path: &Path, size: usize, with_classifier: bool) -> Result<Model> {
    let (mut t, _) = read_tensors(path)?;
    let malformed = |reason: String| NnError::Malformed {
        path: path.display().to_string(),
        reason: format!("{reason}; regenerate it with scripts/convert_efficientnet_lite0.py"),
    };
    let g = graph(size, with_classifier.then_some(1000))?;
    let mut take = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
        let (s, v) = t
            .remove(name)
            .ok_or_else(|| malformed(format!("tensor {name} is missing")))?;
        if s != shape {
            return Err(malformed(format!(
                "tensor {name} has shape {s:?}, EfficientNet-Lite0 needs {shape:?}"
            )));
        }
        Ok(v)
    };
    let mut params = Params(vec![Vec::new(); g.params.len()]);
    for node in &g.nodes {
        match node.op {
            Op::Conv(c) => {
                let spec = &g.params[c.weight];
                let mut w = take(&spec.name, &spec.shape)?;
                let bn = bn_of(&node.name);
                let gamma = take(&format!("{bn}.weight"), &[c.cout])?;
                let beta = take(&format!("{bn}.bias"), &[c.cout])?;
                let mean = take(&format!("{bn}.running_mean"), &[c.cout])?;
                let var = take(&format!("{bn}.running_var"), &[c.cout])?;
                let per = w.len() / c.cout;
                let mut bias = vec![0.0; c.cout];
                for o in 0..c.cout {
                    let scale = gamma[o] / (var[o] + BN_EPS).sqrt();
                    w[o * per..(o + 1) * per]
                        .iter_mut()
                        .for_each(|v| *v *= scale);
                    bias[o] = beta[o] - mean[o] * scale;
                }
                params.0[c.weight] = w;
                params.0[c.bias.expect("built with a bias")] = bias;
            }
            Op::Linear {
                weight, fin, fout, ..
            } => {
                params.0[weight] = take("_fc.weight", &[fout, fin])?;
                params.0[weight + 1] = take("_fc.bias", &[fout])?;
            }
            _ => {}
        }
    }
    if !with_classifier {
        t.remove("_fc.weight");
        t.remove("_fc.bias");
    }
    if let Some(extra) = t.keys().next() {
        return Err(malformed(format!(
            "tensor {extra} does not belong to EfficientNet-Lite0"
        )));
    }
    Ok(Model {
        kind: ModelKind::EfficientnetLite0,
        buffers: g.init_buffers(),
        graph: g,
        params,
        quant: None,
    })
}

/// ImageNet's per-channel normalisation for these weights (the Lite models' (x − 127) / 128).
pub fn normalise(rgb: &[u8], size: usize, out: &mut Vec<f32>) {
    out.clear();
    out.resize(3 * size * size, 0.0);
    for (i, px) in rgb.chunks_exact(3).enumerate() {
        for c in 0..3 {
            out[c * size * size + i] = (px[c] as f32 - 127.0) / 128.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_architecture_has_its_size() {
        let g = graph(224, Some(1000)).unwrap();
        // 4,652,008 parameters in the state dict, BatchNorm's γ and β folded into conv biases
        // (the stem, 16 blocks' convolutions and the head each gain a bias where BN's γ, β were).
        assert_eq!(g.classes(), 1000);
        let stem = g.nodes.iter().find(|n| n.name == "_conv_stem").unwrap();
        assert_eq!((stem.shape.c, stem.shape.h), (32, 112));
        let head = g.nodes.iter().find(|n| n.name == "_conv_head").unwrap();
        assert_eq!((head.shape.c, head.shape.h), (1280, 7));
        // Any size works, a smaller one too (the transfer issue uses 96 × 96).
        let small = graph(96, None).unwrap();
        assert_eq!(small.classes(), FEATURES);
    }

    #[test]
    fn a_split_backbone_computes_what_the_whole_one_does() {
        use crate::model::Inference;
        let size = 32;
        let g = graph(size, None).unwrap();
        let features = Model {
            kind: ModelKind::EfficientnetLite0,
            params: g.init(7),
            buffers: g.init_buffers(),
            graph: g,
            quant: None,
        };
        let n = 2;
        let x: Vec<f32> = (0..n * 3 * size * size)
            .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
            .collect();
        let mut ex = Inference::default();
        let run = |ex: &mut Inference, m: &Model, x: &[f32]| ex.infer(m, x, n).to_vec();
        let whole = run(&mut ex, &features, &x);
        assert_eq!(whole.len(), n * FEATURES);
        for trainable in [0, 1, 4] {
            let (frozen, tuned) = split(&features, size, trainable, 10, 3).unwrap();
            let cut = run(&mut ex, &frozen, &x);
            assert_eq!(cut.len(), n * tuned.graph.input_shape().len());
            let logits = run(&mut ex, &tuned, &cut);
            assert_eq!(logits.len(), n * 10);
            // The new head applied to the whole backbone's features by hand.
            let (w, b) = (
                &tuned.params.0[tuned.params.0.len() - 2],
                tuned.params.0.last().unwrap(),
            );
            for img in 0..n {
                let f = &whole[img * FEATURES..(img + 1) * FEATURES];
                for c in 0..10 {
                    let want: f32 = b[c]
                        + f.iter()
                            .zip(&w[c * FEATURES..(c + 1) * FEATURES])
                            .map(|(a, b)| a * b)
                            .sum::<f32>();
                    let got = logits[img * 10 + c];
                    assert!(
                        (got - want).abs() <= 1e-3 * want.abs().max(1.0),
                        "trainable {trainable}: {got} vs {want}"
                    );
                }
            }
            // Only the trainable part's weights are trained: the cut moves with `trainable`.
            let blocks_in_tuned = tuned
                .graph
                .nodes
                .iter()
                .filter(|n| n.name.ends_with("._project_conv"))
                .count();
            assert_eq!(blocks_in_tuned, trainable);
        }
        assert!(split(&features, size, BLOCK_COUNT + 1, 10, 3).is_err());
    }

    #[test]
    fn bn_names_follow_the_state_dict() {
        assert_eq!(bn_of("_conv_stem"), "_bn0");
        assert_eq!(bn_of("_blocks.3._expand_conv"), "_blocks.3._bn0");
        assert_eq!(bn_of("_blocks.3._depthwise_conv"), "_blocks.3._bn1");
        assert_eq!(bn_of("_blocks.3._project_conv"), "_blocks.3._bn2");
        assert_eq!(bn_of("_conv_head"), "_bn1");
    }
}
