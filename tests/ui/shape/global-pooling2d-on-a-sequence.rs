use netdsl::prelude::*;

network! {
    // A global pool of one rank after a layer of the other: the 1D pool was meant.
    pub struct Net<(100, 8) => Conv1D(16, 5, relu) => GlobalMaxPooling2D => Dense(2, softmax)>;
}

fn main() {}
