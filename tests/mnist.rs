//! End to end on the real MNIST files bundled in `data/mnist`: the Keras tutorial's recipe
//! reaches its accuracy, and malformed files give errors naming the file, never panics.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use netdsl::data::{EmnistSplit, Error};
use netdsl::prelude::*;

network! {
    /// The MNIST classifier from the Keras tutorial.
    struct Mnist<784 => Dense(64, relu) => Dense(10, softmax)>;
}

fn bundled() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist")
}

// Training on all of MNIST takes seconds optimised but minutes in a debug build, so
// `cargo test --workspace` lists such tests as ignored, with the reason, and runs the rest;
// the `--release` run (the README's, and CI's) runs them (why so: see .ci/run).
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "trains on all of MNIST, 4 min unoptimised: run with --release"
)]
fn keras_tutorial_recipe_reaches_94_percent_test_accuracy() {
    let mut train = Dataset::mnist(bundled(), MnistSplit::Train).unwrap();
    let validation = train.split_off(50_000);
    let test = Dataset::mnist(bundled(), MnistSplit::Test).unwrap();
    assert_eq!(
        (train.len(), validation.len(), test.len()),
        (50_000, 10_000, 10_000)
    );

    let mut model = Mnist::new(&mut StdRng::seed_from_u64(42));
    let mut trainer = Trainer::<_, _, _, 32>::new(&model, Sgd::new(0.01), CategoricalCrossentropy);
    let options = Fit::epochs(10)
        .validation_data(&validation)
        .seed(42)
        .verbose(Verbose::Silent);
    let history = trainer.fit(&mut model, &train, options).unwrap();

    assert_eq!(history.epochs(), 10);
    assert_eq!(history.val_accuracy.len(), 10);
    assert!(
        history.loss[9] < history.loss[0],
        "training loss fell: {:?}",
        history.loss
    );
    let result = trainer.evaluate(&model, &test);
    assert!(
        result.accuracy >= Some(0.94),
        "test accuracy {:?} (Keras: 0.9434)",
        result.accuracy
    );

    // Keras' `model.predict`: batched, and the same as one sample at a time.
    let images: Vec<[f32; 784]> = (0..test.len()).map(|i| test.input(i)).collect();
    let predictions = trainer.predict(&model, &images);
    let mut hits = 0;
    for (i, (batched, image)) in predictions.iter().zip(&images).enumerate() {
        let single = model.predict(image);
        for (a, b) in batched.iter().zip(&single) {
            assert!(
                (a - b).abs() <= 1e-6,
                "image {i}: {batched:?} and {single:?}"
            );
        }
        hits += usize::from(argmax(batched) == argmax(&test.target(i)));
    }
    assert_eq!(Some(hits as f32 / images.len() as f32), result.accuracy);
}

fn argmax(values: &[f32]) -> usize {
    (0..values.len())
        .max_by(|&a, &b| values[a].total_cmp(&values[b]))
        .unwrap()
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "trains on all of MNIST twice, 1.5 min unoptimised: run with --release"
)]
fn two_threads_train_as_well_as_one_at_the_same_total_batch() {
    // Batch 128: one thread with B = 128, or two threads with B = 64 each.
    let train = Dataset::mnist(bundled(), MnistSplit::Train).unwrap();
    let test = Dataset::mnist(bundled(), MnistSplit::Test).unwrap();
    let optimizer = || Sgd::new(0.05).momentum(0.9);
    let options = || {
        Fit::epochs(2)
            .validation_data(&test)
            .seed(1)
            .verbose(Verbose::Silent)
    };

    let mut one = Mnist::new(&mut StdRng::seed_from_u64(42));
    let mut trainer = Trainer::<_, _, _, 128>::new(&one, optimizer(), CategoricalCrossentropy);
    let one_history = trainer.fit(&mut one, &train, options()).unwrap();

    let mut two = Mnist::new(&mut StdRng::seed_from_u64(42));
    let mut trainer = Trainer::<_, _, _, 64>::new(&two, optimizer(), CategoricalCrossentropy);
    let two_history = trainer.fit(&mut two, &train, options().threads(2)).unwrap();

    let (a, b) = (one_history.val_accuracy[1], two_history.val_accuracy[1]);
    assert!(
        a >= 0.94 && b >= 0.94,
        "test accuracy: one thread {a}, two {b}"
    );
    assert!(
        (a - b).abs() <= 0.005,
        "test accuracy: one thread {a}, two {b}"
    );
    assert_eq!(Some(b), trainer.evaluate(&two, &test).accuracy);
}

