//! A BERT-style encoder (all-MiniLM-L6-v2's shape): token, position and token-type embeddings,
//! then layers of multi-head self-attention and a GELU feed-forward block, each with a residual
//! and a post-LayerNorm; mean pooling and L2 normalisation make the sentence vector.
//!
//! Sequences travel **packed**: a batch is its sequences' tokens one after another ([`Packed`]),
//! with no padding. The linear layers run over every token of the batch in one product; attention
//! runs per sequence over its own length. This is what a padding mask computes, without the work
//! spent on the pads (sentence lengths differ by 10× in the datasets here).

use super::ops::{gelu, layer_norm, linear, softmax_rows};
use super::qlinear::QLinear;
use crate::kernels::gemm;
use crate::params::Params;
use crate::rng::SplitMix64;
use crate::{NnError, Result};

/// The encoder's sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    pub vocab: usize,
    pub hidden: usize,
    pub heads: usize,
    pub intermediate: usize,
    pub layers: usize,
    pub max_positions: usize,
}

impl Config {
    /// all-MiniLM-L6-v2: 6 layers, hidden 384, 12 heads, intermediate 1,536, 512 positions.
    pub fn minilm_l6() -> Config {
        Config {
            vocab: 30522,
            hidden: 384,
            heads: 12,
            intermediate: 1536,
            layers: 6,
            max_positions: 512,
        }
    }

    pub fn head_dim(&self) -> usize {
        self.hidden / self.heads
    }

    /// Multiply-adds × 2 for a sequence of `len` tokens through `layers` layers (the linear
    /// products and both attention products).
    pub fn flops(&self, len: usize, layers: usize) -> u64 {
        let (h, i, l) = (self.hidden as u64, self.intermediate as u64, len as u64);
        let linear = 2 * l * (4 * h * h + 2 * h * i);
        let attention = 2 * 2 * l * l * h;
        layers as u64 * (linear + attention)
    }
}

/// LayerNorm's epsilon in BERT.
pub const LN_EPS: f32 = 1e-12;

/// Where each tensor of a layer is in its [`Params`].
pub mod idx {
    pub const WQKV: usize = 0;
    pub const BQKV: usize = 1;
    pub const WO: usize = 2;
    pub const BO: usize = 3;
    pub const LN1G: usize = 4;
    pub const LN1B: usize = 5;
    pub const W1: usize = 6;
    pub const B1: usize = 7;
    pub const W2: usize = 8;
    pub const B2: usize = 9;
    pub const LN2G: usize = 10;
    pub const LN2B: usize = 11;
}

/// One encoder layer: its tensors in a fixed order (query, key and value weights stacked into one
/// `3h × h` matrix), and their int8 copies once [`Encoder::quantize`] made them.
#[derive(Debug, Clone)]
pub struct Layer {
    pub p: Params,
    pub int8: Option<[QLinear; 4]>,
}

/// Tokens of several sequences one after another: sequence `s` is `ids[starts[s]..starts[s + 1]]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Packed {
    pub ids: Vec<u32>,
    pub starts: Vec<usize>,
}

impl Packed {
    pub fn new(seqs: &[&[u32]]) -> Packed {
        let mut p = Packed {
            ids: Vec::new(),
            starts: vec![0],
        };
        for s in seqs {
            p.ids.extend_from_slice(s);
            p.starts.push(p.ids.len());
        }
        p
    }

    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn tokens(&self) -> usize {
        self.ids.len()
    }

    /// `(first row, length)` of each sequence.
    pub fn spans(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.starts.windows(2).map(|w| (w[0], w[1] - w[0]))
    }
}

/// The encoder with its weights.
#[derive(Debug, Clone)]
pub struct Encoder {
    pub config: Config,
    pub word: Vec<f32>,
    pub position: Vec<f32>,
    /// Token type 0's row (single sentences only use that one).
    pub token_type: Vec<f32>,
    pub ln_g: Vec<f32>,
    pub ln_b: Vec<f32>,
    pub layers: Vec<Layer>,
}

/// Shapes of a layer's tensors in [`idx`] order.
pub fn layer_shapes(c: &Config) -> [usize; 12] {
    let (h, i) = (c.hidden, c.intermediate);
    [3 * h * h, 3 * h, h * h, h, h, h, i * h, i, h * i, h, h, h]
}

