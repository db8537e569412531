//! Streaming inference (`Stream`) against the whole-sequence `predict`, through the public API
//! as a user meets it: a recurrent network fed one step at a time from a fresh state gives, at
//! each step, the row of `predict`'s output for that step.

use netdsl::layer::TensorVisitorMut;
use netdsl::prelude::*;

const T: usize = 12;

network! {
    /// Every step out, through one dense layer.
    struct LstmSeq<(12, 1) => LSTM(8, return_sequences = true) => Dense(1)>;
    /// The last state only, the same weights as [`LstmSeq`].
    struct LstmLast<(12, 1) => LSTM(8) => Dense(1)>;
    struct GruSeq<(12, 1) => GRU(8, return_sequences = true) => Dense(1)>;
    struct RnnSeq<(12, 1) => SimpleRNN(8, return_sequences = true) => Dense(1)>;
    /// Two features in, two stacked recurrent layers, two outputs per step.
    struct Stacked<(12, 2) => LSTM(6, return_sequences = true) => GRU(5, return_sequences = true) => Dense(2, tanh)>;
    /// Layer normalization of each step between recurrent layers.
    struct Normalized<(12, 2) => LSTM(6, return_sequences = true) => LayerNormalization => GRU(4, return_sequences = true) => Dense(1)>;
    /// A network used as a layer of another streams when its layers do.
    struct Encoder<(12, 1) => LSTM(4, return_sequences = true) => Dense(2)>;
    struct Outer<(12, 1) => Encoder>;
    /// A nested network returning its last state, then a dense layer on it.
    struct Summarizer<(12, 1) => LSTM(4)>;
    struct Head<(12, 1) => Summarizer => Dense(3)>;
    /// More layers than a tuple has `Default` for: the states nest.
    struct Deep<(12, 1) => LSTM(4, return_sequences = true) => Dense(4, tanh) => Dense(4, tanh)
        => Dense(4, tanh) => Dense(4, tanh) => Dense(4, tanh) => Dense(4, tanh) => Dense(4, tanh)
        => Dense(4, tanh) => Dense(4, tanh) => Dense(4, tanh) => Dense(4, tanh) => Dense(4, tanh)
        => GRU(3, return_sequences = true) => Dense(1)>;
}

/// A deterministic signal of `T` steps of `F` features, different per `seed`.
fn signal<const N: usize>(seed: usize) -> [f32; N] {
    core::array::from_fn(|i| ((i * 7 + seed * 13) as f32 * 0.31).sin() * 1.5)
}

/// Streams `net` over `x` (steps of `F` features) from a fresh state, asserting that step `t`'s
/// output is row `t` of `predict`, to the bit.
fn streamed_rows_equal_predict<
    N,
    const IN: usize,
    const OUT: usize,
    const F: usize,
    const O: usize,
>(
    net: &N,
    x: &[f32; IN],
) where
    N: Network<In = [f32; IN], Out = [f32; OUT]> + Stream<StepIn = [f32; F], StepOut = [f32; O]>,
{
    let whole = net.predict(x);
    let mut state = N::State::default();
    for (t, (x_t, row)) in x.chunks_exact(F).zip(whole.chunks_exact(O)).enumerate() {
        let x_t: [f32; F] = x_t.try_into().unwrap();
        let y = net.predict_step(&mut state, &x_t);
        assert_eq!(y, row, "step {t}: streamed {y:?}, predict {row:?}");
    }
}

#[test]
fn lstm_gru_and_simple_rnn_streams_equal_every_row_of_predict() {
    let mut rng = StdRng::seed_from_u64(1);
    let (lstm, gru, rnn) = (
        LstmSeq::new(&mut rng),
        GruSeq::new(&mut rng),
        RnnSeq::new(&mut rng),
    );
    for seed in 0..3 {
        let x = signal::<T>(seed);
        streamed_rows_equal_predict(&lstm, &x);
        streamed_rows_equal_predict(&gru, &x);
        streamed_rows_equal_predict(&rnn, &x);
    }
}

