use netdsl::prelude::*;

network! {
    pub struct Net<784 => Dense(64) => BatchNormalization(64) => Dense(10, softmax)>;
}

fn main() {}
