use netdsl::prelude::*;

network! {
    /// A dense layer on an image inside a branch is reported where it is written.
    struct Branchy<(8, 8, 1) => Concatenate(Conv2d(4, 3, relu), Dense(4, relu)) => Flatten => Dense(10, softmax)>;
}

fn main() {}
