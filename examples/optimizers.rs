//! Every optimizer on the Keras tutorial network (784 → 64 relu → 10 softmax, batch 32, the
//! same seeded initial weights and batch order), with Keras' default hyper-parameters: test
//! accuracy after 5 and after 10 epochs, and time per epoch of 60,000 images.
//!
//! Run it with `cargo run --release --example optimizers`.

use std::error::Error;

use netdsl::optim::{Adagrad, Adam, AdamW, Optimizer, RmsProp};
use netdsl::prelude::*;

network! {
    /// The MNIST classifier from the Keras tutorial.
    pub struct Mnist<784 => Dense(64, relu) => Dense(10, softmax)>;
}

/// Test accuracy after 5 and 10 epochs, and seconds per epoch.
fn run(
    optimizer: impl Optimizer,
    train: &Dataset<784, 10>,
    test: &Dataset<784, 10>,
) -> Result<(f32, f32, f64), Box<dyn Error>> {
    let mut model = Mnist::new(&mut StdRng::seed_from_u64(42));
    let mut trainer = Trainer::<_, _, _, 32>::new(&model, optimizer, CategoricalCrossentropy);
    let first = trainer.fit(
        &mut model,
        train,
        Fit::epochs(5).seed(42).verbose(Verbose::Silent),
    )?;
    let after_5 = trainer
        .evaluate(&model, test)
        .accuracy
        .ok_or("no accuracy")?;
    let second = trainer.fit(
        &mut model,
        train,
        Fit::epochs(5).seed(43).verbose(Verbose::Silent),
    )?;
    let after_10 = trainer
        .evaluate(&model, test)
        .accuracy
        .ok_or("no accuracy")?;
    let seconds = first
        .epoch_seconds
        .iter()
        .chain(&second.epoch_seconds)
        .sum::<f64>()
        / 10.0;
    Ok((after_5, after_10, seconds))
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "data/mnist".into());
    let train = Dataset::mnist(&dir, MnistSplit::Train)?;
    let test = Dataset::mnist(&dir, MnistSplit::Test)?;

    println!("| optimizer (Keras defaults) | test accuracy, 5 epochs | 10 epochs | s per epoch |");
    println!("|---|---:|---:|---:|");
    let report = |name: &str, (after_5, after_10, seconds): (f32, f32, f64)| {
        println!("| {name} | {after_5:.4} | {after_10:.4} | {seconds:.3} |");
    };
    report("SGD(0.01)", run(Sgd::new(0.01), &train, &test)?);
    report(
        "SGD(0.01, momentum=0.9)",
        run(Sgd::new(0.01).momentum(0.9), &train, &test)?,
    );
    report("Adam(0.001)", run(Adam::default(), &train, &test)?);
    report(
        "AdamW(0.001, weight_decay=0.004)",
        run(AdamW::default(), &train, &test)?,
    );
    report("RMSprop(0.001)", run(RmsProp::default(), &train, &test)?);
    report("Adagrad(0.001)", run(Adagrad::default(), &train, &test)?);
    Ok(())
}
