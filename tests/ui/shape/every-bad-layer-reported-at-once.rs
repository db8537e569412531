use netdsl::prelude::*;

network! {
    pub struct Mnist<0 => Dense(0, relu) => Dense(64, sigmiod) => Conv(3) => Dense(10, softmax, 7)>;
}

fn main() {
    // The stub the macro leaves keeps this line from adding errors of its own.
    let _ = Mnist;
}
