//! Every layer's forward and backward against an independent, naive reference in f64: the
//! reference interprets the same [`Graph`] with plain loops, its logits must match the engine's,
//! and central finite differences of its loss (in f64) must match the engine's analytic f32
//! gradients. Then: the folded (fused) inference path equals the unfused one, and one training
//! step on a tiny net equals the step computed by hand.

use greenai_nn::backend::Cpu;
use greenai_nn::graph::{Act, Exec, Graph, GraphBuilder, Op, BN_EPS};
use greenai_nn::model::Inference;
use greenai_nn::models::ModelKind;
use greenai_nn::optim::{Optimizer, OptimizerKind};
use greenai_nn::params::Params;
use greenai_nn::rng::SplitMix64;
use greenai_nn::train::{train_chunk, Model};

type P64 = Vec<Vec<f64>>;

fn act(a: Act, v: f64) -> f64 {
    match a {
        Act::None => v,
        Act::Relu => v.max(0.0),
        Act::Relu6 => v.clamp(0.0, 6.0),
    }
}

/// The logits of `n` images by naive loops in f64, BatchNorm in training mode.
fn reference_forward(g: &Graph, p: &P64, x: &[f64], n: usize) -> Vec<f64> {
    let mut acts: Vec<Vec<f64>> = vec![x.to_vec()];
    for node in &g.nodes[1..] {
        let s_in = g.nodes[node.inputs[0]].shape;
        let so = node.shape;
        let xi = &acts[node.inputs[0]];
        let at = |img: usize, c: usize, y: isize, xx: isize| -> f64 {
            if y < 0 || xx < 0 || y >= s_in.h as isize || xx >= s_in.w as isize {
                0.0
            } else {
                xi[((img * s_in.c + c) * s_in.h + y as usize) * s_in.w + xx as usize]
            }
        };
        let mut out = vec![0.0; n * so.len()];
        let oi =
            |img: usize, c: usize, y: usize, xx: usize| ((img * so.c + c) * so.h + y) * so.w + xx;
        match node.op {
            Op::Input => unreachable!(),
            Op::Conv(c) => {
                let (cin_g, cout_g) = (c.cin / c.groups, c.cout / c.groups);
                let w = &p[c.weight];
                for img in 0..n {
                    for o in 0..c.cout {
                        let gi = o / cout_g;
                        for oy in 0..so.h {
                            for ox in 0..so.w {
                                let mut acc = c.bias.map_or(0.0, |b| p[b][o]);
                                for ci in 0..cin_g {
                                    for ky in 0..c.k {
                                        for kx in 0..c.k {
                                            let iy = (oy * c.stride + ky) as isize - c.pad as isize;
                                            let ix = (ox * c.stride + kx) as isize - c.pad as isize;
                                            acc += w[((o * cin_g + ci) * c.k + ky) * c.k + kx]
                                                * at(img, gi * cin_g + ci, iy, ix);
                                        }
                                    }
                                }
                                out[oi(img, o, oy, ox)] = act(c.act, acc);
                            }
                        }
                    }
                }
            }
            Op::BatchNorm { param, act: a, .. } => {
                let plane = so.h * so.w;
                for c in 0..so.c {
                    let vals: Vec<f64> = (0..n)
                        .flat_map(|img| (0..plane).map(move |j| (img, j)))
                        .map(|(img, j)| xi[(img * so.c + c) * plane + j])
                        .collect();
                    let m = vals.len() as f64;
                    let mean = vals.iter().sum::<f64>() / m;
                    let var = vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / m;
                    for img in 0..n {
                        for j in 0..plane {
                            let k = (img * so.c + c) * plane + j;
                            let y = p[param][c] * (xi[k] - mean) / (var + BN_EPS as f64).sqrt()
                                + p[param + 1][c];
                            out[k] = act(a, y);
                        }
                    }
                }
            }
            Op::Act(a) => {
                for (o, v) in out.iter_mut().zip(xi) {
                    *o = act(a, *v);
                }
            }
            Op::MaxPool2 => {
                for img in 0..n {
                    for c in 0..so.c {
                        for oy in 0..so.h {
                            for ox in 0..so.w {
                                let (y, xx) = (2 * oy as isize, 2 * ox as isize);
                                out[oi(img, c, oy, ox)] = at(img, c, y, xx)
                                    .max(at(img, c, y, xx + 1))
                                    .max(at(img, c, y + 1, xx))
                                    .max(at(img, c, y + 1, xx + 1));
                            }
                        }
                    }
                }
            }
            Op::AvgPool { k, stride, pad } => {
                for img in 0..n {
                    for c in 0..so.c {
                        for oy in 0..so.h {
                            for ox in 0..so.w {
                                let mut acc = 0.0;
                                for ky in 0..k {
                                    for kx in 0..k {
                                        acc += at(
                                            img,
                                            c,
                                            (oy * stride + ky) as isize - pad as isize,
                                            (ox * stride + kx) as isize - pad as isize,
                                        );
                                    }
                                }
                                out[oi(img, c, oy, ox)] = acc / (k * k) as f64;
                            }
                        }
                    }
                }
            }
            Op::GlobalAvgPool => {
                let plane = s_in.h * s_in.w;
                for (pl, o) in out.iter_mut().enumerate() {
                    *o = xi[pl * plane..(pl + 1) * plane].iter().sum::<f64>() / plane as f64;
                }
            }
            Op::Linear {
                fin,
                fout,
                weight,
                act: a,
            } => {
                for img in 0..n {
                    for o in 0..fout {
                        let mut acc = p[weight + 1][o];
                        for i in 0..fin {
                            acc += p[weight][o * fin + i] * xi[img * fin + i];
                        }
                        out[img * fout + o] = act(a, acc);
                    }
                }
            }
            Op::Shuffle { groups } => {
                let per = so.c / groups;
                for img in 0..n {
                    for c in 0..so.c {
                        // Output channel j·groups + i comes from input channel i·per + j.
                        let (j, i) = (c / groups, c % groups);
                        for y in 0..so.h {
                            for xx in 0..so.w {
                                out[oi(img, c, y, xx)] =
                                    at(img, i * per + j, y as isize, xx as isize);
                            }
                        }
                    }
                }
            }
            Op::Pad { top, left, .. } => {
                for img in 0..n {
                    for c in 0..so.c {
                        for y in 0..so.h {
                            for xx in 0..so.w {
                                out[oi(img, c, y, xx)] = at(
                                    img,
                                    c,
                                    y as isize - top as isize,
                                    xx as isize - left as isize,
                                );
                            }
                        }
                    }
                }
            }
            Op::Add => {
                let b = &acts[node.inputs[1]];
                for ((o, u), v) in out.iter_mut().zip(xi).zip(b) {
                    *o = u + v;
                }
            }
            Op::Concat => {
                let b = &acts[node.inputs[1]];
                let (la, lb) = (s_in.len(), so.len() - s_in.len());
                for img in 0..n {
                    out[img * so.len()..img * so.len() + la]
                        .copy_from_slice(&xi[img * la..(img + 1) * la]);
                    out[img * so.len() + la..(img + 1) * so.len()]
                        .copy_from_slice(&b[img * lb..(img + 1) * lb]);
                }
            }
        }
        acts.push(out);
    }
    acts.pop().unwrap()
}

