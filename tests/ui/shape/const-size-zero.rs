use netdsl::prelude::*;

const HIDDEN: usize = 0;

network! {
    pub struct Mnist<784 => Dense(HIDDEN, relu) => Dense(10, softmax)>;
}

fn main() {}
