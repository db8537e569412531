//! Keras' initializers and regularizers written in `network!`: the weights a layer starts from,
//! and the penalty `fit`, `evaluate` and the validation add to the loss and its gradient, with
//! values worked out by hand.

use netdsl::prelude::*;
use netdsl::regularizer::{Regularizer, Regularizers};

network! {
    /// One linear unit, its weights at 1 and bias at 0, both regularized.
    struct Unit<2 => Dense(1, kernel_initializer = ones, bias_initializer = zeros,
        kernel_regularizer = l2(0.5), bias_regularizer = l1(0.25))>;

    /// The same unit without regularizers.
    struct Plain<2 => Dense(1, kernel_initializer = ones)>;

    /// Keras' defaults of the regularizers given by name: 0.01.
    struct Named<2 => Dense(3, relu, kernel_regularizer = l1_l2) => Dense(1, kernel_regularizer = l2)>;

    /// A classifier to train on two threads.
    #[derive(Clone)]
    struct Classifier<3 => Dense(8, tanh, kernel_regularizer = l2(0.01), bias_regularizer = l1(0.001))
        => Dense(2, softmax, kernel_regularizer = l1_l2(l1 = 0.001, l2 = 0.01))>;
}

fn one_sample() -> Dataset<2, 1> {
    Dataset::from_arrays(vec![[1.0, 2.0]], vec![[1.0]]).unwrap()
}

#[test]
fn the_dsl_sets_each_tensors_initializer_and_regularizer() {
    let model = Unit::new(&mut StdRng::seed_from_u64(0));
    assert_eq!(model.dense_1.weights(), &[[1.0], [1.0]]);
    assert_eq!(model.dense_1.bias(), Some(&[0.0]));
    assert_eq!(
        *model.dense_1.regularizers(),
        Regularizers {
            kernel: Regularizer::l2(0.5).unwrap(),
            bias: Regularizer::l1(0.25).unwrap(),
            ..Regularizers::NONE
        }
    );
    // 0.5 · (1² + 1²) + 0.25 · |0|
    assert_eq!(model.regularization(), 1.0);

    let named = Named::new(&mut StdRng::seed_from_u64(0));
    let both = Regularizer::l1_l2(0.01, 0.01).unwrap();
    assert_eq!(named.dense_1.regularizers().kernel, both);
    assert_eq!(
        named.dense_2.regularizers().kernel,
        Regularizer::l2(0.01).unwrap()
    );
}

#[test]
fn evaluate_and_fit_report_the_loss_plus_the_penalty_and_step_along_its_gradient() {
    let mut model = Unit::new(&mut StdRng::seed_from_u64(0));
    let data = one_sample();
    let mut trainer = Trainer::<_, _, _, 4>::new(&model, Sgd::new(0.1), MeanSquaredError);
    // y = 1 + 2 = 3: (3 - 1)² = 4, and the penalty 1.
    assert_eq!(trainer.evaluate(&model, &data).loss, 5.0);
    let plain = Plain::new(&mut StdRng::seed_from_u64(0));
    let mut plain_trainer = Trainer::<_, _, _, 4>::new(&plain, Sgd::new(0.1), MeanSquaredError);
    assert_eq!(plain_trainer.evaluate(&plain, &data).loss, 4.0);

    let options = Fit::epochs(1).shuffle(false).verbose(Verbose::Silent);
    let history = trainer
        .fit(&mut model, &data, options.validation_data(&data))
        .unwrap();
    // The loss of the step, with the weights before it.
    assert_eq!(history.loss, [5.0]);
    // dL/dy = 2 · (3 - 1) = 4: dW = [4, 8] + 2 · 0.5 · W = [5, 9], db = 4 + 0.25 · sign(0) = 4.
    let [[w1], [w2]] = *model.dense_1.weights();
    let b = model.dense_1.bias().unwrap()[0];
    for (found, expected) in [(w1, 0.5), (w2, 0.1), (b, -0.4)] {
        assert!(
            (found - expected).abs() < 1e-6,
            "{found}, expected {expected}"
        );
    }
    // y = 0.5 + 0.2 - 0.4 = 0.3: (0.3 - 1)² = 0.49, and 0.5 · (0.25 + 0.01) + 0.25 · 0.4 = 0.23.
    let expected = 0.49 + 0.23;
    let val_loss = history.val_loss[0];
    assert!((val_loss - expected).abs() < 1e-6, "val_loss {val_loss}");
    let evaluated = trainer.evaluate(&model, &data).loss;
    assert!((evaluated - expected).abs() < 1e-6, "evaluate {evaluated}");
}

