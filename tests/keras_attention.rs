//! Keras 3 parity of `MultiHeadAttention` as self-attention, with and without a causal mask.
//! Each file of tests/fixtures/keras/attention (written by python/fixtures/attention.py, whose
//! top says how) holds one Keras layer's weights, a batch of 2, its output, the gradients of
//! `sum(output * upstream)` with respect to every weight and the input, and Keras' summary of
//! the layer. The runtime layer (without `network!`), given those weights, must give the same
//! output and gradients within 1e-5 of each tensor's scale. No Python is needed to run it.

use std::collections::HashMap;
use std::path::Path;

use netdsl::layer::{Initialize, Layer};
use netdsl::layers::MultiHeadAttention;
use netdsl::prelude::*;
use netdsl::shape::{Attention, Sequence};
use safetensors::SafeTensors;

/// The tolerance: `|netdsl - keras| <= TOLERANCE · scale`, the scale being the largest
/// magnitude of the Keras tensor, as tests/keras_layers.rs compares.
const TOLERANCE: f32 = 1e-5;

/// The name Keras' functional model gives the layer, and a network's field would.
const PREFIX: &str = "multi_head_attention_1.";

/// One fixture file: its tensors by name, and its metadata.
struct Fixture {
    case: String,
    tensors: HashMap<String, Vec<f32>>,
    metadata: HashMap<String, String>,
}

impl Fixture {
    fn read(case: &str) -> Fixture {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/keras/attention")
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
                (name, values)
            })
            .collect();
        Fixture {
            case: case.to_owned(),
            tensors,
            metadata,
        }
    }

    fn values(&self, name: &str) -> &[f32] {
        self.tensors
            .get(name)
            .unwrap_or_else(|| panic!("{}: no tensor `{name}`", self.case))
    }

    /// The batch-of-2 tensor `name` as rows of `N`.
    fn rows<const N: usize>(&self, name: &str) -> [[f32; N]; 2] {
        let values = self.values(name);
        assert_eq!(values.len(), 2 * N, "{}: `{name}` of 2 × {N}", self.case);
        std::array::from_fn(|b| values[b * N..][..N].try_into().unwrap())
    }
}

/// The largest magnitude of `values`, at least the smallest normal f32.
fn scale(values: &[f32]) -> f32 {
    values
        .iter()
        .fold(0.0_f32, |m, v| m.max(v.abs()))
        .max(f32::MIN_POSITIVE)
}

/// The largest error of `found` against `expected` relative to `scale`, each value asserted
/// within [`TOLERANCE`].
fn compare(case: &str, what: &str, found: &[f32], expected: &[f32], scale: f32) -> f32 {
    assert_eq!(found.len(), expected.len(), "{case}: {what}");
    let mut worst = 0.0_f32;
    for (i, (&a, &e)) in found.iter().zip(expected).enumerate() {
        let error = (a - e).abs() / scale;
        assert!(
            error <= TOLERANCE,
            "{case}: {what}[{i}]: netdsl {a}, Keras {e}, error {error:.2e} of the scale {scale}"
        );
        worst = worst.max(error);
    }
    worst
}

/// `netdsl_core::layers::multi_head_attention::MultiHeadAttention<netdsl_core::shape::...>`
/// without its paths, as the fixture's metadata names the type it was written for.
fn short_name<T>() -> String {
    let name = std::any::type_name::<T>();
    name.replace("netdsl_core::layers::multi_head_attention::", "")
        .replace("netdsl_core::shape::", "")
}

