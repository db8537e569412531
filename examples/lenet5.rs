//! LeNet-5 on MNIST: two convolutions with max pooling, then three dense layers, every shape
//! worked out by `network!` at compile time (`summary()` prints them). Trained with Adam
//! (Keras' defaults) in batches of 32; prints each epoch, the time per epoch, samples per
//! second and the test accuracy.
//!
//! Run it with `cargo run --release --example lenet5` (pass the number of epochs as the first
//! argument; 3 by default).

use std::error::Error;

use netdsl::optim::Adam;
use netdsl::prelude::*;

network! {
    /// LeNet-5, as in the Keras examples, on 28×28 grey images (channels last).
    pub struct LeNet5<(28, 28, 1)
        => Conv2d(6, 5, relu, padding = same) => MaxPool2d(2)
        => Conv2d(16, 5, relu) => MaxPool2d(2)
        => Flatten => Dense(120, relu) => Dense(84, relu) => Dense(10, softmax)>;
}

fn main() -> Result<(), Box<dyn Error>> {
    let epochs: usize = std::env::args().nth(1).map_or(Ok(3), |a| a.parse())?;
    let mut train = Dataset::mnist("data/mnist", MnistSplit::Train)?;
    let validation = train.split_off(55_000);
    let test = Dataset::mnist("data/mnist", MnistSplit::Test)?;

    let mut model = LeNet5::new(&mut StdRng::seed_from_u64(42));
    println!("{}", model.summary());

    let mut trainer = Trainer::<_, _, _, 32>::new(&model, Adam::default(), CategoricalCrossentropy);
    let history = trainer.fit(
        &mut model,
        &train,
        Fit::epochs(epochs).validation_data(&validation).seed(42),
    )?;
    let seconds = history.epoch_seconds.iter().sum::<f64>() / history.epochs() as f64;
    println!(
        "training: {seconds:.2} s per epoch of {} images, {:.0} samples/s",
        train.len(),
        train.len() as f64 / seconds
    );
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
