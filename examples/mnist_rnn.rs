//! MNIST read row by row by a recurrent layer: each image is a sequence of 28 steps of 28
//! pixels, a `SimpleRnn` of 64 tanh units reads it, and a softmax layer classifies its last
//! state (Keras' `SimpleRNN(64)` then `Dense(10, "softmax")`). Trained with Adam (Keras'
//! defaults) in batches of 32; prints each epoch, the time per epoch and the test accuracy.
//!
//! Run it with `cargo run --release --example mnist_rnn` (pass the number of epochs as the
//! first argument; 5 by default).

use std::error::Error;

use netdsl::optim::Adam;
use netdsl::prelude::*;

network! {
    /// A recurrent MNIST classifier: each image is 28 steps of 28 pixels.
    pub struct MnistRnn<(28, 28) => SimpleRNN(64) => Dense(10, softmax)>;
}

fn main() -> Result<(), Box<dyn Error>> {
    let epochs: usize = std::env::args().nth(1).map_or(Ok(5), |a| a.parse())?;
    let mut train = Dataset::mnist("data/mnist", MnistSplit::Train)?;
    let validation = train.split_off(55_000);
    let test = Dataset::mnist("data/mnist", MnistSplit::Test)?;

    let mut model = MnistRnn::new(&mut StdRng::seed_from_u64(42));
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
    println!(
        "test loss: {:.4} - test accuracy: {:.4}",
        result.loss, result.accuracy
    );
    Ok(())
}
