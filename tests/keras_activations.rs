//! Keras parity of every activation: `4 => Dense(5, <activation>)` with the weights of a Keras 3
//! `Dense(5, activation=...)` gives Keras' outputs, and the gradients of
//! `sum(output * upstream)` with respect to the kernel, the bias and the input that
//! `tf.GradientTape` gives, within 1e-5 of each tensor's largest value, and within 1e-5 of each
//! value but where a unit saturates (see [`SATURATED`]).
//!
//! The fixtures are `tests/fixtures/keras/activations/<activation>.safetensors`, written by
//! `python/fixtures/activations.py` (Keras 3.15.1, TensorFlow 2.21, CPU); this test needs no
//! Python. The largest errors measured over the 15 outputs and 40 gradients of each activation,
//! the most of the AVX-512, AVX2+FMA and portable paths (`NETDSL_ISA`), relative to the largest
//! value of the tensor and to each value (floored at 1e-3):
//!
//! | activation | of the tensor's largest value | of each value |
//! |---|---|---|
//! | `linear` | 6.9e-8 | 1.1e-6 |
//! | `relu` | 1.1e-7 | 2.2e-7 |
//! | `relu6` | 5.4e-8 | 2.2e-7 |
//! | `leaky_relu` | 1.3e-7 | 2.7e-7 |
//! | `elu` | 1.1e-7 | 2.3e-6 |
//! | `selu` | 1.1e-7 | 3.3e-6 |
//! | `sigmoid` | 1.8e-7 | 2.2e-6 |
//! | `hard_sigmoid` | 1.5e-7 | 1.1e-6 |
//! | `tanh` | 5.8e-7 | 2.0e-4 |
//! | `softplus` | 1.2e-7 | 2.3e-6 |
//! | `softsign` | 1.3e-7 | 9.6e-7 |
//! | `exponential` | 7.7e-8 | 9.4e-6 |
//! | `silu` | 1.0e-7 | 4.2e-7 |
//! | `swish` | 1.0e-7 | 4.2e-7 |
//! | `hard_silu` | 9.4e-8 | 5.9e-7 |
//! | `hard_swish` | 9.4e-8 | 5.9e-7 |
//! | `gelu` | 2.2e-7 | 5.0e-5 |
//! | `gelu_tanh` | 4.7e-7 | 4.7e-4 |
//! | `mish` | 7.3e-7 | 4.0e-6 |
//! | `softmax` | 1.3e-7 | 8.2e-7 |
//! | `log_softmax` | 7.1e-8 | 1.9e-6 |
//!
//! What remains is float rounding: the two libraries' `exp`, `erf` and `tanh` differ in the last
//! bit or two, and their products sum in another order. It shows most where a unit saturates
//! (tanh, gelu, gelu_tanh: see [`SATURATED`]).

use std::path::Path;

use netdsl::activation::Activation;
use netdsl::layers::Dense;
use netdsl::prelude::*;
use safetensors::SafeTensors;

/// Each value's error is relative to the largest value of its tensor: a gradient summed over
/// the batch is only as precise as its largest terms, whatever its own size.
const TOLERANCE: f32 = 1e-5;

/// Each value's error relative to itself (over `max(|Keras' value|, 1e-3)`, so that values
/// rounding to zero, a relu's or a softmax's 3e-6, are compared to the scale of the rest) is
/// within [`TOLERANCE`] too, but for the activations below, whose units saturate in the fixture
/// (pre-activations from -4.9 to 7.8): there each library computes a tiny slope or value through
/// a cancellation, `1 - tanh²` or `1 + erf`, and TensorFlow's tanh (Eigen's rational
/// approximation) is exactly ±1 past 7.9 where netdsl's `gelu_tanh` calls `f32::tanh`. Their
/// bound, with the largest error measured.
const SATURATED: [(&str, f32); 3] = [("tanh", 3e-4), ("gelu", 1e-4), ("gelu_tanh", 1e-3)];

/// One fixture's tensors.
struct Fixture {
    input: [[f32; 4]; 3],
    upstream: [[f32; 5]; 3],
    output: [[f32; 5]; 3],
    kernel: [[f32; 5]; 4],
    bias: [f32; 5],
    grad_input: [[f32; 4]; 3],
    grad_kernel: [[f32; 5]; 4],
    grad_bias: [f32; 5],
}

