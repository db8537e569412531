//! # netdsl: neural networks whose shapes are part of their types
//!
//! Write a network's layers once, in a small DSL; `network!` turns them into a plain Rust
//! struct whose layer sizes the compiler checks, with forward and backward passes written out
//! at compile time — no tape, no graph, no heap allocation per call — and a Keras-like
//! training surface around it.
//!
//! ```
//! use netdsl::prelude::*;
//!
//! network! {
//!     /// XOR needs a hidden layer: no single line separates its classes.
//!     pub struct Xor<2 => Dense(8, tanh) => Dense(1, sigmoid)>;
//! }
//!
//! let data = Dataset::<2, 1>::from_arrays(
//!     vec![[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]],
//!     vec![[0.0], [1.0], [1.0], [0.0]],
//! )?;
//! let mut model = Xor::new(&mut StdRng::seed_from_u64(1));
//!
//! // Keras: model.compile(optimizer=SGD(0.5, momentum=0.9), loss="binary_crossentropy", metrics=["accuracy"])
//! let mut trainer = Trainer::<_, _, _, 4>::new(&model, Sgd::new(0.5).momentum(0.9), BinaryCrossentropy);
//! // Keras: model.fit(x, y, epochs=300, batch_size=4, verbose=0)
//! let history = trainer.fit(&mut model, &data, Fit::epochs(300).verbose(Verbose::Silent));
//!
//! assert!(history.loss[299] < 0.05, "final loss {}", history.loss[299]);
//! assert!(model.predict(&[1.0, 0.0])[0] > 0.9);
//! assert!(model.predict(&[1.0, 1.0])[0] < 0.1);
//! # Ok::<(), netdsl::data::Error>(())
//! ```
//!
//! ## Defining networks
//!
//! ```text
//! network! {
//!     [attributes] [visibility] struct Name<INPUTS => Layer => Layer ...>;
//!     ... more networks ...
//! }
//! ```
//!
//! - `INPUTS` and every size are integer literals or paths to `const` items
//!   (`Dense(HIDDEN, relu)`).
//! - `Dense(units, activation)` is a fully connected layer, `y = f(x · W + b)`. The activation
//!   is one of `relu`, `sigmoid`, `tanh`, `softmax`, `linear` (the default when omitted), and
//!   `bias = false` drops the bias.
//! - Attributes go to the struct: doc comments, `#[derive(Clone, Debug)]`.
//!
//! For `pub struct Mnist<784 => Dense(64, relu) => Dense(10, softmax)>;` the macro generates:
//!
//! - `pub struct Mnist { pub dense_1: Dense<784, 64, Relu>, pub dense_2: Dense<64, 10, Softmax> }`,
//!   one field per layer, named `dense_1`, `dense_2`, ... in order;
//! - `Mnist::new(&mut rng)`: Glorot-uniform weights and zero biases, Keras' defaults;
//! - `MnistTape<BATCH>`: every intermediate of a batch of `BATCH` samples that the backward
//!   pass needs (the layer outputs are public fields, for inspection);
//! - `MnistGrads`: the gradient of every parameter, one field per layer;
//! - an implementation of [`Network`](network::Network): `forward` and `backward` over a
//!   batch, `predict` for one sample, `summary()`, and the parameter visitor optimizers use.
//!
//! ## Training, as in Keras
//!
//! | Keras | netdsl |
//! |---|---|
//! | `model.compile(optimizer, loss, metrics=["accuracy"])` | [`Trainer::<_, _, _, BATCH>::new(&model, optimizer, loss)`](train::Trainer::new) |
//! | `model.fit(x, y, epochs, batch_size, validation_data)` | [`trainer.fit(&mut model, &data, Fit::epochs(n).validation_data(&val))`](train::Trainer::fit) |
//! | `model.evaluate(x, y)` | [`trainer.evaluate(&model, &data)`](train::Trainer::evaluate) |
//! | `model.predict(x)` | [`model.predict(&sample)`](network::Network::predict) |
//! | `model.summary()` | [`model.summary()`](network::Network::summary) |
//! | `history.history["val_accuracy"]` | [`history.val_accuracy`](train::History) |
//!
//! The batch size is a `const` (`BATCH` above), so every buffer of a training step is sized by
//! its type and allocated once, when the trainer is created; epochs, steps and predictions
//! then allocate nothing. The `mnist` example is the Keras tutorial line for line.
//!
//! Losses fit the output layer's activation, and another pairing does not compile:
//! [`CategoricalCrossentropy`](loss::CategoricalCrossentropy) follows `softmax`,
//! [`BinaryCrossentropy`](loss::BinaryCrossentropy) follows `sigmoid`, and
//! [`MeanSquaredError`](loss::MeanSquaredError) follows anything.
//!
//! ## Shape mistakes do not compile
//!
//! A sample of the wrong width is a type error:
//!
//! ```compile_fail,E0308
//! use netdsl::prelude::*;
//!
//! network! {
//!     pub struct Mnist<784 => Dense(64, relu) => Dense(10, softmax)>;
//! }
//!
//! let model = Mnist::new(&mut StdRng::seed_from_u64(0));
//! let image = [0.0_f32; 783];
//! model.predict(&image); // expected an array with a size of 784, found one with a size of 783
//! ```
//!
//! So are labels of the wrong width:
//!
//! ```compile_fail,E0308
//! use netdsl::prelude::*;
//!
//! network! {
//!     pub struct Mnist<784 => Dense(64, relu) => Dense(10, softmax)>;
//! }
//!
//! let mut model = Mnist::new(&mut StdRng::seed_from_u64(0));
//! let nine_classes = Dataset::<784, 9>::from_classes(vec![[0.0; 784]], vec![3]).unwrap();
//! let mut trainer = Trainer::<_, _, _, 32>::new(&model, Sgd::new(0.01), CategoricalCrossentropy);
//! trainer.fit(&mut model, &nine_classes, Fit::epochs(1)); // expected `10`, found `9`
//! ```
//!
//! And a loss that does not fit the output activation:
//!
//! ```compile_fail,E0277
//! use netdsl::prelude::*;
//!
//! network! {
//!     pub struct Scores<4 => Dense(8, relu) => Dense(3, sigmoid)>;
//! }
//!
//! let model = Scores::new(&mut StdRng::seed_from_u64(0));
//! // the loss `CategoricalCrossentropy` does not fit an output layer with activation `Sigmoid`
//! Trainer::<_, _, _, 32>::new(&model, Sgd::new(0.01), CategoricalCrossentropy);
//! ```
//!
//! Mistakes in the DSL itself — an unknown layer or activation, zero units, a missing input
//! size, a dangling `=>` — are reported by the macro on the offending token, all of them in one
//! compile. `tests/ui` holds one case for every message.
//!
//! ## Data
//!
//! [`Dataset<IN, OUT>`](data::Dataset) holds samples of `IN` inputs and `OUT` targets;
//! [`Dataset::mnist`](data::Dataset::mnist) reads MNIST's IDX files, raw or gzipped, and every
//! malformed file is an [`Error`](data::Error) naming the file and what is wrong with it.

