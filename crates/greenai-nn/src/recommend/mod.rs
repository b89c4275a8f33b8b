//! Recommendation: ratings files and matrix factorisation (Surprise's SVD and SVD++, trained by
//! SGD). The engine's part only: the job that meters and records it is `greenai-tune`'s.
//!
//! - [`data`]: RecBole's `.inter` and MovieLens's `u.data`, malformed lines refused by number;
//!   the cross-validation folds, by a rule any language can repeat.
//! - [`mf`]: the models, an epoch of SGD, RMSE and MAE, top-k.

pub mod data;
pub mod mf;
