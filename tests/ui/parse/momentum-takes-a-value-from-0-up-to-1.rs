use netdsl::prelude::*;

network! {
    pub struct Net<784 => Dense(64) => BatchNormalization(relu, momentum = 1.5) => Dense(10, softmax)>;
}

fn main() {}
