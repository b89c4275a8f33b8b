//! int8 inference against the f32 model: each layer's dequantized output within the bound that
//! the rounding of its weights and inputs allows, and a trained model's accuracy kept.

use greenai_nn::data::{bundled_mnist_dir, shuffled, Dataset, Split, MNIST_MEAN, MNIST_STD};
use greenai_nn::graph::{Act, GraphBuilder};
use greenai_nn::model::Inference;
use greenai_nn::models::ModelKind;
use greenai_nn::optim::Optimizer;
use greenai_nn::quantize::{ActivationRange, Quantized, WeightScheme};
use greenai_nn::rng::SplitMix64;
use greenai_nn::train::{Model, Runner};
use std::sync::Arc;

/// The int8 layers of `model` (folded), calibrated on the `n` inputs `xs`.
fn quantize(
    model: &Model,
    scheme: WeightScheme,
    range: ActivationRange,
    xs: &[f32],
    n: usize,
) -> Quantized {
    greenai_nn::quantize::quantize(
        &model.graph,
        &model.params,
        &model.buffers,
        scheme,
        range,
        xs,
        n,
    )
}

/// `model` running the int8 layers `q`.
fn with_int8(model: &Model, q: Quantized) -> Model {
    Model {
        quant: Some(Arc::new(q)),
        ..model.clone()
    }
}

/// Every convolution with one group and every linear layer runs int8, a one-channel first
/// convolution included; depthwise convolutions where their u8 output chains on (calibrated
/// activations, an int8 layer after them: MobileNet's, not ShuffleNet's); grouped ones stay f32.
#[test]
fn which_layers_run_int8() {
    for (kind, want) in [
        (
            ModelKind::Lenet,
            &["conv1", "conv2", "fc1", "fc2", "fc3"][..],
        ),
        (ModelKind::Lightweight, &["conv", "fc"][..]),
    ] {
        let model = Model::new(kind, 28, 28, 10, 0).unwrap().folded();
        let xs = vec![0.5f32; 2 * 784];
        let q = quantize(
            &model,
            WeightScheme::PerChannel,
            ActivationRange::MinMax,
            &xs,
            2,
        );
        let int8: Vec<&str> = model
            .graph
            .nodes
            .iter()
            .zip(&q.layers)
            .filter(|(_, l)| l.is_some())
            .map(|(n, _)| n.name.as_str())
            .collect();
        assert_eq!(int8, want, "{kind:?}");
    }
    let xs = vec![0.5f32; 2 * 784];
    for kind in [ModelKind::Mobilenet, ModelKind::Shufflenet] {
        let model = Model::new(kind, 28, 28, 10, 0).unwrap().folded();
        for range in [ActivationRange::MinMax, ActivationRange::Dynamic] {
            let q = quantize(&model, WeightScheme::PerChannel, range, &xs, 2);
            let (mut dense, mut depthwise, mut grouped) = (0, 0, 0);
            for (node, l) in model.graph.nodes.iter().zip(&q.layers) {
                let greenai_nn::graph::Op::Conv(c) = node.op else {
                    continue;
                };
                if c.groups == 1 {
                    assert!(l.is_some(), "{} runs int8", node.name);
                    dense += 1;
                } else if c.is_depthwise() {
                    // Where its output chains: static ranges, an int8 layer after it.
                    let int8 = range != ActivationRange::Dynamic && kind == ModelKind::Mobilenet;
                    assert_eq!(l.is_some(), int8, "{} {range:?}", node.name);
                    depthwise += 1;
                } else {
                    assert!(l.is_none(), "{} stays f32", node.name);
                    grouped += 1;
                }
            }
            match kind {
                ModelKind::Mobilenet => assert!(dense >= 5 && depthwise >= 4 && grouped == 0),
                _ => assert!(
                    grouped > 0 && depthwise > 0,
                    "{dense} {depthwise} {grouped}"
                ),
            }
        }
    }
}

