//! Weights per class and per sample, as Keras defines them: `class_weight` and `sample_weight`
//! multiply each sample's loss and gradient, the mean of a batch staying `Σ w_i · L_i / B`.

use std::path::Path;

use netdsl::prelude::*;
use netdsl::train::TrainError;

network! {
    #[derive(Clone)]
    struct Small<2 => Dense(4, tanh) => Dense(2, softmax)>;

    /// The MNIST classifier from the Keras tutorial.
    #[derive(Clone)]
    struct Mnist<784 => Dense(64, relu) => Dense(10, softmax)>;
}

fn points() -> Dataset<2, 2> {
    let inputs = vec![
        [0.1, 0.9],
        [0.8, 0.2],
        [0.4, 0.4],
        [0.9, 0.7],
        [0.2, 0.3],
        [0.6, 0.1],
    ];
    Dataset::from_classes(inputs, vec![0, 1, 1, 0, 1, 0]).unwrap()
}

fn trainer(model: &Small) -> Trainer<Small, Sgd, CategoricalCrossentropy, 4> {
    Trainer::new(model, Sgd::new(0.5), CategoricalCrossentropy)
}

#[test]
fn a_class_weight_is_the_sample_weight_of_every_sample_of_the_class() {
    let start = Small::new(&mut StdRng::seed_from_u64(1));
    let options = || Fit::epochs(3).seed(5).verbose(Verbose::Silent);

    let mut by_class = start.clone();
    let a = trainer(&start)
        .fit(&mut by_class, &points(), options().class_weight([(1, 3.0)]))
        .unwrap();

    let weights = [1.0, 3.0, 3.0, 1.0, 3.0, 1.0];
    let weighted = points().with_sample_weights(weights.to_vec()).unwrap();
    let mut by_sample = start.clone();
    let b = trainer(&start)
        .fit(&mut by_sample, &weighted, options())
        .unwrap();

    assert_eq!(a.loss, b.loss);
    assert_eq!(
        by_class.predict(&[0.3, 0.6]),
        by_sample.predict(&[0.3, 0.6])
    );
    // And the weights moved the training: an unweighted fit ends elsewhere.
    let mut plain = start.clone();
    let c = trainer(&start)
        .fit(&mut plain, &points(), options())
        .unwrap();
    assert_ne!(a.loss, c.loss);
}

#[test]
fn weights_of_two_double_the_loss_and_the_step() {
    // One step over the whole batch: twice the gradient at rate 0.5 is the gradient at rate 1.
    let start = Small::new(&mut StdRng::seed_from_u64(2));
    let data = Dataset::<2, 2>::from_classes(vec![[0.1, 0.9], [0.8, 0.2]], vec![0, 1]).unwrap();
    let doubled = data.clone().with_sample_weights(vec![2.0, 2.0]).unwrap();
    let options = || Fit::epochs(1).shuffle(false).verbose(Verbose::Silent);

    let mut weighted = start.clone();
    let mut half_rate = Trainer::<_, _, _, 2>::new(&start, Sgd::new(0.5), CategoricalCrossentropy);
    let a = half_rate.fit(&mut weighted, &doubled, options()).unwrap();
    let mut plain = start.clone();
    let mut full_rate = Trainer::<_, _, _, 2>::new(&start, Sgd::new(1.0), CategoricalCrossentropy);
    let b = full_rate.fit(&mut plain, &data, options()).unwrap();
    assert_eq!(a.loss[0], 2.0 * b.loss[0]);
    assert_eq!(weighted.predict(&[0.5, 0.5]), plain.predict(&[0.5, 0.5]));
}

#[test]
fn evaluate_weighs_each_loss_by_its_sample_weight() {
    let model = Small::new(&mut StdRng::seed_from_u64(3));
    let mut trainer = trainer(&model);
    let data = points();
    let losses: Vec<f32> = (0..data.len())
        .map(|i| trainer.evaluate(&model, &single(&data, i)).loss)
        .collect();
    let weights = [0.0, 1.0, 2.0, 0.5, 1.0, 3.0];
    let weighted = data.with_sample_weights(weights.to_vec()).unwrap();
    let result = trainer.evaluate(&model, &weighted);
    // Keras' sum over the batch size: Σ w_i · L_i / N, not over Σ w_i.
    let expected: f64 = losses
        .iter()
        .zip(weights)
        .map(|(&l, w)| f64::from(l) * f64::from(w))
        .sum::<f64>()
        / 6.0;
    assert!(
        (f64::from(result.loss) - expected).abs() < 1e-6,
        "{result:?} {expected}"
    );
    // Accuracy stays unweighted, as Keras' compiled metrics are.
    assert_eq!(
        result.accuracy,
        trainer.evaluate(&model, &points()).accuracy
    );
}

