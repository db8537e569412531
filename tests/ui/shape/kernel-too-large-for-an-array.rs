use netdsl::prelude::*;

network! {
    pub struct Images<(28, 28, 1) => Conv2d(1000000000, 1000000000, padding = same) => Flatten => Dense(10, softmax)>;
}

fn main() {}
