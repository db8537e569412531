use netdsl::prelude::*;

network! {
    pub struct Pooled<(32, 1) => LSTM(16, return_sequences = true) => GlobalAveragePooling1D => Dense(1)>;
}

/// A real-time loop, generic over the network it runs.
fn run<N: Stream<StepIn = [f32; 1]>>(net: &N) {
    let mut state = N::State::default();
    net.predict_step(&mut state, &[0.5]);
}

fn main() {
    let net = Pooled::new(&mut StdRng::seed_from_u64(0));
    net.predict_step(&mut Default::default(), &[0.5]);
    run(&net);
}
