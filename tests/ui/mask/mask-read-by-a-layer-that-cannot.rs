use netdsl::prelude::*;

network! {
    /// Keras' `GlobalAveragePooling1D` averages only the steps the mask keeps; netdsl's cannot.
    pub struct Reviews<(20, 8) => Masking => GlobalAveragePooling1D => Dense(2, softmax)>;
}

fn main() {}