fn reference_loss(g: &Graph, p: &P64, x: &[f64], y: &[u8]) -> f64 {
    let n = y.len();
    let k = g.classes();
    let z = reference_forward(g, p, x, n);
    let mut loss = 0.0;
    for (i, &t) in y.iter().enumerate() {
        let row = &z[i * k..(i + 1) * k];
        let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = row.iter().map(|v| (v - max).exp()).sum::<f64>().ln() + max;
        loss += lse - row[t as usize];
    }
    loss / n as f64
}

fn to64(p: &Params) -> P64 {
    p.0.iter()
        .map(|t| t.iter().map(|&v| v as f64).collect())
        .collect()
}

fn check(model: &Model, n: usize, seed: u64) {
    let g = &model.graph;
    let mut rng = SplitMix64::new(seed);
    let s = g.input_shape();
    let x: Vec<f32> = (0..n * s.len())
        .map(|_| rng.next_f32() * 2.0 - 1.0)
        .collect();
    let y: Vec<u8> = (0..n).map(|i| (i % g.classes()) as u8).collect();
    let mut grads = Params::zeros_like(&model.params);
    let mut ex = Exec::default();
    let (loss32, _) = train_chunk(&Cpu, model, &x, &y, 1.0 / n as f32, &mut grads, &mut ex);
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let p64 = to64(&model.params);

    // The forward passes agree.
    let z_ref = reference_forward(g, &p64, &x64, n);
    for (a, b) in ex.logits().iter().zip(&z_ref) {
        assert!(
            (*a as f64 - b).abs() < 1e-4 * (1.0 + b.abs()),
            "{}: logits {a} vs {b}",
            model.kind.name()
        );
    }
    let l_ref = reference_loss(g, &p64, &x64, &y);
    assert!(
        (loss32 / n as f64 - l_ref).abs() < 1e-4,
        "loss {loss32} vs {l_ref}"
    );

    // Central differences in f64 against the analytic gradient, on a few entries of every tensor.
    let h = 1e-6;
    for (t, spec) in g.params.iter().enumerate() {
        let len = spec.len();
        for idx in [0, len / 3, len / 2, len - 1] {
            let mut plus = p64.clone();
            plus[t][idx] += h;
            let mut minus = p64.clone();
            minus[t][idx] -= h;
            let numeric = (reference_loss(g, &plus, &x64, &y)
                - reference_loss(g, &minus, &x64, &y))
                / (2.0 * h);
            let analytic = grads.0[t][idx] as f64;
            assert!(
                (numeric - analytic).abs() <= 2e-3 * numeric.abs().max(analytic.abs()) + 2e-5,
                "{} {}[{idx}]: numeric {numeric} vs analytic {analytic}",
                model.kind.name(),
                spec.name
            );
        }
    }
}