#[cfg(feature = "parallel")]
#[test]
fn two_threads_add_the_penalty_once_as_one_thread_does() {
    let inputs: Vec<[f32; 3]> = (0..16)
        .map(|i| {
            [
                i as f32 / 8.0 - 1.0,
                (i % 3) as f32,
                ((i * 7) % 5) as f32 / 5.0,
            ]
        })
        .collect();
    let labels: Vec<u32> = (0..16).map(|i| i % 2).collect();
    let data = Dataset::<3, 2>::from_classes(inputs, labels).unwrap();
    let start = Classifier::new(&mut StdRng::seed_from_u64(3));
    let train = |threads: usize, model: &mut Classifier| -> History {
        let options = Fit::epochs(3)
            .shuffle(false)
            .threads(threads)
            .verbose(Verbose::Silent);
        if threads == 1 {
            Trainer::<_, _, _, 8>::new(model, Sgd::new(0.5), CategoricalCrossentropy)
                .fit(model, &data, options)
        } else {
            Trainer::<_, _, _, 4>::new(model, Sgd::new(0.5), CategoricalCrossentropy)
                .fit(model, &data, options)
        }
        .unwrap()
    };
    let (mut one, mut two) = (start.clone(), start.clone());
    let (a, b) = (train(1, &mut one), train(2, &mut two));
    for (a, b) in a.loss.iter().zip(&b.loss) {
        assert!((a - b).abs() < 1e-5, "losses {a} and {b}");
    }
    for (a, b) in one
        .dense_1
        .weights()
        .iter()
        .flatten()
        .zip(two.dense_1.weights().iter().flatten())
    {
        assert!((a - b).abs() < 1e-5, "weights {a} and {b}");
    }
    assert!((one.regularization() - two.regularization()).abs() < 1e-5);
}

network! {
    /// Keras' `Bidirectional` copies its layer's configuration to the backward layer, the
    /// regularizers included.
    struct BothWays<(5, 2) => Bidirectional(LSTM(3, kernel_regularizer = l2(0.5))) => Dense(1)>;
}

#[test]
fn both_layers_of_a_bidirectional_wrapper_are_regularized() {
    let model = BothWays::new(&mut StdRng::seed_from_u64(0));
    let mut kernels = 0.0;
    model.visit_tensors(&mut |name, _, values| {
        if name.ends_with(".kernel") && name.starts_with("lstm") {
            kernels += 0.5 * values.iter().map(|&w| f64::from(w * w)).sum::<f64>();
        }
    });
    let mut names = Vec::new();
    model.visit_tensors(&mut |name, _, _| names.push(name.to_owned()));
    assert!(kernels > 0.0, "{names:?}");
    assert!(
        (model.regularization() - kernels).abs() < 1e-5,
        "{} against {kernels}; tensors {names:?}",
        model.regularization()
    );
}

#[test]
fn sample_weights_weigh_the_loss_not_the_penalty() {
    // Keras: a batch's loss is Σ w·L / B, plus the penalty once.
    let model = Unit::new(&mut StdRng::seed_from_u64(0));
    let data = Dataset::from_arrays(vec![[1.0, 2.0], [0.0, 0.0]], vec![[1.0], [1.0]])
        .unwrap()
        .with_sample_weights(vec![3.0, 1.0])
        .unwrap();
    let mut trainer = Trainer::<_, _, _, 4>::new(&model, Sgd::new(0.1), MeanSquaredError);
    // Losses (3 - 1)² = 4 and (0 - 1)² = 1: (3 · 4 + 1 · 1) / 2 = 6.5, and the penalty 1.
    assert_eq!(trainer.evaluate(&model, &data).loss, 7.5);
}
