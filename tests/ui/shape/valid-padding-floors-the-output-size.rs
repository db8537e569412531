use netdsl::prelude::*;

network! {
    // (28 - 3) / 2 + 1 = 13.5: valid padding floors it to 13, as Keras does, so the 14×14 this
    // `Reshape` assumes does not fit.
    pub struct Net<(28, 28, 1) => Conv2d(8, 3, relu, stride = 2) => Reshape(14, 14, 8) => Flatten => Dense(10, softmax)>;
}

fn main() {}
