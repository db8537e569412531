use netdsl::prelude::*;

network! {
    // Zero padding adds rows and columns to an image; a sequence has steps of features.
    pub struct Net<(10, 3) => ZeroPadding2D(1) => Flatten => Dense(2, softmax)>;
}

fn main() {}
