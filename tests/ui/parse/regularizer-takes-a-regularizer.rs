use netdsl::prelude::*;

network! {
    pub struct Mnist<784 => Dense(64, relu, kernel_regularizer = 0.01) => Dense(10, softmax)>;
}

fn main() {}