#![deny(missing_docs)]

// Lets the generated code's `::netdsl::...` paths resolve inside this crate's own tests.
extern crate self as netdsl;

pub use netcore::{
    activation, data, kernels, layer, layers, loss, metrics, network, optim, summary, train,
};
pub use rand;

/// Defines one or more networks; see the [crate documentation](crate) for the grammar and what
/// is generated.
///
/// ```
/// use netdsl::prelude::*;
///
/// const HIDDEN: usize = 64;
///
/// network! {
///     /// The MNIST classifier from the Keras tutorial.
///     pub struct Mnist<784 => Dense(HIDDEN, relu) => Dense(10, softmax)>;
/// }
///
/// let model = Mnist::new(&mut StdRng::seed_from_u64(0));
/// assert_eq!(model.parameter_count(), 784 * 64 + 64 + 64 * 10 + 10);
/// let probabilities = model.predict(&[0.0; 784]);
/// assert!((probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
/// ```
pub use netmacro::network;

/// Everything a training program needs, in one `use netdsl::prelude::*;`.
pub mod prelude {
    pub use crate::data::{Dataset, MnistSplit};
    pub use crate::layer::Layer;
    pub use crate::loss::{BinaryCrossentropy, CategoricalCrossentropy, Loss, MeanSquaredError};
    pub use crate::network;
    pub use crate::network::Network;
    pub use crate::optim::{Optimizer, Sgd};
    pub use crate::train::{Fit, History, Metrics, Trainer, Verbose};
    pub use rand::SeedableRng;
    pub use rand::rngs::StdRng;
}

/// What the code generated by `network!` refers to. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use bytemuck::{Zeroable, zeroed_box};
    pub use const_format::formatcp;
    pub use netcore::activation::{Activation, Linear, Relu, Sigmoid, Softmax, Tanh};
    pub use netcore::layer::{Initialize, Layer, Row, reinterpret, reinterpret_mut};
    pub use netcore::layers::Dense;
    pub use netcore::network::Network;
    pub use netcore::summary::{LayerSummary, Summary};
    pub use rand::Rng;
    pub use std::boxed::Box;
    pub use std::vec;
}
