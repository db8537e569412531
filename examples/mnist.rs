//! The Keras MNIST tutorial, typed: 784 inputs, a 64-unit relu layer, a 10-way softmax, SGD at
//! learning rate 0.01, categorical cross-entropy and accuracy, 10 epochs of batches of 32 on
//! the first 50,000 training images with the last 10,000 as validation data, then the test set.
//!
//! It ends with the test set's confusion matrix, writes the learning curves (loss and
//! accuracy, training and validation) to `target/mnist-history.svg`, and saves the weights to
//! `target/mnist.safetensors`, loading them back into a new model.
//!
//! Run it from the repository root with `cargo run --release --example mnist`; pass another
//! directory holding the four MNIST files as the first argument to read them from there.

use std::error::Error;
use std::time::Instant;

use netdsl::metrics::ConfusionMatrix;
use netdsl::prelude::*;

network! {
    /// The MNIST classifier from the Keras tutorial.
    pub struct Mnist<784 => Dense(64, relu) => Dense(10, softmax)>;
}

const BATCH: usize = 32;
const PLOT: &str = "target/mnist-history.svg";
/// Where the trained weights go.
const WEIGHTS: &str = "target/mnist.safetensors";

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "data/mnist".into());
    let mut train = Dataset::mnist(&dir, MnistSplit::Train)?;
    let validation = train.split_off(50_000);
    let test = Dataset::mnist(&dir, MnistSplit::Test)?;

    let mut rng = StdRng::seed_from_u64(42);
    let mut model = Mnist::new(&mut rng);
    println!("{}", model.summary());

    // model.compile(optimizer=SGD(0.01), loss="categorical_crossentropy", metrics=["accuracy"])
    let mut trainer =
        Trainer::<_, _, _, BATCH>::new(&model, Sgd::new(0.01), CategoricalCrossentropy);

    // model.fit(x, y, epochs=10, batch_size=32, validation_data=(x_val, y_val))
    let start = Instant::now();
    let history = trainer.fit(
        &mut model,
        &train,
        Fit::epochs(10).validation_data(&validation).seed(42),
    )?;
    let seconds = start.elapsed().as_secs_f64();

    let epoch_seconds: f64 = history.epoch_seconds.iter().sum::<f64>() / history.epochs() as f64;
    println!(
        "training: {:.3} s per epoch of {} images, {:.0} samples/s ({seconds:.1} s in all with validation)",
        epoch_seconds,
        train.len(),
        train.len() as f64 / epoch_seconds
    );

    // model.evaluate(x_test, y_test)
    let result = trainer.evaluate(&model, &test);
    let accuracy = result
        .accuracy
        .expect("a classifier's loss reports accuracy");
    println!(
        "test loss: {:.4} - test accuracy: {accuracy:.4}",
        result.loss
    );

    println!("confusion matrix of the test set (rows: true digit, columns: predicted):");
    print!("{}", ConfusionMatrix::of(&model, &test));

    // Learning curves, as Keras users draw them from `history.history`.
    history.plot_svg(PLOT)?;
    println!("learning curves written to {PLOT}");

    let digit = model.predict(&test.input(0));
    println!(
        "first test image: predicted {}, labelled {}",
        netdsl::metrics::argmax(&digit),
        netdsl::metrics::argmax(&test.target(0))
    );

    // model.save_weights(...), then load_weights into a fresh model: the same predictions.
    model.save_weights(WEIGHTS)?;
    let mut restored = Mnist::new(&mut StdRng::seed_from_u64(7));
    restored.load_weights(WEIGHTS)?;
    let restored_accuracy = trainer.evaluate(&restored, &test).accuracy;
    println!(
        "weights saved to {WEIGHTS} and loaded into a new model: test accuracy {:.4}",
        restored_accuracy.expect("a classifier's loss reports accuracy")
    );
    Ok(())
}
