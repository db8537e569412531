use netdsl::prelude::*;

network! {
    /// A table of 10 positions cannot cover 16 patches.
    struct Patches<(16, 64) => PositionEmbedding(sequence_length = 10) => GlobalAveragePooling1D => Dense(10, softmax)>;
}

fn main() {}
