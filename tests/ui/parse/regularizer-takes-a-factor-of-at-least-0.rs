use netdsl::prelude::*;

network! {
    // A negative factor, and a word where a factor belongs.
    pub struct Mnist<784
        => Dense(64, relu, kernel_regularizer = l2(-1e-4), bias_regularizer = l1(small))
        => Dense(10, softmax)>;
}

fn main() {}
