//! The transfer-learning job: EfficientNet-Lite0's frozen features (computed once and cached
//! beside the database, their cost counted every time), a new head trained on them, each phase in
//! its own meter window, recorded as one run. The engine side (images to RGB, features,
//! standardisation, the cache's format) is `greenai_nn::transfer`. With a target accuracy the
//! features are computed as the head trains instead ([`stream`]).

pub mod stream;

use crate::error::Result;
use crate::invalid;
use crate::job::{JobSettings, Progress};
use crate::target::{Checker, TargetSpec};
use crate::train::JobResults;
use greenai_meter::{Monitor, Provenance};
use greenai_nn::data::{bundled_mnist_dir, shuffled, Dataset, Tensors};
use greenai_nn::efficientnet;
use greenai_nn::optim::{Optimizer, Schedule};
use greenai_nn::train::Model;
use greenai_nn::transfer::{
    features, fingerprint, quantized_frozen, read_cache, write_cache, PassCost, Standardise,
};
use greenai_units::Energy;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a transfer job does, whichever command asked for it.
#[derive(Debug, Clone)]
pub struct TransferSpec {
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
    /// Training images held out for validation: the last N of the training set, never trained on.
    pub validation: usize,
    /// Stop the moment the validation accuracy reaches this, checked every N steps; the
    /// training features are then computed chunk by chunk as the head trains ([`stream`]).
    pub target: Option<crate::target::TargetSpec>,
}

impl TransferSpec {
    /// Refuses settings that cannot work, before anything is loaded or measured.
    pub fn check(&self) -> Result<()> {
        if self.input_size < 32 {
            invalid!(
                "--input-size {} is too small for EfficientNet-Lite0 (at least 32)",
                self.input_size
            );
        }
        if self.epochs == 0 || self.train_samples == 0 || self.test_samples == 0 {
            invalid!("--epochs, --train-samples and --test-samples must be at least 1");
        }
        if let Some(t) = &self.target {
            if self.validation == 0 {
                invalid!(
                    "--target-accuracy is checked on held-out images: give --validation N above 0"
                );
            }
            if self.fine_tune_last > 0 {
                invalid!("--target-accuracy trains a head on a frozen backbone: leave out --fine-tune-last");
            }
            if !(0.0..=1.0).contains(&t.accuracy) {
                invalid!("--target-accuracy {} is not between 0 and 1", t.accuracy);
            }
        }
        Ok(())
    }
}

/// The JSON report of `transfer`: `train`'s fields where they mean the same, plus the backbone's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransferReport {
    pub command: String,
    pub run_id: Option<String>,
    pub backbone: String,
    /// Whether the whole backbone stayed frozen (no block fine-tuned).
    pub frozen: bool,
    pub fine_tuned_blocks: usize,
    pub feature_cache_hit: bool,
    pub dataset: String,
    pub input_size: usize,
    pub train_samples: usize,
    pub test_samples: usize,
    /// Training images held out for validation (the last N of the training set).
    pub validation_samples: usize,
    /// The trained model's accuracy on them, when some were held out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_accuracy: Option<f64>,
    pub epochs: usize,
    pub model: String,
    pub precision: String,
    /// `per-channel` when the frozen part ran in int8 (`--int8`), else `none`.
    pub quantization: String,
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
    /// The frozen part over the validation images (counted in the training energy: the checks
    /// that decided when to stop read them).
    pub validation_feature_energy_j: f64,
    pub head_training_energy_j: f64,
    /// Energy and time to `--target-accuracy`, when one was set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<crate::target::TargetReport>,
    /// The frozen part and the trained one over the test images, per 1,000 images.
    pub joules_per_1000_inferences: f64,
    pub params: usize,
    pub trained_params: usize,
    pub flops: u64,
    pub provenance: Provenance,
    pub uncertainty: Option<f64>,
    /// The int8 kernel that ran the quantized frozen part, when it is int8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub int8_kernel: Option<String>,
    #[serde(flatten)]
    pub carbon: greenai_carbon::CarbonReport,
    /// What was stored with the run (not part of the JSON report).
    #[serde(skip)]
    pub results: JobResults,
}

