//! `greenai text-classify`: text classification, metered and recorded like `train`.
//!
//! - `frozen`: every text through the pretrained encoder once (one meter window), then a linear
//!   head trained on the vectors.
//! - `fine-tune`: every text through the encoder's first `6 − N` layers once, then the last `N`
//!   layers and a head trained together (AdamW, cosine rate), epoch by epoch.
//! - `ngram`: the from-scratch baseline (fastText's bag of words and bigrams), nothing pretrained.
//!
//! Without a test split the data is cross-validated (k folds, each text's fold fixed by a seed).
//! After each epoch the test split is scored, outside the training windows, for the curve:
//! accuracy against the training energy so far (the shared encoding counted by each fold's share
//! of the texts). The energy to a target accuracy is read off that curve, DAWNBench's rule (the
//! published figures it is compared with are test accuracies); `--target-accuracy` also stops
//! training there.

use super::{int8_kernel, load_model, Dataset};
use crate::error::Result;
use crate::invalid;
use crate::job::{combined_uncertainty, JobSettings, Progress};
use greenai_meter::{Measurement, Monitor, Provenance};
use greenai_nn::recommend::data::split;
use greenai_nn::text::classify::{
    accuracy, train_head, vectors_from_states, FineTuner, HeadConfig,
};
use greenai_nn::text::ngram::{features, NgramConfig, NgramModel};
use greenai_nn::text::{batched, encode_all};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    Frozen,
    FineTune,
    Ngram,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Frozen => "frozen",
            Method::FineTune => "fine-tune",
            Method::Ngram => "ngram",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ClassifySpec {
    pub method: Method,
    /// Layers fine-tuned (`fine-tune` only; 1 to 6).
    pub tuned_layers: usize,
    pub model_dir: PathBuf,
    /// The encoder's linear layers in int8 (`frozen` only).
    pub int8: bool,
    pub epochs: Option<usize>,
    pub lr: Option<f32>,
    /// Folds when the data has no test split.
    pub folds: usize,
    pub seed: u64,
    pub target_accuracy: Option<f64>,
}

/// After an epoch: the training energy so far (shared work by share) and test accuracy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CurvePoint {
    pub epoch: usize,
    pub training_energy_j: f64,
    pub accuracy: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FoldResult {
    pub fold: usize,
    pub train_texts: usize,
    pub test_texts: usize,
    pub accuracy: f64,
    pub training_energy_j: f64,
    pub curve: Vec<CurvePoint>,
}

/// What the job stores with its run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TextResults {
    pub method: String,
    pub dataset: String,
    pub accuracy: f64,
    pub training_energy_j: f64,
    pub energy_to_accuracy_j: Option<f64>,
    #[serde(default)]
    pub energy_to_best_j: Option<f64>,
    pub joules_per_1000_sentences: f64,
    pub int8: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct TextReport {
    pub run_id: Option<String>,
    pub dataset: String,
    pub method: String,
    pub tuned_layers: Option<usize>,
    pub int8: bool,
    pub kernel: Option<String>,
    pub classes: Vec<String>,
    pub texts: usize,
    /// `None`: the dataset's own test split.
    pub folds: Option<usize>,
    pub accuracy: f64,
    pub accuracy_range: (f64, f64),
    pub best_accuracy: f64,
    pub fold_results: Vec<FoldResult>,
    /// Summed over folds: the shared encoding and every fold's training.
    pub training_energy_j: f64,
    /// The shared pass (encoding, first layers' states, hashing) alone.
    pub shared_energy_j: f64,
    pub target_accuracy: Option<f64>,
    /// Summed over folds, when every fold reached the target.
    pub energy_to_accuracy_j: Option<f64>,
    /// Summed over folds, each to its best epoch.
    pub energy_to_best_j: f64,
    pub joules_per_1000_sentences: f64,
    pub sentences_per_s: f64,
    pub params: u64,
    pub energy_j: f64,
    pub duration_s: f64,
    pub provenance: Provenance,
    pub uncertainty: Option<f64>,
    pub emissions_g: f64,
}

