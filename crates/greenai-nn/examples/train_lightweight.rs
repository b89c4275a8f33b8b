//! Trains the seed's LightweightNet on the bundled MNIST (Adam, lr 1e-3, batch 64) with each
//! epoch and the test evaluation inside a meter window, and prints accuracy, throughput and energy.
//!
//! `cargo run --release -p greenai-nn --example train_lightweight -- [EPOCHS] [THREADS]`

use greenai_meter::detect;
use greenai_nn::data::{bundled_mnist_dir, shuffled, Dataset, Split};
use greenai_nn::lightweight::LightweightNet;
use greenai_nn::optim::Adam;
use greenai_nn::train::{evaluate, train_epoch};
use std::time::Duration;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let epochs = args.first().copied().unwrap_or(2);
    let threads = args.get(1).copied().unwrap_or(2);
    let train = Dataset::load(&bundled_mnist_dir(), Split::Train).expect("bundled MNIST");
    let test = Dataset::load(&bundled_mnist_dir(), Split::Test).expect("bundled MNIST");
    let net = LightweightNet {
        rows: 28,
        cols: 28,
        classes: 10,
    };
    let mut p = net.init(0);
    let mut opt = Adam::new(&p, 1e-3);
    let (builder, _) = detect::machine_builder();
    let meter = builder
        .interval(Duration::from_millis(100))
        .start()
        .expect("meter");
    println!(
        "LightweightNet: {} parameters, {} FLOPs per inference, {threads} threads",
        net.param_count(),
        net.flops()
    );
    for epoch in 0..epochs {
        let order = shuffled(train.len(), epoch as u64);
        meter.begin_window("epoch").unwrap();
        let s = train_epoch(&net, &mut p, &mut opt, &train, &order, 64, threads);
        let m = meter.end_window("epoch").unwrap();
        meter.begin_window("eval").unwrap();
        let acc = evaluate(&net, &p, &test, 500, threads);
        let e = meter.end_window("eval").unwrap();
        println!(
            "epoch {}: loss {:.4}, train acc {:.4}, test acc {:.4}; train {:.1} s, {:.0} samples/s, {:.1} ({}); \
             eval {:.0} inferences/s, {:.3} J per 1000 inferences",
            epoch + 1,
            s.mean_loss,
            s.train_accuracy,
            acc,
            m.duration.as_secs_f64(),
            s.samples as f64 / m.duration.as_secs_f64(),
            m.energy,
            m.provenance,
            test.len() as f64 / e.duration.as_secs_f64(),
            e.energy.joules() * 1000.0 / test.len() as f64,
        );
    }
}