impl Encoder {
    /// Small random weights (tests and gradient checks).
    pub fn random(config: Config, seed: u64) -> Encoder {
        let mut rng = SplitMix64::new(seed);
        let mut draw = |n: usize, s: f32| -> Vec<f32> {
            (0..n).map(|_| (rng.next_f32() * 2.0 - 1.0) * s).collect()
        };
        let h = config.hidden;
        let word = draw(config.vocab * h, 0.5);
        let position = draw(config.max_positions * h, 0.5);
        let token_type = draw(h, 0.1);
        let layers = (0..config.layers)
            .map(|_| {
                let shapes = layer_shapes(&config);
                let mut p = Vec::new();
                for (i, &n) in shapes.iter().enumerate() {
                    p.push(match i {
                        idx::LN1G | idx::LN2G => draw(n, 0.2).iter().map(|v| 1.0 + v).collect(),
                        idx::WQKV | idx::WO | idx::W1 | idx::W2 => draw(n, 0.3),
                        _ => draw(n, 0.1),
                    });
                }
                Layer {
                    p: Params(p),
                    int8: None,
                }
            })
            .collect();
        Encoder {
            config,
            word,
            position,
            token_type,
            ln_g: vec![1.0; h],
            ln_b: vec![0.0; h],
            layers,
        }
    }