pub fn check(spec: &ClassifySpec) -> Result<()> {
    if spec.folds < 2 || spec.folds > 100 {
        invalid!("--folds {} must be from 2 to 100", spec.folds);
    }
    if spec.method == Method::FineTune && !(1..=6).contains(&spec.tuned_layers) {
        invalid!("--fine-tune-last {} must be from 1 to 6", spec.tuned_layers);
    }
    if spec.int8 && spec.method != Method::Frozen {
        invalid!("--int8 applies to --method frozen (the encoder's inference)");
    }
    if let Some(e) = spec.epochs.filter(|e| *e == 0 || *e > 1000) {
        invalid!("--epochs {e} must be from 1 to 1,000");
    }
    if let Some(lr) = spec
        .lr
        .filter(|l| !(l.is_finite() && *l > 0.0 && *l < 10.0))
    {
        invalid!("--lr {lr} must be above 0 and below 10");
    }
    if let Some(t) = spec.target_accuracy.filter(|t| !(*t > 0.0 && *t <= 1.0)) {
        invalid!("--target-accuracy {t} must be above 0 and at most 1");
    }
    Ok(())
}

/// One fold's texts: training and test indices into the combined texts (training first).
struct Fold {
    train: Vec<usize>,
    test: Vec<usize>,
}

fn folds(d: &Dataset, k: usize, seed: u64) -> Vec<Fold> {
    let n = d.train.len();
    match &d.test {
        Some(t) => vec![Fold {
            train: (0..n).collect(),
            test: (n..n + t.len()).collect(),
        }],
        None => (0..k)
            .map(|f| {
                let (train, test) = split(n, k, f, seed);
                Fold { train, test }
            })
            .collect(),
    }
}

/// A window around `f`, its energy added to `total`.
fn window<T>(
    meter: &Monitor,
    name: &str,
    ms: &mut Vec<Measurement>,
    f: impl FnOnce() -> T,
) -> Result<(T, f64)> {
    meter.begin_window(name)?;
    let out = f();
    let m = meter.end_window(name)?;
    let j = m.energy.joules();
    ms.push(m);
    Ok((out, j))
}

fn rows(v: &[f32], idx: &[usize], w: usize) -> Vec<f32> {
    idx.iter()
        .flat_map(|&i| &v[i * w..(i + 1) * w])
        .copied()
        .collect()
}

