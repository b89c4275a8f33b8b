//! greenai's training engine. So far: the data layer and the seed's LightweightNet in f32.
//!
//! - [`data::idx`] reads IDX files (MNIST, Fashion-MNIST), raw or gzip, with errors that say what
//!   is wrong with the file.
//! - [`data::Dataset`] pairs images with labels, normalises them and shuffles deterministically.
//! - [`data::bundled_mnist_dir`] is the MNIST copy shipped in the repository (`data/mnist`).
//! - [`lightweight::LightweightNet`], trained by [`train::train_epoch`] with [`optim::Adam`],
//!   data-parallel over threads, on the [`kernels`].

pub mod data;
pub mod kernels;
pub mod lightweight;
pub mod optim;
pub mod rng;
pub mod train;

/// What went wrong, classified by what the caller should do.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    /// A file cannot be read.
    #[error("cannot read {path}: {reason}")]
    Unavailable { path: String, reason: String },
    /// A file is not what it should be (a bad magic number, a truncated body).
    #[error("{path}: {reason}")]
    Malformed { path: String, reason: String },
    /// Inputs that do not fit together (images and labels of different counts, another size).
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = NnError> = std::result::Result<T, E>;
