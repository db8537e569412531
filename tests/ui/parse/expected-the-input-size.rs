use netdsl::prelude::*;

network! {
    pub struct Mnist<=> Dense(10, softmax)>;
}

fn main() {}
