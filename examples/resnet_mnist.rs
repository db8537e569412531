//! A small residual network with batch normalization on MNIST: convolutions normalized before
//! their relu, two residual blocks (`f(x + g(x))`, as in a ResNet) and max pooling, every shape
//! worked out by `network!` at compile time. Batch normalization normalizes each channel over
//! the batch while training, and by the moving statistics `fit` moves after each step when
//! evaluating; `summary()` counts those among the non-trainable parameters, as Keras does.
//! Trained with Adam (Keras' defaults, the learning rate decaying along a cosine over the
//! epochs) in batches of 32 on the 60,000 training images, on one thread; prints the test
//! accuracy after each epoch and the time per epoch.
//!
//! Run it with `cargo run --release --example resnet_mnist` (pass the number of epochs as the
//! first argument; 5 by default).

use std::error::Error;

use netdsl::optim::Adam;
use netdsl::optim::schedule::CosineDecay;
use netdsl::prelude::*;

network! {
    /// Two stages of a convolution and a residual block of two, each convolution normalized
    /// before its relu (the block's second one before the sum), with max pooling after each.
    pub struct ResNet<(28, 28, 1)
        => Conv2d(32, 3, linear, padding = same) => BatchNormalization(relu)
        => Residual(
            Conv2d(32, 3, linear, padding = same) => BatchNormalization(relu)
            => Conv2d(32, 3, linear, padding = same) => BatchNormalization,
            relu)
        => MaxPool2d(2)                                                   // 14×14×32
        => Conv2d(64, 3, linear, padding = same) => BatchNormalization(relu)
        => Residual(
            Conv2d(64, 3, linear, padding = same) => BatchNormalization(relu)
            => Conv2d(64, 3, linear, padding = same) => BatchNormalization,
            relu)
        => MaxPool2d(2)                                                   // 7×7×64
        => Flatten => Dense(10, softmax)>;
}

fn main() -> Result<(), Box<dyn Error>> {
    let epochs: usize = std::env::args().nth(1).map_or(Ok(5), |a| a.parse())?;
    let train = Dataset::mnist("data/mnist", MnistSplit::Train)?;
    let test = Dataset::mnist("data/mnist", MnistSplit::Test)?;

    let mut model = ResNet::new(&mut StdRng::seed_from_u64(42));
    println!("{}", model.summary());

    // Keras: Adam(CosineDecay(1e-3, decay_steps=epochs * 1875)): without the decay, the test
    // accuracy of the last epochs swings by half a percent from one epoch to the next.
    let steps = (epochs * train.len().div_ceil(32)) as u64;
    let adam = Adam::default().with_schedule(CosineDecay::new(1e-3, steps, 0.0));
    let mut trainer = Trainer::<_, _, _, 32>::new(&model, adam, CategoricalCrossentropy);
    // Keras: model.fit(x_train, y_train, batch_size=32, epochs=5, validation_data=(x_test, y_test))
    let history = trainer.fit(
        &mut model,
        &train,
        Fit::epochs(epochs).validation_data(&test).seed(42),
    )?;
    for (epoch, (accuracy, seconds)) in history
        .val_accuracy
        .iter()
        .zip(&history.epoch_seconds)
        .enumerate()
    {
        println!(
            "epoch {}: test accuracy {accuracy:.4}, {seconds:.1} s ({:.0} samples/s)",
            epoch + 1,
            train.len() as f64 / seconds
        );
    }
    let result = trainer.evaluate(&model, &test);
    let accuracy = result
        .accuracy
        .expect("a classifier's loss reports accuracy");
    println!(
        "test loss: {:.4} - test accuracy: {accuracy:.4}",
        result.loss
    );
    Ok(())
}
