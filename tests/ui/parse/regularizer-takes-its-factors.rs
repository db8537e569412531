use netdsl::prelude::*;

network! {
    // A factor `l1_l2` does not take, and a factor too many.
    pub struct Mnist<784
        => Dense(64, relu, kernel_regularizer = l1_l2(l1 = 0.01, l3 = 0.1))
        => Dense(10, softmax, kernel_regularizer = l2(0.1, 0.2))>;
}

fn main() {}