/// A fresh directory under the target directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(data);
    bytes
}

/// Writes a test split of `count` images and `labels` labels into a new directory.
fn write_split(name: &str, images: &[u8], labels: &[u8]) -> PathBuf {
    let dir = scratch(name);
    fs::write(dir.join("t10k-images.idx3-ubyte"), images).unwrap();
    fs::write(dir.join("t10k-labels.idx1-ubyte"), labels).unwrap();
    dir
}

fn load_error(dir: &Path) -> Error {
    Dataset::mnist(dir, MnistSplit::Test).expect_err("a malformed file must be an error")
}

#[test]
fn raw_files_load_like_gzipped_ones() {
    let images = idx(0x803, &[2, 28, 28], &[255; 2 * 784]);
    let dir = write_split("raw", &images, &idx(0x801, &[2], &[3, 9]));
    let data = Dataset::mnist(&dir, MnistSplit::Test).unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data.input(1), [1.0; 784]);
    assert_eq!(netdsl::metrics::argmax(&data.target(1)), 9);
}

#[test]
fn a_directory_that_does_not_exist_is_an_error_naming_the_file() {
    let err = load_error(Path::new("no/such/dir"));
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("no/such/dir/t10k-images.idx3-ubyte"),
        "{err}"
    );
}

#[test]
fn a_truncated_file_is_an_error_naming_the_file() {
    let mut images = idx(0x803, &[2, 28, 28], &[0; 2 * 784]);
    images.truncate(images.len() - 100);
    let dir = write_split("truncated", &images, &idx(0x801, &[2], &[1, 2]));
    let err = load_error(&dir);
    assert!(
        matches!(
            err,
            Error::Truncated {
                expected: 1584,
                found: 1484,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("t10k-images.idx3-ubyte` is truncated"),
        "{err}"
    );
}

#[test]
fn a_truncated_gzip_stream_is_an_error_naming_the_file() {
    let gz = fs::read(bundled().join("t10k-labels.idx1-ubyte.gz")).unwrap();
    let dir = scratch("truncated-gz");
    fs::copy(
        bundled().join("t10k-images.idx3-ubyte.gz"),
        dir.join("t10k-images.idx3-ubyte.gz"),
    )
    .unwrap();
    fs::File::create(dir.join("t10k-labels.idx1-ubyte.gz"))
        .unwrap()
        .write_all(&gz[..gz.len() / 2])
        .unwrap();
    let err = load_error(&dir);
    assert!(
        err.to_string().contains("t10k-labels.idx1-ubyte.gz"),
        "{err}"
    );
}

#[test]
fn a_wrong_magic_number_is_an_error_naming_the_file() {
    // A labels file where the images file should be.
    let labels = idx(0x801, &[2], &[1, 2]);
    let dir = write_split("magic", &labels, &labels);
    let err = load_error(&dir);
    assert!(
        matches!(
            err,
            Error::BadMagic {
                found: 0x801,
                expected: 0x803,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("t10k-images.idx3-ubyte` is not an IDX file"),
        "{err}"
    );
}

#[test]
fn image_and_label_counts_that_differ_are_an_error_naming_both_files() {
    let dir = write_split(
        "counts",
        &idx(0x803, &[2, 28, 28], &[0; 2 * 784]),
        &idx(0x801, &[3], &[1, 2, 3]),
    );
    let err = load_error(&dir);
    assert!(
        matches!(
            err,
            Error::CountMismatch {
                images: 2,
                labels: 3,
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("t10k-images.idx3-ubyte` holds 2 images but `"),
        "{message}"
    );
    assert!(
        message.contains("t10k-labels.idx1-ubyte` holds 3 labels"),
        "{message}"
    );
}

#[test]
fn images_of_the_wrong_size_are_an_error() {
    let dir = write_split(
        "shape",
        &idx(0x803, &[1, 32, 32], &[0; 1024]),
        &idx(0x801, &[1], &[1]),
    );
    let err = load_error(&dir);
    assert!(matches!(err, Error::WrongShape { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("holds samples of shape [32, 32], expected [28, 28]"),
        "{err}"
    );
}

#[test]
fn a_label_out_of_range_is_an_error() {
    let dir = write_split(
        "label",
        &idx(0x803, &[1, 28, 28], &[0; 784]),
        &idx(0x801, &[1], &[10]),
    );
    let err = load_error(&dir);
    assert!(
        matches!(
            err,
            Error::LabelOutOfRange {
                index: 0,
                label: 10,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn fashion_mnist_loads_from_its_original_file_names_gzipped() {
    use flate2::Compression;
    use flate2::write::GzEncoder;
    let dir = scratch("fashion");
    let gz = |bytes: &[u8]| {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    };
    // Two images: the first black with one white pixel at row 1, column 2.
    let mut pixels = vec![0_u8; 2 * 784];
    pixels[28 + 2] = 255;
    pixels[784..].fill(255);
    let images = gz(&idx(0x803, &[2, 28, 28], &pixels));
    fs::write(dir.join("train-images-idx3-ubyte.gz"), images).unwrap();
    let labels = gz(&idx(0x801, &[2], &[9, 0]));
    fs::write(dir.join("train-labels-idx1-ubyte.gz"), labels).unwrap();

    let data = Dataset::fashion_mnist(&dir, MnistSplit::Train).unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data.input(0)[28 + 2], 1.0);
    assert_eq!(data.input(0).iter().sum::<f32>(), 1.0);
    assert_eq!(data.input(1), [1.0; 784]);
    assert_eq!(data.target(0), [0., 0., 0., 0., 0., 0., 0., 0., 0., 1.]);
    // The test half is not there: an error naming its file.
    let err = Dataset::fashion_mnist(&dir, MnistSplit::Test).unwrap_err();
    assert!(err.to_string().contains("t10k-images"), "{err}");
}

/// Writes EMNIST's `letters` test files (raw) holding `pixels` and `labels` into a new
/// directory.
fn write_emnist_letters(name: &str, count: u32, pixels: &[u8], labels: &[u8]) -> PathBuf {
    let dir = scratch(name);
    let images = idx(0x803, &[count, 28, 28], pixels);
    fs::write(dir.join("emnist-letters-test-images-idx3-ubyte"), images).unwrap();
    let labels = idx(0x801, &[count], labels);
    fs::write(dir.join("emnist-letters-test-labels-idx1-ubyte"), labels).unwrap();
    dir
}

#[test]
fn emnist_images_are_transposed_to_mnist_orientation_and_letters_start_at_class_0() {
    // EMNIST stores column by column: the byte at column-major (column 2, row 1) is the pixel
    // at row 1, column 2 once upright.
    let mut pixels = vec![0_u8; 784];
    pixels[2 * 28 + 1] = 255;
    let dir = write_emnist_letters("emnist", 1, &pixels, &[1]);
    let data = Dataset::<784, 26>::emnist(&dir, EmnistSplit::Letters, MnistSplit::Test).unwrap();
    let image = data.input(0);
    assert_eq!(image[28 + 2], 1.0, "row 1, column 2");
    assert_eq!(image[2 * 28 + 1], 0.0);
    // Label 1 is `a`, class 0.
    assert_eq!(netdsl::metrics::argmax(&data.target(0)), 0);
}

#[test]
fn emnist_refuses_a_label_outside_its_split_and_the_wrong_number_of_outputs() {
    // Letters are labelled 1 to 26: 0 and 27 are not letters.
    for label in [0, 27] {
        let dir = write_emnist_letters("emnist-label", 1, &[0; 784], &[label]);
        let err =
            Dataset::<784, 26>::emnist(&dir, EmnistSplit::Letters, MnistSplit::Test).unwrap_err();
        assert!(
            matches!(
                err,
                Error::LabelOutOfRange {
                    index: 0,
                    classes: 26,
                    ..
                }
            ),
            "{err:?}"
        );
    }
    let dir = write_emnist_letters("emnist-outputs", 1, &[0; 784], &[1]);
    let err = Dataset::<784, 10>::emnist(&dir, EmnistSplit::Letters, MnistSplit::Test).unwrap_err();
    assert_eq!(
        err.to_string(),
        "EMNIST `letters` has 26 classes, but the dataset was asked for 10 outputs"
    );
}