fn single(data: &Dataset<2, 2>, i: usize) -> Dataset<2, 2> {
    Dataset::from_arrays(vec![data.input(i)], vec![data.target(i)]).unwrap()
}

#[test]
fn class_weights_that_cannot_apply_are_refused_before_training() {
    let start = Small::new(&mut StdRng::seed_from_u64(4));
    let cases = [
        (
            vec![(2, 1.0)],
            points(),
            "class 2, but the network has 2 classes (0 to 1)",
        ),
        (vec![(0, -1.0)], points(), "class 0 has the weight -1"),
        (vec![(1, f32::NAN)], points(), "class 1 has the weight NaN"),
        (
            vec![(1, 2.0)],
            points().with_sample_weights(vec![1.0; 6]).unwrap(),
            "the training data has sample weights",
        ),
    ];
    for (class_weight, data, expected) in cases {
        let mut model = start.clone();
        let options = Fit::epochs(1)
            .verbose(Verbose::Silent)
            .class_weight(class_weight);
        let error = trainer(&start).fit(&mut model, &data, options).unwrap_err();
        assert!(
            matches!(error, TrainError::InvalidClassWeight { .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains(expected), "{error}");
        assert_eq!(
            model.predict(&[0.3, 0.6]),
            start.predict(&[0.3, 0.6]),
            "untouched"
        );
    }
    let error = points().with_sample_weights(vec![1.0; 5]).unwrap_err();
    assert!(
        error.to_string().contains('6') && error.to_string().contains('5'),
        "{error}"
    );
}

/// The recall of class `class` on `data`: the share of its samples predicted as it.
fn recall(model: &Mnist, data: &Dataset<784, 10>, class: usize) -> f32 {
    let (mut found, mut total) = (0, 0);
    for i in 0..data.len() {
        if netdsl::metrics::argmax(&data.target(i)) == class {
            total += 1;
            found += usize::from(netdsl::metrics::argmax(&model.predict(&data.input(i))) == class);
        }
    }
    found as f32 / total as f32
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "trains on 10,000 MNIST images, a minute unoptimised: run with --release"
)]
fn a_class_weight_raises_the_recall_of_a_rare_class() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    let all = Dataset::mnist(&dir, MnistSplit::Train).unwrap();
    let test = Dataset::mnist(&dir, MnistSplit::Test).unwrap();
    // The first 12,000 training images, with 1 in 50 of the threes kept: about 25 threes
    // among 10,800 images.
    const RARE: usize = 3;
    let (mut inputs, mut classes, mut threes) = (Vec::new(), Vec::new(), 0);
    for i in 0..12_000 {
        let class = netdsl::metrics::argmax(&all.target(i));
        if class == RARE {
            threes += 1;
            if threes % 50 != 0 {
                continue;
            }
        }
        inputs.push(all.input(i));
        classes.push(class as u32);
    }
    let rare = classes.iter().filter(|&&c| c as usize == RARE).count();
    let data = Dataset::from_classes(inputs, classes).unwrap();

    let start = Mnist::new(&mut StdRng::seed_from_u64(42));
    let fit = |class_weight: Vec<(usize, f32)>| {
        let mut model = start.clone();
        let mut trainer =
            Trainer::<_, _, _, 32>::new(&start, Sgd::new(0.05), CategoricalCrossentropy);
        let options = Fit::epochs(3)
            .seed(1)
            .verbose(Verbose::Silent)
            .class_weight(class_weight);
        trainer.fit(&mut model, &data, options).unwrap();
        let accuracy = trainer.evaluate(&model, &test).accuracy.unwrap();
        (recall(&model, &test, RARE), accuracy)
    };
    let (plain, plain_accuracy) = fit(Vec::new());
    let (weighted, weighted_accuracy) = fit(vec![(RARE, 20.0)]);
    println!(
        "{rare} threes among {} images; recall of the threes on the test set: {plain:.4} unweighted, {weighted:.4} with class_weight {{3: 20}}; test accuracy {plain_accuracy:.4} and {weighted_accuracy:.4}",
        data.len()
    );
    assert!(weighted > plain + 0.1, "{plain} -> {weighted}");
}
