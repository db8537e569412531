use netdsl::prelude::*;

network! {
    pub struct Net<784 => Dense => Dense(10, softmax)>;
}

fn main() {}
