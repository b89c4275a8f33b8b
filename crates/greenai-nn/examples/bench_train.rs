//! One epoch of a model on the bundled MNIST (batch 64, Adam 1e-3), then inference over the test
//! set with BatchNorm folded (PyTorch's side folds it too), timed two ways; prints one JSON line.
//! Used by `bench/train_models`.
//!
//! The two inference modes, measured the same way on PyTorch's side:
//! - `one_batch`: one batch of 64 at a time, every thread working on it (here the batch is split
//!   across the threads and joined before the next; PyTorch runs it on its intra-op threads);
//! - `batch_per_thread`: each thread takes its own batches of 64 from its share of the test set
//!   (PyTorch: one single-threaded process per share).
//!
//! Both sides normalise the raw bytes inside their timers, for training and inference alike.
//!
//! `bench_train MODEL THREADS [TRAIN_SAMPLES]`

use greenai_nn::data::{bundled_mnist_dir, shuffled, Dataset, Split};
use greenai_nn::models::ModelKind;
use greenai_nn::optim::Optimizer;
use greenai_nn::train::{Model, Runner};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let kind = match ModelKind::from_name(args.first().map_or("lightweight", String::as_str)) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("bench_train: {e}");
            std::process::exit(2);
        }
    };
    let threads: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2).max(1);
    let (train, test) = match (
        Dataset::load(&bundled_mnist_dir(), Split::Train),
        Dataset::load(&bundled_mnist_dir(), Split::Test),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("bench_train: bundled MNIST: {e}");
            std::process::exit(2);
        }
    };
    let n = args
        .get(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(train.len())
        .min(train.len());
    let mut model = Model::new(kind, 28, 28, 10, 0).expect("a built-in model");
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

    // A batch per thread: the runner gives each thread its share and batches of 64 within it.
    let t = Instant::now();
    let acc = r.evaluate(&folded, &test, None);
    let per_thread_s = t.elapsed().as_secs_f64();

    // One batch at a time: each batch of 64 split across the threads, joined before the next.
    let t = Instant::now();
    let acc_one = r.evaluate_one_batch_at_a_time(&folded, &test);
    let one_batch_s = t.elapsed().as_secs_f64();
    assert!(
        (acc - acc_one).abs() < 1e-9,
        "the two modes disagree: {acc} against {acc_one}"
    );
    println!(
        "{{\"tool\":\"greenai\",\"model\":\"{}\",\"threads\":{threads},\"train_samples_per_s\":{:.1},\"one_batch_samples_per_s\":{:.1},\"batch_per_thread_samples_per_s\":{:.1},\"test_accuracy\":{acc:.4}}}",
        kind.name(),
        n as f64 / train_s,
        test.len() as f64 / one_batch_s,
        test.len() as f64 / per_thread_s,
    );
}
