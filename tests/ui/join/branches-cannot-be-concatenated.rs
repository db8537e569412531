use netdsl::prelude::*;

network! {
    /// A 3×3 pooling leaves the second branch 2×2 where the first is 8×8.
    struct Inception<(8, 8, 1)
        => Concatenate(Conv2d(4, 1, relu), Conv2d(4, 3, relu, padding = same) => MaxPool2d(3))
        => Flatten => Dense(10, softmax)>;
}

fn main() {}
