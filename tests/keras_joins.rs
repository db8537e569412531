//! Keras parity of the joins: the same weights in Keras 3 and netdsl give the same outputs and
//! the same one-batch gradients (of `sum(output * upstream)`), within 1e-5 relative, and the
//! summary lists each layer of each branch and the layers merging them as Keras' does. The
//! fixtures come from `python/fixtures/joins.py` (which says how to rerun it); no Python here.

mod keras_summary;

use std::collections::HashMap;
use std::path::Path;

use netdsl::activation::Activation;
use netdsl::prelude::*;
use safetensors::SafeTensors;

network! {
    #[derive(Clone)]
    struct ResidualMlp<4 => Dense(5, tanh) => Residual(Dense(5, sigmoid) => Dense(5), tanh) => Dense(3, softmax)>;

    #[derive(Clone)]
    struct AddedBranches<4 => Add(Dense(3, tanh), Dense(3, sigmoid), Dense(2, tanh) => Dense(3)) => Dense(2, softmax)>;

    #[derive(Clone)]
    struct ConcatenatedImages<(5, 5, 2)
        => Concatenate(Conv2d(2, 3, tanh, padding = same), Conv2d(1, 1, sigmoid) => Conv2d(3, 3, tanh, padding = same))
        => Flatten => Dense(2, sigmoid)>;

    #[derive(Clone)]
    struct BidirectionalLstm<(4, 3) => Bidirectional(LSTM(3)) => Dense(2, softmax)>;

    #[derive(Clone)]
    struct BidirectionalSequences<(4, 3)
        => Bidirectional(GRU(2, return_sequences = true))
        => Bidirectional(SimpleRNN(3))
        => Dense(2, softmax)>;

    #[derive(Clone)]
    struct NestedJoins<4 => Dense(6, tanh)
        => Concatenate(Residual(Dense(6, bias = false) => BatchNormalization, relu), Dense(3, tanh) => BatchNormalization => Dense(2))
        => Dense(2, softmax)>;
}

/// One fixture's tensors, as flat `f32`s.
struct Fixture {
    bytes: Vec<u8>,
}

impl Fixture {
    fn open(case: &str) -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/keras/joins")
            .join(format!("{case}.safetensors"));
        Fixture {
            bytes: std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        }
    }

    /// Keras' summary and versions: the file's metadata.
    fn metadata(&self) -> HashMap<String, String> {
        let (_, header) = SafeTensors::read_metadata(&self.bytes).unwrap();
        header.metadata().clone().unwrap_or_default()
    }

    /// Whether the file holds the tensor `name`.
    fn has(&self, name: &str) -> bool {
        let file = SafeTensors::deserialize(&self.bytes).unwrap();
        file.names().contains(&name)
    }

    /// How many weights have a gradient in the file: Keras' trainable weights.
    fn gradients(&self) -> usize {
        let file = SafeTensors::deserialize(&self.bytes).unwrap();
        file.names()
            .iter()
            .filter(|name| name.starts_with("grad.") && **name != "grad.input")
            .count()
    }

    fn tensor(&self, name: &str) -> Vec<f32> {
        let file = SafeTensors::deserialize(&self.bytes).unwrap();
        let view = file
            .tensor(name)
            .unwrap_or_else(|_| panic!("no tensor `{name}`"));
        view.data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }

    fn rows<const N: usize, const B: usize>(&self, name: &str) -> [[f32; N]; B] {
        let values = self.tensor(name);
        assert_eq!(values.len(), N * B, "`{name}`");
        std::array::from_fn(|b| std::array::from_fn(|i| values[b * N + i]))
    }
}

/// The largest difference between `a` and Keras' `b`, relative to the largest magnitude of `b`:
/// a value near zero is compared with the tensor's scale, since its own last bits are rounding
/// (a sum of products in another order).
fn worst(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = b
        .iter()
        .fold(0.0_f32, |m, v| m.max(v.abs()))
        .max(f32::MIN_POSITIVE);
    a.iter()
        .zip(b)
        .map(|(a, b)| (a - b).abs() / scale)
        .fold(0.0, f32::max)
}

