use netdsl::prelude::*;

network! {
    pub struct Encoder<784 => Dense(32, rleu)>;
    pub struct Classifier<784 => Encoder => Dense(10, softmax)>;
}

fn main() {
    // Only the misspelt activation is reported: the stub the macro leaves for `Encoder` has the
    // network's API and widths, so these lines type-check.
    let mut rng = StdRng::seed_from_u64(0);
    let encoder = Encoder::new(&mut rng);
    let _features: [f32; 32] = encoder.predict(&[0.0; 784]);
    let _ = encoder.summary();
    let classifier = Classifier::new(&mut rng);
    let _trainer = Trainer::<_, _, _, 32>::new(&classifier, Sgd::new(0.01), CategoricalCrossentropy);
}
