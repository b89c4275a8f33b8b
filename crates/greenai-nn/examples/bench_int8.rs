//! f32 against int8 inference of a checkpoint on the bundled MNIST test set, alternating, 5
//! rounds each, one batch of 64 at a time with every thread on it (as PyTorch's side runs it on
//! its intra-op threads), the raw bytes normalised inside the timer on both sides; prints one
//! JSON line with the medians. `bench_int8 CHECKPOINT [THREADS] [MODE]`
//! (MODE: per-tensor, per-channel, dynamic; `PROFILE=int8` runs only the int8 side, for perf).

use greenai_nn::checkpoint;
use greenai_nn::data::{bundled_mnist_dir, Dataset, Split, MNIST_MEAN, MNIST_STD};
use greenai_nn::quantize::{ActivationRange, WeightScheme};
use greenai_nn::train::Runner;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ck = checkpoint::load(std::path::Path::new(&args[0])).expect("checkpoint");
    let threads = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2);
    let mode = args.get(2).map_or("dynamic", String::as_str);
    let test = Dataset::load(&bundled_mnist_dir(), Split::Test).expect("bundled MNIST");
    let train = Dataset::load(&bundled_mnist_dir(), Split::Train).expect("bundled MNIST");
    let mut calib = Vec::new();
    train.normalised_batch(
        &(0..1000).collect::<Vec<_>>(),
        MNIST_MEAN,
        MNIST_STD,
        &mut calib,
    );
    let (scheme, range) = match mode {
        "per-tensor" => (WeightScheme::PerTensor, ActivationRange::MinMax),
        "per-channel" => (WeightScheme::PerChannel, ActivationRange::MinMax),
        _ => (WeightScheme::PerChannel, ActivationRange::Dynamic),
    };
    let kernel = greenai_nn::int8::Kernel::selected().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let f32m = ck.model.folded();
    let i8m = ck.model.quantized(scheme, range, &calib, 1000);
    let r = Runner {
        threads,
        ..Runner::default()
    };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let (mut acc32, mut acc8) = (0.0, 0.0);
    // PROFILE=int8 runs only the int8 side, 20 times (for `perf record`).
    let profile = std::env::var("PROFILE").is_ok_and(|v| v == "int8");
    for _ in 0..if profile { 20 } else { 5 } {
        let t = Instant::now();
        if !profile {
            acc32 = r.evaluate_one_batch_at_a_time(&f32m, &test);
        }
        a.push(test.len() as f64 / t.elapsed().as_secs_f64());
        let t = Instant::now();
        acc8 = r.evaluate_one_batch_at_a_time(&i8m, &test);
        b.push(test.len() as f64 / t.elapsed().as_secs_f64());
    }
    let (f, q) = (median(a), median(b));
    println!(
        "{{\"tool\":\"greenai\",\"model\":\"{}\",\"mode\":\"{mode}\",\"kernel\":\"{}\",\"threads\":{threads},\"f32_inference_samples_per_s\":{f:.0},\"int8_inference_samples_per_s\":{q:.0},\"int8_over_f32\":{:.3},\"f32_accuracy\":{acc32:.4},\"int8_accuracy\":{acc8:.4}}}",
        ck.model.kind.name(),
        kernel.name(),
        q / f
    );
}