/// Loads the fixture `case` into a new `L` of `steps` steps of `features`, runs it forward
/// (batched and one sample at a time) and backward on the fixture's batch, and compares the
/// output and every gradient with Keras'. Returns the largest errors of the output and of the
/// gradients.
fn check<L, const N: usize>(case: &str, (steps, features): (usize, usize)) -> (f32, f32)
where
    L: Layer<In = [f32; N], Out = [f32; N]> + Initialize,
{
    let fixture = Fixture::read(case);
    assert_eq!(
        fixture.metadata["netdsl"],
        short_name::<L>(),
        "{case}: the type"
    );
    let mut layer = L::initialize(&mut StdRng::seed_from_u64(0));
    let mut names = Vec::new();
    layer.visit_tensors_mut(&mut |name, _, values| {
        let full = format!("{PREFIX}{name}");
        values.copy_from_slice(fixture.values(&full));
        names.push(full);
    });
    let mut stored: Vec<&String> = fixture
        .tensors
        .keys()
        .filter(|n| n.starts_with(PREFIX))
        .collect();
    stored.sort();
    let mut loaded: Vec<&String> = names.iter().collect();
    loaded.sort();
    assert_eq!(
        loaded, stored,
        "{case}: every weight of the file, and only those"
    );
    let count = layer.parameter_count();
    let summary = format!("{}|(None, {steps}, {features})|{count}", L::KIND);
    assert_eq!(
        fixture.metadata["summary"], summary,
        "{case}: Keras' summary"
    );

    let x = fixture.rows::<N>("input");
    let expected = fixture.values("output");
    let mut tape = layer.new_tape::<2>();
    let mut y = [[0.0; N]; 2];
    layer.forward(&x, &mut y, &mut tape);
    let mut output = compare(case, "output", y.as_flattened(), expected, scale(expected));
    let mut single = [[0.0; N]; 2];
    for (x, y) in x.iter().zip(&mut single) {
        layer.infer(x, y);
    }
    let inferred = compare(
        case,
        "infer",
        single.as_flattened(),
        expected,
        scale(expected),
    );
    output = output.max(inferred);

    let upstream = fixture.rows::<N>("upstream");
    let mut grads = layer.new_grads();
    let mut dx = [[0.0; N]; 2];
    layer.backward(&x, &upstream, Some(&mut dx), &mut grads, &mut tape);
    let expected = fixture.values("grad.input");
    let mut gradient = compare(
        case,
        "grad.input",
        dx.as_flattened(),
        expected,
        scale(expected),
    );

    // The gradients are one slice in the tensors' order: cut it by their lengths.
    let mut gradients = Vec::new();
    layer.visit_parameters(&mut grads, &mut |_, g| gradients.extend_from_slice(g));
    let mut at = 0;
    for name in &names {
        let what = format!("grad.{name}");
        let expected = fixture.values(&what);
        let found = &gradients[at..at + expected.len()];
        at += expected.len();
        let error = if name.ends_with("key.bias") {
            key_bias(
                case,
                found,
                expected,
                fixture.values(&format!("grad.{PREFIX}key.kernel")),
            )
        } else {
            compare(case, &what, found, expected, scale(expected))
        };
        gradient = gradient.max(error);
    }
    assert_eq!(at, gradients.len(), "{case}: every gradient has a tensor");
    println!("{case}: output {output:.1e}, gradients {gradient:.1e}");
    (output, gradient)
}

/// The key's bias has no gradient: it adds `q · b_k` to every score of a query, a shift the
/// softmax ignores. Keras' is rounding in f64, of order 1e-17, and netdsl's rounding in f32;
/// both are compared with the scale of the key kernel's gradient, sums of the same terms.
fn key_bias(case: &str, found: &[f32], expected: &[f32], kernel: &[f32]) -> f32 {
    let scale = scale(kernel);
    assert!(
        expected.iter().all(|g| g.abs() <= 1e-12 * scale),
        "{case}: Keras' key bias gradient {expected:?} is rounding of zero"
    );
    compare(case, "grad.key.bias", found, expected, scale)
}

type TwoHeads<const CAUSAL: bool> =
    MultiHeadAttention<Sequence<5, 4, 20>, Attention<2, 3, 30, 25>, CAUSAL>;
type FourHeads<const CAUSAL: bool> =
    MultiHeadAttention<Sequence<6, 5, 30>, Attention<4, 2, 48, 36>, CAUSAL>;

#[test]
fn two_heads_match_keras() {
    check::<TwoHeads<false>, 20>("two_heads", (5, 4));
}

#[test]
fn two_heads_with_a_causal_mask_match_keras() {
    check::<TwoHeads<true>, 20>("two_heads_causal", (5, 4));
}

#[test]
fn four_heads_match_keras() {
    check::<FourHeads<false>, 30>("four_heads", (6, 5));
}

#[test]
fn four_heads_with_a_causal_mask_match_keras() {
    check::<FourHeads<true>, 30>("four_heads_causal", (6, 5));
}
