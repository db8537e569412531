use netdsl::prelude::*;

network! {
    /// Keras' `Add` passes on the logical and of its branches' masks; netdsl's cannot combine them.
    pub struct Reviews<(20, 8)
        => Add(Masking => GRU(8, return_sequences = true), GRU(8, return_sequences = true))
        => LSTM(16) => Dense(2, softmax)>;
}

fn main() {}
