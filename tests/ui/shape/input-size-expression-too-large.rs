use netdsl::prelude::*;

network! {
    pub struct Wide<{ 18446744073709551615 * 2 } => Dense(10, softmax)>;
}

fn main() {}
