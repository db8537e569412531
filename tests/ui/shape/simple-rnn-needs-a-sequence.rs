use netdsl::prelude::*;

network! {
    // A recurrent layer reads steps: the input must be `(steps, features)`, or be reshaped to it.
    pub struct Net<784 => SimpleRNN(64) => Dense(10, softmax)>;
}

fn main() {}
