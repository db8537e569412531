//! The backward passes `network!` generates, checked against central finite differences of the
//! loss in every parameter: for every activation, both fused losses and mean squared error,
//! networks of three layers, networks composed of other networks and a layer of our own,
//! image networks through every image layer, sequence convolutions and global pools,
//! recurrent layers (over padded steps too, masked by `Masking`), and both normalizations. Every activation of the DSL is also checked
//! through a network of two layers ending with it, against an f64 reference of the network:
//! forward, and backward in every weight and input.
//!
//! Where a network has regularizers, the loss includes their penalty and the gradients theirs,
//! as `fit` adds them.
//!
//! Every pass runs in training mode, as `fit` runs it, and the loss is the mean over the whole
//! batch: batch normalization couples the samples of a batch through its statistics, so each
//! nudged parameter changes every sample's output.

use netdsl::activation::Linear;
use netdsl::layer::Initialize;
use netdsl::prelude::*;

mod encoders {
    use netdsl::prelude::*;

    network! {
        /// A network defined in another module, used as a layer.
        #[derive(Clone)]
        pub struct Encoder<4 => Dense(5, tanh) => Dense(3, sigmoid)>;
    }
}

/// `y = 2x` on three values: a layer of our own, without parameters.
#[derive(Clone)]
struct Scale2x;

impl Layer for Scale2x {
    type In = [f32; 3];
    type Out = [f32; 3];
    type Activation = Linear;
    type Grads = ();
    type Tape<const B: usize> = ();
    const KIND: &'static str = "Scale2x";

    fn new_tape<const B: usize>(&self) {}

    fn forward<const B: usize>(&self, x: &[[f32; 3]; B], y: &mut [[f32; 3]; B], _: &mut ()) {
        for (y, x) in y.iter_mut().flatten().zip(x.iter().flatten()) {
            *y = 2.0 * x;
        }
    }

    fn backward<const B: usize>(
        &self,
        _: &[[f32; 3]; B],
        dz: &[[f32; 3]; B],
        dx: Option<&mut [[f32; 3]; B]>,
        _: &mut (),
        _: &mut (),
    ) {
        if let Some(dx) = dx {
            for (dx, dz) in dx.iter_mut().flatten().zip(dz.iter().flatten()) {
                *dx = 2.0 * dz;
            }
        }
    }

    fn new_grads(&self) {}

    fn parameter_count(&self) -> usize {
        0
    }

    fn visit_parameters(&mut self, _: &mut (), _: &mut dyn FnMut(&mut [f32], &mut [f32])) {}
}

impl Initialize for Scale2x {
    fn initialize<R: netdsl::rand::Rng + ?Sized>(_: &mut R) -> Self {
        Scale2x
    }
}

