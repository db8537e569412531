//! Keras parity of every activation: `4 => Dense(5, <activation>)` with the weights of a Keras 3
//! `Dense(5, activation=...)` gives Keras' outputs, and the gradients of
//! `sum(output * upstream)` with respect to the kernel, the bias and the input that
//! `tf.GradientTape` gives, within 1e-5 of each tensor's largest value.
//!
//! The fixtures are `tests/fixtures/keras/activations/<activation>.safetensors`, written by
//! `python/fixtures/activations.py` (Keras 3.15.1, TensorFlow 2.21, CPU); this test needs no
//! Python. The largest errors measured over the 15 outputs and 40 gradients of each activation,
//! the most of the AVX-512, AVX2+FMA and portable paths (`NETDSL_ISA`), relative to the largest
//! value of the tensor and to each value (floored at 1e-3):
//!
//! | activation | of the tensor's largest value (checked) | of each value |
//! |---|---|---|
//! | `linear` | 1.0e-7 | 7.6e-7 |
//! | `relu` | 7.0e-8 | 7.6e-7 |
//! | `relu6` | 7.9e-8 | 7.6e-7 |
//! | `leaky_relu` | 7.0e-8 | 7.6e-7 |
//! | `elu` | 7.0e-8 | 7.6e-7 |
//! | `celu` | 7.0e-8 | 7.6e-7 |
//! | `selu` | 6.7e-8 | 7.2e-7 |
//! | `sigmoid` | 5.3e-7 | 3.8e-6 |
//! | `hard_sigmoid` | 1.2e-7 | 2.1e-7 |
//! | `sparse_sigmoid` | 8.4e-8 | 3.4e-7 |
//! | `log_sigmoid` | 1.6e-7 | 9.3e-7 |
//! | `tanh` | 5.9e-7 | 4.2e-5 |
//! | `hard_tanh` | 1.5e-7 | 7.6e-7 |
//! | `tanh_shrink` | 1.6e-7 | 6.0e-6 |
//! | `softplus` | 7.5e-8 | 1.5e-6 |
//! | `sparse_plus` | 7.0e-8 | 7.7e-7 |
//! | `squareplus` | 1.0e-7 | 2.4e-6 |
//! | `softsign` | 1.7e-7 | 4.5e-5 |
//! | `soft_shrink` | 1.0e-7 | 9.2e-7 |
//! | `hard_shrink` | 1.0e-7 | 9.2e-7 |
//! | `exponential` | 4.5e-7 | 9.7e-6 |
//! | `silu` | 2.4e-7 | 6.1e-6 |
//! | `swish` | 2.4e-7 | 6.1e-6 |
//! | `hard_silu` | 7.0e-8 | 8.6e-7 |
//! | `hard_swish` | 7.0e-8 | 8.6e-7 |
//! | `gelu` | 7.0e-8 | 1.2e-4 |
//! | `gelu_tanh` | 5.0e-7 | 2.6e-4 |
//! | `mish` | 1.0e-6 | 8.1e-5 |
//! | `softmax` | 1.3e-7 | 8.2e-6 |
//! | `log_softmax` | 1.3e-7 | 7.1e-7 |
//!
//! What remains is float rounding: the two libraries' `exp`, `erf` and `tanh` differ in the last
//! bit or two, and their products sum in another order. It shows most in values much smaller
//! than their tensor: where a unit saturates (tanh, gelu, gelu_tanh and mish at -4.4 or 6.8,
//! whose slope or value each library computes through `1 - tanh²` or `1 + erf`, TensorFlow's
//! tanh being exactly ±1 past 7.9), and in gradients summed from terms that cancel.

use std::path::Path;

use netdsl::activation::Activation;
use netdsl::layers::Dense;
use netdsl::prelude::*;
use safetensors::SafeTensors;

/// Each value's error, relative to the largest value of its tensor: a gradient summed over the
/// batch is only as precise as its largest terms, whatever its own size (one kernel gradient of
/// the fixtures is 7e-4, a sum of terms of ±0.1, and Keras' own value is 6e-6 from the exact
/// sum).
const TOLERANCE: f32 = 1e-5;

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
/// the gradients of `sum(output * upstream)`, checked against [`TOLERANCE`].
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
            of_tensor <= TOLERANCE,
            "{name}: {tensor} differs from Keras' by {of_tensor:.1e} of its largest value \
             ({of_value:.1e} of a value)"
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
        "celu": Celu,
        "hard_tanh": HardTanh,
        "hard_shrink": HardShrink,
        "soft_shrink": SoftShrink,
        "tanh_shrink": TanhShrink,
        "log_sigmoid": LogSigmoid,
        "sparse_plus": SparsePlus,
        "sparse_sigmoid": SparseSigmoid,
        "squareplus": Squareplus,
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
