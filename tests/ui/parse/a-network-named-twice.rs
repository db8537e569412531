use netdsl::prelude::*;

network! {
    pub struct Mnist<784 => Dense(64, relu) => Dense(10, softmax)>;
    pub struct Mnist<784 => Dense(10, softmax)>;
}

fn main() {
    let _ = Mnist::new(&mut StdRng::seed_from_u64(0)).predict(&[0.0; 784]);
}
