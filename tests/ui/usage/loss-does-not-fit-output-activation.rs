use netdsl::prelude::*;

network! {
    pub struct Scores<4 => Dense(8, relu) => Dense(3, sigmoid)>;

    /// Log-probabilities: cross-entropy would take their logarithm again.
    pub struct LogScores<4 => Dense(8, relu) => Dense(3, log_softmax)>;
}

fn main() {
    let model = Scores::new(&mut StdRng::seed_from_u64(0));
    let _ = Trainer::<_, _, _, 32>::new(&model, Sgd::new(0.01), CategoricalCrossentropy);
    let model = LogScores::new(&mut StdRng::seed_from_u64(0));
    let _ = Trainer::<_, _, _, 32>::new(&model, Sgd::new(0.01), CategoricalCrossentropy);
}
