//! The MNIST copy bundled in the repository.

use greenai_nn::data::{bundled_mnist_dir, shuffled, Dataset, Split, MNIST_MEAN, MNIST_STD};

#[test]
fn the_bundled_mnist_is_complete_and_canonical() {
    let train = Dataset::load(&bundled_mnist_dir(), Split::Train).unwrap();
    let test = Dataset::load(&bundled_mnist_dir(), Split::Test).unwrap();
    assert_eq!((train.len(), train.rows, train.cols), (60_000, 28, 28));
    assert_eq!((test.len(), test.rows, test.cols), (10_000, 28, 28));
    assert_eq!(train.classes(), 10);
    // MNIST's well-known first training labels, and its class counts.
    assert_eq!(&train.labels[..10], &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    let mut counts = [0usize; 10];
    for &l in &test.labels {
        counts[l as usize] += 1;
    }
    assert_eq!(
        counts,
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    // The normalisation constants describe this data: mean 0 and std 1 after normalising.
    let mut x = Vec::new();
    train.normalised_batch(
        &(0..train.len()).collect::<Vec<_>>(),
        MNIST_MEAN,
        MNIST_STD,
        &mut x,
    );
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / x.len() as f64;
    let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / x.len() as f64;
    assert!(mean.abs() < 1e-3, "{mean}");
    assert!((var.sqrt() - 1.0).abs() < 1e-3, "{}", var.sqrt());
    // Shuffling is fixed by its seed.
    assert_eq!(shuffled(train.len(), 1), shuffled(train.len(), 1));
    assert_ne!(shuffled(train.len(), 1), shuffled(train.len(), 2));
}