network! {
    /// Three layers ending in softmax, for categorical cross-entropy.
    #[derive(Clone)]
    struct ReluTanhSoftmax<4 => Dense(6, relu) => Dense(5, tanh) => Dense(3, softmax)>;

    /// Three layers ending in sigmoid, for binary cross-entropy.
    #[derive(Clone)]
    struct SigmoidLinearSigmoid<4 => Dense(5, sigmoid) => Dense(6, linear) => Dense(2, sigmoid)>;

    /// Three layers ending in a linear output without bias, for mean squared error.
    #[derive(Clone)]
    struct TanhReluLinear<4 => Dense(5, tanh) => Dense(4, relu, bias = false) => Dense(2, linear)>;

    /// Mean squared error after a softmax: the loss's generic path through softmax's own backward.
    #[derive(Clone)]
    struct SigmoidSoftmax<4 => Dense(3, sigmoid) => Dense(3, softmax)>;

    /// A single layer, whose backward takes no input gradient.
    #[derive(Clone)]
    struct OneTanh<4 => Dense(2, tanh)>;

    /// A network inside a network, then a layer of our own: gradients flow through both.
    #[derive(Clone)]
    struct Composed<4 => encoders::Encoder => Scale2x => Dense(2, softmax)>;

    /// A network as the middle layer, so it must hand back its input gradient.
    #[derive(Clone)]
    struct Sandwich<4 => Dense(4, relu, bias = false) => encoders::Encoder => Dense(2, sigmoid)>;

    /// Dense layers on each step of a sequence, then flattened.
    #[derive(Clone)]
    struct DenseSteps<(4, 3) => Dense(5, gelu) => Dense(2, tanh, bias = false) => Flatten => Dense(3, softmax)>;

    /// Token ids looked up in a table, then a sequence convolution and a recurrent layer: the
    /// table's gradient collects every step of every sample that reads a row.
    #[derive(Clone)]
    struct Embedded<5 => Embedding(4, 3) => Conv1D(3, 2, tanh) => LSTM(2) => Dense(2, softmax)>;

    /// Images through both paddings, a stride of 2 and max pooling: every generated image
    /// backward pass hands its input gradient to the layer before.
    #[derive(Clone)]
    struct ConvMaxPool<(7, 7, 2)
        => Conv2d(3, 3, sigmoid, padding = same)    // 7×7×3
        => MaxPool2d(2)                             // 3×3×3
        => Conv2d(4, 2, sigmoid)                    // 2×2×4
        => Flatten => Dense(3, softmax)>;

    /// A recurrent layer over 4 steps of 3 features, then a dense layer: backpropagation
    /// through time inside a generated network.
    #[derive(Clone)]
    struct Recurrent<12 => Steps => Dense(2, softmax)>;

    /// An LSTM over 4 steps of 3 features, reshaped from a vector by the macro.
    #[derive(Clone)]
    struct LongShort<12 => Reshape(4, 3) => LSTM(3) => Dense(2, softmax)>;

    /// A GRU returning every step's state under another: both of its outputs.
    #[derive(Clone)]
    struct Gated<(4, 3) => GRU(3, return_sequences = true) => GRU(2) => Dense(2, softmax)>;

    /// Recurrent layers stacked through every step's state: backpropagation through time
    /// into the layer below at every step.
    #[derive(Clone)]
    struct Stacked<(4, 3) => LSTM(3, return_sequences = true) => SimpleRNN(2, sigmoid, return_sequences = true) => Flatten => Dense(2, softmax)>;

    /// A residual block between two layers: the gradient flows through the chain and around it.
    #[derive(Clone)]
    struct ResidualMlp<4 => Dense(5, tanh) => Residual(Dense(5, sigmoid) => Dense(5), tanh) => Dense(3, softmax)>;

    /// A residual block without activation as the first layer, which hands back no input gradient.
    #[derive(Clone)]
    struct ResidualFirst<4 => Residual(Dense(4, tanh)) => Dense(2, softmax)>;

    /// Three branches added, the first layer of the network, one of them a chain of two.
    #[derive(Clone)]
    struct Summed<4 => Add(Dense(3, tanh), Dense(3, sigmoid), Dense(2, tanh) => Dense(3)) => Dense(2, softmax)>;

    /// Two branches of images concatenated on their channels, pixel by pixel.
    #[derive(Clone)]
    struct BranchedImages<(5, 5, 2)
        => Concatenate(Conv2d(2, 3, tanh, padding = same), Conv2d(1, 1, sigmoid) => Conv2d(3, 3, tanh, padding = same))
        => Flatten => Dense(2, sigmoid)>;

    /// A residual block around a recurrent layer that returns every step.
    #[derive(Clone)]
    struct ResidualSequence<(4, 3) => Residual(LSTM(3, return_sequences = true), tanh) => Flatten => Dense(2, softmax)>;

    /// A bidirectional GRU returning every step under a bidirectional simple RNN.
    #[derive(Clone)]
    struct BothWays<(4, 3)
        => Bidirectional(GRU(2, return_sequences = true))
        => Bidirectional(SimpleRNN(3))
        => Dense(2, softmax)>;

    /// A bidirectional LSTM, the first layer.
    #[derive(Clone)]
    struct BothWaysLstm<(4, 3) => Bidirectional(LSTM(3)) => Dense(2, softmax)>;

    /// Convolutions over a sequence, dilated with `same` padding, strided, and dilated with
    /// `causal` padding, then global max pooling: each passes its input gradient back.
    #[derive(Clone)]
    struct Sequences1d<(8, 3)
        => Conv1D(4, 3, tanh, padding = same, dilation_rate = 2)      // 8×4
        => Conv1D(3, 2, sigmoid, strides = 2)                          // 4×3
        => Conv1D(3, 2, tanh, padding = causal, dilation_rate = 2)     // 4×3
        => GlobalMaxPooling1D => Dense(2, softmax)>;

    /// A valid convolution over a sequence, then global average pooling.
    #[derive(Clone)]
    struct AverageSteps<(8, 3) => Conv1D(4, 3, tanh) => GlobalAveragePooling1D => Dense(2, sigmoid)>;

    /// Asymmetric zero padding, upsampling by (2, 1) and both global pools of images, each
    /// between convolutions so that its input gradient reaches one.
    #[derive(Clone)]
    struct PaddedImages<(4, 3, 2)
        => Conv2d(2, 1, tanh)                        // 4×3×2
        => ZeroPadding2D(((1, 0), (2, 1)))           // 5×6×2
        => Conv2d(3, 3, tanh)                        // 3×4×3
        => UpSampling2D((2, 1))                      // 6×4×3
        => Conv2d(2, 3, sigmoid, padding = same)     // 6×4×2
        => GlobalAveragePooling2D => Dense(2, softmax)>;

    /// The new layers inside joins: a residual dilated convolution over a sequence, then the
    /// sequence's average and maximum concatenated, as Keras text classifiers often end.
    #[derive(Clone)]
    struct PooledTwice<(8, 3)
        => Conv1D(4, 2, tanh)                                                     // 7×4
        => Residual(Conv1D(4, 3, tanh, padding = same, dilation_rate = 2), tanh)  // 7×4
        => Concatenate(GlobalAveragePooling1D, GlobalMaxPooling1D)                // 8
        => Dense(2, softmax)>;

    /// Global max pooling of an image.
    #[derive(Clone)]
    struct MaxPixels<(4, 3, 2) => Conv2d(3, 2, tanh) => GlobalMaxPooling2D => Dense(2, sigmoid)>;

    /// Average pooling with overlapping windows, a strided convolution and a reshape.
    #[derive(Clone)]
    struct StrideAvgReshape<(7, 7, 2)
        => Conv2d(3, 3, tanh, stride = 2)           // 3×3×3
        => AvgPool2d(2, stride = 1)                 // 2×2×3
        => Reshape(12) => Dense(2, sigmoid)>;

    /// Batch normalization of a dense layer's units over the batch, with an activation that
    /// keeps its inputs, and of the output layer's logits without `β`.
    #[derive(Clone)]
    struct BatchNormDense<4 => Dense(5, linear) => BatchNormalization(gelu) => Dense(3) => BatchNorm(center = false) => Dense(3, softmax)>;

    /// Batch normalization of each channel over the batch and every pixel, inside a residual
    /// block as in a ResNet, and first, where it hands back no input gradient.
    #[derive(Clone)]
    struct BatchNormImages<(5, 5, 2)
        => BatchNormalization(momentum = 0.9)
        => Conv2d(3, 3, linear, padding = same) => BatchNormalization(relu)
        => Residual(Conv2d(3, 3, linear, padding = same) => BatchNormalization, tanh)
        => Flatten => Dense(2, softmax)>;

    /// Layer normalization of a vector, then of each step of a sequence.
    #[derive(Clone)]
    struct LayerNormSteps<12
        => LayerNormalization(epsilon = 0.01)
        => Reshape(4, 3) => LayerNorm(sigmoid, scale = false) => LSTM(3) => Dense(2, softmax)>;

    /// An LSTM over padded steps: the mask of `Masking` keeps its state over them.
    #[derive(Clone)]
    struct MaskedLstm<(4, 3) => Masking => LSTM(3) => Dense(2, softmax)>;

    /// A GRU returning every step hands the mask on, through dropout, to a simple RNN.
    #[derive(Clone)]
    struct MaskedGru<(4, 3) => Masking => GRU(3, return_sequences = true) => Dropout(0.25) => SimpleRNN(2, sigmoid) => Dense(2, softmax)>;

    /// A simple RNN whose outputs over padding repeat its state, through an activation that
    /// keeps its inputs: their gradient goes back to the step that made the state.
    #[derive(Clone)]
    struct MaskedSimpleRnn<(4, 3) => Masking => SimpleRNN(3, gelu, return_sequences = true) => Flatten => Dense(2, softmax)>;

    /// Bidirectional layers over padded steps: the backward line reads the reversed mask, the
    /// first layer outputs zeros over padding and hands the mask on to the second.
    #[derive(Clone)]
    struct MaskedBothWays<(4, 3)
        => Masking
        => Bidirectional(LSTM(2, return_sequences = true))
        => Bidirectional(GRU(2))
        => Dense(2, softmax)>;

    /// Layer normalization of each pixel's channels, with an activation that keeps its inputs.
    #[derive(Clone)]
    struct LayerNormPixels<(2, 2, 3)
        => Conv2d(4, 1, linear) => LayerNormalization(silu, center = false) => Conv2d(2, 2, tanh)
        => Flatten => Dense(2, softmax)>;
}

