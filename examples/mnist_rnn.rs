//! MNIST read row by row by recurrent layers: each image is a sequence of 28 steps of 28
//! pixels, read by Keras' `SimpleRNN(64)`, then in other networks by `LSTM(64)`, by `GRU(64)`,
//! by two stacked `LSTM(32)` (the first returning every step's state) and by
//! `Bidirectional(LSTM(32))`, each followed by a softmax layer. Trained with Adam (Keras' defaults) in batches of 32; prints each epoch, the
//! time per epoch and the test accuracy.
//!
//! Run it with `cargo run --release --example mnist_rnn` (pass the number of epochs of each as
//! the first five arguments, 0 to skip one; 5, 2, 2, 2 and 2 by default).

use std::error::Error;

use netdsl::optim::Adam;
use netdsl::prelude::*;

network! {
    /// A recurrent MNIST classifier: each image is 28 steps of 28 pixels.
    pub struct MnistRnn<(28, 28) => SimpleRNN(64) => Dense(10, softmax)>;

    /// The same with long short-term memory.
    pub struct MnistLstm<(28, 28) => LSTM(64) => Dense(10, softmax)>;

    /// The same with gated recurrent units.
    pub struct MnistGru<(28, 28) => GRU(64) => Dense(10, softmax)>;

    /// Two LSTM layers, the first handing every step's state to the second.
    pub struct MnistStacked<(28, 28)
        => LSTM(32, return_sequences = true)
        => LSTM(32)
        => Dense(10, softmax)>;

    /// The rows read downwards and upwards by two LSTMs, their last states side by side.
    pub struct MnistBidirectional<(28, 28) => Bidirectional(LSTM(32)) => Dense(10, softmax)>;
}

/// Trains `model` for `epochs` on the first 55,000 training images, validating on the rest,
/// and prints its summary, its speed and its test accuracy.
fn train<N>(mut model: N, epochs: usize) -> Result<(), Box<dyn Error>>
where
    N: Network<In = [f32; 784], Out = [f32; 10]> + Send + Sync,
    N::Tape<32>: Send,
    N::Grads: Send,
    CategoricalCrossentropy: Loss<N::Activation>,
{
    if epochs == 0 {
        return Ok(());
    }
    let mut train = Dataset::mnist("data/mnist", MnistSplit::Train)?;
    let validation = train.split_off(55_000);
    let test = Dataset::mnist("data/mnist", MnistSplit::Test)?;
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
        "test loss: {:.4} - test accuracy: {accuracy:.4}\n",
        result.loss
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let epochs = |n: usize, default: usize| {
        std::env::args()
            .nth(n)
            .map_or(Ok(default), |a| a.parse::<usize>())
    };
    let [simple, lstm, gru, stacked, both] =
        [(1, 5), (2, 2), (3, 2), (4, 2), (5, 2)].map(|(n, d)| epochs(n, d));
    train(MnistRnn::new(&mut StdRng::seed_from_u64(42)), simple?)?;
    train(MnistLstm::new(&mut StdRng::seed_from_u64(42)), lstm?)?;
    train(MnistGru::new(&mut StdRng::seed_from_u64(42)), gru?)?;
    train(MnistStacked::new(&mut StdRng::seed_from_u64(42)), stacked?)?;
    train(
        MnistBidirectional::new(&mut StdRng::seed_from_u64(42)),
        both?,
    )?;
    Ok(())
}
