//! No heap allocation after setup: `predict`, `forward` + `backward`, an optimizer step, a whole
//! training epoch and an evaluation, of a dense network, of one with every image layer, of
//! sequence convolutions, of padding, upsampling and global pooling, of joins, of recurrent
//! layers (reading padded sequences through a mask too), of streaming steps, of regularized
//! layers and of multi-head attention, counted by
//! `allocation-counter`'s counting global allocator (per thread, so tests running in parallel do
//! not disturb each other).
//!
//! Counting per thread, it sees only the calling thread of a parallel `fit` (which trains a
//! shard, sums the gradients and steps the optimizer); tests/zero_alloc_threads.rs counts the
//! helper threads too.

mod raw_idx;

use allocation_counter::measure;
use bytemuck::Zeroable;
use netdsl::data::Sample;
use netdsl::layer::Row;
use netdsl::prelude::*;

network! {
    /// The MNIST classifier from the Keras tutorial.
    struct Mnist<784 => Dense(64, relu) => Dense(10, softmax)>;

    /// Every image layer, in each configuration its passes branch on: `same` and `valid`
    /// padding with stride 2 (the valid one leaves a pixel over), a pool stride equal to and
    /// smaller than the pool, `Dropout` and `Reshape` on images.
    struct Images<(16, 16, 2)
        => Conv2d(8, 3, relu, padding = same, stride = 2) // 8×8×8
        => Dropout(0.25)
        => MaxPool2d(2)                                   // 4×4×8
        => Reshape(8, 8, 2)
        => Conv2d(8, 3, tanh, stride = 2)                 // (8 - 3) / 2 + 1 = 3: 3×3×8
        => AvgPool2d(2, stride = 1)                       // 2×2×8
        => Flatten
        => Dense(4, softmax)>;

    /// Every tensor regularized and initialized as Keras spells it: the penalties and their
    /// gradients add nothing to the heap.
    struct Regularized<(16, 16, 2)
        => Conv2d(4, 3, relu, kernel_initializer = he_normal, kernel_regularizer = l2(1e-4),
            bias_regularizer = l1(1e-3))
        => Flatten
        => Reshape(14, 56)
        => LSTM(8, kernel_regularizer = l1_l2(l1 = 1e-4, l2 = 1e-3), recurrent_regularizer = l2(1e-3))
        => Dense(4, softmax, kernel_regularizer = l1_l2, bias_initializer = ones)>;

    /// A recurrent layer reading the same images as 16 steps of 32 values.
    struct Sequences<512 => Steps => Dense(4, softmax)>;

    /// An LSTM over the same steps, reshaped by the macro.
    struct LongShort<512 => Reshape(16, 32) => LSTM(8) => Dense(4, softmax)>;

    /// A million hidden units: 4 MB of hidden output for one sample, above the stack budget
    /// and twice a spawned thread's whole stack.
    struct Wide<4 => Dense(1_000_000, relu) => Dense(2, softmax)>;

    /// The same with its width from a `const`, so that rustc, not the macro, picks the path.
    struct WideConst<4 => Dense(WIDE, relu) => Dense(2, softmax)>;

    /// A residual block of convolutions and two branches concatenated on their channels.
    struct Graph<(16, 16, 2)
        => Conv2d(8, 3, relu, padding = same)
        => Residual(Conv2d(8, 3, relu, padding = same) => Dropout(0.1) => Conv2d(8, 3, linear, padding = same), relu)
        => Concatenate(MaxPool2d(2), Conv2d(4, 3, relu, padding = same, stride = 2))
        => Flatten
        => Add(Dense(16, relu), Dense(16, tanh))
        => Dense(4, softmax)>;

    /// Padded sequences of the same steps: `Masking`, a bidirectional LSTM returning every step
    /// (each line reading the mask, the backward one reversed), and a GRU reading the mask it
    /// passes on.
    struct Masked<(16, 32)
        => Masking
        => Bidirectional(LSTM(8, return_sequences = true))
        => GRU(8)
        => Dense(4, softmax)>;

    /// Padded sequences through attention: `Masking`, a masked post-norm encoder block, then
    /// a cross-attention whose queries are 4 steps made from the whole sequence.
    struct MaskedAttention<(16, 32)
        => Masking
        => TransformerEncoder(heads = 4, ff = 32)
        => LSTM(8, return_sequences = true)
        => CrossAttention(Flatten => Dense(32) => Reshape(4, 8), Conv1D(8, 3), heads = 2)
        => Flatten
        => Dense(4, softmax)>;

    /// A bidirectional LSTM over the same steps.
    struct BothWays<512 => Reshape(16, 32) => Bidirectional(LSTM(8)) => Dense(4, softmax)>;

    /// Convolutions over the same images read as 16 steps of 32 values: dilated with `same`
    /// padding, strided, dilated with `causal` padding, then global max pooling.
    struct Convolved<(16, 32)
        => Conv1D(8, 3, relu, padding = same, dilation_rate = 2)     // 16×8
        => Conv1D(8, 3, tanh, strides = 2)                           // 7×8
        => Conv1D(8, 2, relu, padding = causal, dilation_rate = 2)   // 7×8
        => GlobalMaxPooling1D => Dense(4, softmax)>;

    /// Zero padding, upsampling and global average pooling of the images.
    struct Padded<(16, 16, 2)
        => ZeroPadding2D(((1, 0), (0, 1)))                           // 17×17×2
        => Conv2d(4, 3, relu, stride = 2)                            // 8×8×4
        => UpSampling2D                                              // 16×16×4
        => GlobalAveragePooling2D => Dense(4, softmax)>;

    /// Activations that keep their inputs for the backward pass, in every layer kind that
    /// applies one: the kept values are allocated with the tape, not per step.
    struct KeepingInputs<(16, 16, 2)
        => Conv2d(4, 3, gelu, stride = 2)                            // 7×7×4
        => Residual(Conv2d(4, 3, linear, padding = same), mish)
        => Flatten
        => Dense(32, silu)
        => Reshape(4, 8)
        => Conv1D(8, 3, hard_silu, padding = same)                   // 4×8
        => SimpleRNN(8, gelu_tanh)
        => Dense(4, softmax)>;

    /// Batch normalization of images, inside a residual block too, and of units; layer
    /// normalization of units.
    struct Normalized<(16, 16, 2)
        => Conv2d(8, 3, linear, padding = same) => BatchNormalization(relu)
        => Residual(Conv2d(8, 3, linear, padding = same) => BatchNorm(relu)
            => Conv2d(8, 3, linear, padding = same) => BatchNorm, relu)
        => MaxPool2d(2) => Flatten
        => Dense(16) => BatchNormalization(gelu) => Dense(8) => LayerNormalization(relu)
        => Dense(4, softmax)>;

    /// Recurrent layers stacked through every step's state.
    /// Images as 16 steps of 32, through keras_hub's blocks: positions, attention, layer
    /// normalization and dense layers on each step, pre-norm and post-norm.
    struct Encoded<512
        => Reshape(16, 32)
        => PositionEmbedding
        => TransformerEncoder(heads = 4, ff = 64)
        => TransformerEncoder(heads = 2, ff = 32, gelu, norm = pre, causal = true)
        => GlobalAveragePooling1D
        => Dense(4, softmax)>;

    /// Token ids looked up, then a sequence convolution and a global pool.
    struct Embedded<512 => Embedding(4, 3) => Conv1D(4, 3, relu) => GlobalMaxPooling1D => Dense(4, softmax)>;

    struct Stacked<512 => Reshape(16, 32) => LSTM(8, return_sequences = true) => SimpleRNN(8, return_sequences = true) => GRU(8, return_sequences = true) => GRU(8) => Dense(4, softmax)>;

    /// Streamed one step at a time.
    struct Streamed<(16, 2) => LSTM(64, return_sequences = true) => SimpleRNN(8, return_sequences = true) => GRU(32) => Dense(4, softmax)>;
}

