use netdsl::prelude::*;

network! {
    pub struct Encoder<784 => Dense(128, relu) => Dense(32, relu)>;
    pub struct Classifier<784 => Dense(100, relu) => Encoder => Dense(10, softmax)>;
}

fn main() {}
