//! Keras 3 parity of `MultiHeadAttention` as self-attention, with and without a causal mask,
//! over padded batches (after `Masking`, and passing the mask on to an LSTM), and as
//! cross-attention between two branches (`CrossAttention`).
//! Each file of tests/fixtures/keras/attention (written by python/fixtures/attention.py, whose
//! top says how) holds one Keras layer's weights, a batch of 2, its output, the gradients of
//! `sum(output * upstream)` with respect to every weight and the input, and Keras' summary of
//! the layer. The same layer written in the DSL, given those weights, must give the same output
//! and gradients within 1e-5 of each tensor's scale (the key bias's gradient, exactly zero —
//! softmax ignores what is added to every score of a row — within 1e-5 of the largest
//! gradient's). No Python is needed to run it.

mod keras_fixture;
mod keras_summary;

use netdsl::prelude::*;

network! {
    struct TwoHeads<(5, 4) => MultiHeadAttention(heads = 2, key_dim = 3)>;
    struct TwoHeadsCausal<(5, 4) => MultiHeadAttention(heads = 2, key_dim = 3, causal = true)>;
    struct FourHeads<(6, 5) => MultiHeadAttention(heads = 4, key_dim = 2)>;
    struct FourHeadsCausal<(6, 5) => MultiHeadAttention(heads = 4, key_dim = 2, causal = true)>;

    struct Masked<(5, 4) => Masking => MultiHeadAttention(heads = 2, key_dim = 3)>;
    struct MaskedCausal<(5, 4) => Masking => MultiHeadAttention(heads = 2, key_dim = 3, causal = true)>;
    struct MaskedThenLstm<(5, 4)
        => Masking
        => MultiHeadAttention(heads = 2, key_dim = 3)
        => LayerNormalization
        => LSTM(3)>;

    struct Cross<(5, 4) => CrossAttention(Dense(4, tanh), Conv1D(3, 2), heads = 2, key_dim = 3)>;
    struct CrossCausal<(5, 4)
        => CrossAttention(Dense(4, tanh), Conv1D(3, 2), heads = 2, key_dim = 3, causal = true)>;
    struct CrossWithKeys<(5, 4)
        => CrossAttention(Dense(4, tanh), Conv1D(3, 2), Conv1D(2, 2), heads = 2, key_dim = 3)>;
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(0)
}

#[test]
fn two_heads_match_keras() {
    keras_fixture::check(TwoHeads::new(&mut rng()), "attention", "two_heads");
}

#[test]
fn two_heads_with_a_causal_mask_match_keras() {
    keras_fixture::check(
        TwoHeadsCausal::new(&mut rng()),
        "attention",
        "two_heads_causal",
    );
}

#[test]
fn four_heads_match_keras() {
    keras_fixture::check(FourHeads::new(&mut rng()), "attention", "four_heads");
}

#[test]
fn four_heads_with_a_causal_mask_match_keras() {
    keras_fixture::check(
        FourHeadsCausal::new(&mut rng()),
        "attention",
        "four_heads_causal",
    );
}

#[test]
fn padded_steps_are_left_out_as_keras_leaves_them_out() {
    keras_fixture::check(Masked::new(&mut rng()), "attention", "masked");
    keras_fixture::check(MaskedCausal::new(&mut rng()), "attention", "masked_causal");
}

#[test]
fn a_wholly_padded_sample_attends_as_in_keras() {
    // Every query step of the second sample sees no key: Keras weighs every key alike.
    keras_fixture::check(Masked::new(&mut rng()), "attention", "masked_wholly_padded");
}

#[test]
fn attention_and_layer_normalization_pass_the_mask_on_to_an_lstm() {
    keras_fixture::check(
        MaskedThenLstm::new(&mut rng()),
        "attention",
        "masked_then_lstm",
    );
}

#[test]
fn cross_attention_between_branches_matches_keras() {
    keras_fixture::check(Cross::new(&mut rng()), "attention", "cross");
    // 5 query steps and 4 value steps: Keras' causal mask is the lower triangle of 5 × 4.
    keras_fixture::check(CrossCausal::new(&mut rng()), "attention", "cross_causal");
}

#[test]
fn cross_attention_with_keys_of_their_own_matches_keras() {
    keras_fixture::check(
        CrossWithKeys::new(&mut rng()),
        "attention",
        "cross_with_keys",
    );
}