/// 16 steps of 32 features into 8 tanh units.
type Steps = netdsl::layers::SimpleRnn<16, 32, 8, 512, 8, netdsl::activation::Tanh>;

const BATCH: usize = 32;
const WIDE: usize = 1_000_000;

fn model() -> Mnist {
    Mnist::new(&mut StdRng::seed_from_u64(1))
}

fn mnist(split: MnistSplit) -> Dataset<784, 10> {
    Dataset::mnist(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist"), split)
        .expect("bundled MNIST loads")
}

#[test]
fn the_counter_sees_allocations() {
    let info = measure(|| drop(std::hint::black_box(Box::new(1_u64))));
    assert_eq!(info.count_total, 1, "{info:?}");
}

#[test]
fn predict_allocates_nothing() {
    let model = model();
    let x = [0.5; 784];
    let info = measure(|| {
        std::hint::black_box(model.predict(std::hint::black_box(&x)));
    });
    assert_eq!(info.count_total, 0, "predict allocated: {info:?}");
}

/// 71 images of 16×16×2 in 4 classes, each class brighter in its own quadrant: two full
/// batches and a partial one.
fn images() -> Dataset<512, 4> {
    images_padded(|_| 0)
}

/// [`images`] read as 16 steps of 32 values, the last `padding(i)` of them zeroed in image `i`:
/// padded sequences, for `Masking`.
fn images_padded(padding: impl Fn(usize) -> usize) -> Dataset<512, 4> {
    let (inputs, classes) = (0..2 * BATCH + 7)
        .map(|i| {
            let class = i % 4;
            let mut x = [0.0; 512];
            for (p, x) in x.iter_mut().enumerate() {
                let (row, column) = (p / 32, p / 2 % 16);
                let quadrant = row / 8 * 2 + column / 8;
                *x = if quadrant == class { 0.9 } else { 0.1 } + (p % 7 + i % 5) as f32 * 0.01;
            }
            x[(16 - padding(i)) * 32..].fill(0.0);
            (x, class as u32)
        })
        .unzip();
    Dataset::from_classes(inputs, classes).expect("one class per image")
}

/// [`images`] as 512 token ids of a vocabulary of 4: 3 in the class's quadrant, noise elsewhere.
fn tokens() -> Dataset<512, 4> {
    let image_data = images();
    let (inputs, classes) = (0..image_data.len())
        .map(|i| {
            let ids: [u32; 512] = std::array::from_fn(|p| {
                if image_data.input(i)[p] > 0.5 {
                    3
                } else {
                    (p % 3) as u32
                }
            });
            let class = image_data.target(i).iter().position(|&t| t == 1.0).unwrap();
            (Tokens::<512, 4>::new(ids).unwrap(), class as u32)
        })
        .unzip();
    Dataset::from_tokens(inputs, classes).expect("one class per sample")
}

/// Every parameter of `model`, in visiting order.
fn parameters<N: Network>(model: &mut N) -> Vec<f32> {
    let mut grads = model.new_grads();
    let mut all = Vec::new();
    model.visit_parameters(&mut grads, &mut |p, _| all.extend_from_slice(p));
    all
}

#[test]
fn predict_beyond_the_stack_budget_uses_the_scratch_allocated_with_the_network() {
    predicts_on_a_small_stack_without_allocating(Wide::new(&mut StdRng::seed_from_u64(5)));
    predicts_on_a_small_stack_without_allocating(WideConst::new(&mut StdRng::seed_from_u64(5)));
}

/// `model.predict` on a thread of 256 KiB, against the batched forward pass (whose buffers are
/// on the heap), counting allocations.
fn predicts_on_a_small_stack_without_allocating<N>(model: N)
where
    N: Network<In = [f32; 4], Out = [f32; 2]> + Send + 'static,
{
    let x = [0.5, -1.0, 0.25, 2.0];
    let mut tape = model.new_tape::<1>();
    let mut expected = [[0.0; 2]; 1];
    model.forward(&[x], &mut expected, &mut tape);
    let (predicted, info) = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let mut y = [0.0; 2];
            let info = measure(|| y = model.predict(std::hint::black_box(&x)));
            (y, info)
        })
        .expect("a thread starts")
        .join()
        .expect("predict fits a 256 KiB stack");
    assert_eq!(info.count_total, 0, "{info:?}");
    // Within rounding, not to the bit: a narrow `Dense` sums a single row in four interleaved
    // chains, the batch pass in one (see the CHANGELOG).
    for (p, e) in predicted.iter().zip(&expected[0]) {
        assert!(
            (p - e).abs() <= 1e-6 * e.abs().max(1.0),
            "{predicted:?} vs {expected:?}"
        );
    }
}

