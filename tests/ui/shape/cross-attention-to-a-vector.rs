use netdsl::prelude::*;

network! {
    /// The value branch ends in a vector: attention reads sequences.
    pub struct Captions<(16, 64)
        => CrossAttention(Dense(64), Flatten => Dense(32), heads = 4, key_dim = 16)
        => Flatten => Dense(10, softmax)>;
}

fn main() {}
