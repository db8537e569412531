//! Tabular data from a CSV file the test writes: a classifier trained on it (feature `csv`).
#![cfg(feature = "csv")]

use netdsl::data::{CsvOptions, Error};
use netdsl::prelude::*;

network! {
    struct Tabular<2 => Dense(8, tanh, kernel_initializer = he_normal) => Dense(2, softmax)>;
}

#[test]
fn a_classifier_learns_a_csv_file_and_a_broken_one_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("points.csv");
    // Class 1 above the line y = x, 0 below it.
    let mut text = String::from("x,y,above\n");
    for i in 0..64 {
        let (x, y) = ((i % 8) as f32 / 4.0 - 1.0, (i / 8) as f32 / 4.0 - 0.9);
        text += &format!("{x},{y},{}\n", u8::from(y > x));
    }
    std::fs::write(&path, &text).unwrap();
    let data = Dataset::<2, 2>::from_csv(&path, &CsvOptions::classes("above")).unwrap();
    assert_eq!(data.len(), 64);

    let mut model = Tabular::new(&mut StdRng::seed_from_u64(0));
    let mut trainer = Trainer::<_, _, _, 8>::new(&model, Adam::new(0.05), CategoricalCrossentropy);
    let options = Fit::epochs(60).seed(1).verbose(Verbose::Silent);
    trainer.fit(&mut model, &data, options).unwrap();
    let accuracy = trainer.evaluate(&model, &data).accuracy.unwrap();
    assert!(accuracy >= 0.95, "accuracy {accuracy}");

    std::fs::write(&path, text + "0.5,oops,1\n").unwrap();
    let error = Dataset::<2, 2>::from_csv(&path, &CsvOptions::classes("above")).unwrap_err();
    assert!(
        matches!(&error, Error::CsvField { line: 66, field, .. } if field == "oops"),
        "{error}"
    );
}
