use netdsl::prelude::*;

network! {
    pub struct Mnist<784 => Dense(bias = false) => Dense(10, softmax)>;
}

fn main() {}