const BATCH: usize = 3;
const X: [[f32; 4]; BATCH] = [
    [0.5, -1.0, 2.0, 0.1],
    [1.5, 0.25, -0.75, -0.6],
    [-0.3, 0.8, 0.4, 1.2],
];

/// Every parameter of `net`, flattened in visiting order.
fn parameters<N: Network>(net: &mut N) -> Vec<f32> {
    let mut grads = net.new_grads();
    let mut all = Vec::new();
    net.visit_parameters(&mut grads, &mut |p, _| all.extend_from_slice(p));
    all
}

/// Adds `delta` to the `index`-th parameter of `net`.
fn nudge<N: Network>(net: &mut N, index: usize, delta: f32) {
    let mut grads = net.new_grads();
    let mut offset = 0;
    net.visit_parameters(&mut grads, &mut |p, _| {
        if (offset..offset + p.len()).contains(&index) {
            p[index - offset] += delta;
        }
        offset += p.len();
    });
}

/// The mean loss over the batch `x`, accumulated in f64.
fn mean_loss<N, L, const OUT: usize>(
    net: &N,
    loss: &L,
    x: &[N::In; BATCH],
    t: &[[f32; OUT]; BATCH],
) -> f64
where
    N: Network<Out = [f32; OUT]>,
    L: Loss<N::Activation>,
{
    let mut tape = net.new_tape::<BATCH>();
    net.set_training(&mut tape, true);
    let mut y = [[0.0; OUT]; BATCH];
    net.forward(x, &mut y, &mut tape);
    let mean = y
        .iter()
        .zip(t)
        .map(|(y, t)| f64::from(loss.loss(y, t)))
        .sum::<f64>()
        / BATCH as f64;
    // The weights' penalty (Keras' regularization losses), 0 without regularizers.
    mean + net.regularization()
}

fn check<N, L, const OUT: usize>(net: N, loss: L, t: [[f32; OUT]; BATCH])
where
    N: Network<In = [f32; 4], Out = [f32; OUT]> + Clone,
    L: Loss<N::Activation>,
{
    check_on(net, loss, &X, t, Kinks::None);
}

/// Whether the loss may have kinks in the parameters: a max whose winner changes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kinks {
    None,
    Possible,
}

/// [`check`] on the batch `x` (floats, or the tokens of an `Embedding`), each parameter nudged
/// by `±0.01`.
fn check_on<N, L, const OUT: usize>(
    mut net: N,
    loss: L,
    x: &[N::In; BATCH],
    t: [[f32; OUT]; BATCH],
    kinks: Kinks,
) where
    N: Network<Out = [f32; OUT]> + Clone,
    L: Loss<N::Activation>,
{
    let eps = 1e-2;
    let mut tape = net.new_tape::<BATCH>();
    net.set_training(&mut tape, true);
    let mut y = [[0.0; OUT]; BATCH];
    net.forward(x, &mut y, &mut tape);
    let mut delta = [[0.0; OUT]; BATCH];
    let kept = N::kept(&tape);
    loss.deltas(&y, kept, &t, BATCH, 1.0 / BATCH as f32, &mut delta);
    let mut grads = net.new_grads();
    net.backward(x, &delta, None, &mut grads, &mut tape);
    net.regularize(&mut grads, 1.0);
    let mut analytic = Vec::new();
    net.visit_parameters(&mut grads, &mut |_, g| analytic.extend_from_slice(g));
    assert_eq!(analytic.len(), parameters(&mut net).len());

    // Relative error, with a floor so that gradients near zero are compared absolutely.
    let error = |a: f32, numeric: f32| (a - numeric).abs() / a.abs().max(numeric.abs()).max(1e-2);
    let central = |k: usize, eps: f32| {
        let (mut plus, mut minus) = (net.clone(), net.clone());
        nudge(&mut plus, k, eps);
        nudge(&mut minus, k, -eps);
        ((mean_loss(&plus, &loss, x, &t) - mean_loss(&minus, &loss, x, &t))
            / (2.0 * f64::from(eps))) as f32
    };
    let mut worst = 0.0_f32;
    for (k, &a) in analytic.iter().enumerate() {
        let mut numeric = central(k, eps);
        let mut rel = error(a, numeric);
        if rel > 1e-3 {
            // A central difference errs by O(eps²) through the curvature of the activations it
            // crosses, which a residual block's chain of them brings near 1e-3 (a normalization
            // too, through 1 / σ of the few values it normalizes together): half the step
            // quarters that error (and doubles the rounding error, still far below it), and
            // Richardson's extrapolation of the two, (4 D(eps / 2) - D(eps)) / 3, cancels it.
            let half = central(k, eps / 2.0);
            let extrapolated = (4.0 * half - numeric) / 3.0;
            for candidate in [half, extrapolated] {
                if error(a, candidate) < rel {
                    (numeric, rel) = (candidate, error(a, candidate));
                }
            }
        }
        if rel > 1e-3 && kinks == Kinks::Possible {
            // A max may change its winner within ±eps, and a difference across that kink is
            // no derivative: half the step avoids it, at twice the rounding error.
            let half = central(k, eps / 2.0);
            if error(a, half) / 2.0 < rel {
                (numeric, rel) = (half, error(a, half) / 2.0);
            }
        }
        worst = worst.max(rel);
        assert!(
            rel <= 1e-3,
            "{} with {}: parameter {k}: backward {a}, finite difference {numeric}, relative error {rel}",
            std::any::type_name::<N>(),
            L::NAME
        );
    }
    println!(
        "{} with {}: worst relative error {worst:.2e}",
        std::any::type_name::<N>(),
        L::NAME
    );
}

network! {
    /// Every tensor regularized: L1 and L2 on weights that start at 1, far from `|w|`'s kink,
    /// L2 on the others.
    #[derive(Clone)]
    struct Regularized<4 => Dense(5, tanh, kernel_initializer = ones, bias_initializer = ones,
        kernel_regularizer = l1_l2(l1 = 0.01, l2 = 0.02), bias_regularizer = l1(0.03))
        => Dense(3, softmax, kernel_initializer = he_normal, kernel_regularizer = l2(0.05),
            bias_regularizer = l2(0.1), bias_initializer = uniform)>;
}

network! {
    /// A convolution and an LSTM with regularizers on each of their tensors.
    #[derive(Clone)]
    struct RegularizedSequences<12 => Reshape(4, 3) => Conv1D(4, 2, tanh, kernel_regularizer = l2(0.05),
            bias_initializer = uniform, bias_regularizer = l2(0.2))
        => LSTM(3, kernel_regularizer = l2(0.1), recurrent_regularizer = l2(0.2),
            bias_regularizer = l2(0.3), recurrent_initializer = orthogonal)
        => Dense(2, softmax)>;
}

