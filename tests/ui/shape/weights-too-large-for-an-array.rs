use netdsl::prelude::*;

network! {
    pub struct Wide<784 => Dense(1000000000000000, relu) => Dense(10, softmax)>;
}

fn main() {}
