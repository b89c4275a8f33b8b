//! One epoch of the seed's LightweightNet on the bundled MNIST (batch 64, Adam 1e-3), then
//! inference over the test set at batch 64, timed; prints one JSON line. Used by
//! `bench/train_lightweight`.
//!
//! `bench_lightweight THREADS [TRAIN_SAMPLES]`

use greenai_nn::data::{bundled_mnist_dir, shuffled, Dataset, Split};
use greenai_nn::lightweight::LightweightNet;
use greenai_nn::optim::Adam;
use greenai_nn::train::{evaluate, train_epoch};
use std::time::Instant;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let threads = args.first().copied().unwrap_or(2);
    let train = Dataset::load(&bundled_mnist_dir(), Split::Train).expect("bundled MNIST");
    let test = Dataset::load(&bundled_mnist_dir(), Split::Test).expect("bundled MNIST");
    let n = args.get(1).copied().unwrap_or(train.len()).min(train.len());
    let net = LightweightNet {
        rows: 28,
        cols: 28,
        classes: 10,
    };
    let mut p = net.init(0);
    let mut opt = Adam::new(&p, 1e-3);
    let order = &shuffled(train.len(), 0)[..n];
    let t = Instant::now();
    train_epoch(&net, &mut p, &mut opt, &train, order, 64, threads);
    let train_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let acc = evaluate(&net, &p, &test, 64, threads);
    let infer_s = t.elapsed().as_secs_f64();
    println!(
        "{{\"tool\":\"greenai\",\"threads\":{threads},\"train_samples_per_s\":{:.1},\"inference_samples_per_s\":{:.1},\"test_accuracy\":{acc:.4}}}",
        n as f64 / train_s,
        test.len() as f64 / infer_s
    );
}