#[test]
fn regularized_dense_layers_match_finite_differences_of_loss_plus_penalty() {
    let net = Regularized::new(&mut rng());
    assert!(net.regularization() > 0.1, "{}", net.regularization());
    let t = [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]];
    check(net, CategoricalCrossentropy, t);
}

#[test]
fn a_regularized_convolution_and_lstm_match_finite_differences_of_loss_plus_penalty() {
    let net = RegularizedSequences::new(&mut rng());
    assert!(net.regularization() > 0.1, "{}", net.regularization());
    let t = [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]];
    check_on(
        net,
        CategoricalCrossentropy,
        &images::<12>(),
        t,
        Kinks::None,
    );
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

#[test]
fn relu_tanh_softmax_with_categorical_crossentropy_matches_finite_differences() {
    let t = [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]];
    check(ReluTanhSoftmax::new(&mut rng()), CategoricalCrossentropy, t);
}

#[test]
fn sigmoid_linear_sigmoid_with_binary_crossentropy_matches_finite_differences() {
    let t = [[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]];
    check(SigmoidLinearSigmoid::new(&mut rng()), BinaryCrossentropy, t);
}

#[test]
fn tanh_relu_linear_with_mean_squared_error_matches_finite_differences() {
    let t = [[0.5, -1.0], [2.0, 0.0], [-0.5, 1.5]];
    check(TanhReluLinear::new(&mut rng()), MeanSquaredError, t);
}

#[test]
fn sigmoid_softmax_with_mean_squared_error_matches_finite_differences() {
    let t = [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]];
    check(SigmoidSoftmax::new(&mut rng()), MeanSquaredError, t);
}

#[test]
fn single_layer_with_mean_squared_error_matches_finite_differences() {
    check(
        OneTanh::new(&mut rng()),
        MeanSquaredError,
        [[0.5, -0.5], [0.0, 0.2], [-0.3, 0.9]],
    );
}

#[test]
fn a_network_inside_a_network_and_a_layer_of_our_own_match_finite_differences() {
    let t = [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]];
    check(Composed::new(&mut rng()), CategoricalCrossentropy, t);
}

#[test]
fn a_network_in_the_middle_passes_its_input_gradient_back() {
    let t = [[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]];
    check(Sandwich::new(&mut rng()), BinaryCrossentropy, t);
}

#[test]
fn composed_networks_count_summarise_and_predict_like_their_parts() {
    let model = Composed::new(&mut rng());
    assert_eq!(
        model.parameter_count(),
        (4 * 5 + 5) + (5 * 3 + 3) + (3 * 2 + 2)
    );
    let text = model.summary().to_string();
    assert!(
        text.contains("encoder_1 (Encoder)") && text.contains("scale2x_1 (Scale2x)"),
        "{text}"
    );
    // predict (stack buffers, each layer's `infer`) agrees with a batch of one through the tape.
    let x = [0.3, -0.2, 0.9, 0.1];
    let mut tape = model.new_tape::<1>();
    let mut y = [[0.0; 2]; 1];
    model.forward(&[x], &mut y, &mut tape);
    assert_eq!(model.predict(&x), y[0]);
}

/// 4 steps of 3 features into 5 sigmoid units.
type Steps = netdsl::layers::SimpleRnn<4, 3, 5, 12, 5, netdsl::activation::Sigmoid>;

#[test]
fn a_recurrent_layer_matches_finite_differences() {
    let t = [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]];
    let net = Recurrent::new(&mut rng());
    check_on(
        net,
        CategoricalCrossentropy,
        &images::<12>(),
        t,
        Kinks::None,
    );
}

#[test]
fn an_lstm_matches_finite_differences() {
    let t = [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]];
    let net = LongShort::new(&mut rng());
    check_on(
        net,
        CategoricalCrossentropy,
        &images::<12>(),
        t,
        Kinks::None,
    );
}

#[test]
fn stacked_grus_match_finite_differences() {
    let t = [[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]];
    let net = Gated::new(&mut rng());
    check_on(
        net,
        CategoricalCrossentropy,
        &images::<12>(),
        t,
        Kinks::None,
    );
}

#[test]
fn stacked_recurrent_layers_match_finite_differences() {
    let t = [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]];
    let net = Stacked::new(&mut rng());
    check_on(
        net,
        CategoricalCrossentropy,
        &images::<12>(),
        t,
        Kinks::None,
    );
}

/// `BATCH` images of `IN` values in [-1, 1), none equal, so that max pooling has no ties.
fn images<const IN: usize>() -> [[f32; IN]; BATCH] {
    std::array::from_fn(|b| {
        std::array::from_fn(|p| (((b * IN + p) * 7919) % 1999) as f32 / 999.5 - 1.0)
    })
}

#[test]
fn convolutions_and_max_pooling_match_finite_differences() {
    let t = [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]];
    let net = ConvMaxPool::new(&mut rng());
    // Nudging the first convolution's weight 18 by -0.01 changes which input wins a pooling
    // window: -0.01306 at ±0.01, -0.01280 at ±0.005, backward -0.01281.
    check_on(
        net,
        CategoricalCrossentropy,
        &images::<98>(),
        t,
        Kinks::Possible,
    );
}

#[test]
fn a_strided_convolution_average_pooling_and_a_reshape_match_finite_differences() {
    let t = [[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]];
    let net = StrideAvgReshape::new(&mut rng());
    check_on(net, BinaryCrossentropy, &images::<98>(), t, Kinks::None);
}

#[test]
fn residual_blocks_match_finite_differences() {
    let t = [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]];
    check(ResidualMlp::new(&mut rng()), CategoricalCrossentropy, t);
    let t = [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]];
    check(ResidualFirst::new(&mut rng()), CategoricalCrossentropy, t);
    let net = ResidualSequence::new(&mut rng());
    check_on(
        net,
        CategoricalCrossentropy,
        &images::<12>(),
        t,
        Kinks::None,
    );
}

#[test]
fn sequence_convolutions_and_global_max_pooling_match_finite_differences() {
    let t = [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]];
    let net = Sequences1d::new(&mut rng());
    check_on(
        net,
        CategoricalCrossentropy,
        &images::<24>(),
        t,
        Kinks::Possible,
    );
}

#[test]
fn a_sequence_convolution_and_global_average_pooling_match_finite_differences() {
    let t = [[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]];
    let net = AverageSteps::new(&mut rng());
    check_on(net, BinaryCrossentropy, &images::<24>(), t, Kinks::None);
}

#[test]
fn zero_padding_up_sampling_and_global_average_pooling_match_finite_differences() {
    let t = [[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]];
    let net = PaddedImages::new(&mut rng());
    check_on(
        net,
        CategoricalCrossentropy,
        &images::<24>(),
        t,
        Kinks::None,
    );
}

