use netdsl::prelude::*;

network! {
    pub struct Net<(28, 28, 1) => Conv2d(6, 5, relu) => MaxPool2d(0) => Flatten => Dense(10, softmax)>;
}

fn main() {}
