//! int8 kernels end to end: forced by name, reported, refused when the CPU lacks them, and a
//! quantizer that keeps a layer f32 where int8 would be slower.

mod util;

use util::*;

/// The int8 kernel is forced by name and reported; one this CPU lacks, or no kernel's name, is
/// refused in one line with exit 2. With the portable kernel (several times slower than f32 here)
/// the quantizer keeps every layer f32, and says so per layer, so the "int8" model is not slower.
#[test]
fn int8_kernels_are_forced_reported_and_never_slower() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("lenet.safetensors");
    let o = greenai()
        .args([
            "train",
            "--model",
            "lenet",
            "--epochs",
            "1",
            "--no-store",
            "--save",
        ])
        .arg(&ck)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let quantize = |kernel: &str, extra: &[&str]| {
        greenai()
            .env("GREENAI_INT8_KERNEL", kernel)
            .args(["quantize", "--no-store", "--json", "--calibration", "256"])
            .args(extra)
            .arg(&ck)
            .output()
            .unwrap()
    };
    let v = json_of(&quantize("portable", &[]));
    assert_eq!(v["kernel"], "portable", "{v}");
    let layers = v["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 5, "{v}");
    for l in layers {
        assert_eq!(l["int8"], false, "{l}");
        assert!(l["reason"].as_str().unwrap().starts_with("f32 kept"), "{l}");
    }
    // Every layer int8 when asked, whatever the speed.
    let v = json_of(&quantize("portable", &["--int8-layers", "all"]));
    assert!(v["layers"].as_array().unwrap().is_empty(), "not timed: {v}");
    assert!(
        v["after"]["size_bytes"].as_u64().unwrap() * 3
            < v["before"]["size_bytes"].as_u64().unwrap()
    );
    // The fastest kernel here is named, and a refused one says why.
    let best = greenai_nn::int8::Kernel::detect().name();
    let v = json_of(&quantize(best, &["--int8-layers", "all"]));
    assert_eq!(v["kernel"], best);
    for bad in ["sse9", "avx-vnni", "avx512-vnni"] {
        if greenai_nn::int8::Kernel::from_name(bad).is_ok() {
            continue; // this CPU has it
        }
        let o = quantize(bad, &[]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{bad}: {err}");
        assert!(
            err.contains("GREENAI_INT8_KERNEL") && err.trim().lines().count() == 1,
            "{err}"
        );
    }
}