/// The frozen features the head trained on and what training cost, either way it trained.
struct Trained {
    features: PassCost,
    head: PassCost,
    cache_hit: bool,
    /// Training images whose features trained the head.
    samples: usize,
    standard: Option<Standardise>,
    target: Option<crate::target::TargetReport>,
}

fn cache_path(dir: &Path, key: &str) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    dir.join("greenai-features")
        .join(format!("{:016x}.safetensors", h.finish()))
}

/// The frozen part's outputs for images `which` of `data`, from the cache at `path` or
/// computed (and cached) in a meter window of their own named `window`. The frozen part is asked
/// for only when the pass runs (an int8 one is calibrated then, inside the window, so its cost
/// counts with the pass). Returns the outputs with what the pass cost (now, or when the cache was
/// written) and whether the cache was used.
#[allow(clippy::too_many_arguments)]
fn frozen_pass(
    meter: &Monitor,
    progress: &dyn Progress,
    window: &str,
    frozen: &dyn Fn() -> std::sync::Arc<Model>,
    width: usize,
    data: &Dataset,
    which: &[usize],
    size: usize,
    threads: usize,
    path: &Path,
) -> Result<(Tensors, PassCost, bool)> {
    let labels: Vec<u8> = which.iter().map(|&i| data.labels[i]).collect();
    meter.begin_window(window)?;
    if let Some((t, cost)) = read_cache(path, width, &labels) {
        meter.end_window(window)?;
        return Ok((t, cost, true));
    }
    let t = Tensors::new(
        width,
        features(&frozen(), data, which, size, threads),
        labels,
    )?;
    let w = meter.end_window(window)?;
    let cost = PassCost {
        energy_j: w.energy.joules(),
        duration_s: w.duration.as_secs_f64(),
    };
    // A cache that cannot be written is a warning: the features are still used, and the next run
    // computes them again.
    if let Err(e) = write_cache(path, &t, cost) {
        progress.note(&format!(
            "greenai: warning: the feature cache {} was not written ({e}); the next run \
             computes the features again",
            path.display()
        ));
    }
    Ok((t, cost, false))
}

/// The converted EfficientNet-Lite0 weights: `weights`, or the file the conversion script writes
/// beside the bundled data.
pub fn weights_path(weights: Option<&Path>) -> PathBuf {
    weights.map_or_else(
        || bundled_mnist_dir().join("../efficientnet-lite0.safetensors"),
        Path::to_path_buf,
    )
}

