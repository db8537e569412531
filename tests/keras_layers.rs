//! Keras 3 parity of `Conv1D`, the global pools, `ZeroPadding2D`, `UpSampling2D`, `Embedding`
//! (its token ids stored as floats, and without an input gradient) and `Dense` on each step of
//! a sequence. Each file of
//! tests/fixtures/keras/layers (written by python/fixtures/layers.py, whose top says how) holds a
//! tiny Keras model's weights, a batch of 2, the model's output, the gradients of
//! `sum(output * upstream)` with respect to every weight and the input, and Keras' summary of
//! each layer. The same network written in the DSL, given those weights, must give the same
//! output and gradients within 1e-5 of each tensor's scale, and its summary Keras' output shapes
//! and parameter counts. No Python is needed to run it.

mod keras_summary;

use std::collections::HashMap;
use std::path::Path;

use bytemuck::Zeroable;
use netdsl::activation::Activation;
use netdsl::prelude::*;
use safetensors::SafeTensors;

network! {
    struct Conv1dSameDilated<(10, 2) => Conv1D(3, 3, padding = same, dilation_rate = 2)>;
    struct Conv1dValidStrided<(9, 2) => Conv1D(4, 3, tanh, strides = 2)>;
    struct Conv1dCausalDilated<(7, 3) => Conv1D(2, 2, sigmoid, padding = causal, dilation_rate = 3)>;
    struct Conv1dSameStridedWithoutBias<(7, 2) => Conv1D(3, 4, relu, strides = 3, padding = same, bias = false)>;
    struct AverageSteps<(6, 2) => Conv1D(3, 2, tanh) => GlobalAveragePooling1D>;
    struct MaxSteps<(6, 2) => Conv1D(3, 2, tanh) => GlobalMaxPooling1D>;
    struct AveragePixels<(5, 4, 2) => Conv2d(3, 2, tanh) => GlobalAveragePooling2D>;
    struct MaxPixels<(5, 4, 2) => Conv2d(3, 2, tanh) => GlobalMaxPooling2D>;
    struct Padded<(4, 3, 2) => ZeroPadding2D(((1, 0), (2, 1))) => Conv2d(3, 3, tanh)>;
    struct PaddedRowsColumns<(3, 3, 1) => ZeroPadding2D((1, 2)) => Conv2d(2, 2)>;
    struct UpSampled<(3, 2, 2) => UpSampling2D((2, 3)) => Conv2d(2, 3, tanh)>;
    struct UpSampledByDefault<(2, 3, 1) => UpSampling2D => Conv2d(2, 2, sigmoid, padding = same)>;
    struct EmbeddedConvolution<6 => Embedding(7, 3) => Conv1D(4, 2, tanh) => GlobalMaxPooling1D>;
    struct EmbeddedLstm<5 => Embedding(6, 4) => LSTM(3)>;
    struct DenseOnSteps<(5, 3) => Dense(4, tanh) => Dense(2, bias = false)>;
}

/// The tolerance: `|netdsl - keras| <= TOLERANCE · scale`, the scale being the largest magnitude
/// of the Keras tensor, as tests/keras_joins.rs compares: a value near zero is compared with its
/// tensor's scale, since its own last bits are rounding (a sum of products in another order).
const TOLERANCE: f32 = 1e-5;

/// One fixture file: its tensors by name, and its metadata.
struct Fixture {
    case: String,
    tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
    metadata: HashMap<String, String>,
}

