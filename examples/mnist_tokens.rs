//! MNIST as text: each image becomes 196 tokens, one per 2×2 patch, its mean brightness
//! quantized to 16 levels (a vocabulary of 16), read row after row. An `Embedding` gives each
//! level 8 learned features; one `Conv1D` reads neighbouring patches along a row, a second, with
//! a dilation of 14 (one row of patches), reads them down a column; a softmax layer classifies.
//! Trained with Adam (Keras' defaults) in batches of 32; prints each epoch, the time per epoch
//! and the test accuracy.
//!
//! Run it with `cargo run --release --example mnist_tokens` (pass the number of epochs as the
//! first argument, 5 by default).

use std::error::Error;

use netdsl::optim::Adam;
use netdsl::prelude::*;

/// Patches per side: 28 pixels in pairs.
const SIDE: usize = 14;

network! {
    /// 196 tokens of a vocabulary of 16, along rows then down columns.
    pub struct MnistTokens<196
        => Embedding(16, 8)                                                  // 196 steps × 8
        => Conv1D(32, 3, relu, padding = same)                               // along a row
        => Conv1D(32, 3, relu, padding = same, dilation_rate = 14)           // down a column
        => Flatten
        => Dense(10, softmax)>;
}

/// Each image of `pixels` as tokens: the mean of each 2×2 patch in 16 levels.
fn tokens(pixels: &Dataset<784, 10>) -> Result<Dataset<196, 10>, Box<dyn Error>> {
    let (mut inputs, mut classes) = (Vec::with_capacity(pixels.len()), Vec::new());
    for index in 0..pixels.len() {
        let image = pixels.input(index);
        let ids: [u32; SIDE * SIDE] = std::array::from_fn(|patch| {
            let (row, col) = (patch / SIDE * 2, patch % SIDE * 2);
            let at = |r: usize, c: usize| image[r * 28 + c];
            let mean =
                (at(row, col) + at(row, col + 1) + at(row + 1, col) + at(row + 1, col + 1)) / 4.0;
            ((mean * 16.0) as u32).min(15)
        });
        inputs.push(Tokens::<196, 16>::new(ids)?);
        let target = pixels.target(index);
        classes.push(target.iter().position(|&t| t == 1.0).unwrap_or(0) as u32);
    }
    Ok(Dataset::from_tokens(inputs, classes)?)
}

fn main() -> Result<(), Box<dyn Error>> {
    let epochs = std::env::args().nth(1).map_or(Ok(5), |a| a.parse())?;
    let mut train = tokens(&Dataset::mnist("data/mnist", MnistSplit::Train)?)?;
    let validation = train.split_off(55_000);
    let test = tokens(&Dataset::mnist("data/mnist", MnistSplit::Test)?)?;

    let mut model = MnistTokens::new(&mut StdRng::seed_from_u64(42));
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
