use netdsl::prelude::*;

network! {
    pub struct Mnist<784 => Dense(64 relu) => Dense(10, softmax)>;
}

fn main() {}
