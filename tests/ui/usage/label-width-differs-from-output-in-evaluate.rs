use netdsl::prelude::*;

network! {
    pub struct Mnist<784 => Dense(64, relu) => Dense(10, softmax)>;
}

fn main() {
    let model = Mnist::new(&mut StdRng::seed_from_u64(0));
    let data = Dataset::<784, 9>::from_classes(vec![[0.0; 784]], vec![3]).unwrap();
    let mut trainer = Trainer::<_, _, _, 32>::new(&model, Sgd::new(0.01), CategoricalCrossentropy);
    trainer.evaluate(&model, &data);
}
