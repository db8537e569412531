use netdsl::prelude::*;

network! {
    pub struct Mnist<784 => Dense(99999999999999999999999, relu) => Dense(10, softmax)>;
}

fn main() {}