/// Trains a transfer model on `backbone` (EfficientNet-Lite0's features model for
/// `spec.input_size`) inside a recorded job, and evaluates it on `test`.
#[allow(clippy::too_many_arguments)]
pub fn run_transfer(
    spec: &TransferSpec,
    backbone: &Model,
    dataset: &str,
    train: &Dataset,
    test: &Dataset,
    job_args: &JobSettings,
    mut labels: BTreeMap<String, String>,
    progress: &dyn Progress,
) -> Result<TransferReport> {
    spec.check()?;
    if spec.validation >= train.len() {
        invalid!(
            "--validation {} leaves none of the {} training images to train on",
            spec.validation,
            train.len()
        );
    }
    // The last `validation` training images are held out; the head trains on the first N of the
    // rest, so that no N ever reaches into the held-out ones.
    let pool = train.len() - spec.validation;
    let (ntr, nte) = (
        spec.train_samples.min(pool),
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
    let mut job = job_args.start(labels)?;
    let meter = std::sync::Arc::clone(job.monitor());
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
                    std::sync::Arc::new(quantized_frozen(&frozen, train, spec.input_size))
                } else {
                    frozen.clone()
                }
            })
            .clone()
    };
    let cache = |split: &str, n: usize| cache_path(&job_args.state_dir, &key(split, n));
    let started = std::time::Instant::now();
    // The validation images' features count in the training energy: the checks read them.
    let held: Vec<usize> = (pool..train.len()).collect();
    let (mut fval, val_cost) = if held.is_empty() {
        (
            None,
            PassCost {
                energy_j: 0.0,
                duration_s: 0.0,
            },
        )
    } else {
        let (t, cost, _) = frozen_pass(
            &meter,
            progress,
            "features-validation",
            &frozen_model,
            width,
            train,
            &held,
            spec.input_size,
            threads,
            &cache("validation", held.len()),
        )?;
        (Some(t), cost)
    };
    let runner = job_args.runner();
    let mut opt = Optimizer::adam(&tuned.params, spec.lr);
    opt.schedule = Schedule::Cosine {
        total_steps: (ntr.div_ceil(job_args.batch) * spec.epochs) as u64,
    };
    let train_idx: Vec<usize> = (0..ntr).collect();
    let trained = match (spec.target, fval.as_mut()) {
        (Some(t), Some(fv)) => {
            let all: Vec<usize> = (0..fv.labels.len()).collect();
            let t = TargetSpec {
                check_images: t.check_images.or(Some(all.len())),
                ..t
            };
            let mut checker = Checker::new(t, &all, job_args.batch, started);
            let energy = || job.energy_so_far();
            let frozen_now = frozen_model();
            let s = stream::Stream {
                frozen: &frozen_now,
                train,
                meter: &meter,
                energy: &energy,
                runner,
                input_size: spec.input_size,
                threads,
                seed: spec.seed,
                epochs: spec.epochs,
            }
            .run(&train_idx, fv, &mut tuned, &mut opt, &mut checker)?;
            let spent = val_cost.energy_j + s.features.energy_j + s.head.energy_j;
            Trained {
                features: s.features,
                head: s.head,
                cache_hit: false,
                samples: s.samples,
                standard: Some(s.standard),
                target: Some(checker.report(Energy::from_joules(spent))),
            }
        }
        _ => {
            let (mut ftr, features, hit) = frozen_pass(
                &meter,
                progress,
                "features-train",
                &frozen_model,
                width,
                train,
                &train_idx,
                spec.input_size,
                threads,
                &cache("train", ntr),
            )?;
            meter.begin_window("train")?;
            // A new linear head learns faster on standardised features; blocks that are
            // fine-tuned read their input as the pretrained ones before them wrote it.
            let standard = (spec.fine_tune_last == 0).then(|| Standardise::fit(&ftr));
            if let Some(s) = &standard {
                s.apply(&mut ftr);
                if let Some(fv) = fval.as_mut() {
                    s.apply(fv);
                }
            }
            for epoch in 0..spec.epochs {
                let order = shuffled(ntr, spec.seed.wrapping_add(epoch as u64));
                runner.train_epoch(&mut tuned, &mut opt, &ftr, &order, &mut |_| {});
            }
            let hw = meter.end_window("train")?;
            Trained {
                features,
                head: PassCost {
                    energy_j: hw.energy.joules(),
                    duration_s: hw.duration.as_secs_f64(),
                },
                cache_hit: hit,
                samples: ntr,
                standard,
                target: None,
            }
        }
    };
    let validation_accuracy = fval.as_ref().map(|fv| runner.evaluate(&tuned, fv, None));
    let (tr_cost, hit_tr, standard) = (trained.features, trained.cache_hit, &trained.standard);

    let test_idx: Vec<usize> = (0..nte).collect();
    let (fte, te_cost, hit_te) = frozen_pass(
        &meter,
        progress,
        "features-test",
        &frozen_model,
        width,
        test,
        &test_idx,
        spec.input_size,
        threads,
        &cache("test", nte),
    )?;
    meter.begin_window("evaluate")?;
    let mut fte = fte;
    if let Some(s) = standard {
        s.apply(&mut fte);
    }
    let accuracy = runner.evaluate(&tuned, &fte, None);
    let ew = meter.end_window("evaluate")?;

    // A cached pass counts with what it cost when it ran: the trained model took it either way.
    let training_energy_j = val_cost.energy_j + tr_cost.energy_j + trained.head.energy_j;
    let training_duration_s = val_cost.duration_s + tr_cost.duration_s + trained.head.duration_s;
    let per_k = (te_cost.energy_j + ew.energy.joules()) * 1000.0 / nte as f64;
    let params = frozen.graph.param_count() + tuned.graph.param_count();
    let flops = frozen.graph.flops() + tuned.graph.flops();
    let hit = hit_tr && hit_te;
    job.label("accuracy", format!("{accuracy:.4}"));
    job.label("feature_cache_hit", hit.to_string());
    job.label("fine_tuned_blocks", spec.fine_tune_last.to_string());
    job.label("epochs", spec.epochs.to_string());
    let results = JobResults {
        model: model.clone(),
        precision: "f32".into(),
        quantization: quantization.into(),
        accuracy,
        training_energy_j: Some(training_energy_j),
        training_duration_s: Some(training_duration_s),
        joules_per_1000_inferences: Some(per_k),
        profiling_energy_j: None,
        params: params as u64,
        flops,
        epochs: Some(spec.epochs),
        threads: job_args.threads,
        batch: job_args.batch,
        stopped_by_budget_predicted_j: None,
        int8_kernel: (quantization != "none")
            .then(|| greenai_nn::int8::Kernel::active().name().to_string()),
        // Known when the frozen pass ran (and was quantized) in this job, not from a cache.
        int8_layers: ready
            .get()
            .and_then(|m| m.quant.as_ref())
            .and_then(|q| q.speed.as_ref())
            .map(|s| s.int8_layers()),
        target_reached: trained.target.as_ref().map(|t| t.reached),
        energy_to_accuracy_j: trained.target.as_ref().and_then(|t| t.energy_to_accuracy_j),
        lr: None,
    };
    job.set_results(&results)?;
    let end = job.finish(0, None)?;
    crate::job::tell_end(progress, &end);
    let m = &end.measurement;
    Ok(TransferReport {
        command: "transfer".into(),
        run_id: end.run_id,
        backbone: "efficientnet-lite0".into(),
        frozen: spec.fine_tune_last == 0,
        fine_tuned_blocks: spec.fine_tune_last,
        feature_cache_hit: hit,
        dataset: dataset.to_string(),
        input_size: spec.input_size,
        train_samples: trained.samples,
        test_samples: nte,
        validation_samples: held.len(),
        validation_accuracy,
        epochs: spec.epochs,
        model,
        precision: "f32".into(),
        quantization: quantization.into(),
        accuracy,
        energy_j: m.energy.joules(),
        duration_s: m.duration.as_secs_f64(),
        training_energy_j,
        training_duration_s,
        feature_energy_j: tr_cost.energy_j + te_cost.energy_j,
        train_feature_energy_j: tr_cost.energy_j,
        validation_feature_energy_j: val_cost.energy_j,
        head_training_energy_j: trained.head.energy_j,
        target: trained.target.clone(),
        joules_per_1000_inferences: per_k,
        params,
        trained_params: tuned.graph.param_count(),
        flops,
        provenance: m.provenance,
        uncertainty: m.uncertainty,
        int8_kernel: results.int8_kernel.clone(),
        carbon: end.carbon,
        results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::Quiet;
    use greenai_nn::checkpoint::read_tensors;
    use greenai_nn::models::ModelKind;

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
        job: JobSettings,
        train: Dataset,
        test: Dataset,
    }

    impl Fixture {
        fn new(threads: usize, train: usize, test: usize) -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let db = dir.path().join("greenai.db");
            let job = JobSettings {
                threads,
                batch: 8,
                interval: greenai_meter::DEFAULT_INTERVAL,
                project: "default".into(),
                db: Some(db.clone()),
                state_dir: dir.path().to_path_buf(),
                carbon: greenai_carbon::CarbonSettings {
                    region: Some("FR".into()),
                    ..Default::default()
                },
                labels: Default::default(),
            };
            Fixture {
                db,
                dir,
                job,
                train: Dataset::two_halves(train),
                test: Dataset::two_halves(test),
            }
        }

        fn run(&self, spec: &TransferSpec, backbone: &Model) -> Result<TransferReport> {
            let (t, e) = (&self.train, &self.test);
            run_transfer(
                spec,
                backbone,
                "tiny",
                t,
                e,
                &self.job,
                BTreeMap::new(),
                &Quiet,
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
            validation: 0,
            target: None,
        }
    }

    /// An int8 frozen pass: features close to the f32 ones, cached under a key of their own (the
    /// f32 features never stand in for them), then read from the cache; the report says so.
    #[test]
    fn an_int8_frozen_pass_caches_apart() {
        let f = Fixture::new(1, 20, 12);
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

        // The int8 features' closeness to f32's: greenai_nn::transfer's tests.
        let _ = &f.db;
    }

    #[test]
    fn features_are_computed_once_then_read_from_the_cache() {
        let f = Fixture::new(2, 20, 12);
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

    /// With a target, the training features are computed a chunk at a time and the job stops at
    /// the first check that reaches it, having paid for the validation images' features too; the
    /// rest of the training images are never passed through the backbone.
    #[test]
    fn a_target_stops_the_stream_at_the_first_check_that_reaches_it() {
        let f = Fixture::new(2, 170, 12);
        let backbone = random_backbone(4);
        let mut s = spec(usize::MAX, 12, 3);
        s.validation = 10;
        s.target = Some(TargetSpec {
            accuracy: 0.0,
            check_every: Some(2),
            check_images: None,
        });
        let r = f.run(&s, &backbone).unwrap();
        let t = r.target.as_ref().expect("a target report");
        assert!(t.reached, "{t:?}");
        assert_eq!((t.step, t.epoch, t.checks), (Some(2), Some(1), 1));
        assert_eq!(t.check_images, 10);
        assert_eq!(t.log.len(), 1);
        assert_eq!(t.log[0].energy_j, t.energy_to_accuracy_j);
        // One chunk of 16 steps of 8 images streamed of the 160 the head could train on.
        assert_eq!((r.train_samples, r.validation_samples), (128, 10));
        assert!(r.validation_feature_energy_j > 0.0 && r.train_feature_energy_j > 0.0);
        let parts =
            r.validation_feature_energy_j + r.train_feature_energy_j + r.head_training_energy_j;
        assert!((r.training_energy_j - parts).abs() < 1e-9);
        assert!(t.energy_to_accuracy_j.unwrap() >= r.validation_feature_energy_j);
        assert_eq!(r.results.target_reached, Some(true));

        // A target the checks cannot read (no held-out images) is refused before any work, and
        // so is one with a backbone being fine-tuned.
        let none_held = TransferSpec {
            validation: 0,
            ..s.clone()
        };
        assert!(format!("{:#}", f.run(&none_held, &backbone).unwrap_err()).contains("--validation"));
        let tuning = TransferSpec {
            fine_tune_last: 1,
            ..s.clone()
        };
        assert!(
            format!("{:#}", f.run(&tuning, &backbone).unwrap_err()).contains("--fine-tune-last")
        );

        // Without a target, held-out images are evaluated at the end and their pass counted.
        let plain = TransferSpec {
            target: None,
            train_samples: 40,
            ..s
        };
        let p = f.run(&plain, &backbone).unwrap();
        assert!(p.target.is_none() && p.train_samples == 40);
        assert!((0.0..=1.0).contains(&p.validation_accuracy.unwrap()));
        assert!(p.training_energy_j >= p.validation_feature_energy_j + p.train_feature_energy_j);
    }

    #[test]
    fn a_damaged_cache_is_computed_again() {
        let f = Fixture::new(1, 8, 4);
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
