use netdsl::prelude::*;

network! {
    pub struct Mnist<784 => Dense(64, relu, bias_initializer = orthogonal) => Dense(10, softmax)>;
}

fn main() {}
