//! EfficientNet-Lite0 (Tan and Le, 2019; the Lite variant: no squeeze-and-excitation, ReLU6, fixed
//! stem and head) as an inference graph, with its ImageNet weights loaded from the safetensors file
//! that `scripts/convert_efficientnet_lite0.py` writes, BatchNorm folded into each convolution.
//!
//! Layer names follow the PyTorch state dict (`_conv_stem`, `_blocks.N._expand_conv`,
//! `_blocks.N._depthwise_conv`, `_blocks.N._project_conv`, `_conv_head`, `_fc`), and padding is
//! TensorFlow's "same" (uneven for strided convolutions, as the weights were trained).

use crate::checkpoint::read_tensors;
use crate::graph::{Act, Graph, GraphBuilder, Op};
use crate::models::ModelKind;
use crate::params::Params;
use crate::train::Model;
use crate::{NnError, Result};
use std::path::Path;

/// The blocks: (repeats, kernel, first stride, expansion, input channels, output channels).
const BLOCKS: [(usize, usize, usize, usize, usize, usize); 7] = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
];

/// BatchNorm's epsilon in these weights (TensorFlow's 1e-3, not PyTorch's default).
pub const BN_EPS: f32 = 1e-3;

/// The width of the features before the classifier.
pub const FEATURES: usize = 1280;

/// A convolution with TensorFlow's "same" padding: symmetric padding where it is even, a Pad node
/// before an unpadded convolution where it is not. Returns the convolution's node.
#[allow(clippy::too_many_arguments)]
fn conv_same(
    g: &mut GraphBuilder,
    name: &str,
    x: usize,
    cout: usize,
    k: usize,
    stride: usize,
    groups: usize,
    act: Act,
) -> Result<usize> {
    let s = g.shape(x);
    let total = |n: usize| {
        let out = n.div_ceil(stride);
        ((out - 1) * stride + k).saturating_sub(n)
    };
    let (ph, pw) = (total(s.h), total(s.w));
    let (top, left) = (ph / 2, pw / 2);
    let (bottom, right) = (ph - top, pw - left);
    if top == bottom && left == right && top == left {
        g.conv(name, x, cout, k, stride, top, groups, true, act)
    } else {
        let p = g.pad(x, top, bottom, left, right);
        g.conv(name, p, cout, k, stride, 0, groups, true, act)
    }
}

/// The graph for `size × size` RGB images; with `classes`, ending in the ImageNet classifier
/// (`_fc`), without, in the 1280 pooled features.
pub fn graph(size: usize, classes: Option<usize>) -> Result<Graph> {
    let mut g = GraphBuilder::new(3, size, size);
    let mut x = g.input();
    x = conv_same(&mut g, "_conv_stem", x, 32, 3, 2, 1, Act::Relu6)?;
    let mut b = 0;
    for (repeats, k, stride, expand, cin, cout) in BLOCKS {
        for r in 0..repeats {
            let (s, ci) = if r == 0 { (stride, cin) } else { (1, cout) };
            let input = x;
            let n = format!("_blocks.{b}");
            let mut y = x;
            if expand != 1 {
                y = g.conv(
                    &format!("{n}._expand_conv"),
                    y,
                    ci * expand,
                    1,
                    1,
                    0,
                    1,
                    true,
                    Act::Relu6,
                )?;
            }
            let mid = ci * expand;
            y = conv_same(
                &mut g,
                &format!("{n}._depthwise_conv"),
                y,
                mid,
                k,
                s,
                mid,
                Act::Relu6,
            )?;
            y = g.conv(
                &format!("{n}._project_conv"),
                y,
                cout,
                1,
                1,
                0,
                1,
                true,
                Act::None,
            )?;
            x = if s == 1 && ci == cout {
                g.add(y, input)
            } else {
                y
            };
            b += 1;
        }
    }
    x = g.conv("_conv_head", x, FEATURES, 1, 1, 0, 1, true, Act::Relu6)?;
    x = g.global_avg_pool(x);
    if let Some(c) = classes {
        x = g.linear("_fc", x, c, Act::None);
    }
    Ok(g.finish(x))
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
    fn bn_names_follow_the_state_dict() {
        assert_eq!(bn_of("_conv_stem"), "_bn0");
        assert_eq!(bn_of("_blocks.3._expand_conv"), "_blocks.3._bn0");
        assert_eq!(bn_of("_blocks.3._depthwise_conv"), "_blocks.3._bn1");
        assert_eq!(bn_of("_blocks.3._project_conv"), "_blocks.3._bn2");
        assert_eq!(bn_of("_conv_head"), "_bn1");
    }
}
