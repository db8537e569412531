use netdsl::prelude::*;

network! {
    // The DSL spells Keras' `Conv1D` as Keras does (and `Conv2d` as the Rust type is spelt).
    pub struct Net<(100, 8) => Conv1d(16, 5, relu) => GlobalMaxPooling1D => Dense(2, softmax)>;
}

fn main() {}
