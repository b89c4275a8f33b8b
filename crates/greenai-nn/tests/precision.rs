//! Mixed precision against f32: the same training (same initialisation, order and steps) in bf16
//! and f16 reaches the f32 accuracy within 0.3 points.

use greenai_nn::data::{bundled_mnist_dir, shuffled, Dataset, Split};
use greenai_nn::models::ModelKind;
use greenai_nn::optim::Optimizer;
use greenai_nn::precision::{LossScaler, Precision};
use greenai_nn::train::{Model, Runner};

fn accuracy(kind: ModelKind, precision: Precision, samples: usize) -> (f64, LossScaler) {
    let train = Dataset::load(&bundled_mnist_dir(), Split::Train).unwrap();
    let test = Dataset::load(&bundled_mnist_dir(), Split::Test).unwrap();
    let mut model = Model::new(kind, 28, 28, 10, 0).unwrap();
    let mut opt = Optimizer::adam(&model.params, 2e-3);
    let r = Runner {
        threads: 2,
        precision,
        ..Runner::default()
    };
    let mut scaler = LossScaler::new();
    let order = &shuffled(train.len(), 3)[..samples];
    r.train_epoch_scaled(
        &mut model,
        &mut opt,
        &train,
        order,
        &mut scaler,
        &mut |_| {},
    );
    (r.evaluate(&model.folded(), &test, None), scaler)
}

#[test]
fn bf16_and_f16_training_match_f32_accuracy() {
    for (kind, samples) in [
        (ModelKind::Lightweight, 60_000),
        (ModelKind::Mobilenet, 30_000),
    ] {
        let (f32_acc, _) = accuracy(kind, Precision::F32, samples);
        for p in [Precision::Bf16, Precision::F16] {
            let (acc, scaler) = accuracy(kind, p, samples);
            assert!(
                (acc - f32_acc).abs() <= 0.003,
                "{kind:?} {p:?}: {acc} against f32 {f32_acc}"
            );
            if p == Precision::F16 {
                // The scaler (from 2^16; its back-off and growth are unit-tested in
                // precision.rs) loses under 1 % of the steps to overflow and stays finite:
                // measured, these models never overflow at 2^16, so no back-off happens here.
                let steps = samples as u64 / 64;
                assert!(
                    scaler.skipped * 100 < steps,
                    "{kind:?}: {} of {steps} steps skipped",
                    scaler.skipped
                );
                assert!(scaler.scale >= 1.0 && scaler.scale.is_finite());
            }
        }
    }
}