#[test]
fn every_model_matches_the_f64_reference() {
    for (kind, r, c) in [
        (ModelKind::Lightweight, 6, 5),
        (ModelKind::Mobilenet, 12, 12),
        (ModelKind::Shufflenet, 12, 10),
        (ModelKind::Cnn, 8, 8),
        (ModelKind::Lenet, 12, 12),
        (ModelKind::Strided, 9, 10),
    ] {
        let model = Model::new(kind, r, c, 3, 7).unwrap();
        check(&model, 3, 11);
    }
}

/// Layers the models do not use in these exact settings: a grouped strided 3×3 convolution with
/// bias (im2col per group), a 5×5 depthwise convolution with bias (the general direct kernel), a
/// stride-2 pointwise, average pooling with padding.
#[test]
fn other_layer_settings_match_the_f64_reference() {
    let mut b = GraphBuilder::new(2, 9, 9);
    let x = b.input();
    let x = b.conv("g", x, 4, 3, 2, 1, 2, true, Act::Relu).unwrap();
    let x = b.conv("dw5", x, 4, 5, 1, 2, 4, true, Act::None).unwrap();
    let x = b.batchnorm("bn", x, Act::Relu6);
    let s = b.conv("pw2", x, 6, 1, 2, 0, 2, false, Act::None).unwrap();
    let a = b.avg_pool(x, 3, 2, 1).unwrap();
    // Uneven "same" padding before a strided convolution with no padding of its own.
    let a = b.pad(a, 0, 1, 1, 0);
    let a = b.conv("same", a, 4, 2, 1, 0, 1, false, Act::None).unwrap();
    let a = b.conv("pw", a, 6, 1, 1, 0, 1, true, Act::None).unwrap();
    let x = b.add(s, a);
    let x = b.global_avg_pool(x);
    let out = b.linear("fc", x, 3, Act::None);
    let graph = b.finish(out);
    let model = Model {
        kind: ModelKind::Mobilenet,
        params: graph.init(5),
        buffers: graph.init_buffers(),
        graph,
        quant: None,
    };
    check(&model, 4, 3);
}

/// Folding BatchNorm into the convolutions and fusing the activations changes nothing but the
/// rounding.
#[test]
fn folded_inference_equals_the_unfused_graph() {
    for kind in [ModelKind::Mobilenet, ModelKind::Shufflenet] {
        let mut model = Model::new(kind, 28, 28, 10, 2).unwrap();
        // Running statistics and affine parameters far from their initial values.
        let mut rng = SplitMix64::new(1);
        for t in &mut model.buffers.0 {
            for v in t.iter_mut() {
                *v = 0.5 + rng.next_f32();
            }
        }
        for (spec, t) in model.graph.params.iter().zip(&mut model.params.0) {
            if spec.name.contains("bn") {
                for v in t.iter_mut() {
                    *v += rng.next_f32() - 0.5;
                }
            }
        }
        let folded = model.folded();
        assert!(folded.graph.nodes.len() < model.graph.nodes.len());
        assert!(!folded
            .graph
            .nodes
            .iter()
            .any(|n| { matches!(n.op, Op::BatchNorm { .. }) }));
        let x: Vec<f32> = (0..4 * 784).map(|_| rng.next_f32() * 2.0 - 1.0).collect();
        let (mut a, mut b) = (Inference::default(), Inference::default());
        let (za, zb) = (a.infer(&model, &x, 4), b.infer(&folded, &x, 4));
        for (u, v) in za.iter().zip(zb) {
            assert!(
                (u - v).abs() < 1e-4 * (1.0 + u.abs()),
                "{kind:?}: {u} vs {v}"
            );
        }
    }
}

