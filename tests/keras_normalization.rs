//! Keras 3 parity of `BatchNormalization` and `LayerNormalization`. Each file of
//! tests/fixtures/keras/normalization (written by python/fixtures/normalization.py, whose top says
//! how) holds a tiny Keras model's weights (batch normalization's moving statistics included), a
//! batch of 4, the model's output in inference and in training, the gradients of
//! `sum(output * upstream)` in training with respect to every trainable weight and the input,
//! the moving statistics after that training call, and Keras' summary. The same network written
//! in the DSL, given those weights, must give the same outputs, gradients and moving statistics
//! within a relative 1e-5, and Keras' summary. No Python is needed to run it.

mod keras_summary;

use std::collections::HashMap;
use std::path::Path;

use netdsl::activation::Activation;
use netdsl::prelude::*;
use safetensors::SafeTensors;

network! {
    struct DenseBatchNorm<4 => Dense(6) => BatchNormalization>;
    struct ConvBatchNorm<(5, 5, 2)
        => Conv2d(3, 3, linear, padding = same)
        => BatchNormalization(momentum = 0.9, epsilon = 0.01)>;
    struct BatchNormWithoutCenterAndScale<3 => Dense(5, tanh) => BatchNormalization(center = false, scale = false)>;
    struct DenseLayerNorm<4 => Dense(6) => LayerNormalization>;
    struct ConvLayerNorm<(4, 4, 2) => Conv2d(3, 2) => LayerNormalization(epsilon = 0.01)>;
    struct SequenceLayerNorm<(5, 3) => LayerNormalization(center = false)>;
}

/// The samples of a fixture's batch.
const BATCH: usize = 4;

/// The tolerance: `|netdsl - keras| <= TOLERANCE · max(|keras|, 1)`, relative for values of
/// magnitude 1 or more and absolute below (where a relative error measures the cancellation in
/// a sum more than the layer).
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
            .join("tests/fixtures/keras/normalization")
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

    /// The batch tensor `name` as rows.
    fn rows<const N: usize>(&self, name: &str) -> [[f32; N]; BATCH] {
        let values = self.values(name);
        assert_eq!(
            values.len(),
            BATCH * N,
            "{}: `{name}` of {BATCH} × {N}",
            self.case
        );
        std::array::from_fn(|b| std::array::from_fn(|i| values[b * N + i]))
    }

    /// Whether `name` is one of the model's weights rather than a batch, an output, a gradient or
    /// a weight after training.
    fn is_weight(name: &str) -> bool {
        !["input", "upstream", "output.inference", "output.training"].contains(&name)
            && !name.starts_with("grad.")
            && !name.starts_with("after.")
    }
}

/// The largest error of `found` against `expected` over `max(|expected|, 1)`, asserted within
/// [`TOLERANCE`].
fn compare(case: &str, what: &str, found: &[f32], expected: &[f32]) -> f32 {
    assert_eq!(found.len(), expected.len(), "{case}: {what}");
    let mut worst = 0.0_f32;
    for (i, (&a, &e)) in found.iter().zip(expected).enumerate() {
        let error = (a - e).abs() / e.abs().max(1.0);
        assert!(
            error <= TOLERANCE,
            "{case}: {what}[{i}]: netdsl {a}, Keras {e}, relative error {error:.2e}"
        );
        worst = worst.max(error);
    }
    worst
}

