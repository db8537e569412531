use netdsl::prelude::*;

network! {
    // A global pool of one rank after a layer of the other: the 2D pool was meant.
    pub struct Net<(28, 28, 1) => Conv2d(8, 3, relu) => GlobalAveragePooling1D => Dense(10, softmax)>;
}

fn main() {}