pub fn run_classify(
    spec: &ClassifySpec,
    data: &Dataset,
    job_args: &JobSettings,
    progress: &dyn Progress,
) -> Result<TextReport> {
    check(spec)?;
    let mut texts = data.train.texts.clone();
    let mut labels = data.train.labels.clone();
    if let Some(t) = &data.test {
        texts.extend(t.texts.iter().cloned());
        labels.extend(&t.labels);
    }
    let classes = data.train.classes.len();
    if classes < 2 {
        invalid!("{} has one class: nothing to classify", data.name);
    }
    let model = match spec.method {
        Method::Ngram => None,
        _ => Some(load_model(&spec.model_dir)?),
    };
    let kernel = spec.int8.then(int8_kernel).transpose()?;
    let mut job = job_args.start(crate::job::labels(&[
        ("job", "text-classify"),
        ("method", spec.method.name()),
        ("dataset", &data.name),
    ]))?;
    let meter = std::sync::Arc::clone(job.monitor());
    let mut ms = Vec::new();
    let fs = folds(data, spec.folds, spec.seed);
    let total = texts.len() as f64;
    let target = spec.target_accuracy;
    let reached = |curve: &[CurvePoint]| {
        target
            .and_then(|t| curve.iter().find(|p| p.accuracy >= t))
            .map(|p| p.training_energy_j)
    };
    let threads = job_args.threads;
    let mut results = Vec::new();
    let (shared_j, per_text_j, params, speed);
    match spec.method {
        Method::Frozen | Method::FineTune => {
            let mut model = model.expect("loaded above");
            if let Some(k) = kernel {
                model.encoder.quantize(k);
            }
            let ids = model
                .tokenizer
                .ids_all(&texts)
                .map_err(crate::error::TuneError::engine("tokenizing"))?;
            let enc = &model.encoder;
            let h = enc.config.hidden;
            let tuned = if spec.method == Method::FineTune {
                spec.tuned_layers
            } else {
                0
            };
            let first = enc.config.layers - tuned;
            let t0 = Instant::now();
            let ((feats, states), j) = window(&meter, "encode", &mut ms, || {
                if tuned == 0 {
                    (encode_all(enc, &ids, threads), Vec::new())
                } else {
                    let states = batched(&ids, threads, 2048, |b| {
                        let x = enc.states_through(b, first);
                        b.spans()
                            .map(|(a, l)| x[a * h..(a + l) * h].to_vec())
                            .collect()
                    });
                    let views: Vec<&[f32]> = states.iter().map(Vec::as_slice).collect();
                    let feats = vectors_from_states(enc, &views, first, threads);
                    (feats, states)
                }
            })?;
            speed = total / t0.elapsed().as_secs_f64().max(1e-9);
            shared_j = j;
            params = enc.params() as u64;
            progress.note(&format!(
                "{} texts through the encoder{} in {:.1} s, {j:.1} J",
                texts.len(),
                if tuned > 0 {
                    format!("'s first {first} layers")
                } else {
                    String::new()
                },
                total / speed
            ));
            let mut check_j = 0.0;
            for (f, fold) in fs.iter().enumerate() {
                let share = j * fold.train.len() as f64 / total;
                let ytr: Vec<u32> = fold.train.iter().map(|&i| labels[i]).collect();
                let yte: Vec<u32> = fold.test.iter().map(|&i| labels[i]).collect();
                let ftr = rows(&feats, &fold.train, h);
                let mut curve = Vec::new();
                if tuned == 0 {
                    let fte = rows(&feats, &fold.test, h);
                    let cfg = HeadConfig {
                        epochs: spec.epochs.unwrap_or(HeadConfig::frozen().epochs),
                        lr: spec.lr.unwrap_or(HeadConfig::frozen().lr),
                        seed: spec.seed,
                        ..HeadConfig::frozen()
                    };
                    let mut spent = share;
                    meter.begin_window("head")?;
                    train_head(&ftr, &ytr, h, classes, cfg, |epoch, head| {
                        let acc = accuracy(&head.predict(&fte), &yte);
                        let m = meter.end_window("head");
                        if let Ok(m) = m {
                            spent += m.energy.joules();
                            ms.push(m);
                        }
                        curve.push(CurvePoint {
                            epoch: epoch + 1,
                            training_energy_j: spent,
                            accuracy: acc,
                        });
                        let stop = target.is_some_and(|t| acc >= t);
                        let _ = meter.begin_window("head");
                        stop
                    });
                    if let Ok(m) = meter.end_window("head") {
                        ms.push(m);
                    }
                } else {
                    let cfg = HeadConfig {
                        epochs: spec.epochs.unwrap_or(HeadConfig::fine_tune().epochs),
                        lr: spec.lr.unwrap_or(HeadConfig::fine_tune().lr),
                        seed: spec.seed,
                        ..HeadConfig::fine_tune()
                    };
                    let steps = (cfg.epochs * fold.train.len().div_ceil(cfg.batch)) as u64;
                    // Linear probing first (the head on the frozen vectors, which the shared
                    // pass computed), then the tuned layers and the head together.
                    let (head, hj) = window(&meter, "head", &mut ms, || {
                        train_head(
                            &ftr,
                            &ytr,
                            h,
                            classes,
                            HeadConfig {
                                seed: spec.seed,
                                ..HeadConfig::frozen()
                            },
                            |_, _| false,
                        )
                    })?;
                    let mut ft = FineTuner::new(enc.clone(), tuned, head, cfg, steps);
                    let str_: Vec<&[f32]> =
                        fold.train.iter().map(|&i| states[i].as_slice()).collect();
                    let ste: Vec<&[f32]> =
                        fold.test.iter().map(|&i| states[i].as_slice()).collect();
                    let mut spent = share + hj;
                    for epoch in 0..cfg.epochs {
                        let (loss, ej) = window(&meter, "epoch", &mut ms, || {
                            ft.epoch(&str_, &ytr, threads, |_| false)
                        })?;
                        spent += ej;
                        let (acc, cj) = window(&meter, "check", &mut ms, || {
                            let e = ft.vectors(&ste, threads);
                            accuracy(&ft.head.predict(&e), &yte)
                        })?;
                        check_j += cj;
                        progress.note(&format!(
                            "fold {}: epoch {}: loss {loss:.4}, test accuracy {acc:.4}, {spent:.1} J",
                            f + 1,
                            epoch + 1
                        ));
                        curve.push(CurvePoint {
                            epoch: epoch + 1,
                            training_energy_j: spent,
                            accuracy: acc,
                        });
                        if target.is_some_and(|t| acc >= t) {
                            break;
                        }
                    }
                }
                results.push(fold_result(f, fold, curve));
            }
            // A text's inference: its share of the shared pass, plus the tuned layers' check.
            let checked: usize = fs.iter().map(|f| f.test.len()).sum::<usize>()
                * results
                    .first()
                    .map_or(1, |r: &FoldResult| r.curve.len().max(1));
            per_text_j = j / total
                + if tuned > 0 {
                    check_j / checked.max(1) as f64
                } else {
                    0.0
                };
        }
        Method::Ngram => {
            let cfg = NgramConfig {
                epochs: spec.epochs.unwrap_or(NgramConfig::default().epochs),
                lr: spec.lr.unwrap_or(NgramConfig::default().lr),
                seed: spec.seed,
                ..NgramConfig::default()
            };
            let (feats, j) = window(&meter, "hash", &mut ms, || {
                texts
                    .iter()
                    .map(|t| features(t, cfg.ngrams, cfg.buckets))
                    .collect::<Vec<_>>()
            })?;
            shared_j = j;
            params = NgramModel::new(NgramConfig { buckets: 1, ..cfg }, classes).params() as u64
                + (cfg.buckets * cfg.dim) as u64
                - cfg.dim as u64;
            let (mut predict_j, mut predicted, mut predict_s) = (0.0, 0usize, 0.0);
            for (f, fold) in fs.iter().enumerate() {
                let share = j * fold.train.len() as f64 / total;
                let ftr: Vec<Vec<u32>> = fold.train.iter().map(|&i| feats[i].clone()).collect();
                let fte: Vec<Vec<u32>> = fold.test.iter().map(|&i| feats[i].clone()).collect();
                let ytr: Vec<u32> = fold.train.iter().map(|&i| labels[i]).collect();
                let yte: Vec<u32> = fold.test.iter().map(|&i| labels[i]).collect();
                let mut m = NgramModel::new(cfg, classes);
                let mut curve = Vec::new();
                let mut spent = share;
                meter.begin_window("epoch")?;
                m.train(&ftr, &ytr, |epoch, model| {
                    if let Ok(w) = meter.end_window("epoch") {
                        spent += w.energy.joules();
                        ms.push(w);
                    }
                    let t = Instant::now();
                    let _ = meter.begin_window("check");
                    let acc = accuracy(&model.predict(&fte), &yte);
                    if let Ok(w) = meter.end_window("check") {
                        predict_j += w.energy.joules();
                        predicted += fte.len();
                        ms.push(w);
                    }
                    predict_s += t.elapsed().as_secs_f64();
                    curve.push(CurvePoint {
                        epoch: epoch + 1,
                        training_energy_j: spent,
                        accuracy: acc,
                    });
                    let stop = target.is_some_and(|t| acc >= t);
                    let _ = meter.begin_window("epoch");
                    stop
                });
                if let Ok(w) = meter.end_window("epoch") {
                    ms.push(w);
                }
                results.push(fold_result(f, fold, curve));
            }
            per_text_j = j / total + predict_j / predicted.max(1) as f64;
            speed = predicted as f64 / predict_s.max(1e-9);
        }
    }
    let n = results.len() as f64;
    let acc = results.iter().map(|r| r.accuracy).sum::<f64>() / n;
    let lo = results
        .iter()
        .map(|r| r.accuracy)
        .fold(f64::INFINITY, f64::min);
    let hi = results
        .iter()
        .map(|r| r.accuracy)
        .fold(f64::NEG_INFINITY, f64::max);
    // The shared pass counts once, by the share of texts some fold trains on (all of them
    // cross-validated; the training split's share otherwise); each fold's curve counts its own
    // share, taken off here.
    let shared_train_j = match &data.test {
        Some(_) => results
            .first()
            .map_or(0.0, |r| shared_share(r, shared_j, total)),
        None => shared_j,
    };
    let own = |r: &FoldResult, j: f64| j - shared_share(r, shared_j, total);
    let best_points: Vec<(&FoldResult, &CurvePoint)> = results
        .iter()
        .filter_map(|r| {
            r.curve
                .iter()
                .max_by(|a, b| a.accuracy.total_cmp(&b.accuracy))
                .map(|p| (r, p))
        })
        .collect();
    let best = best_points.iter().map(|(_, p)| p.accuracy).sum::<f64>() / n;
    let to_best = shared_train_j
        + best_points
            .iter()
            .map(|(r, p)| own(r, p.training_energy_j))
            .sum::<f64>();
    let to_target: Option<f64> = results
        .iter()
        .map(|r| reached(&r.curve).map(|j| own(r, j)))
        .sum::<Option<f64>>()
        .map(|j| shared_train_j + j);
    let training_j = shared_train_j
        + results
            .iter()
            .map(|r| own(r, r.training_energy_j))
            .sum::<f64>();
    job.label("accuracy", format!("{acc:.4}"));
    job.set_results(&TextResults {
        method: spec.method.name().into(),
        dataset: data.name.clone(),
        accuracy: acc,
        training_energy_j: training_j,
        energy_to_accuracy_j: to_target,
        energy_to_best_j: Some(to_best),
        joules_per_1000_sentences: per_text_j * 1000.0,
        int8: spec.int8,
    })?;
    let end = job.finish(0, None)?;
    crate::job::tell_end(progress, &end);
    let provenance = crate::job::weakest_provenance(&ms, &end.measurement);
    Ok(TextReport {
        run_id: end.run_id.clone(),
        dataset: data.name.clone(),
        method: spec.method.name().into(),
        tuned_layers: (spec.method == Method::FineTune).then_some(spec.tuned_layers),
        int8: spec.int8,
        kernel: kernel.map(|k| k.name().to_string()),
        classes: data.train.classes.clone(),
        texts: texts.len(),
        folds: data.test.is_none().then_some(spec.folds),
        accuracy: acc,
        accuracy_range: (lo, hi),
        best_accuracy: best,
        fold_results: results,
        training_energy_j: training_j,
        shared_energy_j: shared_j,
        target_accuracy: target,
        energy_to_accuracy_j: to_target,
        energy_to_best_j: to_best,
        joules_per_1000_sentences: per_text_j * 1000.0,
        sentences_per_s: speed,
        params,
        energy_j: end.measurement.energy.joules(),
        duration_s: end.measurement.duration.as_secs_f64(),
        provenance,
        uncertainty: combined_uncertainty(std::iter::once(&end.measurement)),
        emissions_g: end.carbon.emissions_g,
    })
}

/// The shared pass's share a fold's curve counts (its training texts' share).
fn shared_share(r: &FoldResult, shared_j: f64, total: f64) -> f64 {
    shared_j * r.train_texts as f64 / total
}

fn fold_result(f: usize, fold: &Fold, curve: Vec<CurvePoint>) -> FoldResult {
    FoldResult {
        fold: f,
        train_texts: fold.train.len(),
        test_texts: fold.test.len(),
        accuracy: curve.last().map_or(0.0, |p| p.accuracy),
        training_energy_j: curve.last().map_or(0.0, |p| p.training_energy_j),
        curve,
    }
}
