use netdsl::prelude::*;

network! {
    pub struct Mnist<784 => Dense(10, softmax)>
    pub struct Other<4 => Dense(2, softmax)>;
}

fn main() {}
