//! Keras parity of masking: `Masking` in front of recurrent layers, alone, stacked, after `Dense`
//! on each step and wrapped in `Bidirectional`, on a batch padded at the end, at the start, in the middle, nowhere and
//! everywhere. The same weights in Keras 3 and netdsl give the same outputs (from the batched
//! forward pass and from `predict`) and the same one-batch gradients of `sum(output * upstream)`,
//! weights and input, within 1e-5 of each tensor's scale. The fixtures come from
//! `python/fixtures/masking.py` (which says how to rerun it); no Python here.

use std::path::Path;

use netdsl::activation::Activation;
use netdsl::prelude::*;
use safetensors::SafeTensors;

network! {
    #[derive(Clone)]
    struct MaskedLstm<(5, 3) => Masking => LSTM(4) => Dense(2, softmax)>;

    #[derive(Clone)]
    struct MaskedGruThenSimpleRnn<(5, 3)
        => Masking(mask_value = -1.0)
        => GRU(3, return_sequences = true)
        => SimpleRNN(4)
        => Dense(2, softmax)>;

    #[derive(Clone)]
    struct MaskedDenseOnSteps<(5, 3) => Masking => Dense(4, tanh) => LSTM(3) => Dense(2, softmax)>;

    #[derive(Clone)]
    struct MaskedSimpleRnnSequences<(5, 3) => Masking => SimpleRNN(3, silu, return_sequences = true)>;

    #[derive(Clone)]
    struct MaskedBidirectionalLstm<(5, 3) => Masking => Bidirectional(LSTM(3)) => Dense(2, softmax)>;

    #[derive(Clone)]
    struct MaskedBidirectionalSequences<(5, 3) => Masking => Bidirectional(LSTM(3, return_sequences = true))>;

    #[derive(Clone)]
    struct MaskedStackedBidirectional<(5, 3)
        => Masking
        => Bidirectional(LSTM(3, return_sequences = true))
        => Bidirectional(GRU(2))
        => Dense(2, softmax)>;
}

/// The samples of every fixture: padded at the end, at the start, in the middle, nowhere, and
/// everywhere.
const BATCH: usize = 5;

/// One fixture's tensors, as flat `f32`s.
struct Fixture {
    bytes: Vec<u8>,
}

impl Fixture {
    fn open(case: &str) -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/keras/masking")
            .join(format!("{case}.safetensors"));
        Fixture {
            bytes: std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        }
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

    fn rows<const N: usize>(&self, name: &str) -> [[f32; N]; BATCH] {
        let values = self.tensor(name);
        assert_eq!(values.len(), N * BATCH, "`{name}`");
        std::array::from_fn(|b| std::array::from_fn(|i| values[b * N + i]))
    }
}

/// The largest difference between `a` and Keras' `b`, relative to the largest magnitude of `b`
/// (as tests/keras_joins.rs compares).
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

/// Loads the fixture's weights into `net`, then compares its outputs (batched and one sample at
/// a time), its input gradient and every weight's gradient with Keras'; returns the largest
/// relative difference.
fn compare<N, const IN: usize, const OUT: usize>(mut net: N, case: &str) -> f32
where
    N: Network<In = [f32; IN], Out = [f32; OUT]> + Clone,
{
    let fixture = Fixture::open(case);
    net.visit_tensors_mut(&mut |name, _, values| {
        values.copy_from_slice(&fixture.tensor(name));
    });
    let x: [[f32; IN]; BATCH] = fixture.rows("input");
    let upstream: [[f32; OUT]; BATCH] = fixture.rows("upstream");
    let keras_output = fixture.tensor("output");
    let mut tape = net.new_tape::<BATCH>();
    net.set_training(&mut tape, true);
    let mut y = [[0.0; OUT]; BATCH];
    net.forward(&x, &mut y, &mut tape);
    let mut worst_seen = worst(y.as_flattened(), &keras_output);
    let predicted: Vec<f32> = x.iter().flat_map(|x| net.predict(x)).collect();
    worst_seen = worst_seen.max(worst(&predicted, &keras_output));

    let mut dz = upstream;
    N::Activation::backprop_batch(&y, N::kept(&tape), &mut dz);
    let (mut dx, mut grads) = ([[0.0; IN]; BATCH], net.new_grads());
    net.backward(&x, &dz, Some(&mut dx), &mut grads, &mut tape);
    worst_seen = worst_seen.max(worst(dx.as_flattened(), &fixture.tensor("grad.input")));

    // The gradients by name: written over the parameters of a copy of the network (each
    // parameter tensor and its gradient share a layout), then read back through
    // `visit_tensors`, which names them in Keras' layout.
    let mut gradients = net.clone();
    gradients.visit_parameters(&mut grads, &mut |p, g| p.copy_from_slice(g));
    let mut compared = 0;
    gradients.visit_tensors(&mut |name, _, g| {
        let keras = fixture.tensor(&format!("grad.{name}"));
        worst_seen = worst_seen.max(worst(g, &keras));
        compared += 1;
    });
    assert!(compared > 0, "no tensor compared");
    worst_seen
}

/// Compares the network of `case` with Keras and prints the largest difference.
fn assert_matches_keras<N, const IN: usize, const OUT: usize>(net: N, case: &str)
where
    N: Network<In = [f32; IN], Out = [f32; OUT]> + Clone,
{
    let worst = compare(net, case);
    println!("{case}: largest relative difference {worst:.1e}");
    assert!(worst < 1e-5, "{case}: largest relative difference {worst}");
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(0)
}

#[test]
fn an_lstm_after_masking_computes_as_in_keras() {
    assert_matches_keras(MaskedLstm::new(&mut rng()), "lstm");
}

#[test]
fn a_gru_passes_the_mask_on_to_a_simple_rnn_as_in_keras() {
    let net = MaskedGruThenSimpleRnn::new(&mut rng());
    assert_matches_keras(net, "gru_then_simple_rnn");
}

#[test]
fn dense_on_each_step_passes_the_mask_on_as_in_keras() {
    let net = MaskedDenseOnSteps::new(&mut rng());
    assert_matches_keras(net, "dense_on_steps_then_lstm");
}

#[test]
fn a_simple_rnn_repeats_its_state_over_padding_as_in_keras() {
    let net = MaskedSimpleRnnSequences::new(&mut rng());
    assert_matches_keras(net, "simple_rnn_sequences");
}

#[test]
fn a_bidirectional_lstm_after_masking_computes_as_in_keras() {
    let net = MaskedBidirectionalLstm::new(&mut rng());
    assert_matches_keras(net, "bidirectional_lstm");
}

#[test]
fn a_bidirectional_lstm_returning_every_step_outputs_zeros_over_padding_as_in_keras() {
    let net = MaskedBidirectionalSequences::new(&mut rng());
    assert_matches_keras(net, "bidirectional_sequences");
}

#[test]
fn a_bidirectional_lstm_passes_the_mask_on_to_a_bidirectional_gru_as_in_keras() {
    let net = MaskedStackedBidirectional::new(&mut rng());
    assert_matches_keras(net, "stacked_bidirectional");
}
