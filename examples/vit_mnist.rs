//! A small vision transformer on MNIST: each image is cut into 16 patches of 7×7 by a strided
//! convolution (the patch embedding, 64 features each), learned positions are added, two
//! pre-norm transformer encoder blocks of 4 heads relate the patches, and their normalized
//! mean is classified. Trained with Adam (Keras' defaults, the learning rate decaying along a
//! cosine over the epochs) in batches of 32 on one thread; prints each epoch, the time per
//! epoch, the test accuracy and the time of one `predict`. `python/bench/vit_keras.py` is the
//! same model in Keras.
//!
//! Run it with `cargo run --release --example vit_mnist` (pass the number of epochs as the
//! first argument, 10 by default).

use std::error::Error;
use std::time::Instant;

use netdsl::optim::Adam;
use netdsl::optim::schedule::CosineDecay;
use netdsl::prelude::*;

network! {
    /// 16 patches of 7×7, width 64, two pre-norm encoder blocks of 4 heads. (Post-norm blocks,
    /// keras_hub's default, reach 0.974 in 10 epochs without the decay; the last
    /// normalization is what a pre-norm stack needs, as in ViT.)
    pub struct VisionTransformer<(28, 28, 1)
        => Conv2d(64, 7, stride = 7)                  // 4×4 patches × 64
        => Reshape(16, 64)                            // 16 steps of 64
        => PositionEmbedding
        => TransformerEncoder(heads = 4, ff = 128, norm = pre)
        => TransformerEncoder(heads = 4, ff = 128, norm = pre)
        => LayerNormalization(epsilon = 1e-5)
        => GlobalAveragePooling1D
        => Dense(10, softmax)>;
}

fn main() -> Result<(), Box<dyn Error>> {
    let epochs = std::env::args().nth(1).map_or(Ok(10), |a| a.parse())?;
    let mut train = Dataset::mnist("data/mnist", MnistSplit::Train)?;
    let validation = train.split_off(55_000);
    let test = Dataset::mnist("data/mnist", MnistSplit::Test)?;

    let mut model = VisionTransformer::new(&mut StdRng::seed_from_u64(42));
    println!("{}", model.summary());
    // Keras: Adam(CosineDecay(1e-3, decay_steps=epochs * 1719)).
    let steps = (epochs * train.len().div_ceil(32)) as u64;
    let adam = Adam::default().with_schedule(CosineDecay::new(1e-3, steps, 0.0));
    let mut trainer = Trainer::<_, _, _, 32>::new(&model, adam, CategoricalCrossentropy);
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

    // One image at a time, as an application would ask: the best of 5 rounds of 1,000.
    let image = test.input(0);
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..1000 {
            std::hint::black_box(model.predict(std::hint::black_box(&image)));
        }
        best = best.min(start.elapsed().as_secs_f64() / 1000.0);
    }
    println!("predict: {:.1} µs per image", best * 1e6);
    Ok(())
}