#[test]
fn added_and_concatenated_branches_match_finite_differences() {
    let t = [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]];
    check(Summed::new(&mut rng()), CategoricalCrossentropy, t);
    let t = [[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]];
    let net = BranchedImages::new(&mut rng());
    check_on(net, BinaryCrossentropy, &images::<50>(), t, Kinks::None);
}

#[test]
fn bidirectional_layers_match_finite_differences() {
    let t = [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]];
    let net = BothWays::new(&mut rng());
    check_on(
        net,
        CategoricalCrossentropy,
        &images::<12>(),
        t,
        Kinks::None,
    );
    let net = BothWaysLstm::new(&mut rng());
    check_on(
        net,
        CategoricalCrossentropy,
        &images::<12>(),
        t,
        Kinks::None,
    );
}

/// `images()` read as 4 steps of 3 features, padded with zeros: step 3 of the first sample, steps
/// 0 and 1 of the second, step 2 of the third.
fn padded() -> [[f32; 12]; BATCH] {
    let mut x = images::<12>();
    for (x, steps) in x.iter_mut().zip([&[3][..], &[0, 1], &[2]]) {
        for &t in steps {
            x[t * 3..][..3].fill(0.0);
        }
    }
    x
}

/// [`check_on`] over [`padded`] steps, and the input gradient: zero over padding (`Masking`
/// zeroes it), central differences of the mean loss elsewhere (a nudged value leaves its step
/// data, the other features of the step being non-zero).
fn check_padded<N>(net: N)
where
    N: Network<In = [f32; 12], Out = [f32; 2]> + Clone,
    CategoricalCrossentropy: Loss<N::Activation>,
{
    let (x, t) = (padded(), [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]);
    let loss = CategoricalCrossentropy;
    let mut tape = net.new_tape::<BATCH>();
    net.set_training(&mut tape, true);
    let mut y = [[0.0; 2]; BATCH];
    net.forward(&x, &mut y, &mut tape);
    let mut delta = [[0.0; 2]; BATCH];
    loss.deltas(
        &y,
        N::kept(&tape),
        &t,
        BATCH,
        1.0 / BATCH as f32,
        &mut delta,
    );
    let (mut grads, mut dx) = (net.new_grads(), [[9.0; 12]; BATCH]);
    net.backward(&x, &delta, Some(&mut dx), &mut grads, &mut tape);
    let eps = 1e-2;
    for (b, i) in (0..BATCH).flat_map(|b| (0..12).map(move |i| (b, i))) {
        let (a, padding) = (dx[b][i], x[b][i / 3 * 3..][..3] == [0.0; 3]);
        if padding {
            assert_eq!(a, 0.0, "dx[{b}][{i}] over padding");
            continue;
        }
        let nudged = |delta: f32| {
            let mut x = x;
            x[b][i] += delta;
            mean_loss(&net, &loss, &x, &t)
        };
        let numeric = ((nudged(eps) - nudged(-eps)) / (2.0 * f64::from(eps))) as f32;
        let error = (a - numeric).abs() / a.abs().max(numeric.abs()).max(1e-2);
        assert!(
            error <= 1e-3,
            "{}: dx[{b}][{i}]: backward {a}, finite difference {numeric}, relative error {error}",
            std::any::type_name::<N>()
        );
    }
    check_on(net, loss, &x, t, Kinks::None);
}

#[test]
fn an_lstm_over_padded_steps_matches_finite_differences() {
    check_padded(MaskedLstm::new(&mut rng()));
}

#[test]
fn a_gru_handing_its_mask_to_a_simple_rnn_matches_finite_differences() {
    check_padded(MaskedGru::new(&mut rng()));
}

#[test]
fn a_simple_rnn_repeating_its_state_over_padding_matches_finite_differences() {
    check_padded(MaskedSimpleRnn::new(&mut rng()));
}

#[test]
fn bidirectional_layers_over_padded_steps_match_finite_differences() {
    check_padded(MaskedBothWays::new(&mut rng()));
}

#[test]
fn global_max_pooling_of_an_image_matches_finite_differences() {
    let t = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]];
    // Seed 16: each channel's maximum leads its runner-up by at least 0.115 on these images,
    // so no step of ±0.01 changes the winner (with `rng()`'s seed 7, two of them are 0.005
    // apart and the difference crosses the kink: 3 % off at both steps).
    let net = MaxPixels::new(&mut StdRng::seed_from_u64(16));
    check_on(net, BinaryCrossentropy, &images::<24>(), t, Kinks::Possible);
}

#[test]
fn global_pools_and_a_sequence_convolution_inside_joins_match_finite_differences() {
    let t = [[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]];
    let net = PooledTwice::new(&mut rng());
    check_on(
        net,
        CategoricalCrossentropy,
        &images::<24>(),
        t,
        Kinks::Possible,
    );
}

// Every activation, as a hidden layer (the network's backward pass undoes it, from what its
// layer kept) and as the output layer (the loss does, from what the network returns from
// `Layer::kept`), against the same network computed in f64.

macro_rules! through_two_layers {
    ($($name:ident: $hidden:ident => $output:ident),* $(,)?) => {
        network! {
            $(
                /// `4 => Dense(5, f) => Dense(3, g)` for activations `f` and `g`.
                #[derive(Clone)]
                struct $name<4 => Dense(5, $hidden) => Dense(3, $output)>;
            )*
        }

        /// Each network above, checked with mean squared error.
        #[test]
        fn every_activation_through_a_network_matches_an_f64_reference() {
            $(
                let net = $name::new(&mut StdRng::seed_from_u64(11));
                let activations = concat!(stringify!($hidden), " then ", stringify!($output));
                check_against_f64(net, activations, MeanSquaredError, &mse);
            )*
        }
    };
}

through_two_layers! {
    ThroughRelu: relu => relu,
    ThroughRelu6: relu6 => relu6,
    ThroughLeakyRelu: leaky_relu => leaky_relu,
    ThroughElu: elu => elu,
    ThroughSelu: selu => selu,
    ThroughSigmoid: sigmoid => sigmoid,
    ThroughHardSigmoid: hard_sigmoid => hard_sigmoid,
    ThroughTanh: tanh => tanh,
    ThroughSoftplus: softplus => softplus,
    ThroughSoftsign: softsign => softsign,
    // Twice would overflow: e^(e^10).
    ThroughExponential: exponential => linear,
    IntoExponential: sigmoid => exponential,
    ThroughSilu: silu => silu,
    ThroughSwish: swish => swish,
    ThroughHardSilu: hard_silu => hard_silu,
    ThroughHardSwish: hard_swish => hard_swish,
    ThroughGelu: gelu => gelu,
    ThroughGeluTanh: gelu_tanh => gelu_tanh,
    ThroughMish: mish => mish,
    ThroughCelu: celu => celu,
    ThroughHardTanh: hard_tanh => hard_tanh,
    ThroughHardShrink: hard_shrink => hard_shrink,
    ThroughSoftShrink: soft_shrink => soft_shrink,
    ThroughTanhShrink: tanh_shrink => tanh_shrink,
    ThroughLogSigmoid: log_sigmoid => log_sigmoid,
    ThroughSparsePlus: sparse_plus => sparse_plus,
    ThroughSparseSigmoid: sparse_sigmoid => sparse_sigmoid,
    ThroughSquareplus: squareplus => squareplus,
    ThroughSoftmax: softmax => softmax,
    ThroughLogSoftmax: log_softmax => log_softmax,
    ThroughLinear: linear => linear,
}

