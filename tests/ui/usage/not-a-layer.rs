use netdsl::prelude::*;

network! {
    pub struct Net<784 => Dense(64, relu) => String => Dense(10, softmax)>;
}

fn main() {}
