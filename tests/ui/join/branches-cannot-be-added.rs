use netdsl::prelude::*;

network! {
    /// The second branch ends with 32 values where the first ends with 64.
    struct Wide<784 => Add(Dense(64, relu), Dense(128, relu) => Dense(32)) => Dense(10, softmax)>;
}

fn main() {}
