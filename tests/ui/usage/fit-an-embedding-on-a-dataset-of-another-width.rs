use netdsl::prelude::*;

network! {
    struct Spotter<196 => Embedding(16, 8) => Conv1D(32, 5, relu) => GlobalMaxPooling1D => Dense(10, softmax)>;
}

fn main() {
    let mut model = Spotter::new(&mut StdRng::seed_from_u64(0));
    let data = Dataset::<784, 10>::from_classes(vec![[0.0; 784]], vec![0]).unwrap();
    let mut trainer = Trainer::<_, _, _, 32>::new(&model, Adam::new(1e-3), CategoricalCrossentropy);
    let _ = trainer.fit(&mut model, &data, Fit::epochs(1));
}
