//! greenai's training engine: datasets, a small graph of layers with hand-written forward and
//! backward passes over CPU kernels, the models, optimisers and data-parallel training.
//!
//! - [`data::idx`] reads IDX files (MNIST, Fashion-MNIST), raw or gzip, with errors that say what
//!   is wrong with the file; [`data::Dataset`] normalises and shuffles deterministically;
//!   [`data::bundled_mnist_dir`] is the MNIST copy shipped in the repository (`data/mnist`).
//! - The core: [`graph`] holds a model's layers (each kind's forward, backward and FLOPs in
//!   [`graph::layers`]), runs forward and backward ([`graph::Exec`]), and folds BatchNorm into
//!   the convolutions for inference; [`backend`] is the compute seam (GEMM, im2col, depthwise).
//! - [`models`] builds `lightweight` (the seed's LightweightNet), `mobilenet`, `shufflenet`,
//!   `cnn`, `lenet` and EfficientNet-Lite0's graph; [`model::Model`] is one with its weights, and
//!   [`model::Inference`] runs one; [`train::Runner`] trains and evaluates them data-parallel
//!   over threads with an [`optim::Optimizer`]; [`checkpoint`] saves and loads them as
//!   safetensors.
//! - The techniques: [`precision`] (bf16/f16 mixed precision), [`quantize`] (int8: the quantizer
//!   and its executor, over the kernels per instruction set in [`int8`]), [`transfer`] (the
//!   engine side of transfer learning) with [`efficientnet`]'s pretrained weights, and
//!   [`recommend`] (ratings and matrix factorisation).
//!
//! Modules depend downwards only: kernels and backend, then the graph, then int8 and quantize,
//! then the models and [`model`], then checkpoints, EfficientNet's loader, training and transfer.
//! The engine knows no meter and no database: callers wrap its calls in windows.

pub mod backend;
pub mod checkpoint;
pub mod data;
pub mod efficientnet;
pub mod graph;
pub mod init;
pub mod int8;
pub mod kernels;
pub mod model;
pub mod models;
pub mod optim;
pub mod params;
pub mod patch_map;
pub mod precision;
pub mod quantize;
pub mod recommend;
pub mod rng;
pub mod text;
pub mod train;
pub mod transfer;

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
