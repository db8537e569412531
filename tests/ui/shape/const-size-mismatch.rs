use netdsl::prelude::*;

const HIDDEN: usize = 100;

network! {
    pub struct Net<784 => Dense(64, relu) => Dense(HIDDEN -> 10, softmax)>;
}

fn main() {}
