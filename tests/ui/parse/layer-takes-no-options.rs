use netdsl::prelude::*;

network! {
    pub struct Images<(28, 28, 1) => Conv2d(4, 3, relu) => Flatten(bias = false) => Dense(10, softmax)>;
}

fn main() {}
