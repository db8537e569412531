use netdsl::prelude::*;

network! {
    pub struct Mnist<784 => Dense(64, relu) => Reshape(0)>;
}

fn main() {
    // Only the zero is reported: the stand-in for `Mnist` still has `new`.
    let _model = Mnist::new(&mut StdRng::seed_from_u64(0));
}
