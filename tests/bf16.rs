//! bf16 mixed precision end to end on the real MNIST files: the tutorial's network trained in
//! bf16 reaches the test accuracy of f32 within 0.3 points, and each hardware path, forced by
//! `NETDSL_ISA` in a process of its own (the choice is made once per process), trains and
//! infers in bf16.

use std::path::{Path, PathBuf};
use std::process::Command;

use netdsl::kernels::{Bf16Path, Isa};
use netdsl::prelude::*;

network! {
    /// The MNIST classifier from the Keras tutorial.
    struct Mnist<784 => Dense(64, relu) => Dense(10, softmax)>;
}

fn bundled() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist")
}

/// Trains the tutorial's network (SGD 0.01, batch 32, seed 42) for `epochs` on `train` in
/// `precision`, returning the trained network, its test accuracy and the trainer's
/// predictions of the first 100 test images.
fn tutorial(
    precision: Precision,
    train: &Dataset<784, 10>,
    test: &Dataset<784, 10>,
    epochs: usize,
) -> (Mnist, f32, Vec<[f32; 10]>) {
    let mut model = Mnist::new(&mut StdRng::seed_from_u64(42));
    let mut trainer = Trainer::<_, _, _, 32>::new(&model, Sgd::new(0.01), CategoricalCrossentropy);
    let options = Fit::epochs(epochs)
        .seed(42)
        .verbose(Verbose::Silent)
        .precision(precision);
    trainer.fit(&mut model, train, options).unwrap();
    assert_eq!(trainer.precision(), precision);
    let accuracy = trainer.evaluate(&model, test).accuracy.unwrap();
    let images: Vec<[f32; 784]> = (0..100).map(|i| test.input(i)).collect();
    let predictions = trainer.predict(&model, &images);
    (model, accuracy, predictions)
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "trains on all of MNIST twice, minutes unoptimised: run with --release"
)]
fn the_tutorial_network_in_bf16_reaches_the_test_accuracy_of_f32_within_0_3_points() {
    let train = Dataset::mnist(bundled(), MnistSplit::Train).unwrap();
    let test = Dataset::mnist(bundled(), MnistSplit::Test).unwrap();
    let (_, f32_accuracy, _) = tutorial(Precision::F32, &train, &test, 2);
    let (_, bf16_accuracy, _) = tutorial(Precision::Bf16, &train, &test, 2);
    println!(
        "bf16 path {:?}: test accuracy after 2 epochs f32 {f32_accuracy}, bf16 {bf16_accuracy}",
        Bf16Path::selected()
    );
    assert!(
        (f32_accuracy - bf16_accuracy).abs() <= 0.003,
        "f32 {f32_accuracy}, bf16 {bf16_accuracy}"
    );
}

/// Runs this test binary's [`a_forced_path_trains_and_infers_in_bf16`] in a process of its own
/// with `NETDSL_ISA=name`.
fn forced(name: &str) {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_forced_path_trains_and_infers_in_bf16",
            "--nocapture",
        ])
        .env("NETDSL_ISA", name)
        .env("NETDSL_BF16_FORCED", name)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
    println!("NETDSL_ISA={name}:\n{text}");
    assert!(output.status.success(), "NETDSL_ISA={name} failed:\n{text}");
    assert!(
        text.contains("1 passed"),
        "NETDSL_ISA={name} ran no test:\n{text}"
    );
}

#[test]
fn amx_forced_by_netdsl_isa_trains_and_infers_in_bf16() {
    forced("amx");
}

#[test]
fn avx512bf16_forced_by_netdsl_isa_trains_and_infers_in_bf16() {
    forced("avx512bf16");
}

#[test]
fn portable_forced_by_netdsl_isa_trains_and_infers_in_bf16() {
    forced("portable");
}

/// In a process that [`forced`] started: the path `NETDSL_ISA` names is the one bf16 runs on
/// (if this CPU has it; otherwise it says so and passes), and a tenth of MNIST trains on it to
/// the f32 accuracy, with predictions that differ from f32's (so the products were bf16) by
/// little. Elsewhere it does nothing.
#[test]
fn a_forced_path_trains_and_infers_in_bf16() {
    let Ok(name) = std::env::var("NETDSL_BF16_FORCED") else {
        return;
    };
    let path = [Bf16Path::Amx, Bf16Path::Avx512Bf16, Bf16Path::Portable]
        .into_iter()
        .find(|path| path.name() == name)
        .unwrap();
    if !path.is_supported() {
        println!("skipped: this CPU cannot run {name}");
        assert_eq!(Bf16Path::selected(), None);
        return;
    }
    assert_eq!(Bf16Path::selected(), Some(path));
    if path != Bf16Path::Portable {
        assert_eq!(Isa::selected(), Isa::Avx512);
    }
    let mut train = Dataset::mnist(bundled(), MnistSplit::Train).unwrap();
    train.split_off(6_000);
    let mut test = Dataset::mnist(bundled(), MnistSplit::Test).unwrap();
    test.split_off(2_000);
    let (model, bf16_accuracy, predictions) = tutorial(Precision::Bf16, &train, &test, 1);
    let (_, f32_accuracy, _) = tutorial(Precision::F32, &train, &test, 1);
    println!("{name}: accuracy f32 {f32_accuracy}, bf16 {bf16_accuracy}");
    assert!(
        (f32_accuracy - bf16_accuracy).abs() <= 0.02,
        "{name}: f32 {f32_accuracy}, bf16 {bf16_accuracy} on 2,000 images"
    );
    // The same weights inferred in f32 (`predict` on one sample): close, not equal.
    let mut largest = 0.0_f32;
    for (i, bf16) in predictions.iter().enumerate() {
        let f32 = model.predict(&test.input(i));
        for (a, b) in bf16.iter().zip(&f32) {
            largest = largest.max((a - b).abs());
        }
    }
    assert!(
        largest > 0.0 && largest < 0.05,
        "{name}: bf16 and f32 inference differ by up to {largest}"
    );
}
