//! Transfer learning's engine side: images turned into what a pretrained ImageNet backbone expects
//! ([`to_rgb`]), the frozen part's outputs over a set ([`features`]), per-feature standardisation
//! for a new head ([`Standardise`]), the frozen part in int8 ([`quantized_frozen`]), and the
//! feature cache ([`read_cache`], [`write_cache`]) keyed by the backbone's [`fingerprint`]. The job
//! that meters and records a transfer lives in `greenai-tune`.

use crate::checkpoint::{read_tensors, write_tensors};
use crate::data::{Dataset, Tensors};
use crate::efficientnet;
use crate::model::{Inference, Model};
use std::collections::BTreeMap;
use std::path::Path;

/// `n` images of `data` bilinearly resized to `size × size`, replicated to three channels and
/// normalised as the backbone expects.
pub fn to_rgb(data: &Dataset, which: &[usize], size: usize, out: &mut Vec<f32>) {
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
pub fn features(
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
                    let (mut inf, mut x, mut out) = (Inference::default(), Vec::new(), Vec::new());
                    for c in part.chunks(16) {
                        to_rgb(data, c, size, &mut x);
                        out.extend_from_slice(inf.infer(frozen, &x, c.len()));
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
pub struct Standardise {
    mean: Vec<f32>,
    inv_std: Vec<f32>,
}

impl Standardise {
    pub fn fit(t: &Tensors) -> Standardise {
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

    pub fn apply(&self, t: &mut Tensors) {
        for row in t.values.chunks_exact_mut(t.width) {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.inv_std) {
                *v = (*v - m) * s;
            }
        }
    }
}

/// A short fingerprint of a model's weights (its first and last tensors), so that features of
/// one backbone are never read back for another.
pub fn fingerprint(m: &Model) -> u64 {
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

/// What computing cached features cost when they were computed.
#[derive(Debug, Clone, Copy)]
pub struct PassCost {
    pub energy_j: f64,
    pub duration_s: f64,
}

/// Features cached at `path` for `labels.len()` samples of `width` values, with what computing
/// them cost; `None` when the file is missing, damaged or of another shape.
pub fn read_cache(path: &Path, width: usize, labels: &[u8]) -> Option<(Tensors, PassCost)> {
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

/// Stores features with what computing them cost.
pub fn write_cache(path: &Path, t: &Tensors, cost: PassCost) -> crate::Result<()> {
    let meta: BTreeMap<String, String> = [
        ("energy_j".to_string(), format!("{:.6}", cost.energy_j)),
        ("duration_s".to_string(), format!("{:.6}", cost.duration_s)),
    ]
    .into_iter()
    .collect();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| crate::NnError::Unavailable {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
    }
    write_tensors(
        path,
        &[("features", vec![t.labels.len(), t.width], &t.values)],
        &meta,
    )
}

/// Images calibrating an int8 frozen part: the first of the training set.
pub const CALIBRATION_IMAGES: usize = 256;

/// `frozen` with BatchNorm folded and quantized per channel, its activation ranges calibrated
/// (min-max) on the first [`CALIBRATION_IMAGES`] of `train`.
pub fn quantized_frozen(frozen: &Model, train: &Dataset, size: usize) -> Model {
    quantized_frozen_with(frozen, train, size, crate::model::SpeedRule::KeepFaster)
}

/// [`quantized_frozen`] under a given speed rule (tests use every layer: timing must not decide
/// what they check).
pub fn quantized_frozen_with(
    frozen: &Model,
    train: &Dataset,
    size: usize,
    rule: crate::model::SpeedRule,
) -> Model {
    let which: Vec<usize> = (0..CALIBRATION_IMAGES.min(train.len())).collect();
    let mut x = Vec::new();
    to_rgb(train, &which, size, &mut x);
    frozen.quantized_with(
        crate::quantize::WeightScheme::PerChannel,
        crate::quantize::ActivationRange::MinMax,
        &x,
        which.len(),
        rule,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ModelKind;

    /// The int8 frozen part's features: int8 arithmetic (not the f32 pass), within a few per cent
    /// of f32's in direction.
    #[test]
    fn int8_features_are_close_to_f32() {
        let graph = efficientnet::graph(32, None).unwrap();
        let backbone = Model {
            kind: ModelKind::EfficientnetLite0,
            params: graph.init(3),
            buffers: graph.init_buffers(),
            graph,
            quant: None,
        };
        let train = Dataset::two_halves(20);
        let (frozen, _) = efficientnet::split(&backbone, 32, 0, 2, 0).unwrap();
        // Every layer int8: whether int8 is faster on this CPU (and under this load) must not
        // decide what the test checks.
        let q = quantized_frozen_with(&frozen, &train, 32, crate::model::SpeedRule::EveryLayer);
        assert!(q.quant.as_ref().unwrap().layers.iter().flatten().count() > 40);
        let which: Vec<usize> = (0..8).collect();
        let a = features(&frozen, &train, &which, 32, 1);
        let b = features(&q, &train, &which, 32, 1);
        assert_ne!(a, b, "int8 arithmetic, not the f32 pass");
        let (dot, na, nb) = a.iter().zip(&b).fold((0.0, 0.0, 0.0), |(d, x, y), (p, q)| {
            (d + p * q, x + p * p, y + q * q)
        });
        let cosine = dot / (na.sqrt() * nb.sqrt());
        assert!(cosine > 0.95, "cosine {cosine}");
    }

    #[test]
    fn standardised_features_have_zero_mean_and_unit_variance() {
        let mut t = Tensors::new(2, vec![1.0, 5.0, 3.0, 5.0, 5.0, 5.0], vec![0, 1, 0]).unwrap();
        let s = Standardise::fit(&t);
        s.apply(&mut t);
        let col0: Vec<f32> = t.values.chunks(2).map(|r| r[0]).collect();
        let mean: f32 = col0.iter().sum::<f32>() / 3.0;
        let var: f32 = col0.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / 3.0;
        assert!(
            mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-5,
            "{mean} {var}"
        );
        // A feature that never varies stays where it is, centred.
        assert!(t.values.chunks(2).all(|r| r[1] == 0.0));
    }

    #[test]
    fn the_cache_round_trips_and_refuses_another_shape() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/f.safetensors");
        let t = Tensors::new(3, (0..6).map(|v| v as f32).collect(), vec![0, 1]).unwrap();
        let cost = PassCost {
            energy_j: 1.5,
            duration_s: 0.25,
        };
        write_cache(&path, &t, cost).unwrap();
        let (back, c) = read_cache(&path, 3, &[0, 1]).unwrap();
        assert_eq!(back.values, t.values);
        assert_eq!((c.energy_j, c.duration_s), (1.5, 0.25));
        assert!(read_cache(&path, 4, &[0, 1]).is_none());
        assert!(read_cache(&path, 3, &[0, 1, 1]).is_none());
        std::fs::write(&path, b"not a safetensors file").unwrap();
        assert!(read_cache(&path, 3, &[0, 1]).is_none());
    }
}
