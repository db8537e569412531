//! Networks that start with `Embedding`: token inputs through `predict`, `fit`, `evaluate`,
//! `summary()` and weights files, and ids outside the vocabulary as error values.

use netdsl::data::Error as DataError;
use netdsl::prelude::*;
use netdsl::tokens::TokenError;
use netdsl::train::TrainError;

network! {
    /// Four tokens of a vocabulary of 10, embedded in 3 features, classified in two.
    #[derive(Clone)]
    struct Tagger<4 => Embedding(10, 3) => Flatten => Dense(2, softmax)>;

    /// Six tokens of 8 through a sequence convolution and a global pool.
    struct Spotter<6 => Embedding(8, 4) => Conv1D(5, 3, relu) => GlobalMaxPooling1D => Dense(2, softmax)>;
}

/// Every sequence of 4 ids below 10 from a seeded generator, labelled 1 when it holds a 7.
fn sevens(n: usize, seed: u64) -> (Vec<Tokens<4, 10>>, Vec<u32>) {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let ids: [u32; 4] =
                std::array::from_fn(|_| netdsl::rand::RngExt::random_range(&mut rng, 0..10));
            (Tokens::new(ids).unwrap(), u32::from(ids.contains(&7)))
        })
        .unzip()
}

#[test]
fn predict_takes_tokens_and_ids_outside_the_vocabulary_are_errors() {
    let model = Tagger::new(&mut StdRng::seed_from_u64(1));
    let p = model.predict(&Tokens::new([1, 2, 3, 9]).unwrap());
    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6, "{p:?}");
    assert_eq!(
        Tokens::<4, 10>::new([1, 2, 3, 10]),
        Err(TokenError::OutOfVocabulary {
            position: 3,
            id: 10,
            vocabulary: 10
        })
    );
}

#[test]
fn fit_learns_which_token_matters() {
    let (x, y) = sevens(2000, 1);
    let train = Dataset::<4, 2>::from_tokens(x, y).unwrap();
    let (x, y) = sevens(500, 2);
    let test = Dataset::<4, 2>::from_tokens(x, y).unwrap();
    let mut model = Tagger::new(&mut StdRng::seed_from_u64(3));
    let mut trainer = Trainer::<_, _, _, 32>::new(&model, Adam::new(0.01), CategoricalCrossentropy);
    let before = trainer.evaluate(&model, &test);
    let history = trainer
        .fit(
            &mut model,
            &train,
            Fit::epochs(10)
                .validation_data(&test)
                .seed(4)
                .verbose(Verbose::Silent),
        )
        .unwrap();
    let after = trainer.evaluate(&model, &test);
    assert!(after.loss < before.loss / 4.0, "{before:?} -> {after:?}");
    assert!(after.accuracy.unwrap() > 0.98, "{after:?} {history:?}");
    // The row of token 7 is what moved most from where it started.
    let with_seven = model.predict(&Tokens::new([7, 0, 0, 0]).unwrap());
    let without = model.predict(&Tokens::new([1, 0, 0, 0]).unwrap());
    assert!(
        with_seven[1] > 0.9 && without[1] < 0.1,
        "{with_seven:?} {without:?}"
    );
}

#[test]
fn fit_refuses_floats_that_are_not_ids_before_training() {
    let mut model = Tagger::new(&mut StdRng::seed_from_u64(5));
    let untouched = model.clone();
    let pixels = Dataset::<4, 2>::from_classes(
        vec![[1.0, 2.0, 3.0, 4.0], [0.0, 0.25, 1.0, 1.0]],
        vec![0, 1],
    )
    .unwrap();
    let mut trainer = Trainer::<_, _, _, 2>::new(&model, Sgd::new(0.1), CategoricalCrossentropy);
    let err = trainer
        .fit(&mut model, &pixels, Fit::epochs(1).verbose(Verbose::Silent))
        .unwrap_err();
    assert!(
        matches!(
            err,
            TrainError::InvalidInput {
                validation: false,
                source: DataError::NotTokens { index: 1, .. }
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "the training data cannot be fed to the network: sample 1 cannot be read as tokens: value 0.25 at position 1 is not a token id: expected a whole number from 0 to 9"
    );
    let ids = Dataset::<4, 2>::from_classes(vec![[1.0, 2.0, 3.0, 4.0]], vec![0]).unwrap();
    let too_large = Dataset::<4, 2>::from_classes(vec![[1.0, 2.0, 10.0, 4.0]], vec![0]).unwrap();
    let err = trainer
        .fit(
            &mut model,
            &ids,
            Fit::epochs(1)
                .validation_data(&too_large)
                .verbose(Verbose::Silent),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            TrainError::InvalidInput {
                validation: true,
                ..
            }
        ),
        "{err}"
    );
    let probe = Tokens::new([1, 2, 3, 4]).unwrap();
    assert_eq!(
        model.predict(&probe),
        untouched.predict(&probe),
        "nothing was trained"
    );
}

#[test]
fn summary_shows_the_table_and_the_sequence_it_gives() {
    let model = Spotter::new(&mut StdRng::seed_from_u64(6));
    let summary = model.summary();
    let embedding = &summary.layers[0];
    assert_eq!(
        (
            embedding.name,
            embedding.kind,
            &embedding.output_shape[..],
            embedding.parameters
        ),
        ("embedding_1", "Embedding", &[6, 4][..], 8 * 4)
    );
    assert_eq!(model.parameter_count(), 32 + (3 * 4 * 5 + 5) + (5 * 2 + 2));
    let table = summary.to_string();
    assert!(table.contains("embedding_1 (Embedding)"), "{table}");
}

#[test]
fn the_table_is_saved_and_loaded_under_keras_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tagger.safetensors");
    let model = Tagger::new(&mut StdRng::seed_from_u64(7));
    model.save_weights(&path).unwrap();
    let mut names = Vec::new();
    model.visit_tensors(&mut |name, shape, _| names.push((name.to_owned(), shape.to_vec())));
    assert_eq!(names[0], ("embedding_1.embeddings".to_owned(), vec![10, 3]));
    let mut loaded = Tagger::new(&mut StdRng::seed_from_u64(8));
    loaded.load_weights(&path).unwrap();
    let probe = Tokens::new([9, 8, 7, 6]).unwrap();
    assert_eq!(loaded.predict(&probe), model.predict(&probe));
}
