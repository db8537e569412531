use netdsl::prelude::*;

network! {
    /// An `Embedding` looks up token ids: a dense layer before it gives floats.
    struct AfterDense<196 => Dense(196, relu) => Embedding(16, 8) => Flatten => Dense(10, softmax)>;
    /// Nor does it read an image.
    struct OnImage<(28, 28, 1) => Embedding(16, 8) => Flatten => Dense(10, softmax)>;
    /// Nor the floats handed to a branch.
    struct InBranch<196 => Dense(196) => Add(Embedding(16, 8), Embedding(16, 8)) => Flatten => Dense(10, softmax)>;
}

fn main() {}
