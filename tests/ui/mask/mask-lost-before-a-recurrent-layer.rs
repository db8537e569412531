use netdsl::prelude::*;

network! {
    /// Keras' `LayerNormalization` passes the mask on to the LSTM; netdsl's cannot.
    pub struct Reviews<(20, 8) => Masking => LayerNormalization => LSTM(16) => Dense(2, softmax)>;
}

fn main() {}
