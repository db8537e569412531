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
//! let history = trainer.fit(&mut model, &data, Fit::epochs(300).verbose(Verbose::Silent))?;
//!
//! assert!(history.loss[299] < 0.05, "final loss {}", history.loss[299]);
//! assert!(model.predict(&[1.0, 0.0])[0] > 0.9);
//! assert!(model.predict(&[1.0, 1.0])[0] < 0.1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
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
//! - `INPUTS` and every size are integer literals, paths to `const` items
//!   (`Dense(HIDDEN, relu)`), or arithmetic on them with `+ - * / %` (`Dense(2 * HIDDEN, relu)`,
//!   `Dense(64 + 1)`; an input size written so goes in braces, `<{ 28 * 28 } => ...>`). The macro
//!   works out arithmetic on literals itself, with checked operations; with `const` items,
//!   rustc does. A size that overflows, goes below zero, or makes a layer's weights or outputs
//!   more values than an array can hold is an error naming the layer.
//! - `Dense(units, activation)` is a fully connected layer, `y = f(x · W + b)`, and
//!   `bias = false` drops the bias. `Dense(784 -> 64, relu)` also states the input width the
//!   layer expects, as a check.
//! - An activation (of `Dense`, `Conv2d`, `SimpleRNN`) is any argument-free activation of
//!   Keras 3, by its Keras name, with Keras' formulas and defaults: `relu`, `relu6`,
//!   `leaky_relu` (Keras 3's slope, 0.2), `elu`, `celu`, `selu`, `sigmoid`, `hard_sigmoid`
//!   (Keras 3's `relu6(x + 3) / 6`), `sparse_sigmoid`, `log_sigmoid`, `tanh`, `hard_tanh`,
//!   `tanh_shrink`, `softplus`, `sparse_plus`, `squareplus`, `softsign`, `soft_shrink`,
//!   `hard_shrink`, `exponential`, `silu` (also `swish`), `hard_silu` (also `hard_swish`), `gelu`
//!   (exact, with erf, Keras' default), `gelu_tanh` (its tanh approximation, Keras'
//!   `gelu(x, approximate=True)`), `mish`, `softmax` and `log_softmax` (over each sample's
//!   values), and `linear`, the default when omitted. [`activation`] has each formula and its
//!   derivative; their outputs and gradients match Keras' to float rounding.
//! - Initializers and regularizers are options, spelt as Keras spells them, of `Dense`,
//!   `Conv2d`, `Conv1D` and the recurrent layers: `kernel_initializer` and `bias_initializer`
//!   take [`init`]'s names (`glorot_uniform`, the default kernel, `glorot_normal`, `he_uniform`,
//!   `he_normal`, `lecun_normal`, `orthogonal`, `uniform`, `zeros`, the default bias, `ones`),
//!   and the recurrent layers take `recurrent_initializer` too (an LSTM's bias starts as Keras'
//!   `unit_forget_bias` has it, and takes no initializer). `kernel_regularizer`,
//!   `bias_regularizer` and a recurrent layer's `recurrent_regularizer` take `l1(factor)`,
//!   `l2(factor)` or `l1_l2(l1 = .., l2 = ..)`, or the names alone for Keras' factor 0.01. A
//!   regularizer adds `l1 · Σ|w| + l2 · Σw²` to the loss `fit` trains on and reports, and
//!   evaluates (`val_loss` and `evaluate` too, as in Keras 3), and its gradient to the weights'
//!   ([`regularizer`]):
//!
//!   ```
//!   use netdsl::prelude::*;
//!
//!   network! {
//!       pub struct Tabular<8
//!           => Dense(32, relu, kernel_initializer = he_normal, kernel_regularizer = l2(1e-4))
//!           => Dense(1, sigmoid, bias_initializer = zeros,
//!               kernel_regularizer = l1_l2(l1 = 1e-5, l2 = 1e-4), bias_regularizer = l1(1e-3))>;
//!   }
//!
//!   let model = Tabular::new(&mut StdRng::seed_from_u64(0));
//!   // The penalty of the weights the network starts from, which the loss includes.
//!   assert!(model.regularization() > 0.0);
//!   ```
//!
//! - A layer written by name, without arguments (`=> Encoder =>`, `=> layers::Scale2x =>`), is
//!   a network defined with `network!` — in this invocation, another module or another crate —
//!   or a type of yours implementing [`Layer`](layer::Layer) and
//!   [`Initialize`](layer::Initialize). Its widths come from its type.
//! - Image layers (`Conv2d`, pools, `ZeroPadding2D`, `UpSampling2D`, `Flatten`, `Reshape`,
//!   `Dropout`), sequence layers (`Conv1D`, `SimpleRNN`, `LSTM`, `GRU`, global pools) and the
//!   normalizations are described below, under image networks, sequences and normalization.
//! - Attributes go to the struct (doc comments, `#[derive(Clone, Debug)]`), except `#[cfg(..)]`
//!   and lint levels (`#[allow(..)]`, `#[warn(..)]`, `#[deny(..)]`, `#[forbid(..)]`), which go
//!   to everything generated for the network: a network configured out leaves nothing behind.
//!
//! For `pub struct Mnist<784 => Dense(64, relu) => Dense(10, softmax)>;` the macro generates:
//!
//! - `pub struct Mnist { pub dense_1: Dense<784, 64, Relu>, pub dense_2: Dense<64, 10, Softmax> }`,
//!   one field per layer, named after its kind and numbered: `dense_1`, `dense_2`, `encoder_1`;
//! - `Mnist::new(&mut rng)`: Glorot-uniform weights and zero biases, Keras' defaults;
//! - `MnistTape<NETDSL_BATCH>`: every intermediate of a batch that the backward pass needs (the
//!   hidden layers' outputs are public fields, for inspection);
//! - `MnistGrads`: the gradient of every parameter, one field per layer;
//! - an implementation of [`Layer`](layer::Layer), written out layer by layer: `forward` and
//!   `backward` over a batch of any `const` size with the tape as tape, `infer` for one sample
//!   (its buffers on the stack up to 64 KiB, in storage allocated with the network above it;
//!   see [`inference`]), and the parameter visitor optimizers use — so `Mnist` is also a layer
//!   of bigger networks;
//! - an implementation of [`Network`](network::Network): `summary()` and `predict`.
//!
//! ## Image networks
//!
//! An input written `(height, width, channels)` is an image, stored channels last as in Keras,
//! and these layers work on images:
//!
//! - `Conv2d(filters, kernel[, activation][, stride = s][, padding = valid|same][, bias = false])`
//!   convolves `kernel`×`kernel` windows; the stride defaults to 1 and the padding to `valid`.
//! - `MaxPool2d(size[, stride = s])` and `AvgPool2d(size[, stride = s])` pool `size`×`size`
//!   windows; the stride defaults to the size.
//! - `GlobalAveragePooling2D` and `GlobalMaxPooling2D` (bare, or with `()`) give one value per
//!   channel, its mean or its maximum over every pixel: Keras' layers of those names, a vector of
//!   `channels` values.
//! - `ZeroPadding2D(padding)` adds rows and columns of zeros around the image, written as in
//!   Keras: `ZeroPadding2D(2)` on every side, `ZeroPadding2D((1, 2))` for one row on top and at
//!   the bottom and two columns left and right, `ZeroPadding2D(((1, 0), (2, 1)))` for
//!   `((top, bottom), (left, right))`; without an argument, Keras' default of 1.
//! - `UpSampling2D(size)` repeats each pixel `size` times down and across (Keras' default
//!   nearest-neighbour interpolation): `UpSampling2D(2)`, or `UpSampling2D((2, 3))` for rows and
//!   columns; without an argument, Keras' default of 2.
//! - `Flatten` makes an image a vector (a `Dense` after an image needs one);
//!   `Reshape(n)` or `Reshape(height, width, channels)` reads the same values in another shape;
//!   `Dropout(rate)` drops that fraction of the values while training and none in `predict`.
//!
//! Their sizes are integer literals, and the macro works out every layer's output shape as
//! Keras does. **`valid` padding floors, like Keras**: along an axis of `n` pixels, a window of
//! `k` with stride `s` gives `(n - k) / s + 1` outputs, rounded down, and the `(n - k) % s`
//! pixels left over at the end are not used; a stride that does not divide evenly is not an
//! error. Pools always use `valid` padding. `same` padding gives `ceil(n / s)` outputs, the
//! padding split evenly with any odd pixel at the end. So a 3×3 kernel with stride 2 turns
//! 28×28 into 13×13, not 14×14, and a later layer that assumes 14×14 does not compile
//! (`shape/valid-padding-floors-the-output-size` below):
//!
//! ```
//! use netdsl::prelude::*;
//!
//! network! {
//!     pub struct Strided<(28, 28, 1) => Conv2d(8, 3, relu, stride = 2) => Flatten => Dense(10, softmax)>;
//! }
//!
//! let model = Strided::new(&mut StdRng::seed_from_u64(0));
//! // (28 - 3) / 2 + 1 = 13.5, rounded down.
//! assert!(model.summary().to_string().contains("(None, 13, 13, 8)"));
//! assert_eq!(model.parameter_count(), (3 * 3 * 8 + 8) + (13 * 13 * 8 * 10 + 10));
//! ```
//!
//! Padding and upsampling grow an image as Keras does, and the global pools end it in a vector
//! that `Dense` takes without `Flatten`:
//!
//! ```
//! use netdsl::prelude::*;
//!
//! network! {
//!     /// MNIST padded to 32×32, then down to 16×16 and back up to 32×32.
//!     pub struct Hourglass<(28, 28, 1)
//!         => ZeroPadding2D(((0, 4), (0, 4)))          // 32×32×1: zeros at the bottom and right
//!         => Conv2d(8, 3, relu, padding = same)       // 32×32×8
//!         => MaxPool2d(2)                             // 16×16×8
//!         => UpSampling2D                             // 32×32×8
//!         => Conv2d(4, 3, relu, padding = same)       // 32×32×4
//!         => GlobalAveragePooling2D                   // 4
//!         => Dense(10, softmax)>;
//! }
//!
//! let model = Hourglass::new(&mut StdRng::seed_from_u64(0));
//! let table = model.summary().to_string();
//! assert!(table.contains("zero_padding2d_1 (ZeroPadding2D) (None, 32, 32, 1)"), "{table}");
//! assert!(table.contains("up_sampling2d_1 (UpSampling2D) (None, 32, 32, 8)"), "{table}");
//! assert!(table.contains("(None, 4)"), "{table}");
//! assert_eq!(model.parameter_count(), (3 * 3 * 8 + 8) + (3 * 3 * 8 * 4 + 4) + (4 * 10 + 10));
//! ```
//!
//! ## Sequences
//!
//! An input written `(steps, features)` is a sequence, stored step after step (`x_t` at
//! `t · features`), and `SimpleRNN(units[, activation][, bias = false])` reads it: Keras'
//! `SimpleRNN`, `h_t = f(x_t · W_x + h_{t-1} · W_h + b)` from `h_0 = 0`, giving `h_T`, a vector
//! of `units`. The activation defaults to `tanh`, as in Keras. `LSTM(units[, bias = false])` is
//! Keras' `LSTM` with its default activations (sigmoid gates, tanh cell), its gate order and its
//! forget-gate bias of 1 ([`Lstm`](layers::Lstm)), and `GRU(units[, bias = false])` Keras' `GRU`
//! with its defaults (`reset_after`, two biases; [`Gru`](layers::Gru)). With
//! `return_sequences = true` each gives
//! every step's state, a sequence of `steps` × `units` for another recurrent layer: layers stack
//! as in Keras. A flat vector becomes a sequence through `Reshape(steps, features)`; `Flatten`
//! and `Dropout` take sequences too, and a `Dense` right after one, or a recurrent layer on
//! anything else, does not compile.
//!
//! ```
//! use netdsl::prelude::*;
//!
//! network! {
//!     /// An MNIST image read row by row: 28 steps of 28 pixels into 64 units.
//!     pub struct MnistRnn<(28, 28) => SimpleRNN(64) => Dense(10, softmax)>;
//!
//!     /// Two LSTM layers, the first handing every step's state to the second.
//!     pub struct Stacked<(28, 28) => LSTM(32, return_sequences = true) => LSTM(32) => Dense(10, softmax)>;
//! }
//!
//! let model = MnistRnn::new(&mut StdRng::seed_from_u64(0));
//! // Keras' count: kernel 28 × 64, recurrent kernel 64 × 64, bias 64; then the softmax layer.
//! assert_eq!(model.parameter_count(), (28 * 64 + 64 * 64 + 64) + (64 * 10 + 10));
//! assert!(model.summary().to_string().contains("simple_rnn_1 (SimpleRNN)"));
//!
//! let stacked = Stacked::new(&mut StdRng::seed_from_u64(0));
//! assert!(stacked.summary().to_string().contains("lstm_1 (LSTM)               (None, 28, 32)"));
//! ```
//!
//! `Conv1D(filters, kernel_size[, activation][, strides = s][, padding = valid|same|causal]
//! [, dilation_rate = d][, bias = false])` is Keras' `Conv1D` on a sequence: each output step
//! sums `kernel_size` steps, `dilation_rate` steps apart, giving a sequence of `filters`
//! features. Its output lengths are Keras': with the span `(kernel_size - 1) · dilation_rate + 1`,
//! `valid` gives `(steps - span) / strides + 1` steps (rounded down), `same` and `causal` give
//! `ceil(steps / strides)`; `causal` pads only before the sequence, so that no output sees a
//! later step. As in Keras, `strides` and `dilation_rate` cannot both be above 1, the activation
//! defaults to `linear`, and the kernel is Keras' `(kernel_size, features, filters)`.
//! `GlobalAveragePooling1D` and `GlobalMaxPooling1D` give one value per feature over every step.
//! The layers added with them are spelt as Keras spells them, arguments included (`strides`,
//! `dilation_rate`), where the older `Conv2d(.., stride = s)` and pools are spelt as their
//! Rust types; a keyword written in the other case gets a message saying which.
//!
//! ```
//! use netdsl::prelude::*;
//!
//! network! {
//!     /// Dilated causal convolutions over 100 steps of 8 features, as in WaveNet.
//!     pub struct Wave<(100, 8)
//!         => Conv1D(16, 3, relu, padding = causal)
//!         => Conv1D(16, 3, relu, padding = causal, dilation_rate = 2)
//!         => Conv1D(16, 3, relu, padding = causal, dilation_rate = 4)
//!         => GlobalMaxPooling1D => Dense(2, softmax)>;
//! }
//!
//! let model = Wave::new(&mut StdRng::seed_from_u64(0));
//! let table = model.summary().to_string();
//! assert!(table.contains("conv1d_3 (Conv1D)           (None, 100, 16)"), "{table}");
//! assert!(table.contains("global_max_pooling1d_1 (GlobalMaxPooling1D) (None, 16)"), "{table}");
//! // Keras' counts: a kernel of 3 × 8 × 16 and 16 biases, then 3 × 16 × 16 and 16 twice.
//! assert_eq!(model.parameter_count(), (3 * 8 * 16 + 16) + 2 * (3 * 16 * 16 + 16) + (16 * 2 + 2));
//! ```
//!
//! The layer is [`SimpleRnn`](layers::SimpleRnn), which can also be named by type like any layer
//! (`type Rows = SimpleRnn<28, 28, 64, 784, 64, Tanh>;`, then `=> Rows =>`; the fifth size is
//! its output, `64` for the last state or `28 · 64` for every step's).
//!
//! ## Streaming recurrent inference
//!
//! Audio and control loops receive one sample at a time and must answer at once. A network of
//! recurrent layers, `Dense` layers and `LayerNormalization` (layers that act on each step
//! alone; `Dropout` does not stream) implements [`Stream`](stream::Stream):
//! [`step`](stream::Stream::step) takes one time step and the state the previous steps left,
//! in a value the caller owns (`Copy + Default`, the default being the zeros a sequence starts
//! from; a network's is a generated `{Name}State`), and gives that step's output, with no
//! allocation and no lock. Fed the steps of a sequence from a fresh state, it gives at each
//! step exactly the row of `predict`'s output for that step; a network that returns the last
//! state streams what it would return for the sequence ending at that step. Keep one state per
//! stream, or run `B` streams through one matrix product with
//! [`step_batch`](stream::Stream::step_batch).
//!
//! ```
//! use netdsl::prelude::*;
//!
//! network! {
//!     struct Filter<(32, 1) => LSTM(16, return_sequences = true) => Dense(1)>;
//! }
//!
//! let net = Filter::new(&mut StdRng::seed_from_u64(0));
//! let signal: [f32; 32] = core::array::from_fn(|t| (t as f32 * 0.3).sin());
//! let whole = net.predict(&signal);
//!
//! let mut state = <Filter as Stream>::State::default();
//! for (t, &x) in signal.iter().enumerate() {
//!     let y = net.predict_step(&mut state, &[x]); // or `net.step(&mut state, &[x], &mut y)`
//!     assert_eq!(y, [whole[t]]);
//! }
//! state = Default::default(); // a new stream
//!
//! // Four independent streams in one call.
//! let mut states = [<Filter as Stream>::State::default(); 4];
//! let mut y = [[0.0]; 4];
//! net.step_batch(&mut states, &[[0.1], [0.2], [0.3], [0.4]], &mut y);
//! ```
//!
//! A layer that needs the future or the whole sequence (`Bidirectional`, attention, pooling
//! over time, `Flatten`) does not stream, and neither does a network that has one; that is a
//! compile error where it is streamed, naming the trait and the layer that lacks it:
//!
//! ```compile_fail
//! use netdsl::prelude::*;
//!
//! network! {
//!     struct Pooled<(32, 1) => LSTM(16, return_sequences = true) => GlobalAveragePooling1D => Dense(1)>;
//! }
//!
//! let net = Pooled::new(&mut StdRng::seed_from_u64(0));
//! // error: the method `predict_step` exists for struct `Pooled`, but its trait bounds were not
//! // satisfied: `Pooled: Stream`, because `GlobalPool<GlobalMean, ..>: StreamAfter<..>` is not
//! net.predict_step(&mut Default::default(), &[0.5]);
//! ```
//!
//! ## Composing networks
//!
//! ```
//! use netdsl::prelude::*;
//!
//! network! {
//!     /// Compresses an image to 32 features.
//!     pub struct Encoder<784 => Dense(128, relu) => Dense(32, relu)>;
//!     /// Classifies the features; the encoder is trained with it.
//!     pub struct Classifier<784 => Encoder => Dense(10, softmax)>;
//! }
//!
//! let model = Classifier::new(&mut StdRng::seed_from_u64(0));
//! assert_eq!(model.parameter_count(), (784 * 128 + 128) + (128 * 32 + 32) + (32 * 10 + 10));
//! let table = model.summary().to_string();
//! assert!(table.contains("encoder_1 (Encoder)") && table.contains("(None, 32)"));
//! let scores = model.predict(&[0.5; 784]);
//! assert!((scores.iter().sum::<f32>() - 1.0).abs() < 1e-5);
//! ```
//!
//! ## Residual blocks and branches
//!
//! A chain of layers is one branch; `Residual(chain, activation)` adds its output to its input
//! (`f(x + chain(x))`, a ResNet block), and `Add(branch, branch, ...)` and
//! `Concatenate(branch, branch, ...)` join several branches from one input, value by value or
//! along the last axis (the channels of an image, the features of a sequence), as Keras' `Add`
//! and `Concatenate` do. The macro computes the joined shape and refuses, naming the shapes, a
//! residual chain that changes its input's shape or branches that cannot be joined.
//! `summary()` lists a join as Keras' functional model does: each layer of each branch, then the
//! merging layer (`add_1 (Add)`, `concatenate_1 (Concatenate)`; a residual block's
//! `residual_1 (Add)`, then `activation_1 (Activation)`), the layers in Keras' order, farthest
//! from the output first.
//!
//! ```
//! use netdsl::prelude::*;
//!
//! network! {
//!     /// A residual block, then an Inception-style pair of branches.
//!     pub struct Blocks<(8, 8, 1)
//!         => Conv2d(8, 3, relu, padding = same)
//!         => Residual(Conv2d(8, 3, relu, padding = same) => Conv2d(8, 3, linear, padding = same), relu)
//!         => Concatenate(MaxPool2d(2), Conv2d(4, 3, relu, padding = same, stride = 2))  // 4×4×12
//!         => Flatten
//!         => Dense(10, softmax)>;
//! }
//!
//! let model = Blocks::new(&mut StdRng::seed_from_u64(0));
//! let table = model.summary().to_string();
//! for row in [
//!     " conv2d_3 (Conv2d)           (None, 8, 8, 8)                 584",
//!     " residual_1 (Add)            (None, 8, 8, 8)                   0",
//!     " activation_1 (Activation)   (None, 8, 8, 8)                   0",
//!     " max_pool2d_1 (MaxPool2d)    (None, 4, 4, 8)                   0",
//!     " conv2d_4 (Conv2d)           (None, 4, 4, 4)                 292",
//!     " concatenate_1 (Concatenate) (None, 4, 4, 12)                  0",
//! ] {
//!     assert!(table.contains(row), "{row} in\n{table}");
//! }
//! // The branches' layers are numbered with the others, as Keras names them.
//! let mut names = Vec::new();
//! model.visit_tensors(&mut |name, _, _| names.push(name.to_owned()));
//! assert_eq!(names[..4], ["conv2d_1.kernel", "conv2d_1.bias", "conv2d_2.kernel", "conv2d_2.bias"]);
//! assert!(names.contains(&"conv2d_4.kernel".to_owned()));
//! ```
//!
//! `Bidirectional(LSTM(32))` is Keras' wrapper with its `concat` merge: the recurrent layer over
//! the sequence and a copy of it over the reversed sequence, concatenated (`64` values, or with
//! `return_sequences = true` each step's two states side by side). It is the join
//! `Concatenate(LSTM(32), Reverse => LSTM(32))`, written for you:
//!
//! ```
//! use netdsl::prelude::*;
//!
//! network! {
//!     /// MNIST rows read both ways.
//!     pub struct BiRows<(28, 28) => Bidirectional(LSTM(32)) => Dense(10, softmax)>;
//! }
//!
//! let model = BiRows::new(&mut StdRng::seed_from_u64(0));
//! // Keras' count: two LSTMs of 4 × (32 × (28 + 32) + 32) parameters, then the dense layer.
//! assert_eq!(model.parameter_count(), 2 * 4 * (32 * (28 + 32) + 32) + 64 * 10 + 10);
//! assert!(model.summary().to_string().contains("bidirectional_1 (Bidirectional) (None, 64)"));
//! ```
//!
//! Each branch is generated as a network of its own (`BlocksResidual1`,
//! `BlocksConcatenate1Branch2`), and the join is [`Residual`](layers::Residual) or nested pairs
//! of [`Join`](layers::Join) around them.
//!
//! ## Masking padded sequences
//!
//! Sequences of different lengths share a batch by padding, and `Masking` (or
//! `Masking(mask_value = -1.0)`; Keras' default value is 0) tells the recurrent layers after it
//! which steps are padding: those whose features all equal the mask value, which it zeroes. As
//! in Keras, a recurrent layer leaves its state as it was over a padded step and outputs that
//! state again (zeros before any data), or zeros with `zero_output_for_mask = true`; its last
//! state is the one the last step of data reached. `Bidirectional` gives its backward line the
//! reversed mask and, as Keras' wrapper does, outputs zeros over padding when it returns every
//! step. The backward passes are the gradients of exactly that, and `predict` reads the mask
//! too, without allocating.
//!
//! The mask goes on, as in Keras, through `Dropout`, `Dense` on each step,
//! `LayerNormalization`, recurrent layers and `Bidirectional` that return every step,
//! `MultiHeadAttention` (which leaves padded steps out of every step's keys, as Keras' does),
//! joins whose branches keep it, and networks given by name; `GlobalAveragePooling1D` averages
//! the steps of data only, as Keras' does, and ends it; `Flatten`, `Reshape`, `Conv1D`,
//! `GlobalMaxPooling1D` and the position encodings drop it, as Keras' do, and the layers after
//! them see none. Where Keras would pass it on or read it and netdsl cannot, the macro refuses
//! the network rather than compute something else: a join whose branches carry different masks
//! (Keras combines them) before a layer that reads one, a `BatchNormalization` (Keras leaves
//! padded steps out of its statistics) or a `CrossAttention` reached by a mask. The mask ends at the network's output: the loss
//! reads every value (Keras weights the loss of a sequence output by its mask). How a layer of
//! your own makes or reads a mask is in [`mask`].
//!
//! ```
//! use netdsl::prelude::*;
//!
//! network! {
//!     /// Reviews of up to 20 words of 8 features, padded with zeros after their last word.
//!     pub struct Reviews<(20, 8) => Masking => Bidirectional(LSTM(16)) => Dense(2, softmax)>;
//!
//!     /// The same layers over reviews of exactly 3 words.
//!     pub struct ThreeWords<(3, 8) => Bidirectional(LSTM(16)) => Dense(2, softmax)>;
//! }
//!
//! let model = Reviews::new(&mut StdRng::seed_from_u64(0));
//! let table = model.summary().to_string();
//! assert!(table.contains("masking_1 (Masking)         (None, 20, 8)                     0"), "{table}");
//!
//! // Given the same weights, a review of 3 words padded to 20 is classified as the 3 words
//! // alone: both lines of the LSTM skip the padding.
//! let mut short = ThreeWords::new(&mut StdRng::seed_from_u64(1));
//! let mut weights = Vec::new();
//! model.visit_tensors(&mut |_, _, w| weights.push(w.to_vec()));
//! let mut weights = weights.into_iter();
//! short.visit_tensors_mut(&mut |_, _, w| w.copy_from_slice(&weights.next().unwrap()));
//! let words: [f32; 24] = std::array::from_fn(|i| (i as f32 * 0.37).sin());
//! let mut review = [0.0; 160];
//! review[..24].copy_from_slice(&words);
//! let (padded, alone) = (model.predict(&review), short.predict(&words));
//! assert!((padded[0] - alone[0]).abs() < 1e-5, "{padded:?} {alone:?}");
//! ```
//!
//! A mask Keras would give a recurrent layer that netdsl cannot hand on does not compile:
//!
//! ```compile_fail
//! use netdsl::prelude::*;
//!
//! network! {
//!     // `Add(..)` (layer 1 of `Reviews`) cannot pass on the mask of `Masking` (layer 1 of
//!     // branch 1 of `Add(..)`), which Keras passes on to `LSTM(16)` (layer 2 of `Reviews`)
//!     pub struct Reviews<(20, 8)
//!         => Add(Masking => GRU(8, return_sequences = true), GRU(8, return_sequences = true))
//!         => LSTM(16) => Dense(2, softmax)>;
//! }
//! ```
//!
//! ## Normalization
//!
//! `BatchNormalization` and `LayerNormalization` (also written `BatchNorm` and `LayerNorm`) are
//! Keras' layers of those names. They normalize along the last axis — a vector's values, each
//! pixel's channels, each step's features — and keep their input's shape, so they go after any
//! layer, bare (`=> BatchNormalization =>`) or with an activation applied after them (Keras
//! writes `BatchNormalization()` then `Activation("relu")`) and Keras' options, here at their
//! defaults: `BatchNormalization(relu, momentum = 0.99, epsilon = 0.001, center = true,
//! scale = true)`, `LayerNormalization(relu, epsilon = 0.001, center = true, scale = true)`.
//! `center = false` leaves out `β`, `scale = false` leaves out `γ`.
//!
//! - **Batch normalization** ([`BatchNormalization`](layers::BatchNormalization)) normalizes
//!   each channel by its mean and variance over the batch (and every pixel or step) while
//!   training, and by its moving mean and variance otherwise: `evaluate`, `predict`, `infer`.
//!   After each training step `fit` moves them, `moving = moving · momentum + batch · (1 -
//!   momentum)`. With [`Fit::threads`](train::Fit::threads)`(n)`, each thread normalizes its
//!   own `BATCH` samples and the moving statistics move by the mean of the `n` threads'
//!   statistics, as Keras' layer does under TensorFlow's `MirroredStrategy`. The statistics of a
//!   short last batch leave out the rows that pad it.
//! - **Layer normalization** ([`LayerNormalization`](layers::LayerNormalization)) normalizes
//!   each sample's values along the last axis on their own, the same in training and inference;
//!   on a last axis of one value (a 28×28×1 image) every output would be `β`, and the macro
//!   refuses it.
//!
//! `γ` and `β` are trained; the moving mean and variance are not (optimizers never see them),
//! but they are saved and loaded with the weights under Keras' names
//! (`batch_normalization_1.moving_mean`), and `summary()` counts them as Keras does, in the
//! layer's "Param #" and in "Non-trainable params".
//!
//! ```
//! use netdsl::prelude::*;
//!
//! network! {
//!     /// A convolution normalized before its relu, and a residual block of two.
//!     pub struct Normalized<(8, 8, 1)
//!         => Conv2d(8, 3, linear, padding = same) => BatchNormalization(relu)
//!         => Residual(Conv2d(8, 3, linear, padding = same) => BatchNorm(relu)
//!             => Conv2d(8, 3, linear, padding = same) => BatchNorm, relu)
//!         => Flatten => Dense(16) => LayerNormalization(tanh) => Dense(10, softmax)>;
//! }
//!
//! let model = Normalized::new(&mut StdRng::seed_from_u64(0));
//! let table = model.summary().to_string();
//! // γ, β, the moving mean and variance of 8 channels, as Keras counts them.
//! assert!(table.contains("batch_normalization_1 (BatchNormalization) (None, 8, 8, 8)                  32"));
//! assert!(table.ends_with(" Non-trainable params: 48"));
//! let mut names = Vec::new();
//! model.visit_tensors(&mut |name, _, _| names.push(name.to_owned()));
//! assert_eq!(names[2..6], [
//!     "batch_normalization_1.gamma",
//!     "batch_normalization_1.beta",
//!     "batch_normalization_1.moving_mean",
//!     "batch_normalization_1.moving_variance",
//! ]);
//! ```
//!
//! ## Tokens, positions and attention
//!
//! - `Embedding(vocabulary, features)` is Keras' `Embedding`. It reads the network's input as
//!   token ids, so it comes first, and the network's input type becomes
//!   [`Tokens<steps, vocabulary>`](tokens::Tokens): ids checked against the vocabulary when they
//!   are built (`Tokens::new([3, 1, 4])?`), an id outside it a
//!   [`TokenError`](tokens::TokenError), never an out-of-bounds read. A dataset of them is
//!   [`Dataset::from_tokens`](data::Dataset::from_tokens); `fit` refuses a dataset whose values
//!   are not ids of the vocabulary before training.
//! - `Dense` on a sequence acts on each step, as Keras' `Dense` acts on the last axis:
//!   `(16, 64) => Dense(128, relu)` gives 16 steps of 128, with one `[64, 128]` kernel.
//! - `PositionEmbedding` adds a learned vector to each position (keras_hub's
//!   `PositionEmbedding`, added as its models add it; `sequence_length = L` for a table of more
//!   positions than the sequence has, never fewer), `SinePositionEncoding` the fixed sinusoidal
//!   one (`max_wavelength = 10000`).
//! - `MultiHeadAttention(heads = H, key_dim = K)` is Keras' `MultiHeadAttention` as
//!   self-attention on a sequence, keeping its shape; `causal = true` lets each step see only
//!   the steps before it (Keras' `use_causal_mask`). Without `key_dim`, each head gets an equal
//!   share of the features, which must then divide among the heads. After `Masking` or
//!   `Embedding(mask_zero = true)`, it leaves the padded steps out of every step's keys, as
//!   Keras' does (a padded step, which sees no key, weighs every step alike, as in Keras), and
//!   passes the mask on.
//! - `CrossAttention(query chain, value chain[, key chain], heads = H[, key_dim = K][, causal =
//!   true])` is Keras' `MultiHeadAttention(H, K)(query, value[, key])` where the graph has two
//!   inputs to give it: branches of the layer's input, the first giving the queries, the second
//!   the values and, unless a third gives them, the keys (Keras' default `key = value`). The
//!   query and value sequences may differ in steps and features; keys need as many steps as
//!   values. The output has the query's shape, and `summary()` lists the branches' layers, then
//!   the attention's row, as Keras' functional model does.
//! - `TransformerEncoder(heads = H, ff = D)` is keras_hub's `TransformerEncoder`, written out
//!   as the layers it is made of, each checked, named, saved and summarised on its own. Post-norm
//!   by default, as keras_hub's: `Residual(MultiHeadAttention(heads = H, key_dim = F / H)) =>
//!   LayerNormalization(epsilon = 1e-5) => Residual(Dense(D, relu) => Dense(F)) =>
//!   LayerNormalization(epsilon = 1e-5)`; `norm = pre` moves each normalization to the start of
//!   its residual block (keras_hub's `normalize_first=True`). Its options: an activation for the
//!   feed-forward layer (`gelu`), `key_dim` (then `H · key_dim` must be the features `F`), and
//!   `causal`.
//!
//! ```
//! use netdsl::prelude::*;
//!
//! network! {
//!     /// A vision transformer: 16 patches of 7×7, two encoder blocks.
//!     pub struct Vit<(28, 28, 1)
//!         => Conv2d(64, 7, stride = 7) => Reshape(16, 64)
//!         => PositionEmbedding
//!         => TransformerEncoder(heads = 4, ff = 128)
//!         => TransformerEncoder(heads = 4, ff = 128, norm = pre)
//!         => GlobalAveragePooling1D => Dense(10, softmax)>;
//!
//!     /// 4 summary queries, made from the whole sequence, attend to its 16 steps.
//!     pub struct Summarised<(16, 32)
//!         => CrossAttention(Flatten => Dense(64) => Reshape(4, 16), LSTM(32, return_sequences = true),
//!             heads = 4, key_dim = 8)
//!         => Flatten => Dense(3, softmax)>;
//!
//!     /// A keyword spotter on 50 token ids of a vocabulary of 1,000.
//!     pub struct Spotter<50 => Embedding(1000, 32) => Conv1D(64, 5, relu) => GlobalMaxPooling1D
//!         => Dense(2, softmax)>;
//! }
//!
//! let vit = Vit::new(&mut StdRng::seed_from_u64(0));
//! let table = vit.summary().to_string();
//! assert!(table.contains("multi_head_attention_2 (MultiHeadAttention) (None, 16, 64)"), "{table}");
//! assert_eq!(vit.predict(&[0.5; 784]).len(), 10);
//!
//! let summarised = Summarised::new(&mut StdRng::seed_from_u64(0));
//! let table = summarised.summary().to_string();
//! assert!(table.contains("multi_head_attention_1 (MultiHeadAttention) (None, 4, 16)"), "{table}");
//!
//! let spotter = Spotter::new(&mut StdRng::seed_from_u64(0));
//! let words = Tokens::new([7; 50])?;
//! assert_eq!(spotter.predict(&words).len(), 2);
//! assert!(Tokens::<50, 1000>::new([1000; 50]).is_err());
//! # Ok::<(), netdsl::tokens::TokenError>(())
//! ```
//!
//! ## Layers of your own
//!
//! Implement [`Layer`](layer::Layer) (its documentation has the complete contract) and
//! [`Initialize`](layer::Initialize), then use the type by name. A layer with parameters also
//! names them in [`Layer::visit_tensors`](layer::Layer::visit_tensors) and
//! [`visit_tensors_mut`](layer::Layer::visit_tensors_mut) to be saved; without them, saving
//! its network is an error.
//!
//! ```
//! use netdsl::activation::Linear;
//! use netdsl::layer::Initialize;
//! use netdsl::prelude::*;
//!
//! /// `y = 2x` on 32 values: no parameters, no activation.
//! struct Scale2x;
//!
//! impl Layer for Scale2x {
//!     type In = [f32; 32];
//!     type Out = [f32; 32];
//!     type Activation = Linear;
//!     type Grads = ();
//!     type Tape<const B: usize> = ();
//!     const KIND: &'static str = "Scale2x";
//!
//!     fn new_tape<const B: usize>(&self) {}
//!
//!     fn forward<const B: usize>(&self, x: &[[f32; 32]; B], y: &mut [[f32; 32]; B], _: &mut ()) {
//!         for (y, x) in y.iter_mut().flatten().zip(x.iter().flatten()) {
//!             *y = 2.0 * x;
//!         }
//!     }
//!
//!     fn backward<const B: usize>(
//!         &self,
//!         _x: &[[f32; 32]; B],
//!         dz: &[[f32; 32]; B],
//!         dx: Option<&mut [[f32; 32]; B]>,
//!         _grads: &mut (),
//!         _tape: &mut (),
//!     ) {
//!         if let Some(dx) = dx {
//!             for (dx, dz) in dx.iter_mut().flatten().zip(dz.iter().flatten()) {
//!                 *dx = 2.0 * dz;
//!             }
//!         }
//!     }
//!
//!     fn new_grads(&self) {}
//!     fn parameter_count(&self) -> usize { 0 }
//!     fn visit_parameters(&mut self, _: &mut (), _: &mut dyn FnMut(&mut [f32], &mut [f32])) {}
//! }
//!
//! impl Initialize for Scale2x {
//!     fn initialize<R: netdsl::rand::Rng + ?Sized>(_rng: &mut R) -> Self {
//!         Scale2x
//!     }
//! }
//!
//! network! {
//!     pub struct Scaled<784 => Dense(32, tanh) => Scale2x => Dense(10, softmax)>;
//! }
//!
//! let model = Scaled::new(&mut StdRng::seed_from_u64(0));
//! let x = [0.25; 784];
//! let mut hidden = [0.0; 32];
//! model.dense_1.infer(&x, &mut hidden);
//! let mut doubled = [0.0; 32];
//! model.scale2x_1.infer(&hidden, &mut doubled);
//! assert_eq!(doubled[0], 2.0 * hidden[0]);
//! ```
//!
//! ## Training, as in Keras
//!
//! | Keras | netdsl |
//! |---|---|
//! | `model.compile(optimizer, loss, metrics=["accuracy"])` | [`Trainer::<_, _, _, BATCH>::new(&model, optimizer, loss)`](train::Trainer::new) |
//! | `model.fit(x, y, epochs, batch_size, validation_data)` | [`trainer.fit(&mut model, &data, Fit::epochs(n).validation_data(&val))`](train::Trainer::fit) |
//! | `model.evaluate(x, y)` | [`trainer.evaluate(&model, &data)`](train::Trainer::evaluate) |
//! | `model.predict(x)` | [`model.predict(&sample)`](network::Network::predict), or batched: [`trainer.predict(&model, &samples)`](train::Trainer::predict) |
//! | `model.summary()` | [`model.summary()`](network::Network::summary) |
//! | `history.history["val_accuracy"]` | [`history.val_accuracy`](train::History) |
//! | `compile(metrics=["accuracy", Precision(), AUC(), F1Score(average="macro")])` | [`Fit::epochs(n).metric(Precision::new()).metric(Auc::roc()).metric(F1Score::macro_average())`](train::Fit::metric), see [`metrics`]; accuracy comes with a classification loss |
//! | `TopKCategoricalAccuracy(k=3)`, `MeanAbsoluteError()`, `RootMeanSquaredError()`, `R2Score()` | [`TopKCategoricalAccuracy::new(3)`](metrics::TopKCategoricalAccuracy), [`metrics::MeanAbsoluteError`], [`metrics::RootMeanSquaredError`], [`metrics::R2Score`] |
//! | a custom `keras.metrics.Metric` (`update_state`, `result`, `reset_state`) | a type implementing [`metrics::Metric`] (`update`, `result`, `reset`) |
//! | `history.history["val_auc"]` | [`history.get("val_auc")`](train::History::get), [`history.metrics["val_auc"]`](train::History::metrics) |
//! | `EarlyStopping(monitor="val_auc")` | [`EarlyStopping::new(Monitor::Metric("val_auc"))`](train::callbacks::Monitor::Metric) |
//! | `model.evaluate(x, y)` with compiled metrics | [`trainer.evaluate_with(&model, &data, &mut [&mut precision, &mut auc])`](train::Trainer::evaluate_with) |
//! | `model.export("model.onnx", format="onnx")` | [`model.export_onnx("model.onnx")?`](network::Network::export_onnx): see [Exporting to ONNX](#exporting-to-onnx) |
//! | `model.save_weights(path)`, `model.load_weights(path)` | [`model.save_weights(path)?`](network::Network::save_weights), [`model.load_weights(path)?`](network::Network::load_weights): safetensors, see [`weights`] |
//! | `callbacks=[EarlyStopping(patience=3), CSVLogger("log.csv"), ...]` | [`Fit::epochs(n).callback(&mut early).callback(&mut logger)`](train::Fit::callback), see [`train::callbacks`] |
//! | `ModelCheckpoint("{epoch:02d}-{val_loss:.2f}.weights.h5", save_best_only=True, save_weights_only=True)` | [`ModelCheckpoint::new("{epoch:02d}-{val_loss:.2f}.safetensors")?.save_best_only(true)`](train::callbacks::ModelCheckpoint) |
//! | `Dense(64, kernel_initializer="he_normal", bias_initializer="zeros")` | `Dense(64, kernel_initializer = he_normal, bias_initializer = zeros)` in `network!`, or [`Dense::initialized(rng, Initializer::HeNormal, Some(Initializer::Zeros))`](layers::Dense::initialized) |
//! | `Dense(64, kernel_regularizer=regularizers.l2(1e-4), bias_regularizer="l1")` | `Dense(64, kernel_regularizer = l2(1e-4), bias_regularizer = l1)` in `network!` (also `l1_l2(l1 = .., l2 = ..)`), or [`.with_regularizers(Regularizers { .. })`](regularizer::Regularizers): the penalty is in `fit`'s loss, `val_loss` and `evaluate`'s loss, as in Keras 3 |
//! | `BackupAndRestore(backup_dir, save_freq=100, delete_checkpoint=True)` | [`BackupAndRestore::new(backup_dir).save_freq(SaveFreq::Batches(100))`](train::callbacks::BackupAndRestore): a `fit` killed and started again resumes at the step of its last backup, and ends as if never interrupted, bit for bit |
//! | `model.fit(dataset)` of a `tf.data.Dataset` or a `keras.utils.PyDataset` read from files | [`trainer.fit(&mut model, &source, options)`](train::Trainer::fit) with any [`data::Source`]: [`data::IdxSource`] reads raw IDX files sample by sample, a type of yours generates or reads its own; same seed, same weights as from memory |
//! | `model.fit(x, y, class_weight={3: 20.0})` | [`Fit::epochs(n).class_weight([(3, 20.0)])`](train::Fit::class_weight) |
//! | `model.fit(x, y, sample_weight=w)`, `model.evaluate(x, y, sample_weight=w)` | [`Dataset::with_sample_weights(w)?`](data::Dataset::with_sample_weights), then `fit` and `evaluate` as usual |
//! | a callback's `on_train_batch_begin(batch, logs)`, `on_train_batch_end(batch, logs)` | [`Callback::on_train_batch_begin(batch, context)`](train::callbacks::Callback::on_train_batch_begin), [`on_train_batch_end(&logs, context)`](train::callbacks::Callback::on_train_batch_end) |
//! | `verbose=2` in a log file, but a line every few hundred steps | [`Fit::epochs(n).verbose(Verbose::Steps(200))`](train::Verbose::Steps) |
//!
//! The batch size is a `const` (`BATCH` above), so every buffer of a training step is sized by
//! its type and allocated once, when the trainer is created; epochs, steps and predictions
//! then allocate nothing. The `mnist` example is the Keras tutorial line for line.
//!
//! Callbacks are Keras' ([`train::callbacks`]). [`ModelCheckpoint`](train::callbacks::ModelCheckpoint)
//! saves the weights during `fit`, after every epoch or every `n` steps, or only when the
//! monitored value improves, under a file name of Keras' template (`{epoch:02d}`,
//! `{val_loss:.2f}`, ...; checked when the callback is built) that must end in `.safetensors`.
//! It writes through the same atomic save as `save_weights`, so a load reads it back; a file
//! that cannot be written stops `fit` with an error naming it:
//!
//! ```
//! use netdsl::prelude::*;
//! use netdsl::train::callbacks::{ModelCheckpoint, Monitor};
//!
//! network! {
//!     pub struct Or<2 => Dense(1, sigmoid)>;
//! }
//!
//! let data = Dataset::<2, 1>::from_arrays(
//!     vec![[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]],
//!     vec![[0.0], [1.0], [1.0], [1.0]],
//! )?;
//! let mut model = Or::new(&mut StdRng::seed_from_u64(1));
//! let mut trainer = Trainer::<_, _, _, 4>::new(&model, Sgd::new(1.0), BinaryCrossentropy);
//!
//! let dir = tempfile::tempdir()?;
//! // Keras: ModelCheckpoint("best.weights.h5", monitor="val_loss", save_best_only=True, save_weights_only=True)
//! let mut best = ModelCheckpoint::new(dir.path().join("best.safetensors"))?
//!     .monitor(Monitor::ValLoss)
//!     .save_best_only(true);
//! let options = Fit::epochs(20).validation_data(&data).verbose(Verbose::Silent).callback(&mut best);
//! let history = trainer.fit(&mut model, &data, options)?;
//!
//! let mut restored = Or::new(&mut StdRng::seed_from_u64(2));
//! restored.load_weights(dir.path().join("best.safetensors"))?;
//! let lowest = history.val_loss.iter().copied().fold(f32::INFINITY, f32::min);
//! assert_eq!(trainer.evaluate(&restored, &data).loss, lowest);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`BackupAndRestore`](train::callbacks::BackupAndRestore) backs up the whole state of a fit
//! in one file, written as atomically as `save_weights` writes: the weights, every buffer of the
//! optimizer's state and its step count, the epoch and step reached, and the history. A `fit`
//! killed and started again with the callback restores it and continues from that step, and,
//! with the same data, options and seed, ends with the weights and history of a fit never
//! interrupted, bit for bit (`tests/backup_and_restore.rs` kills one 20 times to show it).
//!
//! Losses fit the output layer's activation, and another pairing does not compile:
//! [`CategoricalCrossentropy`](loss::CategoricalCrossentropy) follows `softmax`,
//! [`CategoricalCrossentropyFromLogits`](loss::CategoricalCrossentropyFromLogits) follows
//! `linear` (logits) or `log_softmax` (log-probabilities; categorical cross-entropy after it
//! would take their logarithm again, and does not compile),
//! [`BinaryCrossentropy`](loss::BinaryCrossentropy) follows `sigmoid`, and
//! [`MeanSquaredError`](loss::MeanSquaredError) follows anything. The loss also decides the
//! metrics, as `metrics=["accuracy"]` would: classification losses report accuracy, the
//! regression losses (mean squared or absolute error, Huber) their loss alone, so
//! [`Metrics::accuracy`](train::Metrics::accuracy) is an `Option`.
//!
//! Activations whose derivative needs their input (`gelu`, `silu`, `mish`, ...) keep it in their
//! layer's tape, allocated once with the tape, so they train like the others:
//!
//! ```
//! use netdsl::prelude::*;
//!
//! network! {
//!     /// GELU and SiLU hidden layers, log-probabilities out.
//!     pub struct Modern<16 => Dense(32, gelu) => Dense(32, silu) => Dense(4, log_softmax)>;
//! }
//!
//! let mut model = Modern::new(&mut StdRng::seed_from_u64(0));
//! let samples: Vec<[f32; 16]> = (0..32).map(|i| [i as f32 / 32.0 - 0.5; 16]).collect();
//! let classes: Vec<u32> = (0..32).map(|i| i / 8).collect();
//! let data = Dataset::from_classes(samples, classes).unwrap();
//! let mut trainer =
//!     Trainer::<_, _, _, 8>::new(&model, Adam::default(), CategoricalCrossentropyFromLogits);
//! let history = trainer.fit(&mut model, &data, Fit::epochs(20).verbose(Verbose::Silent)).unwrap();
//! assert!(history.loss[19] < history.loss[0]);
//! // The outputs are the logarithms of probabilities.
//! let log_p = model.predict(&[0.25; 16]);
//! assert!((log_p.iter().map(|l| l.exp()).sum::<f32>() - 1.0).abs() < 1e-5);
//! ```
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
//! compile. A network with mistakes still leaves a stand-in of itself (with `new`, and where its
//! widths are known the `Layer` and `Network` traits), so code using it reports nothing more.
//! `tests/ui` holds one case for every message.
//!
//! ## How netdsl checks shapes
//!
//! Three kinds of check, in the order a compile meets them: the macro reports what it can see
//! in the DSL, all errors of an invocation at once; widths the macro cannot see (sizes from
//! `const` items, layers given by name) are compile-time assertions it generates, spanned on
//! your token, with both widths in the message; and everything that crosses into your own code
//! (samples, datasets, losses) is a plain type, which rustc checks. Each message has a case in
//! `tests/ui/<folder>/<name>.rs` with its expected output next to it.
//!
//! | mistake | caught by | message (abridged) | case |
//! |---|---|---|---|
//! | no input size | macro | ``missing input size: `Mnist` must start with the width of its input`` | `parse/missing-input-size` |
//! | no input size at all | macro | ``expected the input size of `Mnist` (an integer, a `const`, ...)`` | `parse/expected-the-input-size` |
//! | input size not a number | macro | ``the input size of `Mnist` must be an integer, a `const`, or arithmetic on them such as `2 * HIDDEN`, found `"784"` `` | `parse/input-size-must-be-an-integer-a-const-or-arithmetic` |
//! | no layers | macro | ``` `Mnist` has no layers``` | `parse/no-layers` |
//! | `=>` with no layer after it | macro | ``expected a layer after `=>` `` | `parse/expected-a-layer-after-arrow` |
//! | two layers without `=>` | macro | ``expected `=>` followed by a layer, or `>` to end the network`` | `parse/expected-arrow-or-end-of-network` |
//! | not a layer at all (`=> 64 =>`) | macro | ``expected a layer, e.g. `Dense(64, relu)` `` | `parse/expected-a-layer` |
//! | unknown layer keyword (`Dens(64)`) | macro | ``unknown layer `Dens`; expected one of `Dense` `` | `parse/unknown-layer` |
//! | a keyword in another case (`Conv1d`, `Conv2D`) | macro | ``unknown layer `Conv1d`; expected `Conv1D`, as the DSL spells it`` | `parse/unknown-layer-spelt-in-another-case` |
//! | a padding or size not in Keras' forms | macro | `` `ZeroPadding2D((1, 2, 3))`: expected the padding as an integer, `(rows, columns)` or `((top, bottom), (left, right))`, found `(1, 2, 3)` `` | `parse/expected-the-padding-as-an-integer-or-pairs` |
//! | `Dense` without arguments | macro | ``` `Dense` needs a number of units``` | `parse/dense-without-arguments` |
//! | unknown activation | macro | ``unknown activation `rleu`; expected one of `relu`, `sigmoid`, ...`` | `parse/unknown-activation` |
//! | unknown option, or `bias` not a bool | macro | ``unknown option `bais` of `Dense`; expected `bias` `` | `parse/unknown-option`, `parse/bias-takes-true-or-false`, `parse/layer-takes-no-options` |
//! | an initializer netdsl does not have, or not a name | macro | ``unknown initializer `he_normall` for `kernel_initializer`; expected one of `glorot_uniform`, `glorot_normal`, ...`` | `parse/unknown-initializer`, `parse/initializer-takes-a-name`, `parse/orthogonal-initializer-needs-a-matrix` |
//! | a regularizer Keras would refuse | macro | ``unknown regularizer `l3` for `kernel_regularizer`; expected `l1(..)`, `l2(..)` or `l1_l2(l1 = .., l2 = ..)` `` | `parse/unknown-regularizer`, `parse/regularizer-takes-a-regularizer`, `parse/regularizer-takes-a-factor-of-at-least-0`, `parse/regularizer-takes-its-factors` |
//! | an option given twice | macro | `` `bias` is given twice in `Dense(64, relu, bias = true, bias = false)`: expected each option at most once`` | `parse/option-given-twice` |
//! | arguments in the wrong order | macro | `` `Dense(relu, 64)`: the number of units comes before the activation, e.g. `Dense(64, relu)` `` | `parse/units-come-before-the-activation` |
//! | extra or malformed argument | macro | ``unexpected argument `7` in `Dense(64, relu, 7)` `` | `parse/unexpected-argument`, `parse/expected-a-size-an-activation-or-an-option`, `parse/expected-a-comma-between-arguments`, `parse/expected-a-value-for-the-option` |
//! | a size that is not one | macro | `` `Dense("64", relu)`: the number of units must be an integer, a `const`, or arithmetic on them such as `2 * HIDDEN`, found `"64"` `` | `parse/size-must-be-an-integer-a-const-or-arithmetic` |
//! | missing `;`, `struct` or `<` | macro | ``expected `;` after the definition of `Mnist` `` | `parse/expected-semicolon`, `parse/expected-struct`, `parse/expected-angle-bracket-after-the-name` |
//! | empty invocation | macro | `expected a network definition` | `parse/expected-a-network-definition` |
//! | two networks of one name | macro | ``a network named `Mnist` is already defined in this `network!` `` | `parse/a-network-named-twice` |
//! | zero or missing size | macro | ``` `Dense(0, relu)`: the number of units must be at least 1, found 0``` | `shape/zero-units`, `shape/input-size-zero`, `shape/needs-a-number-of-units` |
//! | arithmetic below zero or dividing by zero | macro | ``` `Dense(64 - 65, relu)`: the number of units `64 - 65` is below zero``` | `shape/size-expression-below-zero`, `shape/size-expression-divides-by-zero` |
//! | a size, input, kernel, weights or output beyond what an array holds | macro | ``` `Dense(1000000000000000, relu)` (layer 1 of `Wide`): its weights would be 784 × 1000000000000000 values, more than the 576460752303423487 `f32` values an array can hold``` | `shape/size-too-large-for-an-array`, `shape/input-size-expression-too-large`, `shape/input-shape-too-large-for-an-array`, `shape/weights-too-large-for-an-array`, `shape/kernel-too-large-for-an-array`, `shape/reshape-too-large-for-an-array`, `shape/sequence-output-too-large-for-an-array` |
//! | `Dense(784 -> 64)` after a 100-wide layer | macro | ``` `Dense(784 -> 64, relu)` (layer 2 of `Net`) after a 100-wide layer: expected 100 inputs, found 784``` | `shape/declared-inputs-differ-from-the-layer-before` |
//! | a kernel larger than its input (`valid` padding) | macro | ``` `Conv2d(4, 7, relu)` (layer 1 of `Net`) on a 5×5×1 image: a 7×7 kernel does not fit; expected a kernel of at most 5``` | `shape/kernel-larger-than-its-input` |
//! | a pool size of 0 | macro | ``` `MaxPool2d(0)`: the pool size must be at least 1, found 0``` | `shape/pool-size-zero` |
//! | `Reshape` to another number of values | macro | ``` `Reshape(10, 10, 2)` (layer 2 of `Net`) on 100 values: expected 100 elements, found 10×10×2 = 200``` | `shape/reshape-element-count-differs-from-its-input` |
//! | a size that ignores `valid` padding's flooring | macro | ``` `Reshape(14, 14, 8)` (layer 2 of `Net`) on a 13×13×8 image: expected 1352 elements, found 14×14×8 = 1568; `Conv2d(8, 3, relu, stride = 2)` (layer 1) gives 13×13×8: valid padding rounds (28 - 3) / 2 + 1 down to 13, as in Keras``` | `shape/valid-padding-floors-the-output-size` |
//! | a `SimpleRNN` on a vector | macro | ``` `SimpleRNN(64)` (layer 1 of `Net`) needs a sequence, found 784 values; declare the network's input as `(steps, features)` or add `Reshape(steps, features)` before it``` | `shape/simple-rnn-needs-a-sequence` |
//! | a `Conv1D` kernel, with its dilation, longer than its sequence (`valid` padding) | macro | ``` `Conv1D(4, 3, relu, dilation_rate = 4)` (layer 1 of `Net`) on a sequence of 8 steps of 2 features: a kernel of 3 with `dilation_rate = 4` spans 9 steps and does not fit; expected a span `(kernel_size - 1) · dilation_rate + 1` of at most 8, or `padding = same` or `causal` ``` | `shape/conv1d-kernel-with-dilation-larger-than-its-sequence` |
//! | `strides` and `dilation_rate` both above 1 | macro | ``` `Conv1D(4, 3, relu, strides = 2, dilation_rate = 2)`: `strides` and `dilation_rate` cannot both be above 1, as in Keras; keep one of them at 1``` | `shape/conv1d-strides-and-dilation-rate-both-above-one` |
//! | a sequence layer on an image | macro | ``` `Conv1D(8, 3, relu)` (layer 1 of `Net`) needs a sequence, found a 28×28×1 image; add `Reshape(28, 28)` before it to read the image's rows as steps``` | `shape/sequence-layer-on-an-image` |
//! | a global pool of the other rank | macro | ``` `GlobalMaxPooling2D` (layer 2 of `Net`) needs an image, found a sequence of 96 steps of 16 features; use `GlobalMaxPooling1D` on a sequence``` | `shape/global-pooling2d-on-a-sequence`, `shape/global-pooling1d-on-an-image` |
//! | an image layer on a sequence | macro | ``` `ZeroPadding2D(1)` (layer 1 of `Net`) needs an image, found a sequence of 10 steps of 3 features; add `Reshape(10, 3, 1)` before it to read the sequence as a 10×3×1 image``` | `shape/image-layer-on-a-sequence` |
//! | an image layer on a vector | macro | ``` `UpSampling2D(2)` (layer 1 of `Net`) needs an image, found a vector of 784 values; declare the network's input as `(height, width, channels)` or add `Reshape(height, width, channels)` before it``` | `shape/image-layer-on-a-vector` |
//! | a normalization's option out of range, or not a number | macro | ``` `BatchNormalization(relu, momentum = 1.5)`: `momentum` takes a value from 0 up to (not including) 1, found `1.5` ``` | `parse/momentum-takes-a-value-from-0-up-to-1`, `parse/epsilon-takes-a-value-above-0`, `parse/epsilon-takes-a-number` |
//! | units given to a normalization | macro | ``unexpected argument `64` in `BatchNormalization(64)`: `BatchNormalization` takes an activation and the options `momentum`, `epsilon`, `center` and `scale`, and no units`` | `parse/normalization-takes-no-units` |
//! | `LayerNormalization` of one value at a time | macro | ``` `LayerNormalization` (layer 1 of `Net`) on a 28×28×1 image: its last axis holds 1 value, and a value normalized on its own is always 0, so every output would be `beta` ``` | `shape/layer-normalization-of-single-values` |
//! | `Dense` right after an image | macro | ``` `Dense(10, softmax)` (layer 3 of `Net`) after a 12×12×6 image: add `Flatten` before it``` | `shape/dense-after-an-image-without-flatten` |
//! | a residual chain that changes its input's shape | macro | ``` `Residual(Conv2d(32, 3, relu, padding = same) => Conv2d(16, 3, linear, padding = same), relu)` (layer 2 of `ResNet`): its chain changes an 8×8×32 image into an 8×8×16 image; a residual block adds the chain's output to its input, so the chain must give an 8×8×32 image``` | `join/residual-chain-changes-the-shape` |
//! | branches that cannot be added or concatenated | macro | ``` `Concatenate(..)` (layer 1 of `Inception`): its branch 1 gives an 8×8×4 image but branch 2 gives a 2×2×4 image; `Concatenate` joins along the last axis, so the branches must agree on every other``` | `join/branches-cannot-be-added`, `join/branches-cannot-be-concatenated` |
//! | a join of the wrong arity, or with an activation it cannot have | macro | ``` `Add(Dense(16))` (layer 1 of `B`) joins two or more branches, found one``` | `join/join-arguments` |
//! | a mistake inside a branch | macro | ``` `Dense(4, relu)` (layer 1 of branch 2 of `Concatenate(..)` (layer 1 of `Branchy`)) after an 8×8×1 image: add `Flatten` before it``` | `join/error-inside-a-branch` |
//! | a mask Keras would pass on to a recurrent layer through a join whose branches carry different masks | macro | ``` `Add(..)` (layer 1 of `Reviews`) cannot pass on the mask of `Masking` (layer 1 of branch 1 of `Add(..)` (layer 1 of `Reviews`)), which Keras passes on to `LSTM(16)` (layer 2 of `Reviews`); put `LSTM(16)` right after `Masking` ...``` | `mask/mask-lost-before-a-recurrent-layer` |
//! | a mask reaching a layer whose Keras counterpart reads it | macro | ``` `BatchNormalization` (layer 2 of `Reviews`) cannot read the mask of `Masking` (layer 1 of `Reviews`), which Keras' layer reads to leave padded steps out of its statistics``` | `mask/mask-read-by-a-layer-that-cannot` |
//! | a mask value no `f32` holds | macro | ``` `Masking(mask_value = 1e40)`: `mask_value` takes a number an `f32` holds, found `1e40` ``` | `parse/mask-value-takes-a-number-an-f32-holds` |
//! | `Bidirectional` around a layer that is not recurrent | macro | ``` `Bidirectional(Dense(32, relu))` (layer 1 of `Rows`) wraps a recurrent layer (`SimpleRNN`, `LSTM` or `GRU`), found `Dense(32, relu)` ``` | `join/bidirectional-around-a-dense-layer` |
//! | an `Embedding` after a layer giving floats, or on an image | macro | ``` `Embedding(16, 8)` (layer 2 of `AfterDense`) looks up token ids, but `Dense(196, relu)` (layer 1) gives floats; an `Embedding` reads the network's input: make it the first layer, `tokens => Embedding(16, 8) => ...` ``` | `shape/embedding-fed-floats` |
//! | a softmax `Dense` on each step of a sequence | macro | ``` `Dense(10, softmax)` (layer 1 of `Tagger`) on a sequence of 16 steps of 32 features: `Dense` acts on each step there, and `softmax` over each step is not supported; end the network with `Flatten => Dense(.., softmax)` or `GlobalAveragePooling1D => Dense(.., softmax)` ``` | `shape/softmax-on-each-step-of-a-sequence` |
//! | attention on anything but a sequence, or without its heads | macro | ``` `MultiHeadAttention(heads = 4, key_dim = 16)` (layer 1 of `Flat`) needs a sequence, found 64 values; declare the network's input as `(steps, features)` or add `Reshape(steps, features)` before it``` | `shape/attention-needs-a-sequence` |
//! | heads that do not divide the features, where `key_dim` is left out | macro | ``` `MultiHeadAttention(heads = 5)` (layer 1 of `Attend`) on a sequence of 16 steps of 64 features: 64 features do not split into 5 heads; expected a number of heads dividing 64 (1, 2, 4, 8, 16, 32, 64), or `key_dim` for projections of another width``` | `shape/heads-do-not-divide-the-width` |
//! | cross-attention to a branch that ends in a vector | macro | ``` `CrossAttention(Dense(64), Flatten => Dense(32), heads = 4, key_dim = 16)` (layer 1 of `Captions`): its value branch gives 32 values; attention reads sequences, so end the branch with a layer that gives steps of features ...``` | `shape/cross-attention-to-a-vector` |
//! | cross-attention heads that do not divide the query's features, where `key_dim` is left out | macro | ``` `CrossAttention(Dense(64), Conv1D(32, 3), heads = 6)` (layer 1 of `Captions`) on a sequence of 16 steps of 64 features: 64 features do not split into 6 heads; expected a number of heads dividing 64 (1, 2, 4, 8, 16, 32, 64), or `key_dim` for projections of another width``` | `shape/cross-attention-heads-do-not-divide-the-query` |
//! | cross-attention keys and values of different lengths | macro | ``` `CrossAttention(Dense(64), Conv1D(32, 3), Dense(8), heads = 4)` (layer 1 of `Captions`): its key branch gives a sequence of 16 steps of 8 features but its value branch gives a sequence of 14 steps of 32 features; attention pairs each key with a value, so the key and value branches must give the same number of steps ...``` | `shape/cross-attention-keys-and-values-of-other-lengths` |
//! | a `TransformerEncoder` whose heads × `key_dim` is not its width | macro | ``` `TransformerEncoder(heads = 4, key_dim = 8, ff = 128)` (layer 1 of `Encode`) on a sequence of 16 steps of 64 features: 4 heads of `key_dim = 8` project to 32 values, not the 64 features the block adds back to; expected `key_dim = 16` or none``` | `shape/heads-times-key-dim-does-not-fit-the-projection` |
//! | a position table shorter than its sequence | macro | ``` `PositionEmbedding(sequence_length = 10)` (layer 1 of `Patches`) on a sequence of 16 steps of 64 features: a table of 10 positions is shorter than the sequence; expected `sequence_length` of at least 16``` | `shape/position-embedding-shorter-than-the-sequence` |
//! | a `const` size of 0 | assertion | ``` `Dense(HIDDEN, relu)`: the number of units must be at least 1``` | `shape/const-size-zero` |
//! | a `const` input width that differs | assertion | ``` `Dense(HIDDEN -> 10, softmax)` (layer 2 of `Net`) after a 64-wide layer: expected 64 inputs, found 100``` | `shape/const-size-mismatch` |
//! | a network whose input differs | assertion | ``` `Encoder` (layer 2 of `Classifier`) after a 100-wide layer: expected 100 inputs, found 784``` | `shape/composed-network-input-differs` |
//! | a layer of yours of the wrong width | assertion | ``` `Scale2x` (layer 2 of `Net`) after a 32-wide layer: expected 32 inputs, found 64``` | `shape/custom-layer-of-the-wrong-width` |
//! | floats given to a network that reads tokens | type | ``expected `&Tokens<196, 16>`, found `&[{float}; 196]` `` | `usage/predict-floats-on-tokens` |
//! | a dataset of another width than the network's tokens | type | ``` `fit` cannot read `Dataset<784, 10>` as samples of 196 inputs and 10 targets``` | `usage/fit-an-embedding-on-a-dataset-of-another-width` |
//! | a network with mistakes, used elsewhere | macro | only its own mistakes: its stand-in type-checks where it is built, used as a layer or trained | `usage/a-broken-network-adds-no-errors-where-it-is-used`, `usage/a-broken-network-of-unknown-widths-adds-no-errors-where-it-is-built` |
//! | a type that is not a layer | rustc | ``` `String` is not a layer``` | `usage/not-a-layer` |
//! | a layer without `Initialize` | rustc | ``` `network!` cannot build `Scale2x` with `new(&mut rng)` ``` | `usage/layer-without-initialize` |
//! | streaming a network with a layer that needs the whole sequence | rustc | ``` `GlobalPool<GlobalMean, ..>` cannot run one time step at a time``` (a method call: ``the method `predict_step` exists for struct `Pooled`, but its trait bounds were not satisfied``, naming the layer) | `usage/stream-a-network-that-needs-the-whole-sequence` |
//! | `predict` on a sample of the wrong width | rustc | `expected an array with a size of 784, found one with a size of 783` | `usage/predict-wrong-input-width` |
//! | labels of the wrong width in `fit` or `evaluate` | type, rustc | ``` `fit` cannot read `Dataset<784, 9>` as samples of 784 inputs and 10 targets```; in `evaluate`, ``expected `10`, found `9` `` | `usage/label-width-differs-from-output`, `usage/label-width-differs-from-output-in-evaluate` |
//! | a loss that does not fit the output activation | rustc | ``the loss `CategoricalCrossentropy` does not fit an output layer with activation `Sigmoid` `` | `usage/loss-does-not-fit-output-activation` |
//!
//! Widths always flow forward: a layer's input is the previous layer's output, so
//! `Dense(64, relu)` or `Conv2d(16, 5)` cannot disagree with what comes before it; only declared
//! inputs (`Dense(784 -> 64)`), `Reshape`s, windows that must fit their image, and layers given
//! by name, whose input width is their own, are checked.
//!
//! ## Data
//!
//! [`Dataset<IN, OUT>`](data::Dataset) holds samples of `IN` inputs and `OUT` targets;
//! [`Dataset::mnist`](data::Dataset::mnist) reads MNIST's IDX files, raw or gzipped,
//! [`Dataset::fashion_mnist`](data::Dataset::fashion_mnist) Fashion-MNIST's, and
//! [`Dataset::emnist`](data::Dataset::emnist) EMNIST's (transposing its images, stored column by
//! column, to MNIST's orientation); with the `csv` feature, `Dataset::from_csv` reads tabular
//! data, a label column of class indices (one-hot) or columns of numbers (a regression), with
//! or without a header. Every malformed file is an [`Error`](data::Error) naming the file and
//! what is wrong with it: for a CSV file, the line and the column.
//!
//! | Keras | netdsl |
//! |---|---|
//! | `keras.datasets.mnist.load_data()` | [`Dataset::mnist(dir, MnistSplit::Train)`](data::Dataset::mnist) |
//! | `keras.datasets.fashion_mnist.load_data()` | [`Dataset::fashion_mnist(dir, MnistSplit::Train)`](data::Dataset::fashion_mnist) |
//! | `tfds.load("emnist/letters")` | [`Dataset::<784, 26>::emnist(dir, EmnistSplit::Letters, MnistSplit::Train)`](data::Dataset::emnist) |
//! | `df = pd.read_csv(path); y = df.pop("species")` | `Dataset::<4, 3>::from_csv(path, &CsvOptions::classes("species"))` (feature `csv`) |
//!
//! ## Exporting to ONNX
//!
//! [`model.export_onnx(path)?`](network::Network::export_onnx) writes the network as an ONNX
//! graph for inference (operator set 13), which onnxruntime, tract or TensorRT run. Its input
//! `"input"` is `[batch, IN]` and its output `"output"` `[batch, OUT]`: what `predict` computes,
//! for any batch. CI runs the MLP, LeNet-5, `SimpleRNN`, `LSTM`, `GRU`, stacked and
//! bidirectional models, the joins, attention and the other layers with onnxruntime against netdsl's
//! predictions, within 1e-6 (`python/onnx/check_export.py`). A layer with no ONNX form here
//! (masks: `Masking`, `Embedding(mask_zero = true)`; a layer of your own without
//! [`Layer::onnx`](layer::Layer::onnx)) makes the export an error naming it, and writes nothing.
//!
//! ```
//! use netdsl::prelude::*;
//!
//! network! {
//!     struct Mnist<784 => Dense(64, relu) => Dense(10, softmax)>;
//!     struct Rows<(28, 28) => LSTM(32) => Dense(10, softmax)>;
//! }
//!
//! let dir = tempfile::tempdir()?;
//! let model = Mnist::new(&mut StdRng::seed_from_u64(0));
//! model.export_onnx(dir.path().join("mnist.onnx"))?;
//! Rows::new(&mut StdRng::seed_from_u64(0)).export_onnx(dir.path().join("rows.onnx"))?;
//!
//! // The graph, as the file holds it: one `Gemm` per dense layer, its activation after it.
//! let graph = netdsl::onnx::model(&model)?.graph.unwrap();
//! let ops: Vec<&str> = graph.node.iter().map(|node| node.op_type.as_str()).collect();
//! assert_eq!(ops, ["Gemm", "Relu", "Gemm", "Softmax", "Identity"]);
//! assert_eq!(graph.initializer[0].name, "dense_1/kernel");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! In Python, `onnxruntime.InferenceSession("mnist.onnx").run(["output"], {"input": x})` with
//! `x` a `float32` array of shape `(n, 784)`.

