use netdsl::prelude::*;

network! {
    // Keras' forms: `1`, `(rows, columns)` or `((top, bottom), (left, right))`; not three sizes.
    pub struct Net<(28, 28, 1) => ZeroPadding2D((1, 2, 3)) => Conv2d(4, 3, relu) => Flatten => Dense(10, softmax)>;
}

fn main() {}