network! {
    /// Log-probabilities out, for the fused cross-entropy from logits.
    #[derive(Clone)]
    struct LogProbabilities<4 => Dense(5, gelu) => Dense(3, log_softmax)>;

    /// An activation that keeps its inputs before a fused softmax.
    #[derive(Clone)]
    struct MishSoftmax<4 => Dense(5, mish) => Dense(3, softmax)>;
}

network! {
    /// A convolution and recurrent layers whose activations keep their inputs, hidden and as
    /// the output, where the loss reads what the recurrent layer kept of its last step.
    #[derive(Clone)]
    struct ConvGelu<(5, 5, 2) => Conv2d(3, 3, gelu, padding = same) => Flatten => Dense(2, softmax)>;

    #[derive(Clone)]
    struct RecurrentSilu<(4, 3)
        => SimpleRNN(3, silu, return_sequences = true)
        => SimpleRNN(2, hard_silu)>;

    /// A residual block whose activation keeps its inputs (the sums `x + g(x)`), a branch of
    /// joined branches ending with one, and a sequence convolution keeping its own.
    #[derive(Clone)]
    struct ResidualGelu<4 => Dense(5, tanh) => Residual(Dense(5, silu) => Dense(5), gelu) => Add(Dense(3, mish), Dense(3, tanh)) => Dense(2, softmax)>;

    #[derive(Clone)]
    struct SequencesSilu<(8, 3)
        => Conv1D(4, 3, silu, padding = same)      // 8×4
        => Conv1D(3, 2, gelu_tanh, strides = 2)    // 4×3
        => GlobalAveragePooling1D => Dense(2, softmax)>;

    /// A network ending with an activation that keeps its inputs...
    #[derive(Clone)]
    struct InnerGelu<4 => Dense(5, tanh) => Dense(3, gelu_tanh)>;

    /// ...inside another, in the middle and as its output layer: what it kept is reached
    /// through the outer network's tape.
    #[derive(Clone)]
    struct OuterMiddle<4 => InnerGelu => Dense(2, softmax)>;

    #[derive(Clone)]
    struct OuterLast<4 => Dense(4, elu) => InnerGelu>;
}

#[test]
fn a_convolution_that_keeps_its_inputs_matches_finite_differences() {
    let t = [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]];
    let net = ConvGelu::new(&mut rng());
    check_on(
        net,
        CategoricalCrossentropy,
        &images::<50>(),
        t,
        Kinks::None,
    );
}

#[test]
fn recurrent_layers_that_keep_their_inputs_match_finite_differences() {
    let t = [[0.5, -0.5], [1.0, 0.25], [-0.2, 0.3]];
    let net = RecurrentSilu::new(&mut rng());
    // hard_silu's kinks at ±3 lie far from these pre-activations.
    check_on(net, MeanSquaredError, &images::<12>(), t, Kinks::None);
}

#[test]
fn joins_and_sequence_convolutions_that_keep_their_inputs_match_finite_differences() {
    let t = [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]];
    check(ResidualGelu::new(&mut rng()), CategoricalCrossentropy, t);
    let net = SequencesSilu::new(&mut rng());
    check_on(
        net,
        CategoricalCrossentropy,
        &images::<24>(),
        t,
        Kinks::None,
    );
}

#[test]
fn a_network_that_keeps_its_inputs_matches_finite_differences_inside_another() {
    let t = [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]];
    check(OuterMiddle::new(&mut rng()), CategoricalCrossentropy, t);
    let t = [[0.5, -0.1, 0.2], [0.0, 1.0, 0.3], [-0.4, 0.6, 0.9]];
    check(OuterLast::new(&mut rng()), MeanSquaredError, t);
}

#[test]
fn log_softmax_with_cross_entropy_from_logits_matches_an_f64_reference() {
    let net = LogProbabilities::new(&mut StdRng::seed_from_u64(12));
    let loss = |y: &[f64], t: &[f64]| -> f64 {
        // From logits: -Σ t ln softmax(y), y already log-probabilities.
        let mut p = y.to_vec();
        activation_f64("log_softmax", &mut p);
        -p.iter().zip(t).map(|(p, t)| t * p).sum::<f64>()
    };
    check_against_f64(
        net,
        "gelu then log_softmax",
        CategoricalCrossentropyFromLogits,
        &loss,
    );
}

#[test]
fn mish_then_softmax_with_categorical_crossentropy_matches_an_f64_reference() {
    let net = MishSoftmax::new(&mut StdRng::seed_from_u64(13));
    let loss =
        |y: &[f64], t: &[f64]| -> f64 { -y.iter().zip(t).map(|(y, t)| t * y.ln()).sum::<f64>() };
    check_against_f64(net, "mish then softmax", CategoricalCrossentropy, &loss);
}

/// Keras' mean squared error of one sample, in f64.
fn mse(y: &[f64], t: &[f64]) -> f64 {
    y.iter().zip(t).map(|(y, t)| (y - t) * (y - t)).sum::<f64>() / y.len() as f64
}

