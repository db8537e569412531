use netdsl::prelude::*;

network! {
    pub struct Mnist<784 => Dense(0, relu) => Dense(10, softmax)>;
}

fn main() {
    // Only the zero is reported: the stub still has `new`.
    let _model = Mnist::new(&mut StdRng::seed_from_u64(0));
}
