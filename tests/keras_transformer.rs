//! Keras 3 / keras_hub parity of `PositionEmbedding`, `SinePositionEncoding` and
//! `TransformerEncoder` (post-norm and pre-norm): each file of tests/fixtures/keras/transformer,
//! written by python/fixtures/transformer.py (whose top says how), holds a small Keras model's
//! weights under netdsl's tensor names, a batch of 2, its output, and the gradients of
//! `sum(output * upstream)` with respect to every weight and the input. The same network written
//! in the DSL, given those weights, must give the same output and gradients within 1e-5 of each
//! tensor's scale. No Python is needed to run it.

mod keras_fixture;
mod keras_summary;

use netdsl::prelude::*;

network! {
    struct Positions<(5, 4) => PositionEmbedding(sequence_length = 7) => SinePositionEncoding => Dense(3, tanh)>;
    struct PostNorm<(5, 8) => TransformerEncoder(heads = 2, ff = 12)>;
    struct PreNorm<(5, 8) => TransformerEncoder(heads = 2, ff = 12, norm = pre)>;
    struct MaskedEncoder<(5, 8)
        => Masking
        => TransformerEncoder(heads = 2, ff = 12)
        => GlobalAveragePooling1D
        => Dense(2, softmax)>;
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(0)
}

#[test]
fn learned_and_sinusoidal_positions_match_keras_hub() {
    keras_fixture::check(Positions::new(&mut rng()), "transformer", "positions");
}

#[test]
fn a_post_norm_transformer_encoder_matches_keras_hub() {
    keras_fixture::check(
        PostNorm::new(&mut rng()),
        "transformer",
        "transformer_post_norm",
    );
}

#[test]
fn a_pre_norm_transformer_encoder_matches_keras_hub() {
    keras_fixture::check(
        PreNorm::new(&mut rng()),
        "transformer",
        "transformer_pre_norm",
    );
}

#[test]
fn a_masked_transformer_encoder_and_average_match_keras_hub() {
    // keras_hub's encoder reads the mask of `Masking`; the pool averages the steps of data.
    keras_fixture::check(
        MaskedEncoder::new(&mut rng()),
        "transformer",
        "masked_encoder",
    );
}
