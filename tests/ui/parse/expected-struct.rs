use netdsl::prelude::*;

network! {
    pub enum Mnist<784 => Dense(10, softmax)>;
}

fn main() {}