impl Fixture {
    fn read(case: &str) -> Fixture {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/keras/layers")
            .join(format!("{case}.safetensors"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (_, header) = SafeTensors::read_metadata(&bytes).expect("a safetensors file");
        let metadata = header.metadata().clone().unwrap_or_default();
        let file = SafeTensors::deserialize(&bytes).expect("a safetensors file");
        let tensors = file
            .tensors()
            .into_iter()
            .map(|(name, view)| {
                assert_eq!(view.dtype(), safetensors::Dtype::F32, "{case}: {name}");
                let values = view
                    .data()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                (name, (view.shape().to_vec(), values))
            })
            .collect();
        Fixture {
            case: case.to_owned(),
            tensors,
            metadata,
        }
    }

    fn values(&self, name: &str) -> &[f32] {
        let (_, values) = self
            .tensors
            .get(name)
            .unwrap_or_else(|| panic!("{}: no tensor `{name}`", self.case));
        values
    }

    /// The batch-of-2 tensor `name` as rows: floats, or the token ids of an `Embedding`.
    fn rows<R: netdsl::layer::Row>(&self, name: &str) -> [R; 2] {
        let values = self.values(name);
        let n = R::WIDTH;
        assert_eq!(values.len(), 2 * n, "{}: `{name}` of 2 × {n}", self.case);
        std::array::from_fn(|b| {
            let mut row = R::zeroed();
            row.values_mut().copy_from_slice(&values[b * n..][..n]);
            row
        })
    }
}

/// The largest error of `found` against `expected` relative to the largest magnitude of
/// `expected`, each value asserted within [`TOLERANCE`].
fn compare(case: &str, what: &str, found: &[f32], expected: &[f32]) -> f32 {
    assert_eq!(found.len(), expected.len(), "{case}: {what}");
    let scale = expected
        .iter()
        .fold(0.0_f32, |m, v| m.max(v.abs()))
        .max(f32::MIN_POSITIVE);
    let mut worst = 0.0_f32;
    for (i, (&a, &e)) in found.iter().zip(expected).enumerate() {
        let error = (a - e).abs() / scale;
        assert!(
            error <= TOLERANCE,
            "{case}: {what}[{i}]: netdsl {a}, Keras {e}, error {error:.2e} of the tensor's scale {scale}"
        );
        worst = worst.max(error);
    }
    worst
}

/// Loads the fixture `case` into `net`, runs it forward and backward on the fixture's batch
/// and compares the output, every gradient and the summary with Keras'. Returns the largest
/// errors of the output and of the gradients.
fn check<N, const OUT: usize>(mut net: N, case: &str) -> (f32, f32)
where
    N: Network<Out = [f32; OUT]>,
{
    let fixture = Fixture::read(case);
    let mut names = Vec::new();
    net.visit_tensors_mut(&mut |name, shape, values| {
        let (expected, weights) = &fixture.tensors[name];
        assert_eq!(shape, &expected[..], "{case}: the shape of `{name}`");
        values.copy_from_slice(weights);
        names.push(name.to_owned());
    });
    let mut stored: Vec<&String> = fixture
        .tensors
        .keys()
        .filter(|n| !["input", "upstream", "output"].contains(&n.as_str()))
        .filter(|n| !n.starts_with("grad."))
        .collect();
    stored.sort();
    let mut loaded: Vec<&String> = names.iter().collect();
    loaded.sort();
    assert_eq!(
        loaded, stored,
        "{case}: every weight of the file, and only those"
    );

    let x = fixture.rows::<N::In>("input");
    let mut tape = net.new_tape::<2>();
    let mut y = [[0.0; OUT]; 2];
    net.forward(&x, &mut y, &mut tape);
    let mut output = compare(case, "output", y.as_flattened(), fixture.values("output"));
    // `predict` runs each layer's `infer`, which sums in another order than the batched pass.
    let predicted: Vec<f32> = x.iter().flat_map(|x| net.predict(x)).collect();
    output = output.max(compare(
        case,
        "predict",
        &predicted,
        fixture.values("output"),
    ));

    let mut dz = fixture.rows::<[f32; OUT]>("upstream");
    N::Activation::backprop_batch(&y, N::kept(&tape), &mut dz);
    let mut grads = net.new_grads();
    let mut dx = [N::In::zeroed(); 2];
    net.backward(&x, &dz, Some(&mut dx), &mut grads, &mut tape);
    // Token ids have no gradient, and their fixtures none.
    let mut gradient = match fixture.tensors.contains_key("grad.input") {
        true => compare(
            case,
            "grad.input",
            bytemuck::cast_slice(&dx),
            fixture.values("grad.input"),
        ),
        false => 0.0,
    };
    // `visit_parameters` visits the tensors in `visit_tensors`' order, some joined in one slice
    // (a recurrent layer's kernels): check it by their values, then cut the gradients into
    // their tensors.
    let (mut parameters, mut gradients) = (Vec::new(), Vec::new());
    net.visit_parameters(&mut grads, &mut |p, g| {
        parameters.extend_from_slice(p);
        gradients.extend_from_slice(g);
    });
    let named: Vec<f32> = names
        .iter()
        .flat_map(|name| fixture.values(name))
        .copied()
        .collect();
    assert_eq!(parameters, named, "{case}: tensors visited out of order");
    let mut at = 0;
    for name in &names {
        let what = format!("grad.{name}");
        let expected = fixture.values(&what);
        let found = &gradients[at..at + expected.len()];
        gradient = gradient.max(compare(case, &what, found, expected));
        at += expected.len();
    }
    assert_eq!(at, gradients.len(), "{case}: every gradient has a tensor");

    keras_summary::assert_matches(case, &net.summary(), &fixture.metadata);
    println!("{case}: output {output:.1e}, gradients {gradient:.1e}");
    (output, gradient)
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(0)
}

#[test]
fn conv1d_same_padding_with_dilation_matches_keras() {
    check(Conv1dSameDilated::new(&mut rng()), "conv1d_same_dilated");
}

#[test]
fn conv1d_valid_padding_with_strides_matches_keras() {
    check(Conv1dValidStrided::new(&mut rng()), "conv1d_valid_strided");
}

#[test]
fn conv1d_causal_padding_with_dilation_matches_keras() {
    check(
        Conv1dCausalDilated::new(&mut rng()),
        "conv1d_causal_dilated",
    );
}

#[test]
fn conv1d_same_padding_with_strides_and_without_bias_matches_keras() {
    check(
        Conv1dSameStridedWithoutBias::new(&mut rng()),
        "conv1d_same_strided_without_bias",
    );
}

#[test]
fn global_average_pooling1d_matches_keras() {
    check(AverageSteps::new(&mut rng()), "global_average_pooling1d");
}

#[test]
fn global_max_pooling1d_matches_keras() {
    check(MaxSteps::new(&mut rng()), "global_max_pooling1d");
}

#[test]
fn global_average_pooling2d_matches_keras() {
    check(AveragePixels::new(&mut rng()), "global_average_pooling2d");
}

#[test]
fn global_max_pooling2d_matches_keras() {
    check(MaxPixels::new(&mut rng()), "global_max_pooling2d");
}

#[test]
fn zero_padding2d_of_each_side_matches_keras() {
    check(Padded::new(&mut rng()), "zero_padding2d");
}

#[test]
fn zero_padding2d_of_rows_and_columns_matches_keras() {
    check(
        PaddedRowsColumns::new(&mut rng()),
        "zero_padding2d_rows_columns",
    );
}

#[test]
fn up_sampling2d_matches_keras() {
    check(UpSampled::new(&mut rng()), "up_sampling2d");
}

#[test]
fn up_sampling2d_by_keras_default_size_matches_keras() {
    check(UpSampledByDefault::new(&mut rng()), "up_sampling2d_default");
}

#[test]
fn embedding_then_conv1d_matches_keras() {
    check(EmbeddedConvolution::new(&mut rng()), "embedding_conv1d");
}

#[test]
fn embedding_then_lstm_matches_keras() {
    check(EmbeddedLstm::new(&mut rng()), "embedding_lstm");
}

#[test]
fn dense_on_each_step_of_a_sequence_matches_keras() {
    check(DenseOnSteps::new(&mut rng()), "dense_on_steps");
}