/// Loads the fixture `case` into `net`; runs it forward in inference (batched and `predict`),
/// then forward and backward in training, then moves its state as `fit` does after a step;
/// compares each with Keras', and the summary. Prints the largest errors.
fn check<N, const IN: usize, const OUT: usize>(mut net: N, case: &str)
where
    N: Network<In = [f32; IN], Out = [f32; OUT]>,
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
        .filter(|name| Fixture::is_weight(name))
        .collect();
    stored.sort();
    let mut loaded: Vec<&String> = names.iter().collect();
    loaded.sort();
    assert_eq!(
        loaded, stored,
        "{case}: every weight of the file, and only those"
    );

    // Inference: the moving statistics.
    let x = fixture.rows::<IN>("input");
    let mut tape = net.new_tape::<BATCH>();
    let mut y = [[0.0; OUT]; BATCH];
    net.forward(&x, &mut y, &mut tape);
    let inference = fixture.values("output.inference");
    let mut output = compare(case, "output.inference", y.as_flattened(), inference);
    let predicted: Vec<f32> = x.iter().flat_map(|x| net.predict(x)).collect();
    output = output.max(compare(case, "predict", &predicted, inference));

    // Training: the batch's statistics.
    net.set_training(&mut tape, true);
    net.forward(&x, &mut y, &mut tape);
    let training = fixture.values("output.training");
    output = output.max(compare(case, "output.training", y.as_flattened(), training));
    let mut dz = fixture.rows::<OUT>("upstream");
    N::Activation::backprop_batch(&y, N::kept(&tape), &mut dz);
    let mut grads = net.new_grads();
    let mut dx = [[0.0; IN]; BATCH];
    net.backward(&x, &dz, Some(&mut dx), &mut grads, &mut tape);
    let mut gradient = compare(
        case,
        "grad.input",
        dx.as_flattened(),
        fixture.values("grad.input"),
    );
    // The trainable weights are those with a gradient, visited in the order of the tensors.
    let trainable: Vec<&String> = names
        .iter()
        .filter(|name| fixture.tensors.contains_key(&format!("grad.{name}")))
        .collect();
    let mut at = 0;
    net.visit_parameters(&mut grads, &mut |parameters, grad| {
        let name = trainable[at];
        assert_eq!(
            parameters,
            fixture.values(name),
            "{case}: `{name}` visited out of order"
        );
        let what = format!("grad.{name}");
        gradient = gradient.max(compare(case, &what, grad, fixture.values(&what)));
        at += 1;
    });
    assert_eq!(
        at,
        trainable.len(),
        "{case}: every trainable tensor has a gradient"
    );

    // The step's update of the moving statistics, as `fit` makes it on one thread.
    net.update_state(&tape, 0, 1);
    let mut moving = 0.0_f32;
    let mut moved = 0;
    net.visit_tensors(&mut |name, _, values| {
        let after = format!("after.{name}");
        if fixture.tensors.contains_key(&after) {
            moving = moving.max(compare(case, &after, values, fixture.values(&after)));
            moved += 1;
        }
    });
    let expected_moved = fixture
        .tensors
        .keys()
        .filter(|n| n.starts_with("after."))
        .count();
    assert_eq!(
        moved, expected_moved,
        "{case}: every non-trainable tensor moved"
    );

    keras_summary::assert_matches(case, &net.summary(), &fixture.metadata);
    println!(
        "{case}: outputs {output:.1e}, gradients {gradient:.1e}, moving statistics {moving:.1e}"
    );
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(0)
}

#[test]
fn batch_normalization_of_dense_units_matches_keras() {
    check(DenseBatchNorm::new(&mut rng()), "dense_batch_normalization");
}

#[test]
fn batch_normalization_of_image_channels_with_options_matches_keras() {
    check(ConvBatchNorm::new(&mut rng()), "conv2d_batch_normalization");
}

#[test]
fn batch_normalization_without_center_and_scale_matches_keras() {
    check(
        BatchNormWithoutCenterAndScale::new(&mut rng()),
        "batch_normalization_without_center_and_scale",
    );
}

#[test]
fn layer_normalization_of_dense_units_matches_keras() {
    check(DenseLayerNorm::new(&mut rng()), "dense_layer_normalization");
}

#[test]
fn layer_normalization_of_each_pixel_matches_keras() {
    check(ConvLayerNorm::new(&mut rng()), "conv2d_layer_normalization");
}

#[test]
fn layer_normalization_of_each_step_matches_keras() {
    check(
        SequenceLayerNorm::new(&mut rng()),
        "sequence_layer_normalization",
    );
}

#[test]
fn the_summary_prints_keras_totals() {
    let table = DenseBatchNorm::new(&mut rng()).summary().to_string();
    let fixture = Fixture::read("dense_batch_normalization");
    let totals: Vec<&str> = fixture.metadata["params"].split('|').collect();
    let lines: Vec<&str> = table.lines().rev().take(3).collect();
    assert_eq!(
        lines,
        [
            format!(" Non-trainable params: {}", totals[2]),
            format!(" Trainable params: {}", totals[1]),
            format!(" Total params: {}", totals[0]),
        ],
        "{table}"
    );
}
