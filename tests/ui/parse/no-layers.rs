use netdsl::prelude::*;

network! {
    pub struct Mnist<784>;
}

fn main() {}
