//! Datasets: IDX files to normalised tensors, with deterministic shuffling.

pub mod idx;

use crate::rng::SplitMix64;
use crate::{NnError, Result};
use std::path::{Path, PathBuf};

/// MNIST's pixel mean and standard deviation over the training set, after scaling to `[0, 1]`:
/// the normalisation of PyTorch's MNIST example, which the seed's LightweightNet used.
pub const MNIST_MEAN: f32 = 0.1307;
pub const MNIST_STD: f32 = 0.3081;

/// The MNIST copy shipped in the repository (`data/mnist`, see `data/SOURCES.md`).
pub fn bundled_mnist_dir() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist");
    p.canonicalize().unwrap_or(p)
}

/// Which half of an IDX dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
}

impl Split {
    fn prefix(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "t10k",
        }
    }
}

/// Images with their labels: `len` images of `rows × cols` bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub rows: usize,
    pub cols: usize,
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
}

fn find(dir: &Path, stem: &str) -> Result<PathBuf> {
    for name in [format!("{stem}.gz"), stem.to_string()] {
        let p = dir.join(name);
        if p.exists() {
            return Ok(p);
        }
    }
    Err(NnError::Unavailable {
        path: dir.join(stem).display().to_string(),
        reason: format!(
            "no {stem} or {stem}.gz in {}; --data takes a directory of IDX files named as MNIST's",
            dir.display()
        ),
    })
}

impl Dataset {
    /// `n` 8×8 images of two classes, the top half bright or the bottom half: a set small enough
    /// for tests of the training and transfer loops, in this crate and the ones that build on it.
    #[doc(hidden)]
    pub fn two_halves(n: usize) -> Dataset {
        let labels: Vec<u8> = (0..n).map(|i| (i % 2) as u8).collect();
        let mut images = Vec::with_capacity(n * 64);
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

    /// Reads `train-*` or `t10k-*` images and labels from a directory of IDX files (MNIST's and
    /// Fashion-MNIST's names, raw or `.gz`).
    pub fn load(dir: &Path, split: Split) -> Result<Dataset> {
        let images = idx::read(&find(
            dir,
            &format!("{}-images-idx3-ubyte", split.prefix()),
        )?)?;
        let labels = idx::read(&find(
            dir,
            &format!("{}-labels-idx1-ubyte", split.prefix()),
        )?)?;
        Self::from_arrays(images, labels)
    }

    pub fn from_arrays(images: idx::IdxArray, labels: idx::IdxArray) -> Result<Dataset> {
        if images.dims.len() != 3 {
            return Err(NnError::Invalid(format!(
                "images must be a 3-dimensional IDX array (count, rows, cols), not {:?}",
                images.dims
            )));
        }
        if labels.dims.len() != 1 {
            return Err(NnError::Invalid(format!(
                "labels must be a 1-dimensional IDX array, not {:?}",
                labels.dims
            )));
        }
        if images.dims[0] != labels.dims[0] {
            return Err(NnError::Invalid(format!(
                "{} images but {} labels: the files do not belong together",
                images.dims[0], labels.dims[0]
            )));
        }
        Ok(Dataset {
            rows: images.dims[1],
            cols: images.dims[2],
            images: images.data,
            labels: labels.data,
        })
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn pixels(&self) -> usize {
        self.rows * self.cols
    }

    /// Image `i`'s bytes.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * self.pixels()..(i + 1) * self.pixels()]
    }

    /// The number of classes: the largest label plus one.
    pub fn classes(&self) -> usize {
        self.labels
            .iter()
            .copied()
            .max()
            .map_or(0, |m| m as usize + 1)
    }

    /// Writes images `order` into `out` as `(x / 255 − mean) / std`, row-major, one image after
    /// another.
    pub fn normalised_batch(&self, order: &[usize], mean: f32, std: f32, out: &mut Vec<f32>) {
        out.clear();
        out.reserve(order.len() * self.pixels());
        let (scale, shift) = (1.0 / (255.0 * std), mean / std);
        for &i in order {
            out.extend(self.image(i).iter().map(|&b| b as f32 * scale - shift));
        }
    }
}

/// What training and inference read: the inputs of chosen samples, and their labels. Images are
/// normalised on the fly ([`Dataset`]); features computed once, by a frozen backbone, are read as
/// they are ([`Tensors`]).
pub trait Samples: Sync {
    /// How many samples there are.
    fn count(&self) -> usize;
    fn label(&self, i: usize) -> u8;
    /// Writes the inputs of samples `which` into `out`, one after another.
    fn inputs(&self, which: &[usize], out: &mut Vec<f32>);
}

impl Samples for Dataset {
    fn count(&self) -> usize {
        self.len()
    }

    fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }

    fn inputs(&self, which: &[usize], out: &mut Vec<f32>) {
        self.normalised_batch(which, MNIST_MEAN, MNIST_STD, out)
    }
}

/// Samples that are already tensors: `labels.len()` rows of `width` values each.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensors {
    pub width: usize,
    pub values: Vec<f32>,
    pub labels: Vec<u8>,
}

impl Tensors {
    /// Checks that `values` holds one row of `width` values per label.
    pub fn new(width: usize, values: Vec<f32>, labels: Vec<u8>) -> Result<Tensors> {
        if width == 0 || values.len() != width * labels.len() {
            return Err(NnError::Invalid(format!(
                "{} values are not {} rows of {width}",
                values.len(),
                labels.len()
            )));
        }
        Ok(Tensors {
            width,
            values,
            labels,
        })
    }
}

impl Samples for Tensors {
    fn count(&self) -> usize {
        self.labels.len()
    }

    fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }

    fn inputs(&self, which: &[usize], out: &mut Vec<f32>) {
        out.clear();
        out.reserve(which.len() * self.width);
        for &i in which {
            out.extend_from_slice(&self.values[i * self.width..(i + 1) * self.width]);
        }
    }
}

/// The indices `0..n` in an order fixed by `seed`.
pub fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    SplitMix64::new(seed).shuffle(&mut v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) {
        std::fs::write(dir.join(name), bytes).unwrap();
    }

    #[test]
    fn images_and_labels_must_agree_in_count() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "train-images-idx3-ubyte",
            &idx::encode(&[3, 2, 2], &[0; 12]),
        );
        write(
            dir.path(),
            "train-labels-idx1-ubyte",
            &idx::encode(&[2], &[1, 2]),
        );
        let e = Dataset::load(dir.path(), Split::Train)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "3 images but 2 labels: the files do not belong together");
        let e = Dataset::load(dir.path(), Split::Test)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no t10k-images-idx3-ubyte"), "{e}");
    }

    #[test]
    fn normalisation_maps_bytes_to_standard_scores() {
        let d = Dataset {
            rows: 1,
            cols: 2,
            images: vec![0, 255, 51, 102],
            labels: vec![0, 1],
        };
        let mut out = Vec::new();
        d.normalised_batch(&[1, 0], 0.5, 0.5, &mut out);
        let want = [-0.6f32, -0.2, -1.0, 1.0];
        for (a, b) in out.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{out:?}");
        }
        assert_eq!(d.classes(), 2);
    }
}
