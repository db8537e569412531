use netdsl::prelude::*;

network! {
    pub struct Mnist<784 => Dense(64, relu) => Dense(10, softmax)>;
}

fn main() {
    let model = Mnist::new(&mut StdRng::seed_from_u64(0));
    let image = [0.0_f32; 783];
    let _ = model.predict(&image);
}
