use netdsl::prelude::*;

network! {
    pub struct Mnist<784 => Dense(64, relu, 7) => Dense(10, softmax)>;
}

fn main() {}
