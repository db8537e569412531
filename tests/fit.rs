//! `fit` on small data: deterministic for a seed, correct with a partial last batch.

use netdsl::optim::Schedule;
use netdsl::prelude::*;
use netdsl::train::callbacks::{Callback, Context, LearningRateScheduler};
use netdsl::train::{EpochLogs, History, TrainError};

network! {
    #[derive(Clone)]
    struct Xor<2 => Dense(8, tanh) => Dense(1, sigmoid)>;

    /// The hidden layer of `Xor` as a network of its own...
    struct Hidden<2 => Dense(8, tanh)>;
    /// ...composed back into the same shape.
    struct ComposedXor<2 => Hidden => Dense(1, sigmoid)>;

    /// Half its hidden values dropped while training.
    struct Dropped<2 => Dense(64, relu) => Dropout(0.5) => Dense(1, sigmoid)>;
}

fn xor(copies: usize) -> Dataset<2, 1> {
    let inputs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
    let targets = [[0.0], [1.0], [1.0], [0.0]];
    Dataset::from_arrays(inputs.repeat(copies), targets.repeat(copies)).unwrap()
}

#[test]
fn the_same_seed_gives_the_same_history_whatever_the_trainer_did_before() {
    let data = xor(8);
    let start = Xor::new(&mut StdRng::seed_from_u64(1));
    let mut trainer = Trainer::<_, _, _, 4>::new(&start, Sgd::new(0.3), BinaryCrossentropy);
    let options = || Fit::epochs(5).seed(7).verbose(Verbose::Silent);

    let mut first = start.clone();
    let a = trainer.fit(&mut first, &data, options()).unwrap();
    let mut second = start.clone();
    let b = trainer.fit(&mut second, &data, options()).unwrap();
    assert_eq!(a.loss, b.loss);
    assert_eq!(a.accuracy, b.accuracy);
    assert_eq!(first.predict(&[1.0, 0.0]), second.predict(&[1.0, 0.0]));

    let mut third = start.clone();
    let c = trainer.fit(&mut third, &data, options().seed(8)).unwrap();
    assert_ne!(a.loss, c.loss, "another seed shuffles differently");
}

#[test]
fn a_partial_last_batch_trains_on_its_rows_only() {
    // Five samples in batches of four: the second batch has one row, and the three rows left
    // over from the first batch must not leak into its gradient or its loss.
    let data = Dataset::<2, 1>::from_arrays(
        vec![[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.5, 0.5]],
        vec![[0.0], [1.0], [1.0], [0.0], [1.0]],
    )
    .unwrap();
    let mut model = Xor::new(&mut StdRng::seed_from_u64(2));
    let mut trainer =
        Trainer::<_, _, _, 4>::new(&model, Sgd::new(0.5).momentum(0.9), BinaryCrossentropy);
    let history = trainer
        .fit(
            &mut model,
            &data,
            Fit::epochs(400).shuffle(false).verbose(Verbose::Silent),
        )
        .unwrap();
    assert!(
        history.loss[399] < 0.1 * history.loss[0],
        "loss {} -> {}",
        history.loss[0],
        history.loss[399]
    );
    assert_eq!(trainer.evaluate(&model, &data).accuracy, Some(1.0));

    // evaluate's mean is over the five samples, not over two batches of four.
    let by_hand: f32 = (0..data.len())
        .map(|i| BinaryCrossentropy.loss(&model.predict(&data.input(i)), &data.target(i)))
        .sum::<f32>()
        / 5.0;
    let evaluated = trainer.evaluate(&model, &data).loss;
    assert!(
        (evaluated - by_hand).abs() < 1e-6,
        "evaluate {evaluated}, by hand {by_hand}"
    );
}

#[test]
fn validation_data_fills_the_validation_history() {
    let data = xor(4);
    let mut model = Xor::new(&mut StdRng::seed_from_u64(3));
    let mut trainer = Trainer::<_, _, _, 4>::new(&model, Sgd::new(0.3), BinaryCrossentropy);
    let history = trainer
        .fit(
            &mut model,
            &data,
            Fit::epochs(3)
                .validation_data(&data)
                .verbose(Verbose::Silent),
        )
        .unwrap();
    assert_eq!(
        (
            history.epochs(),
            history.val_loss.len(),
            history.val_accuracy.len()
        ),
        (3, 3, 3)
    );
    assert_eq!(history.val_loss[2], trainer.evaluate(&model, &data).loss);
}

