use netdsl::prelude::*;

network! {
    pub struct Mnist<784 => Dense(64, relu, kernel_initializer = he_normall) => Dense(10, softmax)>;
}

fn main() {}
