//! The native side of `.ci/wasm` and `.ci/firmware`: trains the tutorial network for one epoch
//! on MNIST (seeded), saves its weights and the first test images into a directory for the Node
//! script and the firmware's build, and prints the classes it predicts for them, which the wasm
//! module must print too. It also writes `predictions.txt`: per image, the class and the ten
//! probabilities as Rust's `Debug` prints them (every bit), as the firmware prints them.
//!
//! `cargo run --release --features native --bin reference -- <mnist dir> <output dir> [images]`

use std::error::Error;

use netdsl::prelude::*;
use wasm_predict::{Mnist, classify};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let mnist = args.next().unwrap_or_else(|| "data/mnist".into());
    let out = std::path::PathBuf::from(args.next().unwrap_or_else(|| "target/wasm-predict".into()));
    let count: usize = args.next().map_or(Ok(16), |n| n.parse())?;
    std::fs::create_dir_all(&out)?;

    let train = Dataset::mnist(&mnist, MnistSplit::Train)?;
    let test = Dataset::mnist(&mnist, MnistSplit::Test)?;
    let mut model = Mnist::new(&mut StdRng::seed_from_u64(42));
    let mut trainer = Trainer::<_, _, _, 32>::new(&model, Sgd::new(0.01), CategoricalCrossentropy);
    trainer.fit(
        &mut model,
        &train,
        Fit::epochs(1).seed(42).verbose(Verbose::Silent),
    )?;
    model.save_weights(out.join("mnist.safetensors"))?;

    let mut images = Vec::with_capacity(count * 784 * 4);
    let mut classes = Vec::with_capacity(count);
    let mut predictions = String::new();
    for index in 0..count {
        let image = test.input(index);
        images.extend(image.iter().flat_map(|p| p.to_le_bytes()));
        let class = classify(&model, &image);
        classes.push(class.to_string());
        let probabilities = model.predict(&image).map(|p| format!("{p:?}"));
        predictions.push_str(&format!("{class} {}\n", probabilities.join(" ")));
    }
    std::fs::write(out.join("images.f32"), images)?;
    std::fs::write(out.join("predictions.txt"), predictions)?;
    println!("{}", classes.join(" "));
    Ok(())
}
