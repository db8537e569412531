use netdsl::prelude::*;

network! {
    pub struct Mnist<Dense(64, relu) => Dense(10, softmax)>;
}

fn main() {}
