use netdsl::prelude::*;

network! {
    pub struct Mnist<784 => Reshape(4294967296, 4294967296, 2) => Flatten => Dense(10, softmax)>;
}

fn main() {}
