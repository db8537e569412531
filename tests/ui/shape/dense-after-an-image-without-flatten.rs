use netdsl::prelude::*;

network! {
    pub struct Net<(28, 28, 1) => Conv2d(6, 5, relu) => MaxPool2d(2) => Dense(10, softmax)>;
}

fn main() {}
