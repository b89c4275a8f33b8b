//! Arbitrary bytes into every parser the engine exposes to files: IDX (raw and gzip), f32 and
//! int8 safetensors checkpoints. No input may panic or allocate without bound; each is read or
//! refused. `GREENAI_FUZZ_CASES` sets the cases per property (CI: the default 64; the long mode
//! in the notes ran far more).

use greenai_nn::checkpoint;
use greenai_nn::data::idx;
use greenai_nn::model::Inference;
use greenai_nn::models::ModelKind;
use greenai_nn::quantize::{ActivationRange, WeightScheme};
use greenai_nn::train::Model;
use proptest::prelude::*;
use std::io::Write;
use std::sync::OnceLock;

fn cases() -> u32 {
    std::env::var("GREENAI_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

/// A small model's f32 and int8 checkpoints, as bytes, to mutate.
fn valid_checkpoints() -> &'static (Vec<u8>, Vec<u8>) {
    static C: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    C.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let m = Model::new(ModelKind::Lenet, 28, 28, 10, 1).unwrap();
        let f32_path = dir.path().join("m.safetensors");
        checkpoint::save(&f32_path, &m, None, &[]).unwrap();
        let x = vec![0.25f32; 4 * 784];
        let q = m.quantized(WeightScheme::PerChannel, ActivationRange::MinMax, &x, 4);
        let int8_path = dir.path().join("q.safetensors");
        checkpoint::save_quantized(&int8_path, &q, &[]).unwrap();
        (
            std::fs::read(&f32_path).unwrap(),
            std::fs::read(&int8_path).unwrap(),
        )
    })
}

/// Loads `bytes` as a checkpoint; one that loads must also run (the checks on load are what
/// stand between a file and the kernels).
fn load_bytes(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.safetensors");
    std::fs::write(&p, bytes).unwrap();
    if let Ok(ck) = checkpoint::load(&p) {
        let s = ck.model.graph.input_shape();
        if s.len() <= 4096 {
            let x = vec![0.5f32; 2 * s.len()];
            let _ = Inference::default().infer(&ck.model.folded(), &x, 2);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn idx_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512), gz in any::<bool>()) {
        let _ = idx::parse("fuzz", &bytes);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f-idx1-ubyte");
        let body = if gz {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&bytes).unwrap();
            e.finish().unwrap()
        } else {
            bytes.clone()
        };
        std::fs::write(&p, &body).unwrap();
        let _ = idx::read(&p);
        // Arbitrary bytes behind a gzip magic number: a damaged stream, refused.
        let mut fake = vec![0x1f, 0x8b];
        fake.extend_from_slice(&bytes);
        std::fs::write(&p, &fake).unwrap();
        let _ = idx::read(&p);
    }

    #[test]
    fn checkpoints_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        load_bytes(&bytes);
    }

    #[test]
    fn mutated_checkpoints_never_panic(
        int8 in any::<bool>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
        data_only in any::<bool>(),
    ) {
        let (f, q) = valid_checkpoints();
        let mut bytes = if int8 { q.clone() } else { f.clone() };
        // Half the time the tensors' bytes only (the header stays valid JSON): values no
        // model should hold, which loading must refuse or running must survive.
        let header = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let from = if data_only { header } else { 0 };
        for (at, v) in flips {
            let i = from + at.index(bytes.len() - from);
            bytes[i] = v;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        load_bytes(&bytes);
    }
}
