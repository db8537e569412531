use netdsl::prelude::*;

network! {
    pub struct Mnist<784 => Dense(64, relu, bias = 0) => Dense(10, softmax)>;
}

fn main() {}
