//! EfficientNet-Lite0's architecture as a graph (the weights are loaded by
//! [`crate::efficientnet`]), padding as TensorFlow's "same".

use crate::graph::{Act, Graph, GraphBuilder};
use crate::Result;

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
pub(crate) fn conv_same(
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

/// The number of MBConv blocks (`_blocks.0` to `_blocks.15`).
pub const BLOCK_COUNT: usize = 16;

/// Each block's (kernel, stride, expansion, input channels, output channels), in order.
pub(crate) fn block_specs() -> Vec<(usize, usize, usize, usize, usize)> {
    BLOCKS
        .iter()
        .flat_map(|&(repeats, k, stride, expand, cin, cout)| {
            (0..repeats).map(move |r| {
                if r == 0 {
                    (k, stride, expand, cin, cout)
                } else {
                    (k, 1, expand, cout, cout)
                }
            })
        })
        .collect()
}

/// Blocks `range` on top of node `x`; returns the last block's node.
pub(crate) fn blocks(
    g: &mut GraphBuilder,
    mut x: usize,
    range: std::ops::Range<usize>,
) -> Result<usize> {
    for (b, (k, s, expand, ci, cout)) in block_specs().into_iter().enumerate() {
        if !range.contains(&b) {
            continue;
        }
        let input = x;
        let n = format!("_blocks.{b}");
        let mut y = x;
        let mid = ci * expand;
        if expand != 1 {
            y = g.conv(
                &format!("{n}._expand_conv"),
                y,
                mid,
                1,
                1,
                0,
                1,
                true,
                Act::Relu6,
            )?;
        }
        y = conv_same(
            g,
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
    }
    Ok(x)
}

/// The 1280-wide head convolution and global pooling on top of node `x`.
pub(crate) fn head(g: &mut GraphBuilder, x: usize) -> Result<usize> {
    let x = g.conv("_conv_head", x, FEATURES, 1, 1, 0, 1, true, Act::Relu6)?;
    Ok(g.global_avg_pool(x))
}

/// The graph for `size × size` RGB images; with `classes`, ending in the ImageNet classifier
/// (`_fc`), without, in the 1280 pooled features.
pub fn graph(size: usize, classes: Option<usize>) -> Result<Graph> {
    let mut g = GraphBuilder::new(3, size, size);
    let x = g.input();
    let x = conv_same(&mut g, "_conv_stem", x, 32, 3, 2, 1, Act::Relu6)?;
    let x = blocks(&mut g, x, 0..BLOCK_COUNT)?;
    let mut x = head(&mut g, x)?;
    if let Some(c) = classes {
        x = g.linear("_fc", x, c, Act::None);
    }
    Ok(g.finish(x))
}