/// One layer (a convolution: 3×3 over four channels with padding, the same with stride 2, 5×5 over
/// one channel; or a linear layer), quantized; its output may differ from f32 by at most
/// Σ|w|·s_x/2 + Σ|x|·s_w/2 + K·s_x·s_w/4 per output, plus float rounding.
#[test]
fn each_layer_stays_within_its_rounding_bound() {
    // (input channels, kernel, stride, padding, groups); kernel 0 is a linear layer over four
    // channels; four groups a depthwise convolution.
    for (cin, kernel, stride, pad, groups) in [
        (4, 3, 1, 1, 1),
        (4, 3, 2, 1, 1),
        (1, 5, 1, 2, 1),
        (4, 3, 1, 1, 4),
        (4, 3, 2, 1, 4),
        (4, 0, 1, 0, 1),
    ] {
        for scheme in [WeightScheme::PerTensor, WeightScheme::PerChannel] {
            for range in [ActivationRange::MinMax, ActivationRange::Dynamic] {
                let conv = kernel > 0;
                let mut b = GraphBuilder::new(cin, 6, 6);
                let x = b.input();
                let outs = match (conv, groups) {
                    (false, _) => 7,
                    (true, 1) => 5,
                    (true, _) => 4,
                };
                let out = if conv {
                    b.conv("c", x, outs, kernel, stride, pad, groups, true, Act::None)
                        .unwrap()
                } else {
                    b.linear("fc", x, outs, Act::None)
                };
                let graph = b.finish(out);
                let plane = graph.nodes[1].shape.plane();
                let model = Model {
                    kind: ModelKind::Lightweight,
                    params: graph.init(1),
                    buffers: graph.init_buffers(),
                    graph,
                    quant: None,
                };
                let mut rng = SplitMix64::new(5);
                let n = 3;
                let xs: Vec<f32> = (0..n * cin * 36)
                    .map(|_| rng.next_f32() * 4.0 - 1.0)
                    .collect();
                let q = quantize(&model, scheme, range, &xs, n);
                if groups > 1 && range == ActivationRange::Dynamic {
                    assert!(q.layers[1].is_none(), "depthwise stays f32 in dynamic mode");
                    continue;
                }
                let layer = q.layers[1].clone().expect("quantized");
                let (mut f, mut i8x) = (Inference::default(), Inference::default());
                let f = f.infer(&model, &xs, n);
                let i8x = i8x.infer(&with_int8(&model, q), &xs, n);
                let (lo, hi) = xs
                    .iter()
                    .fold((0f32, 0f32), |(a, b), &v| (a.min(v), b.max(v)));
                let sx = (hi - lo) / 255.0;
                let w = &model.params.0[0];
                let k = w.len() / outs;
                let xmax = xs.iter().fold(0f32, |m, v| m.max(v.abs()));
                assert_eq!(f.len(), n * outs * plane);
                for (j, (a, b)) in f.iter().zip(i8x).enumerate() {
                    let o = (j / plane) % outs;
                    let wr = &w[o * k..(o + 1) * k];
                    let sw = layer.w_scale[o];
                    let bound = wr.iter().map(|v| v.abs()).sum::<f32>() * sx / 2.0
                        + k as f32 * xmax * sw / 2.0
                        + k as f32 * sx * sw / 4.0
                        + 1e-4;
                    assert!(
                        (a - b).abs() <= bound,
                        "{cin}×{kernel}×{kernel}/{stride} groups {groups} {scheme:?} {range:?} \
                         out {j}: {a} vs {b}, bound {bound}"
                    );
                }
            }
        }
    }
}

/// A briefly trained model loses under a point of test accuracy in every mode.
#[test]
fn a_trained_model_keeps_its_accuracy() {
    let train = Dataset::load(&bundled_mnist_dir(), Split::Train).unwrap();
    let test = Dataset::load(&bundled_mnist_dir(), Split::Test).unwrap();
    let mut model = Model::new(ModelKind::Lenet, 28, 28, 10, 0).unwrap();
    let mut opt = Optimizer::adam(&model.params, 2e-3);
    let r = Runner {
        threads: 2,
        ..Runner::default()
    };
    r.train_epoch(
        &mut model,
        &mut opt,
        &train,
        &shuffled(train.len(), 1)[..12_800],
        &mut |_| {},
    );
    let folded = model.folded();
    let some: Vec<usize> = (0..2000).collect();
    let f32_acc = r.evaluate(&folded, &test, Some(&some));
    let mut calib = Vec::new();
    train.normalised_batch(
        &(0..256).collect::<Vec<_>>(),
        MNIST_MEAN,
        MNIST_STD,
        &mut calib,
    );
    for (scheme, range) in [
        (WeightScheme::PerTensor, ActivationRange::MinMax),
        (WeightScheme::PerChannel, ActivationRange::Percentile(99.99)),
        (WeightScheme::PerChannel, ActivationRange::Dynamic),
    ] {
        let m = with_int8(&folded, quantize(&folded, scheme, range, &calib, 256));
        let acc = r.evaluate(&m, &test, Some(&some));
        assert!(f32_acc > 0.9, "{f32_acc}");
        assert!(
            acc >= f32_acc - 0.01,
            "{scheme:?} {range:?}: {acc} against f32 {f32_acc}"
        );
    }
}

/// The logits of `model` with int8 layers `q` over the 784-pixel images `x`.
fn int8_logits(model: &Model, q: Quantized, x: &[f32]) -> Vec<f32> {
    Inference::default()
        .infer(&with_int8(model, q), x, x.len() / 784)
        .to_vec()
}