#[test]
fn rows_missing_from_a_batch_add_nothing_to_the_step() {
    // One sample in a batch of four must give exactly the step of a batch of one.
    let data = Dataset::<2, 1>::from_arrays(vec![[0.3, -0.7]], vec![[1.0]]).unwrap();
    let start = Xor::new(&mut StdRng::seed_from_u64(4));
    let (mut in_four, mut in_one) = (start.clone(), start.clone());
    Trainer::<_, _, _, 4>::new(&start, Sgd::new(0.5), BinaryCrossentropy).train_epoch(
        &mut in_four,
        &data,
        None,
    );
    Trainer::<_, _, _, 1>::new(&start, Sgd::new(0.5), BinaryCrossentropy).train_epoch(
        &mut in_one,
        &data,
        None,
    );
    for x in [[0.0, 0.0], [1.0, -1.0], [0.3, -0.7]] {
        let (a, b) = (in_four.predict(&x)[0], in_one.predict(&x)[0]);
        assert!(
            (a - b).abs() < 1e-6,
            "at {x:?}: batch of four {a}, batch of one {b}"
        );
    }
    assert_ne!(
        in_one.predict(&[0.3, -0.7]),
        start.predict(&[0.3, -0.7]),
        "the step changed the model"
    );
}

#[test]
fn a_composed_network_trains_like_a_flat_one() {
    let data = xor(4);
    let mut model = ComposedXor::new(&mut StdRng::seed_from_u64(1));
    let mut trainer =
        Trainer::<_, _, _, 4>::new(&model, Sgd::new(0.5).momentum(0.9), BinaryCrossentropy);
    let history = trainer
        .fit(&mut model, &data, Fit::epochs(300).verbose(Verbose::Silent))
        .unwrap();
    assert!(history.loss[299] < 0.05, "final loss {}", history.loss[299]);
    assert_eq!(trainer.evaluate(&model, &data).accuracy, Some(1.0));
}

#[test]
fn a_network_gives_its_dropout_layers_the_stream_of_its_tape() {
    // What parallel `fit` relies on so that its threads drop different values.
    let model = Dropped::new(&mut StdRng::seed_from_u64(5));
    let x = [[0.5, -0.5]; 4];
    let outputs = |stream: Option<u64>| {
        let mut tape = model.new_tape::<4>();
        model.set_training(&mut tape, true);
        if let Some(stream) = stream {
            model.seed_tape(&mut tape, stream);
        }
        let mut y = [[0.0]; 4];
        model.forward(&x, &mut y, &mut tape);
        y
    };
    assert_eq!(outputs(Some(0)), outputs(None), "stream 0 is the default");
    assert_eq!(
        outputs(Some(1)),
        outputs(Some(1)),
        "a stream is reproducible"
    );
    assert_ne!(outputs(Some(1)), outputs(Some(0)), "streams differ");
}

#[test]
fn nothing_to_train_on_is_an_error_not_a_loss_of_zero() {
    let mut model = Xor::new(&mut StdRng::seed_from_u64(0));
    let mut trainer = Trainer::<_, _, _, 4>::new(&model, Sgd::new(0.1), MeanSquaredError);
    let empty = Dataset::<2, 1>::from_arrays(Vec::new(), Vec::new()).unwrap();
    let error = trainer
        .fit(&mut model, &empty, Fit::epochs(2).verbose(Verbose::Silent))
        .unwrap_err();
    assert!(
        matches!(
            error,
            TrainError::NoTrainingData {
                samples: 0,
                held_out: 0
            }
        ),
        "{error}"
    );
    let data = Dataset::<2, 1>::from_arrays(vec![[0.0, 1.0]; 8], vec![[1.0]; 8]).unwrap();
    let error = trainer
        .fit(
            &mut model,
            &data,
            Fit::epochs(2)
                .validation_split(1.0)
                .verbose(Verbose::Silent),
        )
        .unwrap_err();
    assert!(
        matches!(
            error,
            TrainError::NoTrainingData {
                samples: 8,
                held_out: 8
            }
        ),
        "{error}"
    );
    let error = trainer
        .fit(
            &mut model,
            &data,
            Fit::epochs(2)
                .validation_data(&empty)
                .verbose(Verbose::Silent),
        )
        .unwrap_err();
    assert!(matches!(error, TrainError::NoValidationData), "{error}");
    let metrics = trainer.evaluate(&model, &empty);
    assert!(metrics.loss.is_nan(), "{metrics:?}");
    // The public field set past 1 holds everything out (it underflowed before), and NaN nothing.
    let mut options = Fit::epochs(1).verbose(Verbose::Silent);
    options.validation_split = 2.5;
    let error = trainer.fit(&mut model, &data, options).unwrap_err();
    assert!(
        matches!(error, TrainError::NoTrainingData { held_out: 8, .. }),
        "{error}"
    );
    let mut options = Fit::epochs(1).verbose(Verbose::Silent);
    options.validation_split = f32::NAN;
    let history = trainer.fit(&mut model, &data, options).unwrap();
    assert!(history.val_loss.is_empty());
}

