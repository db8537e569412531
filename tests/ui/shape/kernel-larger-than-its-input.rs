use netdsl::prelude::*;

network! {
    pub struct Net<(5, 5, 1) => Conv2d(4, 7, relu) => Flatten => Dense(10, softmax)>;
}

fn main() {}
