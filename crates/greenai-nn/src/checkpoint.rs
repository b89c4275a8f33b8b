//! Checkpoints in safetensors: a model's parameters and BatchNorm statistics under their layer
//! names (`block0.dw.weight`, `stem.bn.running_mean`), the optimiser's state under `optimizer.m.*`
//! and `optimizer.v.*`, and what rebuilds the model in the header's metadata (`model`, image size,
//! classes, epoch, optimiser, step). Files are written to a temporary name and renamed, so a
//! crash never leaves half a checkpoint where a whole one was.

use crate::models::ModelKind;
use crate::optim::{Optimizer, OptimizerKind, Schedule};
use crate::params::Params;
use crate::train::Model;
use crate::{NnError, Result};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The `format` metadata value of a greenai checkpoint.
pub const FORMAT: &str = "greenai-checkpoint-1";

/// A checkpoint read back.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub model: Model,
    /// Present when the file carries optimiser state (a training checkpoint).
    pub optimizer: Option<Optimizer>,
    /// Every metadata entry (`epoch`, `seed`, `dataset`, ...).
    pub meta: BTreeMap<String, String>,
}

impl Checkpoint {
    /// A metadata entry parsed as a number.
    pub fn meta_num<T: std::str::FromStr>(&self, key: &str) -> Option<T> {
        self.meta.get(key).and_then(|v| v.parse().ok())
    }
}

fn bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Writes `model` (and `opt`, to resume from) to `path`, with `extra` metadata.
pub fn save(
    path: &Path,
    model: &Model,
    opt: Option<&Optimizer>,
    extra: &[(&str, String)],
) -> Result<()> {
    let g = &model.graph;
    let mut owned: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (spec, t) in g.params.iter().zip(&model.params.0) {
        owned.push((spec.name.clone(), spec.shape.clone(), bytes(t)));
    }
    for (spec, t) in g.buffers.iter().zip(&model.buffers.0) {
        owned.push((spec.name.clone(), spec.shape.clone(), bytes(t)));
    }
    let mut meta: HashMap<String, String> = HashMap::new();
    let s = g.input_shape();
    for (k, v) in [
        ("format", FORMAT.to_string()),
        ("model", model.kind.name().to_string()),
        ("channels", s.c.to_string()),
        ("rows", s.h.to_string()),
        ("cols", s.w.to_string()),
        ("classes", g.classes().to_string()),
    ] {
        meta.insert(k.into(), v);
    }
    if let Some(o) = opt {
        for (spec, (m, v)) in g.params.iter().zip(o.m.0.iter().zip(&o.v.0)) {
            owned.push((
                format!("optimizer.m.{}", spec.name),
                spec.shape.clone(),
                bytes(m),
            ));
            if !v.is_empty() {
                owned.push((
                    format!("optimizer.v.{}", spec.name),
                    spec.shape.clone(),
                    bytes(v),
                ));
            }
        }
        meta.insert("optimizer".into(), o.kind.name().into());
        meta.insert("lr".into(), o.lr.to_string());
        meta.insert("step".into(), o.step.to_string());
        meta.insert("weight_decay".into(), o.weight_decay.to_string());
        if let Schedule::Cosine { total_steps } = o.schedule {
            meta.insert("cosine_total_steps".into(), total_steps.to_string());
        }
    }
    for (k, v) in extra {
        meta.insert((*k).to_string(), v.clone());
    }
    let views: Vec<(String, TensorView)> = owned
        .iter()
        .map(|(n, shape, data)| {
            TensorView::new(Dtype::F32, shape.clone(), data)
                .map(|v| (n.clone(), v))
                .map_err(|e| NnError::Invalid(format!("tensor {n}: {e}")))
        })
        .collect::<Result<_>>()?;
    let buf = safetensors::serialize(views, Some(meta))
        .map_err(|e| NnError::Invalid(format!("serialising the checkpoint: {e}")))?;
    let unavailable = |e: std::io::Error| NnError::Unavailable {
        path: path.display().to_string(),
        reason: format!("{e}; choose a writable path for the checkpoint"),
    };
    let tmp = path.with_extension("safetensors.partial");
    std::fs::write(&tmp, buf).map_err(unavailable)?;
    std::fs::rename(&tmp, path).map_err(unavailable)
}

/// The `f32` tensors of a safetensors file by name, with their shapes, and its metadata.
pub type Tensors = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

/// Reads every tensor of a safetensors file as `f32` (f32 files only).
pub fn read_tensors(path: &Path) -> Result<(Tensors, BTreeMap<String, String>)> {
    let buf = std::fs::read(path).map_err(|e| NnError::Unavailable {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let malformed = |reason: String| NnError::Malformed {
        path: path.display().to_string(),
        reason,
    };
    let st = SafeTensors::deserialize(&buf)
        .map_err(|e| malformed(format!("not a safetensors file ({e})")))?;
    let mut out = BTreeMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(malformed(format!(
                "tensor {name} is {:?}; greenai reads f32 tensors",
                view.dtype()
            )));
        }
        let data = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        out.insert(name, (view.shape().to_vec(), data));
    }
    let (_, header) = SafeTensors::read_metadata(&buf)
        .map_err(|e| malformed(format!("unreadable header ({e})")))?;
    let meta = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    Ok((out, meta))
}

