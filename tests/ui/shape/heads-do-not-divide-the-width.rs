use netdsl::prelude::*;

network! {
    /// 64 features do not split into 5 heads when `key_dim` is left to the macro.
    struct Attend<(16, 64) => MultiHeadAttention(heads = 5) => GlobalAveragePooling1D => Dense(10, softmax)>;
    /// Nor into 3 heads of a transformer block.
    struct Encode<(16, 64) => TransformerEncoder(heads = 3, ff = 128) => GlobalAveragePooling1D => Dense(10, softmax)>;
}

fn main() {}
