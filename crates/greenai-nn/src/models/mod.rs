//! The models greenai trains, built as [`Graph`]s for any image size they fit.
//!
//! | model | layers | params (28×28, 10 classes) |
//! |---|---|---|
//! | `lightweight` | the seed's LightweightNet: conv 1→16 3×3 pad 1, ReLU, linear 16·H·W→classes | 125,610 |
//! | `mobilenet` | conv 3×3 + BN + ReLU6, four depthwise-separable blocks (dw 3×3 + BN + ReLU6, pw 1×1 + BN + ReLU6), global average pool, linear | see `greenai train --json` |
//! | `shufflenet` | conv 3×3 s2, ShuffleNet units (grouped 1×1, channel shuffle, dw 3×3, residual add or avg-pool concat), global average pool, linear | |
//! | `cnn` | conv 3×3 32 + ReLU, max pool, conv 3×3 64 + ReLU, max pool, linear 128 + ReLU, linear | |
//! | `lenet` | LeNet-5: conv 5×5 6 + ReLU, max pool, conv 5×5 16 + ReLU, max pool, linear 120, 84, classes | |
//! | `strided` | conv 5×5 16 stride 2 + BN + ReLU, conv 3×3 32 stride 2 + BN + ReLU, linear | 20,794 |

pub mod efficientnet;

use crate::graph::{Act, Graph, GraphBuilder};
use crate::{NnError, Result};

/// A model architecture, by its CLI name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelKind {
    Lightweight,
    Mobilenet,
    Shufflenet,
    Cnn,
    Lenet,
    /// Two strided convolutions with BatchNorm and one linear layer: downsampling by stride
    /// instead of pooling, so no output is computed only to be discarded by a max pool.
    Strided,
    /// The pretrained ImageNet backbone ([`efficientnet`], its weights loaded by
    /// [`crate::efficientnet`]); not trained from scratch.
    EfficientnetLite0,
}