/// Keras 3's activation `name` applied to a row, in f64: the reference, written from Keras'
/// formulas apart from netdsl-core's.
fn activation_f64(name: &str, z: &mut [f64]) {
    let row = |z: &mut [f64], softmax: bool| {
        let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let log_sum = z.iter().map(|z| (z - max).exp()).sum::<f64>().ln();
        for z in z {
            *z = if softmax {
                (*z - max - log_sum).exp()
            } else {
                *z - max - log_sum
            };
        }
    };
    let f: fn(f64) -> f64 = match name {
        "softmax" => return row(z, true),
        "log_softmax" => return row(z, false),
        "linear" => |z| z,
        "relu" => |z| z.max(0.0),
        "relu6" => |z| z.clamp(0.0, 6.0),
        "leaky_relu" => |z| if z > 0.0 { z } else { 0.2 * z },
        "elu" => |z| if z > 0.0 { z } else { z.exp_m1() },
        "selu" => |z| {
            let (alpha, scale) = (1.673_263_242_354_377_3, 1.050_700_987_355_480_5);
            if z > 0.0 {
                scale * z
            } else {
                scale * alpha * z.exp_m1()
            }
        },
        "sigmoid" => |z| 1.0 / (1.0 + (-z).exp()),
        "hard_sigmoid" => |z| (z + 3.0).clamp(0.0, 6.0) / 6.0,
        "tanh" => f64::tanh,
        "softplus" => |z| {
            if z > 0.0 {
                z + (-z).exp().ln_1p()
            } else {
                z.exp().ln_1p()
            }
        },
        "softsign" => |z| z / (1.0 + z.abs()),
        "exponential" => f64::exp,
        "silu" | "swish" => |z| z / (1.0 + (-z).exp()),
        "hard_silu" | "hard_swish" => |z| z * (z + 3.0).clamp(0.0, 6.0) / 6.0,
        "gelu" => |z| 0.5 * z * (1.0 + libm::erf(z / std::f64::consts::SQRT_2)),
        "gelu_tanh" => |z| {
            let u = (2.0 / std::f64::consts::PI).sqrt() * (z + 0.044_715 * z * z * z);
            0.5 * z * (1.0 + u.tanh())
        },
        "celu" => |z| z.max(0.0) + z.min(0.0).exp_m1(),
        "hard_tanh" => |z| z.clamp(-1.0, 1.0),
        "hard_shrink" => |z| if z.abs() > 0.5 { z } else { 0.0 },
        "soft_shrink" => |z| {
            if z > 0.5 {
                z - 0.5
            } else if z < -0.5 {
                z + 0.5
            } else {
                0.0
            }
        },
        "tanh_shrink" => |z| z - z.tanh(),
        "log_sigmoid" => |z| {
            -(if z < 0.0 {
                -z + z.exp().ln_1p()
            } else {
                (-z).exp().ln_1p()
            })
        },
        "sparse_plus" => |z| {
            if z <= -1.0 {
                0.0
            } else if z < 1.0 {
                (z + 1.0) * (z + 1.0) / 4.0
            } else {
                z
            }
        },
        "sparse_sigmoid" => |z| (z.clamp(-1.0, 1.0) + 1.0) / 2.0,
        "squareplus" => |z| (z + (z * z + 4.0).sqrt()) / 2.0,
        "mish" => |z| {
            let softplus = if z > 0.0 {
                z + (-z).exp().ln_1p()
            } else {
                z.exp().ln_1p()
            };
            z * softplus.tanh()
        },
        other => panic!("no f64 reference for `{other}`"),
    };
    for z in z {
        *z = f(*z);
    }
}

/// Inputs whose pre-activations reach past every kink (0, ±1/2, ±1, ±3, 6), none on one.
const WIDE: [[f32; 4]; BATCH] = [
    [2.5, -3.0, 4.0, 0.3],
    [-4.5, 1.25, -0.75, 3.6],
    [0.9, 5.5, -2.2, -1.7],
];

/// Checks `net`, two dense layers of 4, 5 and 3 units with `activations` (`"gelu then tanh"`),
/// with `loss`
/// (`loss_f64` its per-sample value in f64): the forward pass within 1e-5 of the network in f64,
/// and every weight, bias and input gradient of the mean loss within a relative 1e-4 of central
/// differences (step 1e-6) of the f64 network, which the f32 rounding of the network's own
/// outputs does not blur.
fn check_against_f64<N, L>(
    mut net: N,
    activations: &str,
    loss: L,
    loss_f64: &dyn Fn(&[f64], &[f64]) -> f64,
) where
    N: Network<In = [f32; 4], Out = [f32; 3]>,
    L: Loss<N::Activation>,
{
    let t = [[0.2, -0.4, 0.9], [0.0, 1.0, 0.0], [0.5, 0.25, 0.25]];
    // The network's parameters, f64: kernel 1 (4 × 5), bias 1, kernel 2 (5 × 3), bias 2.
    let params: Vec<f64> = parameters(&mut net).iter().map(|&p| f64::from(p)).collect();
    assert_eq!(params.len(), 4 * 5 + 5 + 5 * 3 + 3);
    let (hidden, output) = activations
        .split_once(" then ")
        .expect("`hidden then output`");
    let forward = |params: &[f64], x: &[f64]| -> Vec<f64> {
        let (w1, rest) = params.split_at(20);
        let (b1, rest) = rest.split_at(5);
        let (w2, b2) = rest.split_at(15);
        let mut h: Vec<f64> = (0..5)
            .map(|j| b1[j] + (0..4).map(|i| x[i] * w1[i * 5 + j]).sum::<f64>())
            .collect();
        activation_f64(hidden, &mut h);
        let mut y: Vec<f64> = (0..3)
            .map(|k| b2[k] + (0..5).map(|j| h[j] * w2[j * 3 + k]).sum::<f64>())
            .collect();
        activation_f64(output, &mut y);
        y
    };
    let x64: Vec<Vec<f64>> = WIDE
        .iter()
        .map(|x| x.iter().map(|&v| f64::from(v)).collect())
        .collect();
    let t64: Vec<Vec<f64>> = t
        .iter()
        .map(|t| t.iter().map(|&v| f64::from(v)).collect())
        .collect();
    let mean_loss = |params: &[f64], x: &[Vec<f64>]| -> f64 {
        x.iter()
            .zip(&t64)
            .map(|(x, t)| loss_f64(&forward(params, x), t))
            .sum::<f64>()
            / BATCH as f64
    };

    let mut tape = net.new_tape::<BATCH>();
    let mut y = [[0.0; 3]; BATCH];
    net.forward(&WIDE, &mut y, &mut tape);
    for (found, x) in y.iter().zip(&x64) {
        for (found, expected) in found.iter().zip(forward(&params, x)) {
            assert!(
                (f64::from(*found) - expected).abs() <= 1e-5 * expected.abs().max(1.0),
                "{activations}: forward {found}, f64 {expected}"
            );
        }
    }
    let mut delta = [[0.0; 3]; BATCH];
    loss.deltas(
        &y,
        N::kept(&tape),
        &t,
        BATCH,
        1.0 / BATCH as f32,
        &mut delta,
    );
    let (mut grads, mut dx) = (net.new_grads(), [[0.0; 4]; BATCH]);
    net.backward(&WIDE, &delta, Some(&mut dx), &mut grads, &mut tape);
    let mut analytic = Vec::new();
    net.visit_parameters(&mut grads, &mut |_, g| analytic.extend_from_slice(g));

    let eps = 1e-6;
    let mut worst = 0.0_f64;
    let mut compare = |a: f32, numeric: f64, what: String| {
        let error = (f64::from(a) - numeric).abs() / numeric.abs().max(1e-2);
        worst = worst.max(error);
        assert!(
            error <= 1e-4,
            "{activations}: {what}: backward {a}, f64 differences {numeric}, relative error {error:.2e}"
        );
    };
    for (k, &a) in analytic.iter().enumerate() {
        let nudged = |delta: f64| {
            let mut p = params.clone();
            p[k] += delta;
            mean_loss(&p, &x64)
        };
        compare(
            a,
            (nudged(eps) - nudged(-eps)) / (2.0 * eps),
            format!("parameter {k}"),
        );
    }
    for (b, dx) in dx.iter().enumerate() {
        for (i, &a) in dx.iter().enumerate() {
            let nudged = |delta: f64| {
                let mut x = x64.clone();
                x[b][i] += delta;
                mean_loss(&params, &x)
            };
            compare(
                a,
                (nudged(eps) - nudged(-eps)) / (2.0 * eps),
                format!("dx[{b}][{i}]"),
            );
        }
    }
    println!(
        "{activations} with {}: worst relative error {worst:.2e}",
        L::NAME
    );
}