fn fixture(name: &str) -> Fixture {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keras/activations")
        .join(format!("{name}.safetensors"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = SafeTensors::deserialize(&bytes).unwrap();
    fn read<T: bytemuck::Pod>(file: &SafeTensors<'_>, tensor: &str, shape: &[usize]) -> T {
        let view = file.tensor(tensor).unwrap();
        assert_eq!(view.dtype(), safetensors::Dtype::F32, "{tensor}");
        assert_eq!(view.shape(), shape, "{tensor}");
        bytemuck::pod_read_unaligned(view.data())
    }
    Fixture {
        input: read(&file, "input", &[3, 4]),
        upstream: read(&file, "upstream", &[3, 5]),
        output: read(&file, "output", &[3, 5]),
        kernel: read(&file, "dense.kernel", &[4, 5]),
        bias: read(&file, "dense.bias", &[5]),
        grad_input: read(&file, "grad.input", &[3, 4]),
        grad_kernel: read(&file, "grad.dense.kernel", &[4, 5]),
        grad_bias: read(&file, "grad.dense.bias", &[5]),
    }
}

/// The largest errors of `found` against Keras' `expected`: relative to the tensor's largest
/// value, and relative to each value (floored at 1e-3).
fn errors(found: &[f32], expected: &[f32]) -> [f32; 2] {
    assert_eq!(found.len(), expected.len());
    let scale = expected.iter().fold(0.0_f32, |m, e| m.max(e.abs()));
    let pairs = || found.iter().zip(expected);
    let of_tensor = pairs().fold(0.0_f32, |m, (f, e)| m.max((f - e).abs() / scale));
    let of_value = pairs().fold(0.0_f32, |m, (f, e)| {
        m.max((f - e).abs() / e.abs().max(1e-3))
    });
    [of_tensor, of_value]
}

/// The largest errors of the layer of activation `A` over the fixture `name`, its outputs and
/// the gradients of `sum(output * upstream)`, each checked against its bound.
fn parity<A: Activation>(name: &str) -> [f32; 2] {
    let f = fixture(name);
    let layer = Dense::<4, 5, A>::from_parameters(f.kernel, Some(f.bias));
    let mut tape = layer.new_tape::<3>();
    let mut y = [[0.0; 5]; 3];
    layer.forward(&f.input, &mut y, &mut tape);
    // dL/dy = upstream, through the activation as a network's output layer takes it.
    let mut dz = f.upstream;
    A::backprop_batch(&y, <Dense<4, 5, A> as Layer>::kept(&tape), &mut dz);
    let (mut grads, mut dx) = (layer.new_grads(), [[0.0; 4]; 3]);
    layer.backward(&f.input, &dz, Some(&mut dx), &mut grads, &mut tape);
    let of_value_bound = SATURATED
        .iter()
        .find(|(saturated, _)| *saturated == name)
        .map_or(TOLERANCE, |(_, bound)| *bound);
    let tensors = [
        ("output", errors(y.as_flattened(), f.output.as_flattened())),
        (
            "grad.input",
            errors(dx.as_flattened(), f.grad_input.as_flattened()),
        ),
        (
            "grad.dense.kernel",
            errors(grads.weights().as_flattened(), f.grad_kernel.as_flattened()),
        ),
        (
            "grad.dense.bias",
            errors(grads.bias().unwrap(), &f.grad_bias),
        ),
    ];
    let mut worst = [0.0_f32; 2];
    for (tensor, [of_tensor, of_value]) in tensors {
        assert!(
            of_tensor <= TOLERANCE && of_value <= of_value_bound,
            "{name}: {tensor} differs from Keras' by {of_tensor:.1e} of its largest value, \
             {of_value:.1e} of a value"
        );
        worst = [worst[0].max(of_tensor), worst[1].max(of_value)];
    }
    worst
}

network! {
    /// Keras' names through the DSL.
    struct ThroughTheDsl<4 => Dense(5, swish) => Dense(5, hard_swish) => Dense(5, gelu_tanh)>;
}

#[test]
fn every_activation_matches_keras_outputs_and_gradients() {
    use netdsl::activation::*;
    let mut table = Vec::new();
    macro_rules! each {
        ($($name:literal: $a:ty),* $(,)?) => {
            $( table.push(($name, parity::<$a>($name))); )*
        };
    }
    each! {
        "linear": Linear,
        "relu": Relu,
        "relu6": Relu6,
        "leaky_relu": LeakyRelu,
        "elu": Elu,
        "selu": Selu,
        "sigmoid": Sigmoid,
        "hard_sigmoid": HardSigmoid,
        "tanh": Tanh,
        "softplus": Softplus,
        "softsign": Softsign,
        "exponential": Exponential,
        "silu": Silu,
        "swish": Swish,
        "hard_silu": HardSilu,
        "hard_swish": HardSwish,
        "gelu": Gelu,
        "gelu_tanh": GeluTanh,
        "mish": Mish,
        "softmax": Softmax,
        "log_softmax": LogSoftmax,
    }
    println!("activation     of the tensor  of a value");
    for (name, [of_tensor, of_value]) in &table {
        println!("{name:<13}  {of_tensor:.1e}        {of_value:.1e}");
    }
}

/// The DSL names the types `parity` checks (this compiles only if it does): Keras' aliases are
/// one activation.
#[test]
fn the_dsl_names_the_activations_keras_names() {
    use netdsl::activation::{GeluTanh, HardSilu, Silu};
    let model = ThroughTheDsl::new(&mut StdRng::seed_from_u64(0));
    let _: &Dense<4, 5, Silu> = &model.dense_1;
    let _: &Dense<5, 5, HardSilu> = &model.dense_2;
    let _: &Dense<5, 5, GeluTanh> = &model.dense_3;
}
