use netdsl::prelude::*;

network! {
    pub struct Net<(28, 28, 1) => LayerNormalization => Conv2d(8, 3, relu) => Flatten => Dense(10, softmax)>;
}

fn main() {}
