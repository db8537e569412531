use netdsl::prelude::*;

network! {
    pub struct Net<784 => Dense(64, relu) => LayerNormalization(epsilon = 0) => Dense(10, softmax)>;
}

fn main() {}