    /// Reads a BERT encoder's weights from a safetensors file (all-MiniLM-L6-v2's names, with or
    /// without a `bert.` prefix), checking every shape against `config`.
    pub fn load(path: &std::path::Path, config: Config) -> Result<Encoder> {
        let shown = path.display().to_string();
        let bad = |reason: String| NnError::Malformed {
            path: shown.clone(),
            reason,
        };
        let buf = std::fs::read(path).map_err(|e| NnError::Unavailable {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        let st = safetensors::SafeTensors::deserialize(&buf)
            .map_err(|e| bad(format!("not a safetensors file ({e})")))?;
        let prefix = if st.names().iter().any(|n| n.starts_with("bert.")) {
            "bert."
        } else {
            ""
        };
        let get = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
            let full = format!("{prefix}{name}");
            let v = st
                .tensor(&full)
                .map_err(|_| bad(format!("tensor {full} is missing")))?;
            if v.dtype() != safetensors::Dtype::F32 || v.shape() != shape {
                return Err(bad(format!(
                    "tensor {full} is {:?} {:?}, expected F32 {shape:?}",
                    v.dtype(),
                    v.shape()
                )));
            }
            let out: Vec<f32> = v
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            if out.iter().any(|x| !x.is_finite()) {
                return Err(bad(format!("tensor {full} holds a NaN or an infinity")));
            }
            Ok(out)
        };
        let (h, i) = (config.hidden, config.intermediate);
        let mut layers = Vec::new();
        for l in 0..config.layers {
            let n = |s: &str| format!("encoder.layer.{l}.{s}");
            let mut wqkv = get(&n("attention.self.query.weight"), &[h, h])?;
            wqkv.extend(get(&n("attention.self.key.weight"), &[h, h])?);
            wqkv.extend(get(&n("attention.self.value.weight"), &[h, h])?);
            let mut bqkv = get(&n("attention.self.query.bias"), &[h])?;
            bqkv.extend(get(&n("attention.self.key.bias"), &[h])?);
            bqkv.extend(get(&n("attention.self.value.bias"), &[h])?);
            layers.push(Layer {
                p: Params(vec![
                    wqkv,
                    bqkv,
                    get(&n("attention.output.dense.weight"), &[h, h])?,
                    get(&n("attention.output.dense.bias"), &[h])?,
                    get(&n("attention.output.LayerNorm.weight"), &[h])?,
                    get(&n("attention.output.LayerNorm.bias"), &[h])?,
                    get(&n("intermediate.dense.weight"), &[i, h])?,
                    get(&n("intermediate.dense.bias"), &[i])?,
                    get(&n("output.dense.weight"), &[h, i])?,
                    get(&n("output.dense.bias"), &[h])?,
                    get(&n("output.LayerNorm.weight"), &[h])?,
                    get(&n("output.LayerNorm.bias"), &[h])?,
                ]),
                int8: None,
            });
        }
        let mut token_type = get("embeddings.token_type_embeddings.weight", &[2, h])?;
        token_type.truncate(h);
        Ok(Encoder {
            config,
            word: get("embeddings.word_embeddings.weight", &[config.vocab, h])?,
            position: get(
                "embeddings.position_embeddings.weight",
                &[config.max_positions, h],
            )?,
            token_type,
            ln_g: get("embeddings.LayerNorm.weight", &[h])?,
            ln_b: get("embeddings.LayerNorm.bias", &[h])?,
            layers,
        })
    }

    /// The number of parameters (embeddings included).
    pub fn params(&self) -> usize {
        self.word.len()
            + self.position.len()
            + 2 * self.config.hidden
            + 2 * self.config.hidden
            + self.layers.iter().map(|l| l.p.count()).sum::<usize>()
    }

    /// Refuses token ids past the vocabulary and sequences past the positions.
    pub fn check(&self, batch: &Packed) -> Result<()> {
        if let Some(id) = batch.ids.iter().find(|&&i| i as usize >= self.config.vocab) {
            return Err(NnError::Invalid(format!(
                "token id {id} is past the vocabulary of {}",
                self.config.vocab
            )));
        }
        if let Some((_, len)) = batch.spans().find(|s| s.1 > self.config.max_positions) {
            return Err(NnError::Invalid(format!(
                "a sequence of {len} tokens is longer than the model's {} positions",
                self.config.max_positions
            )));
        }
        Ok(())
    }

    /// The embedding layer's output, `tokens × hidden`.
    pub fn embed(&self, batch: &Packed) -> Vec<f32> {
        let h = self.config.hidden;
        let mut x = vec![0.0f32; batch.tokens() * h];
        for (a, len) in batch.spans() {
            for p in 0..len {
                let id = batch.ids[a + p] as usize;
                let row = &mut x[(a + p) * h..(a + p + 1) * h];
                let (w, q) = (&self.word[id * h..][..h], &self.position[p * h..][..h]);
                for j in 0..h {
                    row[j] = w[j] + q[j] + self.token_type[j];
                }
            }
        }
        layer_norm(&mut x, h, &self.ln_g, &self.ln_b, LN_EPS, None);
        x
    }

    /// Runs layer `l` on `x` (`tokens × hidden`) in place, through its int8 copies when made.
    pub fn layer_forward(&self, l: usize, x: &mut [f32], batch: &Packed) {
        let c = &self.config;
        let (h, inter, t) = (c.hidden, c.intermediate, batch.tokens());
        let layer = &self.layers[l];
        let p = &layer.p.0;
        let run =
            |which: usize, w: usize, inp: &[f32], k: usize, m: usize, out: &mut [f32]| match &layer
                .int8
            {
                Some(q) => q[which].forward(inp, t, out),
                None => linear(inp, &p[w], &p[w + 1], t, k, m, out),
            };
        let mut qkv = vec![0.0f32; t * 3 * h];
        run(0, idx::WQKV, x, h, 3 * h, &mut qkv);
        let mut ctx = vec![0.0f32; t * h];
        attention(&qkv, batch, c, &mut ctx, None);
        let mut a = vec![0.0f32; t * h];
        run(1, idx::WO, &ctx, h, h, &mut a);
        for (v, r) in a.iter_mut().zip(x.iter()) {
            *v += r;
        }
        layer_norm(&mut a, h, &p[idx::LN1G], &p[idx::LN1B], LN_EPS, None);
        let mut u = vec![0.0f32; t * inter];
        run(2, idx::W1, &a, h, inter, &mut u);
        gelu(&mut u);
        run(3, idx::W2, &u, inter, h, x);
        for (v, r) in x.iter_mut().zip(&a) {
            *v += r;
        }
        layer_norm(x, h, &p[idx::LN2G], &p[idx::LN2B], LN_EPS, None);
    }

    /// The last layer's token states for `batch`, `tokens × hidden`.
    pub fn hidden_states(&self, batch: &Packed) -> Vec<f32> {
        self.states_through(batch, self.config.layers)
    }

    /// Token states after the first `layers` layers.
    pub fn states_through(&self, batch: &Packed, layers: usize) -> Vec<f32> {
        let mut x = self.embed(batch);
        for l in 0..layers {
            self.layer_forward(l, &mut x, batch);
        }
        x
    }

    /// Sentence vectors, `sequences × hidden`: the mean of each sequence's token states,
    /// L2-normalised (all-MiniLM-L6-v2's pooling and `Normalize` modules).
    pub fn encode(&self, batch: &Packed) -> Vec<f32> {
        let x = self.hidden_states(batch);
        let mut out = mean_pool(&x, batch, self.config.hidden);
        normalize_rows(&mut out, self.config.hidden);
        out
    }

    /// Makes int8 copies of every layer's linear weights (per output channel, symmetric);
    /// [`Encoder::layer_forward`] uses them from then on, with activations quantized per token
    /// at run time (dynamic quantization).
    pub fn quantize(&mut self, kernel: crate::int8::Kernel) {
        let c = self.config;
        let (h, i) = (c.hidden, c.intermediate);
        for layer in &mut self.layers {
            let p = &layer.p.0;
            layer.int8 = Some([
                QLinear::new(&p[idx::WQKV], &p[idx::BQKV], h, 3 * h, kernel),
                QLinear::new(&p[idx::WO], &p[idx::BO], h, h, kernel),
                QLinear::new(&p[idx::W1], &p[idx::B1], h, i, kernel),
                QLinear::new(&p[idx::W2], &p[idx::B2], i, h, kernel),
            ]);
        }
    }

    /// Whether the layers run in int8.
    pub fn is_int8(&self) -> bool {
        self.layers.iter().any(|l| l.int8.is_some())
    }
}

/// Multi-head self-attention over each sequence of `batch`: `qkv` is `tokens × 3·hidden` (query,
/// key, value), `ctx` receives `tokens × hidden`. With `probs`, each (sequence, head)'s attention
/// probabilities are appended to it (`len × len` each, sequence-major) for the backward pass.
pub fn attention(
    qkv: &[f32],
    batch: &Packed,
    c: &Config,
    ctx: &mut [f32],
    mut probs: Option<&mut Vec<f32>>,
) {
    let (h, d) = (c.hidden, c.head_dim());
    let w = 3 * h as isize;
    let scale = 1.0 / (d as f32).sqrt();
    let mut s = Vec::new();
    for (a, len) in batch.spans() {
        s.resize(len * len, 0.0);
        for head in 0..c.heads {
            let q = &qkv[a * 3 * h + head * d..];
            let k = &qkv[a * 3 * h + h + head * d..];
            let v = &qkv[a * 3 * h + 2 * h + head * d..];
            gemm(
                len,
                d,
                len,
                (q, w, 1),
                (k, 1, w),
                0.0,
                (&mut s, len as isize, 1),
            );
            for x in s.iter_mut() {
                *x *= scale;
            }
            softmax_rows(&mut s, len);
            let out = &mut ctx[a * h + head * d..];
            gemm(
                len,
                len,
                d,
                (&s, len as isize, 1),
                (v, w, 1),
                0.0,
                (out, h as isize, 1),
            );
            if let Some(p) = probs.as_mut() {
                p.extend_from_slice(&s);
            }
        }
    }
}

/// The mean of each sequence's rows of `x` (`tokens × width`): `sequences × width`.
pub fn mean_pool(x: &[f32], batch: &Packed, width: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; batch.len() * width];
    for (s, (a, len)) in batch.spans().enumerate() {
        let o = &mut out[s * width..(s + 1) * width];
        for row in x[a * width..(a + len) * width].chunks_exact(width) {
            for (v, r) in o.iter_mut().zip(row) {
                *v += r;
            }
        }
        let inv = 1.0 / len.max(1) as f32;
        for v in o.iter_mut() {
            *v *= inv;
        }
    }
    out
}

/// Divides each row by its Euclidean norm (at least 1e-12, as PyTorch's `normalize`).
pub fn normalize_rows(x: &mut [f32], width: usize) {
    for row in x.chunks_exact_mut(width) {
        let n = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        for v in row.iter_mut() {
            *v /= n;
        }
    }
}