#[test]
fn batch_normalization_in_training_matches_finite_differences() {
    let t = [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]];
    check(BatchNormDense::new(&mut rng()), CategoricalCrossentropy, t);
    let t = [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]];
    let net = BatchNormImages::new(&mut rng());
    check_on(
        net,
        CategoricalCrossentropy,
        &images::<50>(),
        t,
        Kinks::None,
    );
}

#[test]
fn layer_normalization_matches_finite_differences() {
    // Inputs in [-3, 3): a difference's step (0.01) must be small beside the spread of the
    // values normalized together, or their curvature (through 1 / σ) swamps it.
    let x = images::<12>().map(|x| x.map(|v| 3.0 * v));
    let t = [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]];
    let net = LayerNormSteps::new(&mut rng());
    check_on(net, CategoricalCrossentropy, &x, t, Kinks::None);
    let net = LayerNormPixels::new(&mut rng());
    check_on(net, CategoricalCrossentropy, &x, t, Kinks::None);
}

#[test]
fn an_embedding_table_matches_finite_differences() {
    // Every id of the vocabulary, some repeated within a sample and across the batch.
    let ids = [[0, 1, 2, 3, 1], [3, 3, 0, 2, 2], [1, 0, 0, 1, 3]];
    let x = ids.map(|ids| Tokens::new(ids).unwrap());
    let t = [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]];
    let net = Embedded::new(&mut rng());
    check_on(net, CategoricalCrossentropy, &x, t, Kinks::None);
}

#[test]
fn dense_layers_on_each_step_match_finite_differences() {
    let x = images::<12>();
    let t = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    check_on(
        DenseSteps::new(&mut rng()),
        CategoricalCrossentropy,
        &x,
        t,
        Kinks::None,
    );
}

network! {
    /// Positions learned and fixed, added to a sequence read by dense layers on each step.
    #[derive(Clone)]
    struct Positioned<(4, 3)
        => PositionEmbedding(sequence_length = 6)
        => SinePositionEncoding
        => Dense(4, tanh)
        => Flatten
        => Dense(2, softmax)>;
}

#[test]
fn position_embeddings_match_finite_differences() {
    let x = images::<12>();
    let t = [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]];
    check_on(
        Positioned::new(&mut rng()),
        CategoricalCrossentropy,
        &x,
        t,
        Kinks::None,
    );
}

network! {
    /// A post-norm encoder block (attention, normalizations, dense layers on each step) and a
    /// causal attention layer.
    #[derive(Clone)]
    struct Encoded<(4, 6)
        => TransformerEncoder(heads = 2, ff = 8, gelu)
        => MultiHeadAttention(heads = 3, key_dim = 2, causal = true)
        => Flatten
        => Dense(2, softmax)>;

    /// A pre-norm encoder block. (With keras_hub's relu, a nudge of 0.01 crosses a kink: the
    /// differences converge to the backward pass's value only below 0.003.)
    #[derive(Clone)]
    struct PreEncoded<(4, 6) => TransformerEncoder(heads = 3, ff = 5, silu, norm = pre) => GlobalAveragePooling1D => Dense(2, softmax)>;
}

network! {
    /// Attention over padded steps (after a dense layer on each step), the mask passed on
    /// through layer normalization to an LSTM.
    #[derive(Clone)]
    struct MaskedAttention<(4, 3)
        => Masking
        => Dense(4, tanh)
        => Residual(MultiHeadAttention(heads = 2, key_dim = 2))
        => LayerNormalization
        => LSTM(3)
        => Dense(2, softmax)>;

    /// Two queries made from the whole sequence attend to its steps, seen through a
    /// convolution, causally.
    #[derive(Clone)]
    struct Crossed<(4, 6)
        => CrossAttention(Flatten => Dense(6, tanh) => Reshape(2, 3), Conv1D(4, 2), heads = 2, key_dim = 2, causal = true)
        => Flatten
        => Dense(2, softmax)>;
}

network! {
    /// Regularized layers inside the branches of a cross-attention and of a residual block:
    /// the joins pass the penalty and its gradient on.
    #[derive(Clone)]
    struct RegularizedBranches<(4, 6)
        => CrossAttention(
            Flatten => Dense(6, tanh, kernel_regularizer = l2(0.1)) => Reshape(2, 3),
            Conv1D(4, 2, bias_initializer = uniform, bias_regularizer = l2(0.2)),
            heads = 2, key_dim = 2)
        => Residual(Dense(3, tanh, kernel_regularizer = l2(0.3), bias_regularizer = l2(0.3)))
        => Flatten
        => Dense(2, softmax)>;
}

#[test]
fn regularized_layers_inside_joins_match_finite_differences_of_loss_plus_penalty() {
    let net = RegularizedBranches::new(&mut rng());
    assert!(net.regularization() > 0.05, "{}", net.regularization());
    let t = [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]];
    check_on(
        net,
        CategoricalCrossentropy,
        &images::<24>(),
        t,
        Kinks::None,
    );
}

#[test]
fn masked_and_cross_attention_match_finite_differences() {
    check_padded(MaskedAttention::new(&mut rng()));
    check_on(
        Crossed::new(&mut rng()),
        CategoricalCrossentropy,
        &images::<24>(),
        [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]],
        Kinks::None,
    );
}

#[test]
fn transformer_encoder_blocks_and_attention_match_finite_differences() {
    let x = images::<24>();
    let t = [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]];
    check_on(
        Encoded::new(&mut rng()),
        CategoricalCrossentropy,
        &x,
        t,
        Kinks::None,
    );
    check_on(
        PreEncoded::new(&mut rng()),
        CategoricalCrossentropy,
        &x,
        t,
        Kinks::None,
    );
}
