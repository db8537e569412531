use netdsl::prelude::*;

network! {
    /// Keras' `BatchNormalization` leaves padded steps out of its statistics; netdsl's cannot.
    pub struct Reviews<(20, 8) => Masking => BatchNormalization => LSTM(16) => Dense(2, softmax)>;
}

fn main() {}
