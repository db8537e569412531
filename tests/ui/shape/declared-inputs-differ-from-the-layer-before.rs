use netdsl::prelude::*;

network! {
    pub struct Net<784 => Dense(100, relu) => Dense(784 -> 64, relu) => Dense(10, softmax)>;
}

fn main() {}
