//! The Keras parity fixtures of tests/fixtures/keras/<dir>/<case>.safetensors, as
//! python/fixtures/layers.py and transformer.py write them, and the check of a network against
//! one: shared by the parity tests (`mod keras_fixture;`, with `mod keras_summary;` beside it).

use std::collections::HashMap;
use std::path::Path;

use bytemuck::Zeroable;
use netdsl::activation::Activation;
use netdsl::prelude::*;
use safetensors::SafeTensors;

/// The tolerance: `|netdsl - keras| <= TOLERANCE · scale`, the scale being the largest magnitude
/// of the Keras tensor, as tests/keras_joins.rs compares: a value near zero is compared with its
/// tensor's scale, since its own last bits are rounding (a sum of products in another order).
const TOLERANCE: f32 = 1e-5;

/// One fixture file: its tensors by name, and its metadata.
pub struct Fixture {
    case: String,
    tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
    metadata: HashMap<String, String>,
}

impl Fixture {
    pub fn read(dir: &str, case: &str) -> Fixture {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/keras")
            .join(dir)
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

/// The largest magnitude of `values`.
fn scale(values: &[f32]) -> f32 {
    values
        .iter()
        .fold(0.0_f32, |m, v| m.max(v.abs()))
        .max(f32::MIN_POSITIVE)
}

/// The largest error of `found` against `expected` relative to the largest magnitude of
/// `expected`, each value asserted within [`TOLERANCE`].
fn compare(case: &str, what: &str, found: &[f32], expected: &[f32]) -> f32 {
    compare_at(case, what, found, expected, scale(expected))
}

/// [`compare`] relative to `scale`.
fn compare_at(case: &str, what: &str, found: &[f32], expected: &[f32], scale: f32) -> f32 {
    assert_eq!(found.len(), expected.len(), "{case}: {what}");
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
pub fn check<N, const OUT: usize>(mut net: N, dir: &str, case: &str) -> (f32, f32)
where
    N: Network<Out = [f32; OUT]>,
{
    let fixture = Fixture::read(dir, case);
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
    // A gradient that is exactly zero (attention's key bias: softmax ignores what is added to
    // every score of a row) is Keras' rounding of sums of terms as large as the other
    // gradients': it is compared with the largest gradient's scale.
    let largest = names
        .iter()
        .map(|name| scale(fixture.values(&format!("grad.{name}"))))
        .fold(0.0_f32, f32::max);
    let mut at = 0;
    for name in &names {
        let what = format!("grad.{name}");
        let expected = fixture.values(&what);
        let found = &gradients[at..at + expected.len()];
        let zero = scale(expected) <= 1e-12 * largest;
        let against = if zero { largest } else { scale(expected) };
        gradient = gradient.max(compare_at(case, &what, found, expected, against));
        at += expected.len();
    }
    assert_eq!(at, gradients.len(), "{case}: every gradient has a tensor");

    if fixture.metadata.contains_key("summary") {
        crate::keras_summary::assert_matches(case, &net.summary(), &fixture.metadata);
    }
    println!("{case}: output {output:.1e}, gradients {gradient:.1e}");
    (output, gradient)
}
