use netdsl::prelude::*;

network! {
    pub struct Net<784 => Dense(64) => BatchNorm(epsilon = small) => Dense(10, softmax)>;
}

fn main() {}
