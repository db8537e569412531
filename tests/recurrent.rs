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

/// Trains `model` for `epochs` with Adam (Keras' defaults) at batch 32 on the first 55,000
/// training images, validating on the rest; returns the validation losses and the test
/// accuracy.
fn train<N>(mut model: N, epochs: usize) -> (Vec<f32>, f32)
where
    N: Network<In = [f32; 784], Out = [f32; 10]> + Send + Sync,
    N::Tape<32>: Send,
    N::Grads: Send,
    CategoricalCrossentropy: Loss<N::Activation>,
{
    let mut train = Dataset::mnist(bundled(), MnistSplit::Train).unwrap();
    let validation = train.split_off(55_000);
    let test = Dataset::mnist(bundled(), MnistSplit::Test).unwrap();
    let mut trainer = Trainer::<_, _, _, 32>::new(&model, Adam::default(), CategoricalCrossentropy);
    let options = Fit::epochs(epochs)
        .validation_data(&validation)
        .seed(42)
        .verbose(Verbose::Silent);
    let history = trainer.fit(&mut model, &train, options).unwrap();
    let accuracy = trainer.evaluate(&model, &test).accuracy;
    (
        history.val_loss,
        accuracy.expect("a classifier's loss reports accuracy"),
    )
}

// Training on all of MNIST takes seconds optimised but minutes in a debug build, so
// `cargo test --workspace` lists such tests as ignored, with the reason, and runs the rest;
// the `--release` run (the README's, and CI's) runs them (why so: see .ci/run).
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "trains on all of MNIST, over 5 min unoptimised: run with --release"
)]
fn a_simple_rnn_reads_mnist_rows_to_95_percent_test_accuracy_in_five_epochs() {
    let model = MnistRnn::new(&mut StdRng::seed_from_u64(42));
    assert_eq!(
        model.parameter_count(),
        28 * 64 + 64 * 64 + 64 + 64 * 10 + 10
    );
    let (val_loss, accuracy) = train(model, 5);
    assert!(
        val_loss[4] < val_loss[0],
        "validation loss fell: {val_loss:?}"
    );
    // Seeded: 0.9566 on AVX-512 and AVX2+FMA alike.
    assert!(accuracy >= 0.95, "test accuracy {accuracy}");
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "trains on all of MNIST, over 5 min unoptimised: run with --release"
)]
fn an_lstm_reads_mnist_rows_to_96_percent_test_accuracy_in_two_epochs() {
    let model = MnistLstm::new(&mut StdRng::seed_from_u64(42));
    // Keras' count: four gates of kernel 28 × 64, recurrent kernel 64 × 64 and bias 64.
    assert_eq!(
        model.parameter_count(),
        4 * (28 * 64 + 64 * 64 + 64) + 64 * 10 + 10
    );
    // Seeded: 0.9657 on AVX-512.
    let (_, accuracy) = train(model, 2);
    assert!(accuracy >= 0.96, "test accuracy {accuracy}");
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "trains on all of MNIST, over 5 min unoptimised: run with --release"
)]
fn stacked_lstms_read_mnist_rows_to_95_percent_test_accuracy_in_two_epochs() {
    let model = MnistStacked::new(&mut StdRng::seed_from_u64(42));
    assert_eq!(
        model.parameter_count(),
        4 * (28 * 32 + 32 * 32 + 32) + 4 * (32 * 32 + 32 * 32 + 32) + 32 * 10 + 10
    );
    assert!(model.summary().to_string().contains("(None, 28, 32)"));
    // Seeded: 0.9653 on AVX-512.
    let (_, accuracy) = train(model, 2);
    assert!(accuracy >= 0.955, "test accuracy {accuracy}");
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "trains on all of MNIST, over 5 min unoptimised: run with --release"
)]
fn a_gru_reads_mnist_rows_to_96_percent_test_accuracy_in_two_epochs() {
    let model = MnistGru::new(&mut StdRng::seed_from_u64(42));
    // Keras' count (reset_after=True): three blocks of kernel 28 × 64 and recurrent kernel
    // 64 × 64, and two biases of 3 × 64.
    assert_eq!(
        model.parameter_count(),
        3 * (28 * 64 + 64 * 64) + 2 * 3 * 64 + 64 * 10 + 10
    );
    // Seeded: 0.9665 on AVX-512.
    let (_, accuracy) = train(model, 2);
    assert!(accuracy >= 0.96, "test accuracy {accuracy}");
}