#[test]
fn predict_through_every_image_layer_allocates_nothing() {
    let model = Images::new(&mut StdRng::seed_from_u64(1));
    let x = images().input(5);
    let mut y = [0.0; 4];
    let info = measure(|| y = model.predict(std::hint::black_box(&x)));
    assert_eq!(info.count_total, 0, "predict allocated: {info:?}");
    assert!((y.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{y:?}");
}

#[test]
fn training_and_evaluating_through_every_image_layer_allocate_nothing_after_setup() {
    // Forward (dropout training), backward and an Adam step for each of three batches.
    trains_evaluates_and_predicts_without_allocating(
        &mut Images::new(&mut StdRng::seed_from_u64(1)),
        "every image layer",
    );
}

#[test]
fn regularized_layers_train_evaluate_and_predict_without_allocating() {
    let mut model = Regularized::new(&mut StdRng::seed_from_u64(1));
    assert!(model.regularization() > 0.0);
    trains_evaluates_and_predicts_without_allocating(&mut model, "regularized layers");
}

#[test]
fn residual_blocks_and_branches_train_evaluate_and_predict_without_allocating() {
    trains_evaluates_and_predicts_without_allocating(
        &mut Graph::new(&mut StdRng::seed_from_u64(1)),
        "a residual block and joined branches",
    );
}

#[test]
fn normalizations_train_evaluate_and_predict_without_allocating() {
    // Each step moves the moving statistics, and the partial last batch sets the rows.
    let mut model = Normalized::new(&mut StdRng::seed_from_u64(1));
    let before = *model.batch_normalization_1.moving_mean();
    trains_evaluates_and_predicts_without_allocating(&mut model, "normalizations");
    assert_ne!(model.batch_normalization_1.moving_mean(), &before);
}

#[test]
fn a_bidirectional_lstm_trains_evaluates_and_predicts_without_allocating() {
    trains_evaluates_and_predicts_without_allocating(
        &mut BothWays::new(&mut StdRng::seed_from_u64(1)),
        "a bidirectional LSTM",
    );
}

#[test]
fn masked_recurrent_layers_train_evaluate_and_predict_without_allocating() {
    // Up to 6 of the 16 steps of each sample are padding.
    trains_evaluates_and_predicts_on_without_allocating(
        &mut Masked::new(&mut StdRng::seed_from_u64(1)),
        &images_padded(|i| i % 7),
        "masked recurrent layers",
    );
}

#[test]
fn masked_and_cross_attention_train_evaluate_and_predict_without_allocating() {
    trains_evaluates_and_predicts_on_without_allocating(
        &mut MaskedAttention::new(&mut StdRng::seed_from_u64(1)),
        &images_padded(|i| i % 7),
        "masked and cross attention",
    );
}

#[test]
fn a_recurrent_layer_trains_evaluates_and_predicts_without_allocating() {
    trains_evaluates_and_predicts_without_allocating(
        &mut Sequences::new(&mut StdRng::seed_from_u64(1)),
        "a simple RNN",
    );
}

#[test]
fn streaming_steps_one_stream_or_a_batch_of_them_allocate_nothing() {
    let model = Streamed::new(&mut StdRng::seed_from_u64(1));
    let mut state = <Streamed as Stream>::State::default();
    let mut states = [state; 9];
    let (mut y, mut ys) = ([0.0; 4], [[0.0; 4]; 9]);
    let info = measure(|| {
        for t in 0..16 {
            let x = [t as f32 * 0.1, -0.5];
            model.step(&mut state, std::hint::black_box(&x), &mut y);
            model.step_batch(&mut states, std::hint::black_box(&[x; 9]), &mut ys);
        }
        state = Default::default();
        model.step(&mut state, &[0.0; 2], &mut y);
    });
    assert_eq!(info.count_total, 0, "streaming allocated: {info:?}");
}

#[test]
fn stacked_recurrent_layers_train_evaluate_and_predict_without_allocating() {
    trains_evaluates_and_predicts_without_allocating(
        &mut Stacked::new(&mut StdRng::seed_from_u64(1)),
        "stacked recurrent layers",
    );
}

#[test]
fn sequence_convolutions_train_evaluate_and_predict_without_allocating() {
    trains_evaluates_and_predicts_without_allocating(
        &mut Convolved::new(&mut StdRng::seed_from_u64(1)),
        "Conv1D and global max pooling",
    );
}

#[test]
fn padding_upsampling_and_global_pooling_train_evaluate_and_predict_without_allocating() {
    trains_evaluates_and_predicts_without_allocating(
        &mut Padded::new(&mut StdRng::seed_from_u64(1)),
        "zero padding, upsampling and global average pooling",
    );
}

#[test]
fn activations_that_keep_their_inputs_train_evaluate_and_predict_without_allocating() {
    trains_evaluates_and_predicts_without_allocating(
        &mut KeepingInputs::new(&mut StdRng::seed_from_u64(1)),
        "gelu, mish, silu, hard_silu and gelu_tanh layers",
    );
}

#[test]
fn an_lstm_trains_evaluates_and_predicts_without_allocating() {
    trains_evaluates_and_predicts_without_allocating(
        &mut LongShort::new(&mut StdRng::seed_from_u64(1)),
        "an LSTM",
    );
}

/// After a first epoch (setup: it sizes the shuffling order), a training epoch with Adam over
/// `images()`, an evaluation and a `predict` through `model` allocate nothing; the epoch must
/// change most parameters, so that the count covers real steps.
fn trains_evaluates_and_predicts_without_allocating<N>(model: &mut N, what: &str)
where
    N: Network<In: Sample<512>, Out = [f32; 4]> + Sync,
    N::Tape<BATCH>: Send,
    N::Grads: Send,
    CategoricalCrossentropy: Loss<N::Activation>,
{
    trains_evaluates_and_predicts_on_without_allocating(model, &images(), what);
}

/// [`trains_evaluates_and_predicts_without_allocating`] on `data`.
fn trains_evaluates_and_predicts_on_without_allocating<N>(
    model: &mut N,
    data: &Dataset<512, 4>,
    what: &str,
) where
    N: Network<In: Sample<512>, Out = [f32; 4]> + Sync,
    N::Tape<BATCH>: Send,
    N::Grads: Send,
    CategoricalCrossentropy: Loss<N::Activation>,
{
    let mut trainer =
        Trainer::<_, _, _, BATCH>::new(model, Adam::default(), CategoricalCrossentropy);
    let mut rng = StdRng::seed_from_u64(2);
    trainer.train_epoch(model, data, Some(&mut rng));
    let before = parameters(model);

    let mut epoch = Metrics::default();
    let info = measure(|| epoch = trainer.train_epoch(model, data, Some(&mut rng)));
    assert_eq!(
        info.count_total, 0,
        "a training epoch through {what} allocated: {info:?}"
    );
    assert!(epoch.loss.is_finite(), "{epoch:?}");
    let after = parameters(model);
    let changed = before.iter().zip(&after).filter(|(b, a)| b != a).count();
    assert!(
        changed > after.len() / 2,
        "the epoch updated {changed} of {} parameters",
        after.len()
    );

    let info = measure(|| epoch = trainer.evaluate(model, data));
    assert_eq!(
        info.count_total, 0,
        "an evaluation through {what} allocated: {info:?}"
    );
    // Sample 6: padded with 6 steps in the masked network's `images_padded(|i| i % 7)`.
    let mut x = N::In::zeroed();
    x.values_mut().copy_from_slice(&data.input(6));
    let mut y = [0.0; 4];
    let info = measure(|| y = model.predict(std::hint::black_box(&x)));
    assert_eq!(
        info.count_total, 0,
        "a predict through {what} allocated: {info:?}"
    );
    assert!((y.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{y:?}");
}

#[test]
fn transformer_encoders_train_evaluate_and_predict_without_allocating() {
    let mut model = Encoded::new(&mut StdRng::seed_from_u64(1));
    trains_evaluates_and_predicts_without_allocating(&mut model, "TransformerEncoder");
}

#[test]
fn an_embedding_trains_evaluates_and_predicts_without_allocating() {
    let mut model = Embedded::new(&mut StdRng::seed_from_u64(1));
    trains_evaluates_and_predicts_on_without_allocating(&mut model, &tokens(), "Embedding");
}

#[test]
fn forward_and_backward_allocate_nothing() {
    let model = model();
    let mut tape = model.new_tape::<BATCH>();
    let mut grads = model.new_grads();
    let x: Box<[[f32; 784]; BATCH]> = Box::new([[0.25; 784]; BATCH]);
    let mut y = [[0.0; 10]; BATCH];
    let delta = [[0.1; 10]; BATCH];
    let info = measure(|| {
        model.forward(&x, &mut y, &mut tape);
        model.backward(&x, &delta, None, &mut grads, &mut tape);
    });
    assert_eq!(
        info.count_total, 0,
        "forward + backward allocated: {info:?}"
    );
}

#[test]
fn multi_head_attention_trains_and_infers_without_allocating() {
    use netdsl::layers::MultiHeadAttention;
    use netdsl::shape::{Attention, Sequence};
    // The ViT example's sizes, causal so that the masked softmax runs too; the runtime layer
    // by hand, as `network!` uses it.
    type Mha = MultiHeadAttention<Sequence<16, 64, 1024>, Attention<4, 16, 1024, 256>, true>;
    let mut layer = Mha::keras_default(&mut StdRng::seed_from_u64(1));
    let mut tape = layer.new_tape::<8>();
    let mut grads = layer.new_grads();
    let mut adam = Adam::default();
    adam.prepare(layer.parameter_count());
    let x: Box<[[f32; 1024]; 8]> = Box::new([[0.25; 1024]; 8]);
    let (mut y, mut dx) = (Box::new([[0.0; 1024]; 8]), Box::new([[0.0; 1024]; 8]));
    let mut single = [0.0; 1024];
    let info = measure(|| {
        layer.forward(&x, &mut y, &mut tape);
        layer.backward(&x, &y, Some(&mut dx), &mut grads, &mut tape);
        adam.step(&mut layer, &mut grads);
        layer.infer(&x[0], &mut single);
    });
    assert_eq!(
        info.count_total, 0,
        "attention's forward, backward, step and infer allocated: {info:?}"
    );
}

/// One step of `optimizer`, after its setup, allocates nothing.
fn assert_step_allocates_nothing(mut optimizer: impl Optimizer + std::fmt::Debug) {
    let mut model = model();
    let mut grads = model.new_grads();
    optimizer.prepare(model.parameter_count());
    let info = measure(|| optimizer.step(&mut model, &mut grads));
    assert_eq!(
        info.count_total, 0,
        "{optimizer:?} step allocated: {info:?}"
    );
}

#[test]
fn a_step_of_every_optimizer_allocates_nothing() {
    use netdsl::optim::schedule::{CosineDecay, ExponentialDecay, StepDecay};
    use netdsl::optim::{Adagrad, Adam, AdamW, RmsProp};
    assert_step_allocates_nothing(Sgd::new(0.01));
    assert_step_allocates_nothing(Sgd::new(0.01).momentum(0.9));
    assert_step_allocates_nothing(Sgd::new(0.01).momentum(0.9).nesterov(true));
    assert_step_allocates_nothing(Adam::default());
    assert_step_allocates_nothing(AdamW::default());
    assert_step_allocates_nothing(RmsProp::default());
    assert_step_allocates_nothing(Adagrad::default());
    assert_step_allocates_nothing(
        Adam::default()
            .clip_value(0.5)
            .clip_norm(1.0)
            .global_clip_norm(1.0),
    );
    assert_step_allocates_nothing(Sgd::new(0.1).with_schedule(StepDecay::new(0.1, 0.5, 100)));
    assert_step_allocates_nothing(
        Sgd::new(0.1).with_schedule(ExponentialDecay::new(0.1, 100, 0.9)),
    );
    assert_step_allocates_nothing(Sgd::new(0.1).with_schedule(CosineDecay::new(0.1, 100, 0.0)));
}

#[test]
fn a_whole_training_epoch_and_an_evaluation_allocate_nothing_after_setup() {
    let train = mnist(MnistSplit::Train);
    let test = mnist(MnistSplit::Test);
    let mut model = model();
    let mut trainer = Trainer::<_, _, _, BATCH>::new(
        &model,
        Sgd::new(0.01).momentum(0.9),
        CategoricalCrossentropy,
    );
    let mut rng = StdRng::seed_from_u64(2);
    // The first epoch sizes the shuffling order to the dataset: that is setup.
    trainer.train_epoch(&mut model, &train, Some(&mut rng));

    let mut epoch = Metrics::default();
    let info = measure(|| epoch = trainer.train_epoch(&mut model, &train, Some(&mut rng)));
    assert_eq!(
        info.count_total, 0,
        "a training epoch of 60,000 images allocated: {info:?}"
    );
    assert!(epoch.accuracy > Some(0.9), "the epoch trained: {epoch:?}");

    let mut evaluation = Metrics::default();
    let info = measure(|| evaluation = trainer.evaluate(&model, &test));
    assert_eq!(
        info.count_total, 0,
        "evaluating 10,000 images allocated: {info:?}"
    );
    assert!(evaluation.accuracy > Some(0.9), "{evaluation:?}");

    // 10,000 = 312 whole batches read in place and a last one of 16 copied.
    let images: Vec<[f32; 784]> = (0..test.len()).map(|i| test.input(i)).collect();
    let mut outputs = vec![[0.0; 10]; images.len()];
    let info = measure(|| trainer.predict_into(&model, &images, &mut outputs));
    assert_eq!(
        info.count_total, 0,
        "predicting 10,000 images allocated: {info:?}"
    );
    assert_eq!(outputs[9_999], model.predict(&images[9_999]));
}

#[test]
fn a_bf16_training_epoch_evaluation_and_prediction_allocate_nothing_after_setup() {
    let mut train = mnist(MnistSplit::Train);
    if cfg!(debug_assertions) {
        // Unoptimised, a tenth of MNIST: the rounding into packed panels is slow there.
        train.split_off(6_000);
    }
    let test = mnist(MnistSplit::Test);
    let mut model = model();
    let mut trainer =
        Trainer::<_, _, _, BATCH>::new(&model, Sgd::new(0.01), CategoricalCrossentropy);
    trainer.set_precision(&model, Precision::Bf16);
    let mut rng = StdRng::seed_from_u64(2);
    trainer.train_epoch(&mut model, &train, Some(&mut rng));

    let mut epoch = Metrics::default();
    let info = measure(|| epoch = trainer.train_epoch(&mut model, &train, Some(&mut rng)));
    assert_eq!(
        info.count_total, 0,
        "a bf16 training epoch of 60,000 images allocated: {info:?}"
    );
    assert!(epoch.accuracy > Some(0.5), "the epoch trained: {epoch:?}");
    let mut evaluation = Metrics::default();
    let info = measure(|| evaluation = trainer.evaluate(&model, &test));
    assert_eq!(
        info.count_total, 0,
        "a bf16 evaluation of 10,000 images allocated: {info:?}"
    );
    let images: Vec<[f32; 784]> = (0..test.len()).map(|i| test.input(i)).collect();
    let mut outputs = vec![[0.0; 10]; images.len()];
    let info = measure(|| trainer.predict_into(&model, &images, &mut outputs));
    assert_eq!(
        info.count_total, 0,
        "a bf16 prediction of 10,000 images allocated: {info:?}"
    );
}

#[test]
fn bf16_convolutions_and_recurrent_layers_train_and_evaluate_without_allocating() {
    fn check<N>(model: &mut N, what: &str)
    where
        N: Network<In: Sample<512>, Out = [f32; 4]> + Sync,
        N::Tape<BATCH>: Send,
        N::Grads: Send,
        CategoricalCrossentropy: Loss<N::Activation>,
    {
        let data = images();
        let mut trainer =
            Trainer::<_, _, _, BATCH>::new(model, Adam::default(), CategoricalCrossentropy);
        trainer.set_precision(model, Precision::Bf16);
        let mut rng = StdRng::seed_from_u64(2);
        trainer.train_epoch(model, &data, Some(&mut rng));
        let mut epoch = Metrics::default();
        let info = measure(|| epoch = trainer.train_epoch(model, &data, Some(&mut rng)));
        assert_eq!(
            info.count_total, 0,
            "a bf16 epoch through {what} allocated: {info:?}"
        );
        assert!(epoch.loss.is_finite(), "{epoch:?}");
        let info = measure(|| epoch = trainer.evaluate(model, &data));
        assert_eq!(
            info.count_total, 0,
            "a bf16 evaluation through {what} allocated: {info:?}"
        );
    }
    check(&mut Images::new(&mut StdRng::seed_from_u64(1)), "Conv2D");
    check(&mut Convolved::new(&mut StdRng::seed_from_u64(1)), "Conv1D");
    check(&mut LongShort::new(&mut StdRng::seed_from_u64(1)), "LSTM");
}

#[test]
fn a_parallel_fit_allocates_per_fit_not_per_step_on_the_calling_thread() {
    let mut train = mnist(MnistSplit::Train);
    // Allocating per fit and not per step shows on any number of steps. Unoptimised, the five
    // epochs of all 60,000 images take 2 min: `cargo test` in debug fits the first 6,000.
    if cfg!(debug_assertions) {
        train.split_off(6_000);
    }
    let steps = train.len().div_ceil(2 * BATCH);
    let mut model = model();
    let mut trainer =
        Trainer::<_, _, _, BATCH>::new(&model, Sgd::new(0.01), CategoricalCrossentropy);
    let mut fit = |epochs| {
        let options = Fit::epochs(epochs).threads(2).verbose(Verbose::Silent);
        measure(|| {
            trainer.fit(&mut model, &train, options).unwrap();
        })
    };
    // Whatever the first fit sets up once for the process (standard output's handle) is not
    // the fit's.
    fit(1);
    let (one, three) = (fit(1), fit(3));
    assert!(
        one.count_total > 0,
        "starting the threads allocates: {one:?}"
    );
    assert_eq!(
        one.count_total,
        three.count_total,
        "two more epochs of {steps} steps allocated {} times",
        three.count_total as i64 - one.count_total as i64
    );
}

#[test]
fn metrics_cost_a_fit_allocations_per_fit_not_per_step() {
    use netdsl::metrics::{
        Auc, F1Score, Precision, R2Score, Recall, RootMeanSquaredError, TopKCategoricalAccuracy,
    };
    let mut train = mnist(MnistSplit::Test);
    let validation = train.split_off(8_000);
    let steps = train.len().div_ceil(BATCH);
    let mut model = model();
    let mut trainer =
        Trainer::<_, _, _, BATCH>::new(&model, Sgd::new(0.01), CategoricalCrossentropy);
    let mut fit = |epochs| {
        measure(|| {
            let options = Fit::epochs(epochs)
                .validation_data(&validation)
                .metric(Precision::new())
                .metric(Recall::new())
                .metric(F1Score::macro_average())
                .metric(Auc::roc())
                .metric(Auc::pr())
                .metric(TopKCategoricalAccuracy::new(3))
                .metric(RootMeanSquaredError::default())
                .metric(R2Score::default())
                .verbose(Verbose::Silent);
            let history = trainer.fit(&mut model, &train, options).unwrap();
            assert_eq!(history.get("val_auc").map(<[f32]>::len), Some(epochs));
        })
    };
    fit(1);
    let (one, three) = (fit(1), fit(3));
    assert_eq!(
        one.count_total,
        three.count_total,
        "two more epochs of {steps} steps with 8 metrics allocated {} times",
        three.count_total as i64 - one.count_total as i64
    );

    // An evaluation with metrics prepared by a first one allocates nothing.
    let (mut f1, mut auc) = (F1Score::macro_average(), Auc::roc());
    trainer.evaluate_with(&model, &validation, &mut [&mut f1, &mut auc]);
    let info = measure(|| {
        trainer.evaluate_with(&model, &validation, &mut [&mut f1, &mut auc]);
    });
    assert_eq!(
        info.count_total, 0,
        "an evaluation with metrics allocated: {info:?}"
    );
}

#[test]
fn every_callback_allocates_nothing_after_train_begin() {
    use netdsl::train::callbacks::{
        BackupAndRestore, Callback, Context, EarlyStopping, LambdaCallback, LayerAccess,
        LearningRateScheduler, ModelCheckpoint, Monitor, ReduceLrOnPlateau, SaveFreq,
        TerminateOnNan,
    };
    use netdsl::train::{BatchLogs, EpochLogs, Metrics};

    let mut model = model();
    let mut grads = model.new_grads();
    let mut optimizer = Sgd::new(0.1);
    let mut calls = 0;
    let mut early = EarlyStopping::new(Monitor::ValLoss)
        .patience(1)
        .restore_best_weights(true);
    let mut plateau = ReduceLrOnPlateau::new(Monitor::ValLoss).patience(1);
    let mut scheduler = LearningRateScheduler::new(|epoch, lr| lr / epoch as f32);
    let mut lambda = LambdaCallback::on_epoch_end(|_: &EpochLogs| calls += 1);
    let mut nan = TerminateOnNan;
    // Checkpoints allocate when they write a file, and only then: these never save (no value
    // beats 0, and 1000 steps never pass).
    let mut best = ModelCheckpoint::new("never/{epoch}.safetensors")
        .unwrap()
        .save_best_only(true)
        .initial_value_threshold(0.0);
    let mut periodic = ModelCheckpoint::new("never/{batch}.safetensors")
        .unwrap()
        .save_freq(SaveFreq::Batches(1000));
    // A backup likewise, and deleting it at the end (which names its file) is not asked for.
    let mut backup = BackupAndRestore::new("never")
        .save_freq(SaveFreq::Batches(1000))
        .delete_checkpoint(false);
    let callbacks: [&mut dyn Callback; 8] = [
        &mut early,
        &mut plateau,
        &mut scheduler,
        &mut lambda,
        &mut nan,
        &mut best,
        &mut periodic,
        &mut backup,
    ];

    let mut access = LayerAccess::new(&mut model, &mut grads);
    let mut context = Context::new(&mut optimizer, &mut access);
    for callback in callbacks {
        callback.on_train_begin(&mut context);
        // Improving, then worse: every branch runs, restoring the best weights included.
        let mut info = allocation_counter::AllocationInfo::default();
        for (epoch, val_loss) in [(1, 0.5), (2, 0.4), (3, 0.9), (4, 0.95)] {
            let logs = EpochLogs {
                epoch,
                train: Metrics {
                    loss: 0.3,
                    accuracy: Some(0.9),
                    ..Metrics::default()
                },
                validation: Some(Metrics {
                    loss: val_loss,
                    accuracy: Some(0.8),
                    ..Metrics::default()
                }),
                learning_rate: 0.1,
                seconds: 0.0,
                steps: 1,
            };
            let batch = BatchLogs {
                epoch,
                batch: 1,
                train: logs.train,
                learning_rate: 0.1,
            };
            info += measure(|| {
                callback.on_epoch_begin(epoch, &mut context);
                callback.on_train_batch_end(&batch, &mut context);
                callback.on_epoch_end(&logs, &mut context);
            });
        }
        info += measure(|| callback.on_train_end(&mut context));
        assert_eq!(
            info.count_total, 0,
            "a callback allocated after on_train_begin: {info:?}"
        );
    }
    assert!(context.stop_requested(), "early stopping fired");
    assert_eq!(calls, 4);
}

#[test]
fn a_fit_from_files_read_lazily_allocates_per_fit_not_per_step() {
    use netdsl::data::IdxSource;
    let dir = tempfile::tempdir().unwrap();
    let (images, labels) = raw_idx::write_raw(dir.path(), 2_000);
    let source = IdxSource::<784, 10>::open(&images, &labels, 1.0 / 255.0).unwrap();
    let steps = 2_000_usize.div_ceil(BATCH);
    let mut model = model();
    let mut trainer =
        Trainer::<_, _, _, BATCH>::new(&model, Sgd::new(0.01), CategoricalCrossentropy);
    let mut fit = |epochs| {
        measure(|| {
            let options = Fit::epochs(epochs).verbose(Verbose::Silent);
            trainer.fit(&mut model, &source, options).unwrap();
        })
    };
    fit(1);
    let (one, three) = (fit(1), fit(3));
    assert_eq!(
        one.count_total,
        three.count_total,
        "two more epochs of {steps} steps read from a file allocated {} times",
        three.count_total as i64 - one.count_total as i64
    );
    println!(
        "a fit of {steps} steps an epoch from a file: {} allocations for 1 epoch and for 3",
        one.count_total
    );
}
