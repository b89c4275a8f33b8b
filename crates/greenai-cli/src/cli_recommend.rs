//! Command-line arguments of `greenai recommend`.

use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RecModel {
    /// Biased matrix factorisation (Surprise's SVD).
    Svd,
    /// SVD++: the user's factors plus the items they rated (implicit feedback).
    Svdpp,
}

#[derive(Debug, Subcommand)]
pub enum RecommendCommand {
    /// Cross-validate a matrix-factorisation model on a ratings file, metered and recorded.
    Train(Box<RecommendTrainArgs>),
    /// The best items for a user from a model `train --save` wrote.
    TopK {
        /// The user's id as in the ratings file.
        user: String,
        /// The saved model.
        #[arg(long, value_name = "PATH")]
        model: PathBuf,
        #[arg(short = 'k', long, default_value = "10")]
        k: usize,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct RecommendTrainArgs {
    /// A ratings file: RecBole's `.inter` or MovieLens's `u.data` (default: MovieLens-100K, which
    /// `python3 scripts/fetch_movielens.py` downloads).
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "svd")]
    pub model: RecModel,
    /// Latent factors (default: 100 for svd, 20 for svdpp, as Surprise).
    #[arg(long)]
    pub factors: Option<usize>,
    /// Epochs of SGD (default 20).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Learning rate (default: 0.005 for svd, 0.007 for svdpp).
    #[arg(long)]
    pub lr: Option<f32>,
    /// Regularisation (default 0.02).
    #[arg(long)]
    pub reg: Option<f32>,
    /// Seed of the initial factors.
    #[arg(long, default_value = "0")]
    pub seed: u64,
    /// Cross-validation folds.
    #[arg(long, default_value = "5")]
    pub folds: usize,
    /// Seed of the fold assignment.
    #[arg(long, default_value = "0")]
    pub fold_seed: u64,
    /// Stop each fold's training once the RMSE on ratings held out of its training folds is at
    /// most this; the energy to it is reported.
    #[arg(long, value_name = "RMSE")]
    pub target_rmse: Option<f64>,
    /// Then train on every rating and save the model here (JSON), for `recommend top-k`.
    #[arg(long, value_name = "PATH")]
    pub save: Option<PathBuf>,
    #[command(flatten)]
    pub record: crate::cli::RecordArgs,
}
