use netdsl::prelude::*;

network! {
    /// The MNIST classifier from the Keras tutorial.
    pub struct Mnist<784 => Dense(64, relu) => Dense(10, softmax)>;
}

#[test]
fn smoke() {
    let mut rng = StdRng::seed_from_u64(1);
    let model = Mnist::new(&mut rng);
    println!("{}", model.summary());
    let y = model.predict(&[0.5; 784]);
    assert!((y.iter().sum::<f32>() - 1.0).abs() < 1e-5);
}
