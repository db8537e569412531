use netdsl::prelude::*;

network! {
    pub struct Broken<784 => Dense(64, relu) =>>;
    pub struct AlsoBroken<784 => Dense(64, rleu) => Dense(10, softmax)>;
    pub struct Fine<784 => Dense(10, softmax)>;
}

fn main() {
    // The stubs and the good network keep these lines free of errors of their own.
    let _ = (Broken, AlsoBroken);
    let _ = Fine::new(&mut StdRng::seed_from_u64(0)).predict(&[0.0; 784]);
}