#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
// Lets the generated code's `::netdsl::...` paths resolve inside this crate's own tests.
extern crate self as netdsl;

#[cfg(feature = "onnx")]
#[cfg_attr(docsrs, doc(cfg(feature = "onnx")))]
pub use netdsl_core::onnx;
pub use netdsl_core::{
    activation, buffer, inference, kernels, layer, layers, loss, mask, metrics, network,
    regularizer, shape, stream, tokens, weights,
};
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use netdsl_core::{data, train};
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use netdsl_core::{init, optim, summary};
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
pub use netdsl_macros::network;

/// Everything a training program needs, in one `use netdsl::prelude::*;`.
pub mod prelude {
    #[cfg(feature = "std")]
    pub use crate::data::Dataset;
    #[cfg(feature = "idx")]
    pub use crate::data::MnistSplit;
    pub use crate::kernels::Precision;
    pub use crate::layer::Layer;
    pub use crate::loss::{
        BinaryCrossentropy, CategoricalCrossentropy, CategoricalCrossentropyFromLogits, Loss,
        MeanSquaredError,
    };
    pub use crate::network;
    pub use crate::network::Network;
    #[cfg(feature = "alloc")]
    pub use crate::optim::{Adagrad, Adam, AdamW, Optimizer, RmsProp, Sgd};
    pub use crate::stream::Stream;
    pub use crate::tokens::Tokens;
    #[cfg(feature = "std")]
    pub use crate::train::{Fit, History, Metrics, Trainer, Verbose};
    pub use rand::SeedableRng;
    pub use rand::rngs::StdRng;
}