impl ModelKind {
    pub const ALL: [ModelKind; 6] = [
        ModelKind::Lightweight,
        ModelKind::Mobilenet,
        ModelKind::Shufflenet,
        ModelKind::Cnn,
        ModelKind::Lenet,
        ModelKind::Strided,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Lightweight => "lightweight",
            ModelKind::Mobilenet => "mobilenet",
            ModelKind::Shufflenet => "shufflenet",
            ModelKind::Cnn => "cnn",
            ModelKind::Lenet => "lenet",
            ModelKind::Strided => "strided",
            ModelKind::EfficientnetLite0 => "efficientnet-lite0",
        }
    }

    pub fn from_name(name: &str) -> Result<ModelKind> {
        ModelKind::ALL
            .into_iter()
            .chain([ModelKind::EfficientnetLite0])
            .find(|m| m.name() == name)
            .ok_or_else(|| {
                NnError::Invalid(format!(
                    "unknown model {name:?}; greenai knows lightweight, mobilenet, shufflenet, cnn, lenet, strided"
                ))
            })
    }

    /// The architecture for `channels × rows × cols` images and `classes` classes. Fails with a
    /// clear message when the images are too small for it.
    pub fn build(self, channels: usize, rows: usize, cols: usize, classes: usize) -> Result<Graph> {
        if classes < 2 {
            return Err(NnError::Invalid(format!(
                "the labels name {classes} class(es); a classifier needs at least 2"
            )));
        }
        if self == ModelKind::EfficientnetLite0 {
            if channels != 3 || rows != cols {
                return Err(NnError::Invalid(format!(
                    "EfficientNet-Lite0 takes square RGB images, not {channels}×{rows}×{cols}"
                )));
            }
            return efficientnet::graph(rows, Some(classes));
        }
        let mut g = GraphBuilder::new(channels, rows, cols);
        let x = g.input();
        let logits = match self {
            ModelKind::Lightweight => {
                let x = g.conv("conv", x, 16, 3, 1, 1, 1, true, Act::Relu)?;
                g.linear("fc", x, classes, Act::None)
            }
            ModelKind::Mobilenet => {
                let mut x = g.conv("stem.conv", x, 16, 3, 1, 1, 1, false, Act::None)?;
                x = g.batchnorm("stem.bn", x, Act::Relu6);
                for (i, (cout, stride)) in [(32, 2), (64, 2), (64, 1), (128, 2)]
                    .into_iter()
                    .enumerate()
                {
                    let cin = g.shape(x).c;
                    let n = format!("block{i}");
                    x = g.conv(
                        &format!("{n}.dw"),
                        x,
                        cin,
                        3,
                        stride,
                        1,
                        cin,
                        false,
                        Act::None,
                    )?;
                    x = g.batchnorm(&format!("{n}.dw_bn"), x, Act::Relu6);
                    x = g.conv(&format!("{n}.pw"), x, cout, 1, 1, 0, 1, false, Act::None)?;
                    x = g.batchnorm(&format!("{n}.pw_bn"), x, Act::Relu6);
                }
                let x = g.global_avg_pool(x);
                g.linear("fc", x, classes, Act::None)
            }
            ModelKind::Shufflenet => {
                const GROUPS: usize = 3;
                let mut x = g.conv("stem.conv", x, 24, 3, 2, 1, 1, false, Act::None)?;
                x = g.batchnorm("stem.bn", x, Act::Relu);
                // (output channels, stride): a stride-2 unit concatenates an average-pooled
                // shortcut; a stride-1 unit adds the identity.
                let units = [(48, 2), (48, 1), (48, 1), (96, 2), (96, 1)];
                for (i, (cout, stride)) in units.into_iter().enumerate() {
                    let n = format!("unit{i}");
                    let cin = g.shape(x).c;
                    let main_out = if stride == 2 { cout - cin } else { cout };
                    let mid = cout / 4;
                    let mut y = g.conv(
                        &format!("{n}.gconv1"),
                        x,
                        mid,
                        1,
                        1,
                        0,
                        GROUPS,
                        false,
                        Act::None,
                    )?;
                    y = g.batchnorm(&format!("{n}.bn1"), y, Act::Relu);
                    y = g.shuffle(y, GROUPS);
                    y = g.conv(
                        &format!("{n}.dw"),
                        y,
                        mid,
                        3,
                        stride,
                        1,
                        mid,
                        false,
                        Act::None,
                    )?;
                    y = g.batchnorm(&format!("{n}.bn2"), y, Act::None);
                    y = g.conv(
                        &format!("{n}.gconv2"),
                        y,
                        main_out,
                        1,
                        1,
                        0,
                        GROUPS,
                        false,
                        Act::None,
                    )?;
                    y = g.batchnorm(&format!("{n}.bn3"), y, Act::None);
                    x = if stride == 2 {
                        let short = g.avg_pool(x, 3, 2, 1)?;
                        g.concat(y, short)
                    } else {
                        g.add(y, x)
                    };
                    x = g.act(x, Act::Relu);
                }
                let x = g.global_avg_pool(x);
                g.linear("fc", x, classes, Act::None)
            }
            ModelKind::Cnn => {
                let x = g.conv("conv1", x, 32, 3, 1, 1, 1, true, Act::Relu)?;
                let x = g.max_pool2(x)?;
                let x = g.conv("conv2", x, 64, 3, 1, 1, 1, true, Act::Relu)?;
                let x = g.max_pool2(x)?;
                let x = g.linear("fc1", x, 128, Act::Relu);
                g.linear("fc2", x, classes, Act::None)
            }
            ModelKind::Lenet => {
                // LeNet-5 (LeCun et al., 1998) with ReLU and max pooling, padding 2 on the first
                // convolution so that 28×28 MNIST sees the 32×32 field the original was built for.
                let x = g.conv("conv1", x, 6, 5, 1, 2, 1, true, Act::Relu)?;
                let x = g.max_pool2(x)?;
                let x = g.conv("conv2", x, 16, 5, 1, 0, 1, true, Act::Relu)?;
                let x = g.max_pool2(x)?;
                let x = g.linear("fc1", x, 120, Act::Relu);
                let x = g.linear("fc2", x, 84, Act::Relu);
                g.linear("fc3", x, classes, Act::None)
            }
            ModelKind::Strided => {
                // Padding 2 and 1 keep 28×28 → 14×14 → 7×7; no bias before BatchNorm.
                let x = g.conv("conv1", x, 16, 5, 2, 2, 1, false, Act::None)?;
                let x = g.batchnorm("bn1", x, Act::Relu);
                let x = g.conv("conv2", x, 32, 3, 2, 1, 1, false, Act::None)?;
                let x = g.batchnorm("bn2", x, Act::Relu);
                g.linear("fc", x, classes, Act::None)
            }
            ModelKind::EfficientnetLite0 => unreachable!("built above"),
        };
        Ok(g.finish(logits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_net_has_its_size() {
        let g = ModelKind::Lightweight.build(1, 28, 28, 10).unwrap();
        assert_eq!(g.param_count(), 16 * 9 + 16 + 10 * 16 * 784 + 10);
        assert_eq!(g.init(0).count(), g.param_count());
        // conv: 784·16·(2·9 + 1 bias + 1 ReLU); linear: 10·(2·12544 + 1)
        assert_eq!(g.flops(), 784 * 16 * 20 + 10 * (2 * 12544 + 1));
    }

    #[test]
    fn the_strided_net_has_its_size() {
        let g = ModelKind::Strided.build(1, 28, 28, 10).unwrap();
        let bn = |c: usize| 2 * c;
        assert_eq!(
            g.param_count(),
            16 * 25 + bn(16) + 32 * 16 * 9 + bn(32) + 32 * 7 * 7 * 10 + 10
        );
        assert_eq!(g.param_count(), 20_794);
    }

    #[test]
    fn every_model_builds_for_mnist_and_other_sizes() {
        for m in ModelKind::ALL {
            for (r, c) in [(28, 28), (32, 32), (20, 24)] {
                let g = m.build(1, r, c, 10).unwrap();
                assert_eq!(g.classes(), 10, "{m:?}");
                assert!(g.flops() > 0 && g.param_count() > 0);
            }
            assert_eq!(ModelKind::from_name(m.name()).unwrap(), m);
        }
    }

    #[test]
    fn too_small_images_are_a_clear_error() {
        let e = ModelKind::Cnn.build(1, 2, 2, 10).unwrap_err().to_string();
        assert!(e.contains("too small"), "{e}");
        let e = ModelKind::Mobilenet
            .build(1, 28, 28, 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("at least 2"), "{e}");
        assert!(ModelKind::from_name("resnet").is_err());
    }
}
