use netdsl::prelude::*;

network! {
    // Keras refuses a strided dilated convolution, and so does the DSL.
    pub struct Net<(16, 2) => Conv1D(4, 3, relu, strides = 2, dilation_rate = 2) => Flatten => Dense(2, softmax)>;
}

fn main() {}
