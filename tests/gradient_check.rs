//! The backward passes `network!` generates, checked against central finite differences of the
//! loss in every parameter: for every activation, both fused losses and mean squared error,
//! networks of three layers, and networks composed of other networks and a layer of our own.

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
    type Cache<const B: usize> = ();
    const KIND: &'static str = "Scale2x";

    fn new_cache<const B: usize>(&self) {}

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

/// The mean loss over the batch, accumulated in f64.
fn mean_loss<N, L, const OUT: usize>(net: &N, loss: &L, t: &[[f32; OUT]; BATCH]) -> f64
where
    N: Network<In = [f32; 4], Out = [f32; OUT]>,
    L: Loss<N::Activation>,
{
    let mut tape = net.new_cache::<BATCH>();
    let mut y = [[0.0; OUT]; BATCH];
    net.forward(&X, &mut y, &mut tape);
    y.iter()
        .zip(t)
        .map(|(y, t)| f64::from(loss.loss(y, t)))
        .sum::<f64>()
        / BATCH as f64
}

fn check<N, L, const OUT: usize>(mut net: N, loss: L, t: [[f32; OUT]; BATCH])
where
    N: Network<In = [f32; 4], Out = [f32; OUT]> + Clone,
    L: Loss<N::Activation>,
{
    let mut tape = net.new_cache::<BATCH>();
    let mut y = [[0.0; OUT]; BATCH];
    net.forward(&X, &mut y, &mut tape);
    let mut delta = [[0.0; OUT]; BATCH];
    for b in 0..BATCH {
        loss.delta(&y[b], &t[b], 1.0 / BATCH as f32, &mut delta[b]);
    }
    let mut grads = net.new_grads();
    net.backward(&X, &delta, None, &mut grads, &mut tape);
    let mut analytic = Vec::new();
    net.visit_parameters(&mut grads, &mut |_, g| analytic.extend_from_slice(g));
    assert_eq!(analytic.len(), parameters(&mut net).len());

    let eps = 1e-2;
    let mut worst = 0.0_f32;
    for (k, &a) in analytic.iter().enumerate() {
        let (mut plus, mut minus) = (net.clone(), net.clone());
        nudge(&mut plus, k, eps);
        nudge(&mut minus, k, -eps);
        let numeric = ((mean_loss(&plus, &loss, &t) - mean_loss(&minus, &loss, &t))
            / (2.0 * f64::from(eps))) as f32;
        // Relative error, with a floor so that gradients near zero are compared absolutely.
        let rel = (a - numeric).abs() / a.abs().max(numeric.abs()).max(1e-2);
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
    let mut tape = model.new_cache::<1>();
    let mut y = [[0.0; 2]; 1];
    model.forward(&[x], &mut y, &mut tape);
    assert_eq!(model.predict(&x), y[0]);
}
