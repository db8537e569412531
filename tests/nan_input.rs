//! A NaN in a sample reaches the output, as in Keras and TensorFlow: `predict` never turns a
//! bad input into a plausible answer (relu and max pooling used to map NaN to a number).

use netdsl::prelude::*;

network! {
    /// The tutorial network.
    struct Mnist<784 => Dense(64, relu) => Dense(10, softmax)>;

    /// Convolution, max pooling and relu: everything that could swallow a NaN.
    struct Images<(8, 8, 1) => Conv2d(4, 3, relu) => MaxPool2d(2) => Flatten => Dense(3, softmax)>;
}

#[test]
fn a_nan_pixel_makes_every_probability_nan() {
    let model = Mnist::new(&mut StdRng::seed_from_u64(1));
    let mut image = [0.5; 784];
    image[300] = f32::NAN;
    let probabilities = model.predict(&image);
    assert!(
        probabilities.iter().all(|p| p.is_nan()),
        "{probabilities:?}"
    );
}

#[test]
fn a_nan_pixel_survives_convolution_and_max_pooling() {
    let model = Images::new(&mut StdRng::seed_from_u64(1));
    let mut image = [-0.5; 64];
    image[27] = f32::NAN;
    let probabilities = model.predict(&image);
    assert!(
        probabilities.iter().all(|p| p.is_nan()),
        "{probabilities:?}"
    );
    // The batched path agrees.
    let mut tape = model.new_tape::<1>();
    let mut y = [[0.0; 3]];
    model.forward(&[image], &mut y, &mut tape);
    assert!(y[0].iter().all(|p| p.is_nan()), "{y:?}");
}
