use netdsl::prelude::*;

network! {
    /// The block's second convolution gives 16 channels where its input has 32.
    struct ResNet<(8, 8, 3)
        => Conv2d(32, 3, relu, padding = same)
        => Residual(Conv2d(32, 3, relu, padding = same) => Conv2d(16, 3, linear, padding = same), relu)
        => Flatten => Dense(10, softmax)>;
}

fn main() {}
