use netdsl::prelude::*;

network! {
    struct Spotter<196 => Embedding(16, 8) => Conv1D(32, 5, relu) => GlobalMaxPooling1D => Dense(10, softmax)>;
}

fn main() {
    let model = Spotter::new(&mut StdRng::seed_from_u64(0));
    // Pixels are not token ids: build `Tokens::new(ids)?`, which checks each id.
    model.predict(&[0.5; 196]);
}
