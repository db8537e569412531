use netdsl::prelude::*;

network! {
    /// 4 heads of 8 project to 32 values: a transformer block adds them back to 64 features.
    struct Encode<(16, 64) => TransformerEncoder(heads = 4, key_dim = 8, ff = 128) => GlobalAveragePooling1D => Dense(10, softmax)>;
}

fn main() {}