/// int8 layers that hand u8 straight to the next (requantized in the GEMM's epilogue, the ReLU a
/// clamp, max pooling on bytes) give exactly the logits of the same layers going through f32 in
/// between: the chain is an optimisation, never a change of result.
#[test]
fn the_u8_chain_changes_nothing_but_speed() {
    let test = Dataset::load(&bundled_mnist_dir(), Split::Test).unwrap();
    let mut x = Vec::new();
    let which: Vec<usize> = (0..40).collect();
    test.normalised_batch(&which, MNIST_MEAN, MNIST_STD, &mut x);
    for kind in [ModelKind::Lenet, ModelKind::Cnn] {
        let model = Model::new(kind, 28, 28, 10, 3).unwrap().folded();
        for range in [ActivationRange::MinMax, ActivationRange::Percentile(99.9)] {
            let q = quantize(&model, WeightScheme::PerChannel, range, &x[..20 * 784], 20);
            let names: Vec<&str> = model
                .graph
                .nodes
                .iter()
                .zip(&q.chain)
                .filter(|(_, c)| c.is_some())
                .map(|(n, _)| n.name.as_str())
                .collect();
            // Every int8 output but the logits stays u8, through the poolings after them.
            let want: &[&str] = match kind {
                ModelKind::Lenet => &["conv1", "maxpool", "conv2", "maxpool", "fc1", "fc2"],
                _ => &["conv1", "maxpool", "conv2", "maxpool", "fc1"],
            };
            assert_eq!(names.len(), want.len(), "{kind:?}: {names:?}");
            assert!(
                names.iter().zip(want).all(|(a, b)| a.starts_with(b)),
                "{names:?}"
            );
            // fc1 reads the pooled convolution's channels-last bytes: its weights were reordered.
            let fc1 = model
                .graph
                .nodes
                .iter()
                .position(|n| n.name == "fc1")
                .unwrap();
            assert!(q.layers[fc1].as_ref().unwrap().hwc_input);
            let unchained = q.without_chain(&model.graph);
            assert!(unchained.chain.iter().all(Option::is_none));
            assert_eq!(
                int8_logits(&model, q, &x),
                int8_logits(&model, unchained, &x),
                "{kind:?} {range:?}"
            );
        }
    }
    // The MobileNet-style net: the stem, every depthwise and pointwise convolution hand u8 on but
    // the last (a global average pooling, f32, reads it); the same logits either way.
    let model = Model::new(ModelKind::Mobilenet, 28, 28, 10, 3)
        .unwrap()
        .folded();
    let q = quantize(
        &model,
        WeightScheme::PerChannel,
        ActivationRange::MinMax,
        &x[..20 * 784],
        20,
    );
    let convs = model
        .graph
        .nodes
        .iter()
        .filter(|n| matches!(n.op, greenai_nn::graph::Op::Conv(_)))
        .count();
    assert_eq!(q.chain.iter().flatten().count(), convs - 1);
    let unchained = q.without_chain(&model.graph);
    assert_eq!(
        int8_logits(&model, q, &x),
        int8_logits(&model, unchained, &x),
        "mobilenet"
    );
    // Dynamic layers measure their input: nothing is handed to them as u8.
    let model = Model::new(ModelKind::Lenet, 28, 28, 10, 3)
        .unwrap()
        .folded();
    let q = quantize(
        &model,
        WeightScheme::PerChannel,
        ActivationRange::Dynamic,
        &x,
        40,
    );
    assert!(q.chain.iter().all(Option::is_none));
}

/// The quantizer never makes a model slower: with the portable kernel (several times slower than
/// f32 on any CPU with SIMD f32 products) the convolutions go back to f32 and the model is not
/// slower as a whole; with this CPU's fastest kernel LeNet-5's layers stay int8 (AVX2 and VNNI
/// run them 1.5–3× faster than f32). Every layer's verdict comes with its two times and a reason.
#[test]
fn int8_stays_only_where_it_is_faster() {
    use greenai_nn::int8::Kernel;
    let model = Model::new(ModelKind::Lenet, 28, 28, 10, 3)
        .unwrap()
        .folded();
    let mut rng = SplitMix64::new(11);
    let n = 64;
    let xs: Vec<f32> = (0..n * 784).map(|_| rng.next_f32() * 2.0 - 0.5).collect();
    for kernel in [Kernel::Portable, Kernel::detect()] {
        let mut q = quantize(
            &model,
            WeightScheme::PerChannel,
            ActivationRange::MinMax,
            &xs,
            n,
        );
        q.kernel = kernel;
        let q = greenai_nn::quantize::keep_faster(
            &model.graph,
            &model.params,
            &model.buffers,
            q,
            &xs,
            n,
        );
        let speed = q.speed.clone().expect("timed");
        assert_eq!(speed.layers.len(), 5, "{speed:?}");
        assert!(
            speed.model_int8_us <= speed.model_f32_us,
            "{kernel:?}: {speed:?}"
        );
        for l in &speed.layers {
            assert!(
                l.f32_us > 0.0 && l.int8_us > 0.0 && !l.reason.is_empty(),
                "{l:?}"
            );
            assert_eq!(q.layers[l.node].is_some(), l.int8, "{l:?}");
        }
        let (int8, _) = speed.int8_layers();
        match kernel {
            Kernel::Portable => {
                let convs = speed.layers.iter().filter(|l| l.layer.starts_with("conv"));
                assert!(
                    convs.clone().count() == 2 && convs.clone().all(|l| !l.int8),
                    "{speed:?}"
                );
            }
            _ => assert!(int8 >= 2, "{kernel:?}: {speed:?}"),
        }
        // Whatever was chosen computes the same classes as every layer in f32 would, nearly.
        let x = &xs[..8 * 784];
        let logits = int8_logits(&model, q, x);
        assert!(logits.iter().all(|v| v.is_finite()));
    }
}
