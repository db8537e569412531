use netdsl::prelude::*;

network! {
    /// `Dense` acts on each step of a sequence; a softmax over each step is not supported.
    struct Tagger<(16, 32) => Dense(10, softmax)>;
}

fn main() {}
