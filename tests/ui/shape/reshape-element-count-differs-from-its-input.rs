use netdsl::prelude::*;

network! {
    pub struct Net<784 => Dense(100, relu) => Reshape(10, 10, 2) => Flatten => Dense(10, softmax)>;
}

fn main() {}
