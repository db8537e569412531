use netdsl::prelude::*;

network! {
    /// Attention relates the steps of a sequence: a vector has none.
    struct Flat<64 => MultiHeadAttention(heads = 4, key_dim = 16) => Dense(10, softmax)>;
    /// And needs to know its heads.
    struct Headless<(16, 64) => MultiHeadAttention(key_dim = 16) => GlobalAveragePooling1D => Dense(10, softmax)>;
    /// A transformer block on an image.
    struct Pixels<(28, 28, 1) => TransformerEncoder(heads = 4, ff = 64) => Flatten => Dense(10, softmax)>;
}

fn main() {}
