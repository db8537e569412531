use netdsl::prelude::*;

network! {
    pub struct Reviews<(20, 8) => Masking(mask_value = 1e40) => LSTM(16) => Dense(2, softmax)>;
}

fn main() {}