#[test]
fn stacked_recurrent_layers_stream_as_predict() {
    let net = Stacked::new(&mut StdRng::seed_from_u64(2));
    streamed_rows_equal_predict(&net, &signal::<{ 2 * T }>(4));
}

#[test]
fn layer_normalization_of_each_step_streams_as_predict() {
    let net = Normalized::new(&mut StdRng::seed_from_u64(12));
    streamed_rows_equal_predict(&net, &signal::<{ 2 * T }>(13));
}

#[test]
fn a_network_of_more_layers_than_a_tuple_holds_streams() {
    let net = Deep::new(&mut StdRng::seed_from_u64(10));
    streamed_rows_equal_predict(&net, &signal::<T>(11));
}

#[test]
fn a_network_used_as_a_layer_streams() {
    let net = Outer::new(&mut StdRng::seed_from_u64(3));
    streamed_rows_equal_predict(&net, &signal::<T>(5));
    let head = Head::new(&mut StdRng::seed_from_u64(3));
    let x = signal::<T>(6);
    let mut state = Default::default();
    let streamed = x.map(|x_t| head.predict_step(&mut state, &[x_t]));
    assert_eq!(streamed[T - 1], head.predict(&x));
}

#[test]
fn the_last_state_network_streams_what_every_step_predicts_and_ends_on_its_predict() {
    let seq = LstmSeq::new(&mut StdRng::seed_from_u64(4));
    let mut last = LstmLast::new(&mut StdRng::seed_from_u64(5));
    // Same tensor names, same shapes: give `last` the weights of `seq`.
    let mut tensors = Vec::new();
    seq.visit_tensors(&mut |name, _, values| tensors.push((name.to_owned(), values.to_vec())));
    let visit: &mut TensorVisitorMut<'_> = &mut |name, _, values| {
        let (_, from) = tensors.iter().find(|(n, _)| n == name).unwrap();
        values.copy_from_slice(from);
    };
    last.visit_tensors_mut(visit);
    let x = signal::<T>(6);
    let every = seq.predict(&x);
    let mut state = Default::default();
    for (t, &x_t) in x.iter().enumerate() {
        let y = last.predict_step(&mut state, &[x_t]);
        assert_eq!(y, [every[t]], "step {t}");
    }
    assert_eq!(
        last.predict_step(&mut Default::default(), &[x[0]]),
        [every[0]]
    );
    let y = last.predict(&x);
    let mut state = Default::default();
    let streamed = x.map(|x_t| last.predict_step(&mut state, &[x_t]));
    assert_eq!(streamed[T - 1], y, "last step and predict");
}

#[test]
fn a_reset_state_streams_as_a_fresh_one() {
    let net = GruSeq::new(&mut StdRng::seed_from_u64(7));
    let x = signal::<T>(8);
    let mut fresh = <GruSeq as Stream>::State::default();
    let first = x.map(|x_t| net.predict_step(&mut fresh, &[x_t]));
    let mut state = fresh;
    assert_ne!(state, Default::default(), "the state moved");
    state = Default::default();
    let again = x.map(|x_t| net.predict_step(&mut state, &[x_t]));
    assert_eq!(first, again);
}

#[test]
fn a_batch_of_streams_equals_each_stream_alone() {
    const B: usize = 11;
    let net = Stacked::new(&mut StdRng::seed_from_u64(9));
    let inputs: [[f32; 2 * T]; B] = core::array::from_fn(signal::<{ 2 * T }>);
    let mut states = [<Stacked as Stream>::State::default(); B];
    let mut alone = states;
    for t in 0..T {
        let x: [[f32; 2]; B] = inputs.map(|s| [s[2 * t], s[2 * t + 1]]);
        let mut y = [[0.0; 2]; B];
        net.step_batch(&mut states, &x, &mut y);
        for b in 0..B {
            let expected = net.predict_step(&mut alone[b], &x[b]);
            for (found, expected) in y[b].iter().zip(expected) {
                let tolerance = 1e-6 * (1.0 + expected.abs());
                assert!(
                    (found - expected).abs() <= tolerance,
                    "stream {b} step {t}: batch {:?}, alone {expected:?}",
                    y[b]
                );
            }
        }
    }
}