#[test]
fn a_learning_rate_that_would_ruin_the_weights_is_refused_before_training() {
    let data = Dataset::<2, 1>::from_arrays(vec![[0.0, 1.0]; 8], vec![[1.0]; 8]).unwrap();
    for rate in [f32::NAN, f32::INFINITY, -0.1] {
        let mut model = Xor::new(&mut StdRng::seed_from_u64(0));
        let before = model.predict(&[0.5, 0.5]);
        let mut trainer = Trainer::<_, _, _, 4>::new(&model, Adam::new(rate), MeanSquaredError);
        let error = trainer
            .fit(&mut model, &data, Fit::epochs(1).verbose(Verbose::Silent))
            .unwrap_err();
        assert!(
            matches!(
                &error,
                TrainError::InvalidLearningRate { epoch: 1, batch: 1, history, .. }
                    if history.epochs() == 0
            ),
            "{rate}: {error}"
        );
        assert_eq!(
            model.predict(&[0.5, 0.5]),
            before,
            "{rate}: the weights changed"
        );
    }
}

/// The inputs of `xor`, to compare two models by their predictions.
fn predictions(model: &Xor) -> Vec<[f32; 1]> {
    [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
        .iter()
        .map(|x| model.predict(x))
        .collect()
}

/// `epochs` of `optimizer` on 8 XOR samples (two steps an epoch at batch 4) from seeded weights,
/// with `callback` if given.
fn fit_xor(
    optimizer: Sgd,
    epochs: usize,
    callback: Option<&mut dyn Callback>,
) -> (Xor, Result<History, TrainError>) {
    let mut model = Xor::new(&mut StdRng::seed_from_u64(1));
    let mut trainer = Trainer::<_, _, _, 4>::new(&model, optimizer, BinaryCrossentropy);
    let mut options = Fit::epochs(epochs).seed(7).verbose(Verbose::Silent);
    if let Some(callback) = callback {
        options = options.callback(callback);
    }
    let result = trainer.fit(&mut model, &xor(2), options);
    (model, result)
}

/// 0.3 at every step but one, where it is NaN.
#[derive(Debug)]
struct NanAtStep(u64);

impl Schedule for NanAtStep {
    fn learning_rate(&self, step: u64) -> f32 {
        if step == self.0 { f32::NAN } else { 0.3 }
    }
}

#[test]
fn a_schedule_that_turns_nan_stops_fit_before_the_epoch_that_would_train_with_it() {
    // Step 5 (from 0) is the second batch of epoch 3: none of epoch 3 trains.
    let (two_epochs, expected) = fit_xor(Sgd::new(0.3), 2, None);
    let expected = expected.unwrap();
    let (model, result) = fit_xor(Sgd::new(0.3).with_schedule(NanAtStep(5)), 4, None);
    let error = result.unwrap_err();
    let TrainError::InvalidLearningRate {
        learning_rate,
        epoch,
        batch,
        history,
    } = &error
    else {
        panic!("expected an invalid learning rate: {error}")
    };
    assert!(learning_rate.is_nan(), "{error}");
    assert_eq!((*epoch, *batch), (3, 2), "{error}");
    assert!(error.to_string().contains("epoch 3"), "{error}");
    assert_eq!(history.loss, expected.loss, "the history of epochs 1 and 2");
    assert_eq!(
        predictions(&model),
        predictions(&two_epochs),
        "the weights after epoch 2"
    );
}

#[test]
fn a_scheduler_callback_that_returns_infinity_stops_fit_before_that_epoch() {
    // 0.15, 0.3, then 0.3 / 0 at epoch 3.
    let rate = |epoch: usize, _: f32| 0.3 / (3.0 - epoch as f32);
    let (two_epochs, expected) = fit_xor(
        Sgd::new(0.3),
        2,
        Some(&mut LearningRateScheduler::new(rate)),
    );
    let expected = expected.unwrap();
    let (model, result) = fit_xor(
        Sgd::new(0.3),
        4,
        Some(&mut LearningRateScheduler::new(rate)),
    );
    let error = result.unwrap_err();
    assert!(
        matches!(
            &error,
            TrainError::InvalidLearningRate { learning_rate, epoch: 3, batch: 1, history }
                if *learning_rate == f32::INFINITY && history.loss == expected.loss
        ),
        "{error}"
    );
    assert_eq!(predictions(&model), predictions(&two_epochs));
}

/// Sets a negative learning rate at the end of the first epoch.
struct NegativeAfterFirstEpoch;

impl Callback for NegativeAfterFirstEpoch {
    fn on_epoch_end(&mut self, logs: &EpochLogs, context: &mut Context<'_>) {
        if logs.epoch == 1 {
            context.set_learning_rate(-0.1);
        }
    }
}

#[test]
fn a_callback_that_sets_a_negative_rate_stops_fit_before_the_next_epoch() {
    let (one_epoch, _) = fit_xor(Sgd::new(0.3), 1, None);
    let (model, result) = fit_xor(Sgd::new(0.3), 3, Some(&mut NegativeAfterFirstEpoch));
    let error = result.unwrap_err();
    assert!(
        matches!(
            &error,
            TrainError::InvalidLearningRate { learning_rate, epoch: 2, batch: 1, history }
                if *learning_rate == -0.1 && history.epochs() == 1
        ),
        "{error}"
    );
    assert_eq!(predictions(&one_epoch), predictions(&model));
}