/// Takes the tensors named by `specs` out of `tensors`, checking each one's shape.
fn take(
    path: &Path,
    tensors: &mut Tensors,
    specs: &[crate::graph::TensorSpec],
    prefix: &str,
) -> Result<Params> {
    let mut out = Vec::with_capacity(specs.len());
    for s in specs {
        let name = format!("{prefix}{}", s.name);
        let (shape, data) = tensors.remove(&name).ok_or_else(|| NnError::Malformed {
            path: path.display().to_string(),
            reason: format!("tensor {name} is missing"),
        })?;
        if shape != s.shape {
            return Err(NnError::Malformed {
                path: path.display().to_string(),
                reason: format!(
                    "tensor {name} has shape {shape:?}, the model needs {:?}",
                    s.shape
                ),
            });
        }
        out.push(data);
    }
    Ok(Params(out))
}

/// Reads a checkpoint written by [`save`], rebuilding its model and checking every tensor's name
/// and shape against it.
pub fn load(path: &Path) -> Result<Checkpoint> {
    let (mut tensors, meta) = read_tensors(path)?;
    let malformed = |reason: String| NnError::Malformed {
        path: path.display().to_string(),
        reason,
    };
    if meta.get("format").map(String::as_str) != Some(FORMAT) {
        return Err(malformed(format!(
            "not a greenai checkpoint (metadata format is {:?}, expected {FORMAT:?})",
            meta.get("format")
        )));
    }
    let num = |k: &str| -> Result<usize> {
        meta.get(k)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| malformed(format!("metadata {k} is missing or not a number")))
    };
    let kind = ModelKind::from_name(meta.get("model").map_or("", String::as_str))
        .map_err(|e| malformed(e.to_string()))?;
    let graph = kind.build(
        num("channels")?,
        num("rows")?,
        num("cols")?,
        num("classes")?,
    )?;
    let params = take(path, &mut tensors, &graph.params, "")?;
    let buffers = take(path, &mut tensors, &graph.buffers, "")?;
    let optimizer = match meta.get("optimizer") {
        None => None,
        Some(name) => {
            let k = OptimizerKind::from_name(name)
                .ok_or_else(|| malformed(format!("unknown optimizer {name:?}")))?;
            let lr: f32 = meta
                .get("lr")
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| malformed("metadata lr is missing".into()))?;
            let mut o = Optimizer::new(k, &params, lr);
            o.step = num("step")? as u64;
            if let Some(wd) = meta.get("weight_decay").and_then(|v| v.parse().ok()) {
                o.weight_decay = wd;
            }
            if let Some(t) = meta.get("cosine_total_steps").and_then(|v| v.parse().ok()) {
                o.schedule = Schedule::Cosine { total_steps: t };
            }
            o.m = take(path, &mut tensors, &graph.params, "optimizer.m.")?;
            if k != OptimizerKind::Sgd {
                o.v = take(path, &mut tensors, &graph.params, "optimizer.v.")?;
            }
            Some(o)
        }
    };
    if let Some(extra) = tensors.keys().next() {
        return Err(malformed(format!(
            "tensor {extra} does not belong to a {} model",
            kind.name()
        )));
    }
    Ok(Checkpoint {
        model: Model {
            kind,
            graph,
            params,
            buffers,
            quant: None,
        },
        optimizer,
        meta,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_and_its_optimizer_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        let mut model = Model::new(ModelKind::Mobilenet, 28, 28, 10, 4).unwrap();
        model.buffers.0[0][3] = 0.25;
        let mut opt = Optimizer::new(OptimizerKind::AdamW, &model.params, 0.002);
        let g = Params(model.params.0.iter().map(|t| vec![0.01; t.len()]).collect());
        opt.schedule = Schedule::Cosine { total_steps: 99 };
        opt.step(&mut model.params, &g);
        save(&path, &model, Some(&opt), &[("epoch", "3".into())]).unwrap();
        let back = load(&path).unwrap();
        assert_eq!(back.model.params, model.params);
        assert_eq!(back.model.buffers, model.buffers);
        assert_eq!(back.model.graph, model.graph);
        let o = back.optimizer.as_ref().unwrap();
        assert_eq!(
            (o.kind, o.step, o.lr, o.schedule),
            (opt.kind, 1, 0.002, opt.schedule)
        );
        assert_eq!((&o.m, &o.v), (&opt.m, &opt.v));
        assert_eq!(back.meta_num::<usize>("epoch"), Some(3));
        assert!(!dir.path().join("m.safetensors.partial").exists());
    }

    #[test]
    fn a_wrong_tensor_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        let mut model = Model::new(ModelKind::Lightweight, 28, 28, 10, 0).unwrap();
        // A file claiming 28×28 but holding a linear layer for another size.
        model.graph.params[2].shape = vec![10, 100];
        model.params.0[2] = vec![0.0; 1000];
        save(&path, &model, None, &[]).unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(e.contains("tensor fc.weight has shape [10, 100]"), "{e}");
        std::fs::write(&path, b"garbage").unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(e.contains("not a safetensors file"), "{e}");
    }
}
