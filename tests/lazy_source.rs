//! `fit` from samples read lazily from raw IDX files ([`IdxSource`]) gives the weights and
//! history of `fit` from the same files in memory, bit for bit; files that cannot be read that
//! way, at opening or in the middle of a fit, are error values.

mod raw_idx;

use std::fs;
use std::io::Write;

use raw_idx::write_raw;

use netdsl::data::{Error, IdxSource, Source};
use netdsl::prelude::*;
use netdsl::train::TrainError;

network! {
    #[derive(Clone)]
    struct Mnist<784 => Dense(64, relu) => Dense(10, softmax)>;
}

type MnistTrainer = Trainer<Mnist, Adam, CategoricalCrossentropy, 32>;

#[test]
fn a_fit_from_files_read_lazily_equals_a_fit_from_memory_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let (images, labels) = write_raw(dir.path(), 1_000);
    let lazy = IdxSource::<784, 10>::open(&images, &labels, 1.0 / 255.0).unwrap();
    // The same files, loaded whole.
    let memory = Dataset::mnist(dir.path(), MnistSplit::Train).unwrap();
    assert_eq!((lazy.len(), memory.len()), (1_000, 1_000));

    let start = Mnist::new(&mut StdRng::seed_from_u64(7));
    let fit = |train: &dyn Fn(&mut Mnist, &mut MnistTrainer) -> History| {
        let mut model = start.clone();
        let mut trainer = Trainer::new(&start, Adam::new(0.001), CategoricalCrossentropy);
        let history = train(&mut model, &mut trainer);
        (model, history)
    };
    let options = || {
        Fit::epochs(2)
            .seed(3)
            .validation_split(0.2)
            .verbose(Verbose::Silent)
    };
    let (from_files, a) = fit(&|model, trainer| trainer.fit(model, &lazy, options()).unwrap());
    let (from_memory, b) = fit(&|model, trainer| trainer.fit(model, &memory, options()).unwrap());
    assert_eq!(a.loss, b.loss);
    assert_eq!(a.val_loss, b.val_loss);
    assert_eq!(a.accuracy, b.accuracy);
    let weights = |model: &Mnist| {
        let mut all = Vec::new();
        model.visit_tensors(&mut |_, _, w| all.extend_from_slice(w));
        all
    };
    assert_eq!(weights(&from_files), weights(&from_memory));

    // On two threads, each reading its share of a step from the file at once.
    #[cfg(feature = "parallel")]
    {
        let options = || options().threads(2);
        let (from_files, a) = fit(&|model, trainer| trainer.fit(model, &lazy, options()).unwrap());
        let (from_memory, b) =
            fit(&|model, trainer| trainer.fit(model, &memory, options()).unwrap());
        assert_eq!(a.loss, b.loss);
        assert_eq!(weights(&from_files), weights(&from_memory));
    }
}

#[test]
fn files_that_cannot_be_read_lazily_are_errors_at_opening() {
    let dir = tempfile::tempdir().unwrap();
    let (images, labels) = write_raw(dir.path(), 20);

    // Gzipped: a gzip stream has no positions to read samples at.
    let gzipped = dir.path().join("images.gz");
    let mut encoder =
        flate2::write::GzEncoder::new(fs::File::create(&gzipped).unwrap(), Default::default());
    encoder.write_all(&fs::read(&images).unwrap()).unwrap();
    encoder.finish().unwrap();
    let error = IdxSource::<784, 10>::open(&gzipped, &labels, 1.0).unwrap_err();
    assert!(matches!(error, Error::Gzipped { .. }), "{error}");
    assert!(error.to_string().contains("gunzip"), "{error}");

    // Images of another size than the network's input.
    let error = IdxSource::<100, 10>::open(&images, &labels, 1.0).unwrap_err();
    assert!(matches!(error, Error::WrongShape { .. }), "{error}");

    // Labels of more classes than its outputs.
    let error = IdxSource::<784, 5>::open(&images, &labels, 1.0).unwrap_err();
    assert!(matches!(error, Error::LabelOutOfRange { .. }), "{error}");

    // An images file with a byte too many.
    let longer = dir.path().join("longer");
    let mut bytes = fs::read(&images).unwrap();
    bytes.push(0);
    fs::write(&longer, &bytes).unwrap();
    let error = IdxSource::<784, 10>::open(&longer, &labels, 1.0).unwrap_err();
    assert!(matches!(error, Error::TrailingData { .. }), "{error}");
}

#[test]
fn a_file_cut_short_during_a_fit_stops_it_with_an_error_and_the_weights_it_had() {
    let dir = tempfile::tempdir().unwrap();
    let (images, labels) = write_raw(dir.path(), 200);
    let lazy = IdxSource::<784, 10>::open(&images, &labels, 1.0 / 255.0).unwrap();
    // Another program truncates the file after it was opened.
    fs::OpenOptions::new()
        .write(true)
        .open(&images)
        .unwrap()
        .set_len(16 + 100 * 784)
        .unwrap();
    let start = Mnist::new(&mut StdRng::seed_from_u64(8));
    let mut model = start.clone();
    let mut trainer = Trainer::<_, _, _, 32>::new(&start, Sgd::new(0.1), CategoricalCrossentropy);
    let options = Fit::epochs(2).shuffle(false).verbose(Verbose::Silent);
    let error = trainer.fit(&mut model, &lazy, options).unwrap_err();
    // Steps 1 to 3 read the first 96 images; step 4 reaches past the 100 left.
    match &error {
        TrainError::Data {
            epoch: 1,
            batch: Some(4),
            source,
            ..
        } if matches!(**source, Error::Io { .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(error.to_string().contains("step 4 of epoch 1"), "{error}");
    assert_ne!(
        model.predict(&[0.5; 784]),
        start.predict(&[0.5; 784]),
        "three steps trained"
    );
}
