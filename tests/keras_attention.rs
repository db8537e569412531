//! Keras 3 parity of `MultiHeadAttention` as self-attention, with and without a causal mask.
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
