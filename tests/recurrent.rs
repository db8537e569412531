//! End to end on the real MNIST files: recurrent layers reading each image as 28 steps of 28
//! pixels, as examples/mnist_rnn.rs trains them, learn to classify digits.

use std::path::{Path, PathBuf};

use netdsl::optim::Adam;
use netdsl::prelude::*;

network! {
    /// Keras' `Input((28, 28))`, `SimpleRNN(64)`, then `Dense(10, "softmax")`.
    struct MnistRnn<(28, 28) => SimpleRNN(64) => Dense(10, softmax)>;

    /// The same with `LSTM(64)`.
    struct MnistLstm<(28, 28) => LSTM(64) => Dense(10, softmax)>;

    /// The same with `GRU(64)`.
    struct MnistGru<(28, 28) => GRU(64) => Dense(10, softmax)>;

    /// Two stacked LSTM layers, the first returning every step's state.
    struct MnistStacked<(28, 28) => LSTM(32, return_sequences = true) => LSTM(32) => Dense(10, softmax)>;
}

fn bundled() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist")
}

#[test]
fn a_simple_rnn_reads_mnist_rows_to_95_percent_test_accuracy_in_five_epochs() {
    let mut train = Dataset::mnist(bundled(), MnistSplit::Train).unwrap();
    let validation = train.split_off(55_000);
    let test = Dataset::mnist(bundled(), MnistSplit::Test).unwrap();

    let mut model = MnistRnn::new(&mut StdRng::seed_from_u64(42));
    assert_eq!(
        model.parameter_count(),
        28 * 64 + 64 * 64 + 64 + 64 * 10 + 10
    );
    let mut trainer = Trainer::<_, _, _, 32>::new(&model, Adam::default(), CategoricalCrossentropy);
    let options = Fit::epochs(5)
        .validation_data(&validation)
        .seed(42)
        .verbose(Verbose::Silent);
    let history = trainer.fit(&mut model, &train, options).unwrap();

    assert!(
        history.val_loss[4] < history.val_loss[0],
        "validation loss fell: {:?}",
        history.val_loss
    );
    // Seeded: 0.9566 on AVX-512 and AVX2+FMA alike.
    let result = trainer.evaluate(&model, &test);
    assert!(result.accuracy >= 0.95, "test accuracy {}", result.accuracy);
}

#[test]
fn an_lstm_reads_mnist_rows_to_96_percent_test_accuracy_in_two_epochs() {
    let mut train = Dataset::mnist(bundled(), MnistSplit::Train).unwrap();
    let validation = train.split_off(55_000);
    let test = Dataset::mnist(bundled(), MnistSplit::Test).unwrap();

    let mut model = MnistLstm::new(&mut StdRng::seed_from_u64(42));
    // Keras' count: four gates of kernel 28 × 64, recurrent kernel 64 × 64 and bias 64.
    assert_eq!(
        model.parameter_count(),
        4 * (28 * 64 + 64 * 64 + 64) + 64 * 10 + 10
    );
    let mut trainer = Trainer::<_, _, _, 32>::new(&model, Adam::default(), CategoricalCrossentropy);
    let options = Fit::epochs(2)
        .validation_data(&validation)
        .seed(42)
        .verbose(Verbose::Silent);
    trainer.fit(&mut model, &train, options).unwrap();
    // Seeded: 0.9657 on AVX-512.
    let result = trainer.evaluate(&model, &test);
    assert!(result.accuracy >= 0.96, "test accuracy {}", result.accuracy);
}

#[test]
fn stacked_lstms_read_mnist_rows_to_95_percent_test_accuracy_in_two_epochs() {
    let mut train = Dataset::mnist(bundled(), MnistSplit::Train).unwrap();
    let validation = train.split_off(55_000);
    let test = Dataset::mnist(bundled(), MnistSplit::Test).unwrap();

    let mut model = MnistStacked::new(&mut StdRng::seed_from_u64(42));
    assert_eq!(
        model.parameter_count(),
        4 * (28 * 32 + 32 * 32 + 32) + 4 * (32 * 32 + 32 * 32 + 32) + 32 * 10 + 10
    );
    assert!(model.summary().to_string().contains("(None, 28, 32)"));
    let mut trainer = Trainer::<_, _, _, 32>::new(&model, Adam::default(), CategoricalCrossentropy);
    let options = Fit::epochs(2)
        .validation_data(&validation)
        .seed(42)
        .verbose(Verbose::Silent);
    trainer.fit(&mut model, &train, options).unwrap();
    // Seeded: 0.9653 on AVX-512.
    let result = trainer.evaluate(&model, &test);
    assert!(
        result.accuracy >= 0.955,
        "test accuracy {}",
        result.accuracy
    );
}

#[test]
fn a_gru_reads_mnist_rows_to_96_percent_test_accuracy_in_two_epochs() {
    let mut train = Dataset::mnist(bundled(), MnistSplit::Train).unwrap();
    let validation = train.split_off(55_000);
    let test = Dataset::mnist(bundled(), MnistSplit::Test).unwrap();

    let mut model = MnistGru::new(&mut StdRng::seed_from_u64(42));
    // Keras' count (reset_after=True): three blocks of kernel 28 × 64 and recurrent kernel
    // 64 × 64, and two biases of 3 × 64.
    assert_eq!(
        model.parameter_count(),
        3 * (28 * 64 + 64 * 64) + 2 * 3 * 64 + 64 * 10 + 10
    );
    let mut trainer = Trainer::<_, _, _, 32>::new(&model, Adam::default(), CategoricalCrossentropy);
    let options = Fit::epochs(2)
        .validation_data(&validation)
        .seed(42)
        .verbose(Verbose::Silent);
    trainer.fit(&mut model, &train, options).unwrap();
    // Seeded: 0.9665 on AVX-512.
    let result = trainer.evaluate(&model, &test);
    assert!(result.accuracy >= 0.96, "test accuracy {}", result.accuracy);
}