/// What the code generated by `network!` refers to. Not public API.
#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "alloc")]
    pub use alloc::vec;
    pub use bytemuck::Zeroable;
    pub use const_format::formatcp;
    pub use netdsl_core::activation::{
        Activation, Elu, Exponential, Gelu, GeluTanh, HardShrink, HardSigmoid, HardSilu, HardTanh,
        Kept, LeakyRelu, Linear, LogSigmoid, LogSoftmax, Mish, Relu, Relu6, Selu, Sigmoid, Silu,
        SoftShrink, Softmax, Softplus, Softsign, SparsePlus, SparseSigmoid, Squareplus, Tanh,
        TanhShrink,
    };
    pub use netdsl_core::buffer::Buffer;
    pub use netdsl_core::inference::{INFER_STACK_BUDGET, InferScratch};
    #[cfg(feature = "alloc")]
    pub use netdsl_core::init::Initializer;
    pub use netdsl_core::kernels::Precision;
    pub use netdsl_core::layer::{
        Initialize, Layer, Row, TensorVisitor, TensorVisitorMut, reinterpret, reinterpret_mut,
    };
    pub use netdsl_core::layers::{
        Add, BatchNormalization, Bidirectional, Concatenate, Dense, Dropout, Flatten,
        GlobalAvgPool, GlobalMaxPool, LayerNormalization, Masking, Reshape, Residual, Reverse,
        SinePositionEncoding, UpSampling2d, ZeroPadding2d,
    };
    #[cfg(feature = "alloc")]
    pub use netdsl_core::layers::{
        Attend, AvgPool2d, Conv1d, Conv2d, DenseSteps, Embedding, Gru, Join, Lstm, MaxPool2d,
        MultiHeadAttention, Pair, PositionEmbedding, SimpleRnn,
    };
    pub use netdsl_core::mask::StepMask;
    pub use netdsl_core::network::Network;
    pub use netdsl_core::regularizer::{Regularizer, Regularizers};
    pub use netdsl_core::shape::{
        Attention, CrossAttention, Image, Kernel, Kernel1d, Padding, Padding1d, Sequence, Window,
    };
    pub use netdsl_core::stream::{Stream, StreamAfter};
    #[cfg(feature = "alloc")]
    pub use netdsl_core::summary::{LayerSummary, Summary};
    pub use netdsl_core::tokens::Tokens;
    pub use netdsl_core::weights::{visit_prefixed, visit_prefixed_mut};
    pub use rand::Rng;

    /// Its items as they are with netdsl's `alloc` feature, nothing without it: how the
    /// generated code leaves out what needs a heap (`new`, `summary`) in a build without one.
    #[cfg(feature = "alloc")]
    #[macro_export]
    #[doc(hidden)]
    macro_rules! __netdsl_with_alloc {
        ($($item:item)*) => { $($item)* };
    }
    /// See the other definition.
    #[cfg(not(feature = "alloc"))]
    #[macro_export]
    #[doc(hidden)]
    macro_rules! __netdsl_with_alloc {
        ($($item:item)*) => {};
    }
    pub use crate::__netdsl_with_alloc as with_alloc;

    #[cfg(feature = "onnx")]
    pub use netdsl_core::onnx::{Error as OnnxError, Graph as OnnxGraph, Value as OnnxValue};

    /// Its items as they are with netdsl's `onnx` feature, nothing without it: how the
    /// generated code leaves out a network's `Layer::onnx` in a build without it.
    #[cfg(feature = "onnx")]
    #[macro_export]
    #[doc(hidden)]
    macro_rules! __netdsl_with_onnx {
        ($($item:item)*) => { $($item)* };
    }
    /// See the other definition.
    #[cfg(not(feature = "onnx"))]
    #[macro_export]
    #[doc(hidden)]
    macro_rules! __netdsl_with_onnx {
        ($($item:item)*) => {};
    }
    pub use crate::__netdsl_with_onnx as with_onnx;
}