/// Loads the fixture's weights into `net`, then compares its outputs, its input gradient, every
/// trainable weight's gradient and its summary with Keras'; returns the largest relative
/// difference.
fn compare<N, const IN: usize, const OUT: usize, const B: usize>(mut net: N, case: &str) -> f32
where
    N: Network<In = [f32; IN], Out = [f32; OUT]> + Clone,
{
    let fixture = Fixture::open(case);
    net.visit_tensors_mut(&mut |name, _, values| {
        values.copy_from_slice(&fixture.tensor(name));
    });
    let x: [[f32; IN]; B] = fixture.rows("input");
    let upstream: [[f32; OUT]; B] = fixture.rows("upstream");
    let mut tape = net.new_tape::<B>();
    net.set_training(&mut tape, true);
    let mut y = [[0.0; OUT]; B];
    net.forward(&x, &mut y, &mut tape);
    let mut worst_seen = worst(y.as_flattened(), &fixture.tensor("output"));

    let mut dz = upstream;
    N::Activation::backprop_batch(&y, N::kept(&tape), &mut dz);
    let (mut dx, mut grads) = ([[0.0; IN]; B], net.new_grads());
    net.backward(&x, &dz, Some(&mut dx), &mut grads, &mut tape);
    worst_seen = worst_seen.max(worst(dx.as_flattened(), &fixture.tensor("grad.input")));

    // The gradients by name: written over the parameters of a copy of the network (each
    // parameter tensor and its gradient share a layout), then read back through
    // `visit_tensors`, which names them in Keras' layout. The weights without a gradient in
    // the file (batch normalization's moving statistics) are not parameters.
    let mut gradients = net.clone();
    gradients.visit_parameters(&mut grads, &mut |p, g| p.copy_from_slice(g));
    let mut compared = 0;
    gradients.visit_tensors(&mut |name, _, g| {
        let grad = format!("grad.{name}");
        if fixture.has(&grad) {
            worst_seen = worst_seen.max(worst(g, &fixture.tensor(&grad)));
            compared += 1;
        }
    });
    assert_eq!(
        compared,
        fixture.gradients(),
        "{case}: every weight gradient of the file compared"
    );
    keras_summary::assert_matches(case, &net.summary(), &fixture.metadata());
    worst_seen
}

#[test]
fn a_residual_block_computes_as_in_keras() {
    let worst = compare::<_, 4, 3, 3>(
        ResidualMlp::new(&mut StdRng::seed_from_u64(0)),
        "residual_mlp",
    );
    println!("residual block: largest relative difference {worst:.1e}");
    assert!(
        worst < 1e-5,
        "residual block: largest relative difference {worst}"
    );
}

#[test]
fn added_branches_compute_as_in_keras() {
    let worst = compare::<_, 4, 2, 3>(
        AddedBranches::new(&mut StdRng::seed_from_u64(0)),
        "added_branches",
    );
    println!("added branches: largest relative difference {worst:.1e}");
    assert!(
        worst < 1e-5,
        "added branches: largest relative difference {worst}"
    );
}

#[test]
fn concatenated_image_branches_compute_as_in_keras() {
    let worst = compare::<_, 50, 2, 2>(
        ConcatenatedImages::new(&mut StdRng::seed_from_u64(0)),
        "concatenated_images",
    );
    println!("concatenated branches: largest relative difference {worst:.1e}");
    assert!(
        worst < 1e-5,
        "concatenated branches: largest relative difference {worst}"
    );
}

#[test]
fn bidirectional_layers_compute_as_in_keras() {
    let worst = compare::<_, 12, 2, 3>(
        BidirectionalLstm::new(&mut StdRng::seed_from_u64(0)),
        "bidirectional_lstm",
    );
    println!("bidirectional LSTM: largest relative difference {worst:.1e}");
    assert!(
        worst < 1e-5,
        "bidirectional LSTM: largest relative difference {worst}"
    );
    let worst = compare::<_, 12, 2, 3>(
        BidirectionalSequences::new(&mut StdRng::seed_from_u64(0)),
        "bidirectional_sequences",
    );
    println!("bidirectional GRU and SimpleRNN: largest relative difference {worst:.1e}");
    assert!(
        worst < 1e-5,
        "bidirectional sequences: largest relative difference {worst}"
    );
}

#[test]
fn nested_joins_with_batch_normalization_compute_and_summarise_as_in_keras() {
    let worst = compare::<_, 4, 2, 3>(
        NestedJoins::new(&mut StdRng::seed_from_u64(0)),
        "nested_joins",
    );
    println!("nested joins: largest relative difference {worst:.1e}");
    assert!(
        worst < 1e-5,
        "nested joins: largest relative difference {worst}"
    );
}
