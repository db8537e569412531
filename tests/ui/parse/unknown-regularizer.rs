use netdsl::prelude::*;

network! {
    pub struct Mnist<784 => Dense(64, relu, kernel_regularizer = l3(1e-4)) => Dense(10, softmax)>;
}

fn main() {}
