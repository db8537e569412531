use netdsl::prelude::*;

network! {

}

fn main() {}
