//! Command-line arguments of `greenai embed` and `greenai text-classify`.

use crate::cli::RecordArgs;
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VectorFormat {
    /// `{"model", "dimensions", "vectors": [[...], ...]}` on stdout or into --output.
    Json,
    /// A NumPy `.npy` file of `sentences × 384` float32 (needs --output).
    Npy,
}

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Sentences to embed (or --input).
    pub sentences: Vec<String>,
    /// A file of sentences, one a line (`-`: standard input).
    #[arg(long, value_name = "FILE", conflicts_with = "sentences")]
    pub input: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "json")]
    pub format: VectorFormat,
    /// Where the vectors go (default: stdout, JSON only).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The sentence model's folder (default: data/models/minilm, from `python3 scripts/fetch_minilm.py`).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// The encoder's linear layers in int8 (weights per channel, activations per token at run time).
    #[arg(long)]
    pub int8: bool,
    #[arg(long, default_value = "2", value_parser = crate::parse::threads)]
    pub threads: usize,
    #[command(flatten)]
    pub record: RecordArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TextMethod {
    /// The pretrained encoder frozen, a new linear head on its sentence vectors.
    Frozen,
    /// The encoder's last N layers (--fine-tune-last) trained with the head.
    FineTune,
    /// From scratch: fastText's bag of words and bigrams, nothing pretrained (the baseline).
    Ngram,
}

#[derive(Debug, Args)]
pub struct TextClassifyArgs {
    /// `uci` (the bundled UCI sentiment sentences, cross-validated), `r8` (Reuters R8, from
    /// `python3 scripts/fetch_r8.py`), or a file: JSON Lines `{"text", "label"}` or TSV `label<TAB>text`.
    #[arg(long, default_value = "uci")]
    pub data: String,
    /// A test file in the same form (without one, --folds cross-validation).
    #[arg(long, value_name = "FILE")]
    pub test: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "frozen")]
    pub method: TextMethod,
    /// With --method fine-tune: how many of the last layers train (1 to 6).
    #[arg(long, value_name = "N", default_value = "1")]
    pub fine_tune_last: usize,
    /// Epochs (default: 30 for frozen, 3 for fine-tune, 10 for ngram).
    #[arg(long, value_parser = crate::parse::epochs)]
    pub epochs: Option<usize>,
    /// Learning rate (default: 0.001 frozen, 0.0001 fine-tune, 0.5 ngram).
    #[arg(long, value_parser = crate::parse::lr)]
    pub lr: Option<f32>,
    /// Folds when there is no test split.
    #[arg(long, default_value = "10")]
    pub folds: usize,
    #[arg(long, default_value = "1")]
    pub seed: u64,
    /// Stop once the test accuracy reaches this (DAWNBench's rule), and report the energy to it.
    #[arg(long, value_parser = crate::parse::accuracy)]
    pub target_accuracy: Option<f64>,
    /// The frozen encoder in int8.
    #[arg(long)]
    pub int8: bool,
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    #[arg(long, default_value = "2", value_parser = crate::parse::threads)]
    pub threads: usize,
    #[command(flatten)]
    pub record: RecordArgs,
}
