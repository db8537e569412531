use netdsl::prelude::*;

network! {
    pub struct Mnist<784 => Dense(64, relu, bias = true, bias = false) => Dense(10, softmax)>;
}

fn main() {}
