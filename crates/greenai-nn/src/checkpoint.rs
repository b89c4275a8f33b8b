//! Checkpoints in safetensors: a model's parameters and BatchNorm statistics under their layer
//! names (`block0.dw.weight`, `stem.bn.running_mean`), the optimiser's state under `optimizer.m.*`
//! and `optimizer.v.*`, and what rebuilds the model in the header's metadata (`model`, image size,
//! classes, epoch, optimiser, step). Files are written to a temporary name and renamed, so a
//! crash never leaves half a checkpoint where a whole one was.

use crate::model::Model;
use crate::models::ModelKind;
use crate::optim::{Optimizer, OptimizerKind, Schedule};
use crate::params::Params;
use crate::{NnError, Result};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The `format` metadata value of a greenai checkpoint.
pub const FORMAT: &str = "greenai-checkpoint-1";
/// The `format` of an int8 model written by [`save_quantized`].
pub const FORMAT_INT8: &str = "greenai-int8-1";

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
    let mut meta = model_meta(model, FORMAT);
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
    let owned: Vec<Owned> = owned
        .into_iter()
        .map(|(n, shape, data)| (n, Dtype::F32, shape, data))
        .collect();
    write_file(path, &owned, meta)
}

/// What rebuilds a model: its format, name, input shape and classes.
fn model_meta(model: &Model, format: &str) -> HashMap<String, String> {
    let g = &model.graph;
    let s = g.input_shape();
    [
        ("format", format.to_string()),
        ("model", model.kind.name().to_string()),
        ("channels", s.c.to_string()),
        ("rows", s.h.to_string()),
        ("cols", s.w.to_string()),
        ("classes", g.classes().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The model [`model_meta`] describes.
fn graph_from_meta(
    path: &Path,
    meta: &BTreeMap<String, String>,
) -> Result<(ModelKind, crate::graph::Graph)> {
    let malformed = |reason: String| NnError::Malformed {
        path: path.display().to_string(),
        reason,
    };
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
    Ok((kind, graph))
}

/// A tensor to write: name, type, shape, little-endian bytes.
type Owned = (String, Dtype, Vec<usize>, Vec<u8>);

/// Serialises `tensors` with `meta` to `path` through a temporary name and a rename.
fn write_file(path: &Path, tensors: &[Owned], meta: HashMap<String, String>) -> Result<()> {
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(n, dt, shape, data)| {
            TensorView::new(*dt, shape.clone(), data)
                .map(|v| (n.clone(), v))
                .map_err(|e| NnError::Invalid(format!("tensor {n}: {e}")))
        })
        .collect::<Result<_>>()?;
    let buf = safetensors::serialize(views, Some(meta))
        .map_err(|e| NnError::Invalid(format!("serialising {}: {e}", path.display())))?;
    let unavailable = |e: std::io::Error| NnError::Unavailable {
        path: path.display().to_string(),
        reason: format!("{e}; choose a writable path"),
    };
    let tmp = path.with_extension("safetensors.partial");
    std::fs::write(&tmp, buf).map_err(unavailable)?;
    std::fs::rename(&tmp, path).map_err(unavailable)
}

/// Writes f32 tensors `(name, shape, values)` with string metadata to a safetensors file (through
/// a temporary name and a rename, so a reader never sees half a file).
pub fn write_tensors(
    path: &Path,
    tensors: &[(&str, Vec<usize>, &[f32])],
    meta: &BTreeMap<String, String>,
) -> Result<()> {
    let owned: Vec<Owned> = tensors
        .iter()
        .map(|(n, shape, v)| {
            let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            (n.to_string(), Dtype::F32, shape.clone(), bytes)
        })
        .collect();
    let meta = meta.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    write_file(path, &owned, meta)
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
        // int8 tensors (quantized weights) are read as their exact f32 values.
        let data = match view.dtype() {
            Dtype::F32 => view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::I8 => view.data().iter().map(|&b| b as i8 as f32).collect(),
            other => {
                return Err(malformed(format!(
                    "tensor {name} is {other:?}; greenai reads f32 and i8 tensors"
                )))
            }
        };
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
    if meta.get("format").map(String::as_str) == Some(FORMAT_INT8) {
        return load_quantized(path, tensors, meta);
    }
    if meta.get("format").map(String::as_str) != Some(FORMAT) {
        return Err(malformed(format!(
            "not a greenai checkpoint (metadata format is {:?}, expected {FORMAT:?})",
            meta.get("format")
        )));
    }
    let (kind, graph) = graph_from_meta(path, &meta)?;
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
            o.step = meta
                .get("step")
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| malformed("metadata step is missing or not a number".into()))?;
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

/// Writes a quantized model (a folded model with `quant` set): each int8 layer as `NAME.weight`
/// (i8, `cout × k`), `NAME.weight_scale`, `NAME.bias` and, when calibrated, `NAME.input_range`
/// (scale, zero point); every other tensor in f32 under its own name.
pub fn save_quantized(path: &Path, model: &Model, extra: &[(&str, String)]) -> Result<()> {
    let q = model
        .quant
        .as_ref()
        .ok_or_else(|| NnError::Invalid("the model is not quantized".into()))?;
    let g = &model.graph;
    let skip = q.replaced_params(g);
    let mut owned: Vec<Owned> = Vec::new();
    for (i, l) in q.layers.iter().enumerate() {
        let Some(l) = l else { continue };
        let name = &g.nodes[i].name;
        // The file holds convolution weights in PyTorch's order; int8 runs them channels-last.
        let mut w = l.w.unpack();
        match g.nodes[i].op {
            crate::graph::Op::Conv(c) if c.groups == 1 => {
                w = crate::quantize::from_channels_last(&w, c.cout, c.cin, c.k * c.k)
            }
            crate::graph::Op::Linear { fout, .. } if l.hwc_input => {
                let ins = g.nodes[g.nodes[i].inputs[0]].shape;
                w = crate::quantize::from_channels_last(&w, fout, ins.c, ins.plane());
            }
            _ => {}
        }
        let w: Vec<u8> = w.into_iter().map(|v| v as u8).collect();
        owned.push((format!("{name}.weight"), Dtype::I8, vec![l.w.m, l.w.k], w));
        owned.push((
            format!("{name}.weight_scale"),
            Dtype::F32,
            vec![l.w.m],
            bytes(&l.w_scale),
        ));
        owned.push((
            format!("{name}.bias"),
            Dtype::F32,
            vec![l.w.m],
            bytes(&l.bias),
        ));
        if let Some((s, z)) = l.input {
            owned.push((
                format!("{name}.input_range"),
                Dtype::F32,
                vec![2],
                bytes(&[s, z as f32]),
            ));
        }
    }
    for (i, (spec, t)) in g.params.iter().zip(&model.params.0).enumerate() {
        if !skip.contains(&i) {
            owned.push((spec.name.clone(), Dtype::F32, spec.shape.clone(), bytes(t)));
        }
    }
    let mut meta = model_meta(model, FORMAT_INT8);
    meta.insert("weights".into(), format!("{:?}", q.scheme));
    meta.insert("activations".into(), format!("{:?}", q.range));
    for (k, v) in extra {
        meta.insert((*k).to_string(), v.clone());
    }
    write_file(path, &owned, meta)
}

fn load_quantized(
    path: &Path,
    mut tensors: Tensors,
    meta: BTreeMap<String, String>,
) -> Result<Checkpoint> {
    use crate::quantize::{ActivationRange, QLayer, Quantized, WeightScheme};
    let malformed = |reason: String| NnError::Malformed {
        path: path.display().to_string(),
        reason,
    };
    let (kind, graph) = graph_from_meta(path, &meta)?;
    // The folded structure does not depend on the values.
    let (folded, params, buffers) = graph.fold_batchnorm(&graph.init(0), &graph.init_buffers());
    let mut params = params;
    // Which layers the file holds in int8: those with a weight scale (whatever rule chose them
    // when it was written).
    let int8_layers: std::collections::HashSet<String> = tensors
        .keys()
        .filter_map(|k| k.strip_suffix(".weight_scale"))
        .map(str::to_string)
        .collect();
    let static_ranges: std::collections::HashSet<String> = tensors
        .keys()
        .filter(|k| k.ends_with(".input_range"))
        .cloned()
        .collect();
    // Each tensor of the shape the model needs (not only as many values), every value finite.
    let mut take = |name: &str, want: &[usize]| -> Result<Vec<f32>> {
        let (shape, data) = tensors
            .remove(name)
            .ok_or_else(|| malformed(format!("tensor {name} is missing")))?;
        let len: usize = want.iter().product();
        if shape.iter().product::<usize>() != len || (shape != want && shape != [len]) {
            return Err(malformed(format!(
                "tensor {name} has shape {shape:?}, the model needs {want:?}"
            )));
        }
        if let Some(v) = data.iter().find(|v| !v.is_finite()) {
            return Err(malformed(format!(
                "tensor {name} holds {v}, not a finite number"
            )));
        }
        Ok(data)
    };
    let mut layers = vec![None; folded.nodes.len()];
    let mut quantized = std::collections::HashSet::new();
    for (i, node) in folded.nodes.iter().enumerate() {
        if !int8_layers.contains(&node.name) {
            continue;
        }
        let (cout, k) = match node.op {
            crate::graph::Op::Conv(c) if c.groups == 1 || c.is_depthwise() => (c.cout, c.patch()),
            crate::graph::Op::Linear { fin, fout, .. } => (fout, fin),
            _ => {
                return Err(malformed(format!(
                    "{} has int8 weights, but int8 runs only convolutions with one group, \
                     depthwise convolutions and linear layers",
                    node.name
                )))
            }
        };
        quantized.extend(node.op.param_indices());
        let n = &node.name;
        // Written as `cout × k` (save_quantized), whatever the f32 weight's shape.
        let wf = take(&format!("{n}.weight"), &[cout, k])?;
        if wf
            .iter()
            .any(|v| v.fract() != 0.0 || !(-127.0..=127.0).contains(v))
        {
            return Err(malformed(format!(
                "{n}.weight holds values that are not int8 weights (whole numbers in -127..=127)"
            )));
        }
        let w: Vec<i8> = wf.into_iter().map(|v| v as i8).collect();
        let w_sum = (0..cout)
            .map(|o| w[o * k..(o + 1) * k].iter().map(|&v| v as i32).sum())
            .collect();
        let w_scale = take(&format!("{n}.weight_scale"), &[cout])?;
        if let Some(v) = w_scale.iter().find(|v| **v <= 0.0) {
            return Err(malformed(format!(
                "{n}.weight_scale holds {v}: scales are positive"
            )));
        }
        let bias = take(&format!("{n}.bias"), &[cout])?;
        let range_name = format!("{n}.input_range");
        let input = if static_ranges.contains(&range_name) {
            let r = take(&range_name, &[2])?;
            if !(r[0] > 0.0 && r[1].fract() == 0.0 && (0.0..=255.0).contains(&r[1])) {
                return Err(malformed(format!(
                    "{range_name} is ({}, {}): a positive scale and a zero point in 0..=255",
                    r[0], r[1]
                )));
            }
            Some((r[0], r[1] as u8))
        } else {
            None // dynamic: ranges measured at run time
        };
        layers[i] = Some(QLayer {
            w: crate::quantize::pack_layer(&node.op, &w),
            w_scale,
            w_sum,
            bias,
            input,
            hwc_input: false,
        });
    }
    for (i, spec) in folded.params.iter().enumerate() {
        if quantized.contains(&i) {
            params.0[i].fill(0.0); // unused: the int8 layer replaces it
        } else {
            params.0[i] = take(&spec.name, &spec.shape)?;
        }
    }
    if let Some(extra) = tensors.keys().next() {
        return Err(malformed(format!(
            "tensor {extra} does not belong to an int8 {} model",
            kind.name()
        )));
    }
    let range = match meta.get("activations").map(String::as_str) {
        Some("Dynamic") => ActivationRange::Dynamic,
        _ => ActivationRange::MinMax,
    };
    let scheme = match meta.get("weights").map(String::as_str) {
        Some("PerTensor") => WeightScheme::PerTensor,
        _ => WeightScheme::PerChannel,
    };
    let q = Quantized {
        chain: crate::quantize::chain_layers(&folded, &mut layers),
        layers,
        scheme,
        range,
        kernel: crate::int8::Kernel::active(),
        speed: None,
    };
    Ok(Checkpoint {
        model: Model {
            kind,
            graph: folded,
            params,
            buffers,
            quant: Some(std::sync::Arc::new(q)),
        },
        optimizer: None,
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

    /// An int8 model saved and loaded predicts exactly as before.
    #[test]
    fn a_quantized_model_round_trips() {
        use crate::quantize::{ActivationRange, WeightScheme};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.safetensors");
        for (kind, range) in [
            (ModelKind::Mobilenet, ActivationRange::MinMax),
            (ModelKind::Lenet, ActivationRange::Dynamic),
        ] {
            let model = Model::new(kind, 28, 28, 10, 2).unwrap().folded();
            let mut rng = crate::rng::SplitMix64::new(4);
            let x: Vec<f32> = (0..8 * 784).map(|_| rng.next_f32() * 2.0 - 1.0).collect();
            let q = model.quantized(WeightScheme::PerChannel, range, &x, 8);
            save_quantized(&path, &q, &[]).unwrap();
            let back = load(&path).unwrap().model;
            let run = |m: &Model| crate::model::Inference::default().infer(m, &x, 8).to_vec();
            assert_eq!(run(&back), run(&q), "{kind:?}");
        }
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
