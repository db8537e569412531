//! Masking of padded sequences through generated networks, beyond what the Keras fixtures
//! cover: the summary of `Masking`, masks through residual blocks and networks given by name,
//! and padding that changes nothing but what it must.

use netdsl::prelude::*;

network! {
    /// Keras' text classifier shape: padded steps, a recurrent layer, a dense head.
    struct Classifier<(6, 2) => Masking => LSTM(4) => Dense(3, softmax)>;

    /// The mask read inside a residual block, and passed on after it.
    struct ResidualSteps<(6, 2)
        => Masking
        => Residual(GRU(2, return_sequences = true), tanh)
        => SimpleRNN(3)
        => Dense(2, softmax)>;

    /// A network that makes a mask and gives it with its output...
    pub struct Encoder<(6, 2) => Masking => GRU(3, return_sequences = true)>;
    /// ...to a network that reads it...
    pub struct Reader<(6, 3) => GRU(2)>;
    /// ...or to one that reads it and gives it back with its output...
    pub struct Middle<(6, 3) => GRU(3, return_sequences = true)>;
    /// ...composed by name, and the same layers in one network.
    struct Composed<(6, 2) => Encoder => Middle => Reader>;
    struct Flat<(6, 2)
        => Masking
        => GRU(3, return_sequences = true)
        => GRU(3, return_sequences = true)
        => GRU(2)>;

    /// 80 KB of hidden values for one sample, above the stack budget of `predict`: its masks
    /// go through the path that keeps the hidden values in the network's scratch.
    pub struct Wide<(200, 100) => Masking => GRU(2, return_sequences = true)>;
}

/// Two samples of 6 steps of 2 features: the first padded after 4 steps, the second before 2.
fn padded() -> [[f32; 12]; 2] {
    let mut x = [[0.0; 12]; 2];
    for (i, v) in x.as_flattened_mut().iter_mut().enumerate() {
        *v = ((i * 7) % 11) as f32 / 5.5 - 0.95;
    }
    x[0][8..].fill(0.0);
    x[1][..4].fill(0.0);
    x
}

/// Every parameter of `net`, in visiting order.
fn parameters<N: Network>(net: &mut N) -> Vec<f32> {
    let mut grads = net.new_grads();
    let mut all = Vec::new();
    net.visit_parameters(&mut grads, &mut |p, _| all.extend_from_slice(p));
    all
}

/// Sets the parameters of `net`, in visiting order, from `values`.
fn set_parameters<N: Network>(net: &mut N, values: &[f32]) {
    let (mut grads, mut at) = (net.new_grads(), 0);
    net.visit_parameters(&mut grads, &mut |p, _| {
        p.copy_from_slice(&values[at..at + p.len()]);
        at += p.len();
    });
}

#[test]
fn the_summary_shows_masking_as_keras_does() {
    let net = Classifier::new(&mut StdRng::seed_from_u64(0));
    let table = net.summary().to_string();
    assert!(
        table.contains(" masking_1 (Masking)         (None, 6, 2)                      0\n"),
        "{table}"
    );
    let summary = net.summary();
    let masking = &summary.layers[0];
    assert_eq!((masking.kind, masking.parameters), ("Masking", 0));
    // Keras' count: 4 × (4 × (2 + 4) + 4) for the LSTM, then 4 × 3 + 3.
    assert_eq!(net.parameter_count(), 4 * (4 * 6 + 4) + 15);
}

#[test]
fn padding_at_the_end_leaves_the_last_state_of_the_data() {
    // With its padding cut off, a sample gives what it gives padded: `Masking` skips it.
    network! {
        struct Short<(4, 2) => Masking => LSTM(4) => Dense(3, softmax)>;
    }
    let mut long = Classifier::new(&mut StdRng::seed_from_u64(3));
    let mut short = Short::new(&mut StdRng::seed_from_u64(4));
    set_parameters(&mut short, &parameters(&mut long));
    let x = padded();
    let first: [f32; 8] = x[0][..8].try_into().expect("4 steps");
    let (padded_out, short_out) = (long.predict(&x[0]), short.predict(&first));
    for (a, b) in padded_out.iter().zip(&short_out) {
        assert!(
            (a - b).abs() < 1e-6,
            "padded {padded_out:?}, short {short_out:?}"
        );
    }
    // Without the mask, the padding would be read as data.
    let mut unmasked = x[0];
    unmasked[8..].fill(1e-3);
    assert_ne!(long.predict(&unmasked), padded_out);
}

#[test]
fn a_residual_block_reads_the_mask_and_passes_it_on() {
    let net = ResidualSteps::new(&mut StdRng::seed_from_u64(1));
    let x = padded();
    let mut tape = net.new_tape::<2>();
    let mut y = [[0.0; 2]; 2];
    net.forward(&x, &mut y, &mut tape);
    for (x, y) in x.iter().zip(&y) {
        assert_eq!(&net.predict(x), y);
    }
    // Changing a padded step's values to other padding changes nothing (it is zeroed and
    // skipped); changing a step of data does.
    let mut other = x;
    other[0][9] = 0.0;
    assert_eq!(net.predict(&other[0]), y[0]);
    other[0][1] += 0.5;
    assert_ne!(net.predict(&other[0]), y[0]);
}

#[test]
fn networks_given_by_name_pass_the_mask_on_as_their_layers_would() {
    let mut composed = Composed::new(&mut StdRng::seed_from_u64(2));
    let mut flat = Flat::new(&mut StdRng::seed_from_u64(5));
    set_parameters(&mut flat, &parameters(&mut composed));
    let x = padded();
    let (mut a, mut b) = ([[0.0; 2]; 2], [[0.0; 2]; 2]);
    composed.forward(&x, &mut a, &mut composed.new_tape());
    flat.forward(&x, &mut b, &mut flat.new_tape());
    assert_eq!(a, b);
    for (x, b) in x.iter().zip(&b) {
        assert_eq!(&composed.predict(x), b);
    }
}

#[test]
fn a_network_beyond_the_stack_budget_reads_and_gives_masks_too() {
    let wide = Wide::new(&mut StdRng::seed_from_u64(6));
    let mut x = [0.0; 20_000];
    for (i, v) in x[..150 * 100].iter_mut().enumerate() {
        *v = ((i * 13) % 17) as f32 / 8.5 - 0.97;
    }
    let (mut y, mut mask) = ([9.0; 400], [false; 200]);
    assert!(Layer::infer_masked(&wide, &x, None, &mut y, &mut mask));
    assert!(mask[..150].iter().all(|&m| m) && mask[150..].iter().all(|&m| !m));
    // Over the padding the GRU outputs the last state of the data again.
    assert_eq!(y[149 * 2..150 * 2], y[199 * 2..]);
    let mut batch = Box::new([[0.0; 400]; 1]);
    let mut tape = wide.new_tape::<1>();
    wide.forward(&[x], &mut batch, &mut tape);
    assert_eq!(batch[0], y);
    assert_eq!(Wide::output_mask(&tape), Some(&mask[..]));
}