/// Inference pools without recording the argmax; in models without BatchNorm it must give the
/// training pass's logits exactly.
#[test]
fn inference_pooling_equals_the_training_pass() {
    for kind in [ModelKind::Lenet, ModelKind::Cnn] {
        let model = Model::new(kind, 28, 28, 10, 4).unwrap();
        let mut rng = SplitMix64::new(9);
        let x: Vec<f32> = (0..3 * 784).map(|_| rng.next_f32() * 2.0 - 1.0).collect();
        let run = |training: bool| {
            let mut ex = Exec::default();
            ex.forward(
                &Cpu,
                &model.graph,
                &model.params,
                &model.buffers,
                &x,
                3,
                training,
            );
            ex.logits().to_vec()
        };
        assert_eq!(run(false), run(true), "{kind:?}");
    }
}

/// A 2-input, 2-class linear layer, one image, SGD without momentum: every number by hand.
#[test]
fn one_training_step_equals_the_hand_computed_one() {
    let mut b = GraphBuilder::new(1, 1, 2);
    let x = b.input();
    let out = b.linear("fc", x, 2, Act::None);
    let graph = b.finish(out);
    let mut model = Model {
        kind: ModelKind::Lightweight,
        params: Params(vec![vec![1.0, 0.0, 0.0, 1.0], vec![0.0, 0.0]]),
        buffers: Params::default(),
        graph,
        quant: None,
    };
    // x = (1, 2), label 0: logits (1, 2); softmax (1/(1+e), e/(1+e)); dlogits (p0 − 1, p1).
    let mut grads = Params::zeros_like(&model.params);
    let (loss, correct) = train_chunk(
        &Cpu,
        &model,
        &[1.0, 2.0],
        &[0],
        1.0,
        &mut grads,
        &mut Exec::default(),
    );
    let e = std::f64::consts::E;
    let p0 = 1.0 / (1.0 + e);
    assert!((loss - (1.0 + e).ln()).abs() < 1e-6, "loss {loss}");
    assert_eq!(correct, 0);
    let d = [p0 - 1.0, 1.0 - p0];
    let want_w = [d[0], 2.0 * d[0], d[1], 2.0 * d[1]];
    for (g, w) in grads.0[0].iter().zip(want_w) {
        assert!((*g as f64 - w).abs() < 1e-6, "{:?}", grads.0[0]);
    }
    let mut opt = Optimizer::new(OptimizerKind::Sgd, &model.params, 0.5);
    opt.momentum = 0.0;
    opt.step(&mut model.params, &grads);
    let want = [
        1.0 - 0.5 * want_w[0],
        -0.5 * want_w[1],
        -0.5 * want_w[2],
        1.0 - 0.5 * want_w[3],
    ];
    for (p, w) in model.params.0[0].iter().zip(want) {
        assert!((*p as f64 - w).abs() < 1e-6, "{:?}", model.params.0[0]);
    }
    assert!((model.params.0[1][0] as f64 + 0.5 * d[0]).abs() < 1e-6);
}

/// Gradient buffers are reused from batch to batch without clearing (the first consumer
/// overwrites): a second batch through the same workspace gives exactly a fresh workspace's
/// gradients.
#[test]
fn a_reused_workspace_gives_a_fresh_workspaces_gradients() {
    for kind in ModelKind::ALL {
        let model = Model::new(kind, 16, 16, 4, 3).unwrap();
        let mut rng = SplitMix64::new(8);
        let mut batch =
            || -> Vec<f32> { (0..5 * 256).map(|_| rng.next_f32() * 2.0 - 1.0).collect() };
        let (a, b) = (batch(), batch());
        let y = [0u8, 1, 2, 3, 1];
        let mut reused = Exec::default();
        let mut g = Params::zeros_like(&model.params);
        train_chunk(&Cpu, &model, &a, &y, 0.2, &mut g, &mut reused);
        let mut second = Params::zeros_like(&model.params);
        train_chunk(&Cpu, &model, &b, &y, 0.2, &mut second, &mut reused);
        let mut fresh = Params::zeros_like(&model.params);
        train_chunk(&Cpu, &model, &b, &y, 0.2, &mut fresh, &mut Exec::default());
        assert_eq!(second, fresh, "{kind:?}");
    }
}
