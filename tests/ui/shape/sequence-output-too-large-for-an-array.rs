use netdsl::prelude::*;

network! {
    pub struct Long<(1000000000000, 1) => LSTM(1000000, return_sequences = true) => Flatten => Dense(10, softmax)>;
}

fn main() {}
