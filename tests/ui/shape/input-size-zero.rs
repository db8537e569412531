use netdsl::prelude::*;

network! {
    pub struct Mnist<0 => Dense(10, softmax)>;
}

fn main() {}
