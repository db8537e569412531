use netdsl::prelude::*;

network! {
    pub struct Encoder<784 => Dense(32, rleu)>;
    pub struct Classifier<784 => Encoder => Dense(10, softmax)>;
    pub struct Scores<784 => Dense(0, relu) => Dense(10, sofmax)>;
}

fn main() {
    // Only the three mistakes are reported: the stand-ins the macro leaves have the networks'
    // API, widths and (closest) output activations, so these lines type-check.
    let mut rng = StdRng::seed_from_u64(0);
    let encoder = Encoder::new(&mut rng);
    let _features: [f32; 32] = encoder.predict(&[0.0; 784]);
    let _ = encoder.summary();
    let classifier = Classifier::new(&mut rng);
    let _trainer = Trainer::<_, _, _, 32>::new(&classifier, Sgd::new(0.01), CategoricalCrossentropy);
    let scores = Scores::new(&mut rng);
    let _trainer = Trainer::<_, _, _, 32>::new(&scores, Sgd::new(0.01), CategoricalCrossentropy);
}
