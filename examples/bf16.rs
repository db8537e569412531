//! bf16 mixed precision (`Precision::Bf16`): the same networks trained from the same weights
//! and seed in f32 and in bf16, printing each one's test accuracy and mean epoch time. The
//! tutorial network (SGD 0.01, batch 32), LeNet-5 as in `examples/lenet5.rs` and the LSTM of
//! `examples/mnist_rnn.rs` (both Adam, batch 32), on all 60,000 training images.
//!
//! Run it with `cargo run --release --example bf16` (pass the epochs of the tutorial network,
//! of LeNet-5 and of the LSTM as arguments: `10 3 3` by default). `NETDSL_ISA=amx` or
//! `avx512bf16` chooses the bf16 path; on a CPU with neither, bf16 runs f32 products.

use std::error::Error;

use netdsl::data::Sample;
use netdsl::kernels::Bf16Path;
use netdsl::prelude::*;

network! {
    /// The Keras tutorial's MNIST classifier.
    pub struct Mnist<784 => Dense(64, relu) => Dense(10, softmax)>;

    /// LeNet-5, as in examples/lenet5.rs.
    pub struct LeNet5<(28, 28, 1)
        => Conv2d(6, 5, relu, padding = same) => MaxPool2d(2)
        => Conv2d(16, 5, relu) => MaxPool2d(2)
        => Flatten => Dense(120, relu) => Dense(84, relu) => Dense(10, softmax)>;

    /// MNIST rows through an LSTM, as in examples/mnist_rnn.rs.
    pub struct MnistLstm<(28, 28) => LSTM(64) => Dense(10, softmax)>;
}

/// Trains a fresh `N` (seed 42) for `epochs` in `precision`; returns the test accuracy and
/// the mean epoch seconds.
fn run<N, O>(
    new: impl Fn() -> N,
    optimizer: impl Fn() -> O,
    precision: Precision,
    epochs: usize,
    train: &Dataset<784, 10>,
    test: &Dataset<784, 10>,
) -> Result<(f32, f64), Box<dyn Error>>
where
    N: Network<In: Sample<784>, Out = [f32; 10]> + Sync,
    N::Tape<32>: Send,
    N::Grads: Send,
    O: Optimizer,
    CategoricalCrossentropy: Loss<N::Activation>,
{
    let mut model = new();
    let mut trainer = Trainer::<_, _, _, 32>::new(&model, optimizer(), CategoricalCrossentropy);
    let options = Fit::epochs(epochs)
        .seed(42)
        .verbose(Verbose::Silent)
        .precision(precision);
    let history = trainer.fit(&mut model, train, options)?;
    let seconds = history.epoch_seconds.iter().sum::<f64>() / history.epochs() as f64;
    let accuracy = trainer.evaluate(&model, test).accuracy.unwrap_or(f32::NAN);
    Ok((accuracy, seconds))
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let mlp_epochs = args.next().unwrap_or(Ok(10))?;
    let lenet_epochs = args.next().unwrap_or(Ok(3))?;
    let lstm_epochs = args.next().unwrap_or(Ok(3))?;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist");
    let train = Dataset::mnist(dir, MnistSplit::Train)?;
    let test = Dataset::mnist(dir, MnistSplit::Test)?;
    let path = Bf16Path::selected().map_or("none: f32 products", Bf16Path::name);
    println!("bf16 path: {path}");
    println!("| network | epochs | f32 accuracy | bf16 accuracy | f32 epoch | bf16 epoch |");
    println!("|---|---:|---:|---:|---:|---:|");
    let table = |name: &str, epochs: usize, f32: (f32, f64), bf16: (f32, f64)| {
        println!(
            "| {name} | {epochs} | {:.2} % | {:.2} % | {:.3} s | {:.3} s |",
            100.0 * f32.0,
            100.0 * bf16.0,
            f32.1,
            bf16.1
        );
    };
    let mlp = |precision| {
        let new = || Mnist::new(&mut StdRng::seed_from_u64(42));
        run(new, || Sgd::new(0.01), precision, mlp_epochs, &train, &test)
    };
    table(
        "tutorial MLP, SGD",
        mlp_epochs,
        mlp(Precision::F32)?,
        mlp(Precision::Bf16)?,
    );
    let lenet = |precision| {
        let new = || LeNet5::new(&mut StdRng::seed_from_u64(42));
        run(new, Adam::default, precision, lenet_epochs, &train, &test)
    };
    table(
        "LeNet-5, Adam",
        lenet_epochs,
        lenet(Precision::F32)?,
        lenet(Precision::Bf16)?,
    );
    let lstm = |precision| {
        let new = || MnistLstm::new(&mut StdRng::seed_from_u64(42));
        run(new, Adam::default, precision, lstm_epochs, &train, &test)
    };
    table(
        "LSTM(64), Adam",
        lstm_epochs,
        lstm(Precision::F32)?,
        lstm(Precision::Bf16)?,
    );
    Ok(())
}
