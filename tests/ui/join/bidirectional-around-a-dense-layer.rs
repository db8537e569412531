use netdsl::prelude::*;

network! {
    /// `Bidirectional` reads a sequence both ways with a recurrent layer; a dense layer has no
    /// direction to read.
    struct Rows<(28, 28) => Bidirectional(Dense(32, relu)) => Flatten => Dense(10, softmax)>;
    /// Nor does it take a chain.
    struct Chain<(28, 28) => Bidirectional(LSTM(32, return_sequences = true) => LSTM(16)) => Dense(10, softmax)>;
}

fn main() {}
