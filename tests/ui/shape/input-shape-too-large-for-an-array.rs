use netdsl::prelude::*;

network! {
    pub struct Images<(1000000000, 1000000000, 1000000000) => Flatten => Dense(10, softmax)>;
}

fn main() {}
