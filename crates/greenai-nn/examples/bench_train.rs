//! One epoch of a model on the bundled MNIST (batch 64, Adam 1e-3), then inference over the test
//! set at batch 64 with BatchNorm folded, timed; prints one JSON line. Used by `bench/train_*`.
//!
//! `bench_train MODEL THREADS [TRAIN_SAMPLES]`

use greenai_nn::data::{bundled_mnist_dir, shuffled, Dataset, Split};
use greenai_nn::models::ModelKind;
use greenai_nn::optim::Optimizer;
use greenai_nn::train::{Model, Runner};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let kind = ModelKind::from_name(args.first().map_or("lightweight", String::as_str))
        .unwrap_or_else(|e| panic!("{e}"));
    let threads = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2);
    let train = Dataset::load(&bundled_mnist_dir(), Split::Train).expect("bundled MNIST");
    let test = Dataset::load(&bundled_mnist_dir(), Split::Test).expect("bundled MNIST");
    let n = args
        .get(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(train.len())
        .min(train.len());
    let mut model = Model::new(kind, 28, 28, 10, 0).expect("model");
    let mut opt = Optimizer::adam(&model.params, 1e-3);
    let order = &shuffled(train.len(), 0)[..n];
    let r = Runner {
        threads,
        ..Runner::default()
    };
    let t = Instant::now();
    r.train_epoch(&mut model, &mut opt, &train, order, &mut |_| {});
    let train_s = t.elapsed().as_secs_f64();
    let folded = model.folded();
    let t = Instant::now();
    let acc = r.evaluate(&folded, &test, None);
    let infer_s = t.elapsed().as_secs_f64();
    println!(
        "{{\"tool\":\"greenai\",\"model\":\"{}\",\"threads\":{threads},\"train_samples_per_s\":{:.1},\"inference_samples_per_s\":{:.1},\"test_accuracy\":{acc:.4}}}",
        kind.name(),
        n as f64 / train_s,
        test.len() as f64 / infer_s
    );
}
