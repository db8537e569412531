use netdsl::prelude::*;

network! {
    // `Conv1D` slides along steps; an image has rows and columns.
    pub struct Net<(28, 28, 1) => Conv1D(8, 3, relu) => GlobalMaxPooling1D => Dense(10, softmax)>;
}

fn main() {}
