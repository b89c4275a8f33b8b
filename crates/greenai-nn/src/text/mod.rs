//! Text: a BERT-style transformer encoder ([`encoder`]) with its training pass ([`backward`]),
//! dynamic int8 for its linear layers ([`qlinear`]), the Hugging Face tokenizer read from its
//! `tokenizer.json` ([`Tokenizer`], through the `tokenizers` crate so that ids match Hugging
//! Face's exactly), classification on top of it ([`classify`]), a from-scratch bag-of-n-grams
//! baseline ([`ngram`]) and the labelled-text files both read ([`data`]).

pub mod backward;
pub mod classify;
pub mod data;
pub mod encoder;
pub mod ngram;
pub mod ops;
pub mod qlinear;

use crate::{NnError, Result};
use encoder::{Encoder, Packed};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The longest input all-MiniLM-L6-v2 was trained on (`sentence_bert_config.json`); its
/// `tokenizer.json` says 128, sentence-transformers uses 256.
pub const MAX_TOKENS: usize = 256;

/// A WordPiece tokenizer from a Hugging Face `tokenizer.json`, truncating at `max_tokens` and
/// never padding (the encoder takes sequences packed, not padded).
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    pub max_tokens: usize,
}

impl Tokenizer {
    pub fn load(path: &Path, max_tokens: usize) -> Result<Tokenizer> {
        let mut inner = tokenizers::Tokenizer::from_file(path).map_err(|e| NnError::Malformed {
            path: path.display().to_string(),
            reason: format!("not a tokenizer.json this tokenizer reads ({e})"),
        })?;
        inner
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length: max_tokens,
                ..Default::default()
            }))
            .map_err(|e| NnError::Invalid(format!("truncation at {max_tokens}: {e}")))?;
        inner.with_padding(None);
        Ok(Tokenizer { inner, max_tokens })
    }

    /// Token ids of one text, `[CLS]` and `[SEP]` included.
    pub fn ids(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, true)
            .map_err(|e| NnError::Invalid(format!("cannot tokenize {text:?}: {e}")))?;
        Ok(enc.get_ids().to_vec())
    }

    pub fn ids_all(&self, texts: &[String]) -> Result<Vec<Vec<u32>>> {
        texts.iter().map(|t| self.ids(t)).collect()
    }
}

/// The index of the largest value (the first of equals; 0 when empty).
pub fn argmax(row: &[f32]) -> u32 {
    row.iter()
        .enumerate()
        .fold(
            (0, f32::NEG_INFINITY),
            |b, (i, &v)| if v > b.1 { (i, v) } else { b },
        )
        .0 as u32
}

/// all-MiniLM-L6-v2 as a folder holds it: the encoder and the tokenizer.
pub struct SentenceModel {
    pub encoder: Encoder,
    pub tokenizer: Tokenizer,
}

impl SentenceModel {
    /// Reads `model.safetensors` and `tokenizer.json` from `dir`.
    pub fn load(dir: &Path) -> Result<SentenceModel> {
        let encoder = Encoder::load(&dir.join("model.safetensors"), encoder::Config::minilm_l6())?;
        let tokenizer = Tokenizer::load(&dir.join("tokenizer.json"), MAX_TOKENS)?;
        Ok(SentenceModel { encoder, tokenizer })
    }
}

/// Runs `f` over batches of `seqs` on `threads` threads and returns its per-sequence results in
/// `seqs`' order ([`batched_by`] over their lengths).
pub fn batched<T: Send>(
    seqs: &[Vec<u32>],
    threads: usize,
    tokens: usize,
    f: impl Fn(&Packed) -> Vec<T> + Sync,
) -> Vec<T> {
    let lens: Vec<usize> = seqs.iter().map(Vec::len).collect();
    batched_by(&lens, threads, tokens, |group| {
        let parts: Vec<&[u32]> = group.iter().map(|&i| seqs[i].as_slice()).collect();
        f(&Packed::new(&parts))
    })
}

/// Runs `f` over groups of the indices of `lens` (sequence lengths) on `threads` threads, one
/// result per index, returned in index order. Sequences are sorted by length and grouped into
/// batches of about `tokens` tokens, so that a batch's sequences are alike (attention's cost grows
/// with the square of a length) and its linear products are long.
pub fn batched_by<T: Send>(
    lens: &[usize],
    threads: usize,
    tokens: usize,
    f: impl Fn(&[usize]) -> Vec<T> + Sync,
) -> Vec<T> {
    let mut order: Vec<usize> = (0..lens.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(lens[i]));
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut size = 0;
    for i in order {
        if groups.is_empty() || size + lens[i] > tokens {
            groups.push(Vec::new());
            size = 0;
        }
        size += lens[i];
        groups.last_mut().expect("a group").push(i);
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let g = next.fetch_add(1, Ordering::Relaxed);
            let Some(group) = groups.get(g) else {
                return done;
            };
            done.extend(group.iter().copied().zip(f(group)));
        }
    };
    let mut all: Vec<(usize, T)> = if threads <= 1 {
        work()
    } else {
        std::thread::scope(|s| {
            let hs: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        crate::kernels::flush_denormals();
                        work()
                    })
                })
                .collect();
            hs.into_iter()
                .flat_map(|h| h.join().expect("an encoding thread panicked"))
                .collect()
        })
    };
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, v)| v).collect()
}

/// Sentence vectors for `seqs` (`n × hidden`, row-major), on `threads` threads.
pub fn encode_all(enc: &Encoder, seqs: &[Vec<u32>], threads: usize) -> Vec<f32> {
    let h = enc.config.hidden;
    let rows = batched(seqs, threads, 2048, |b| {
        enc.encode(b).chunks_exact(h).map(<[f32]>::to_vec).collect()
    });
    rows.concat()
}
