//! Trained in Keras, run in netdsl: the README's tutorial. python/netdsl_keras/examples/
//! train_mnist.py trained a small convolutional network on MNIST in Keras 3 and handed it to
//! `netdsl_keras`, which wrote its `network!` declaration (examples/keras_mnist/network.rs,
//! included below as written) and its weights under netdsl's names
//! (examples/keras_mnist/weights.safetensors). This program loads them, classifies the 10,000
//! test images and compares the accuracy with the one Keras measured, which the file's metadata
//! records.
//!
//! Run it from the repository root with `cargo run --release --example keras_mnist`; pass
//! another weights file of the same network as its argument to run that one instead (the one
//! python/netdsl_keras/examples/data_parallel.py trains on two JAX devices, say).

use std::error::Error;

use netdsl::prelude::*;

include!("keras_mnist/network.rs");

/// The weights train_mnist.py wrote, unless the first argument names others.
const WEIGHTS: &str = "examples/keras_mnist/weights.safetensors";

/// The index of the largest value.
fn argmax(values: &[f32]) -> usize {
    (0..values.len()).fold(0, |best, i| if values[i] > values[best] { i } else { best })
}

fn main() -> Result<(), Box<dyn Error>> {
    let test = Dataset::mnist("data/mnist", MnistSplit::Test)?;
    let weights = std::env::args().nth(1).unwrap_or_else(|| WEIGHTS.into());
    let mut model = KerasMnist::new(&mut StdRng::seed_from_u64(0));
    // model.load_weights("weights.safetensors"): every tensor checked against the declaration.
    model.load_weights(&weights)?;
    println!("{}", model.summary());

    let correct = (0..test.len())
        .filter(|&i| argmax(&model.predict(&test.input(i))) == argmax(&test.target(i)))
        .count();
    let accuracy = correct as f64 / test.len() as f64;

    let bytes = std::fs::read(&weights)?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)?;
    let keras = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get("keras_test_accuracy").cloned())
        .unwrap_or_else(|| "unknown".into());
    println!(
        "netdsl test accuracy: {accuracy:.4} ({correct} of {})",
        test.len()
    );
    println!("Keras test accuracy:  {keras}");
    Ok(())
}
