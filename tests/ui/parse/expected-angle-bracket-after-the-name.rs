use netdsl::prelude::*;

network! {
    pub struct Mnist;
}

fn main() {}
