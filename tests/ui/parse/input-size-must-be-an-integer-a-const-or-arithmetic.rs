use netdsl::prelude::*;

network! {
    pub struct Mnist<"784" => Dense(10, softmax)>;
}

fn main() {}
