//! Keras 3 parity of `Conv1D`, the global pools, `ZeroPadding2D`, `UpSampling2D`, `Embedding`
//! (its token ids stored as floats, and without an input gradient) and `Dense` on each step of
//! a sequence. Each file of
//! tests/fixtures/keras/layers (written by python/fixtures/layers.py, whose top says how) holds a
//! tiny Keras model's weights, a batch of 2, the model's output, the gradients of
//! `sum(output * upstream)` with respect to every weight and the input, and Keras' summary of
//! each layer. The same network written in the DSL, given those weights, must give the same
//! output and gradients within 1e-5 of each tensor's scale, and its summary Keras' output shapes
//! and parameter counts. No Python is needed to run it.

mod keras_fixture;
mod keras_summary;

use netdsl::prelude::*;

network! {
    struct Conv1dSameDilated<(10, 2) => Conv1D(3, 3, padding = same, dilation_rate = 2)>;
    struct Conv1dValidStrided<(9, 2) => Conv1D(4, 3, tanh, strides = 2)>;
    struct Conv1dCausalDilated<(7, 3) => Conv1D(2, 2, sigmoid, padding = causal, dilation_rate = 3)>;
    struct Conv1dSameStridedWithoutBias<(7, 2) => Conv1D(3, 4, relu, strides = 3, padding = same, bias = false)>;
    struct AverageSteps<(6, 2) => Conv1D(3, 2, tanh) => GlobalAveragePooling1D>;
    struct MaxSteps<(6, 2) => Conv1D(3, 2, tanh) => GlobalMaxPooling1D>;
    struct AveragePixels<(5, 4, 2) => Conv2d(3, 2, tanh) => GlobalAveragePooling2D>;
    struct MaxPixels<(5, 4, 2) => Conv2d(3, 2, tanh) => GlobalMaxPooling2D>;
    struct Padded<(4, 3, 2) => ZeroPadding2D(((1, 0), (2, 1))) => Conv2d(3, 3, tanh)>;
    struct PaddedRowsColumns<(3, 3, 1) => ZeroPadding2D((1, 2)) => Conv2d(2, 2)>;
    struct UpSampled<(3, 2, 2) => UpSampling2D((2, 3)) => Conv2d(2, 3, tanh)>;
    struct UpSampledByDefault<(2, 3, 1) => UpSampling2D => Conv2d(2, 2, sigmoid, padding = same)>;
    struct EmbeddedConvolution<6 => Embedding(7, 3) => Conv1D(4, 2, tanh) => GlobalMaxPooling1D>;
    struct EmbeddedLstm<5 => Embedding(6, 4) => LSTM(3)>;
    struct DenseOnSteps<(5, 3) => Dense(4, tanh) => Dense(2, bias = false)>;
    struct MaskedByIdZero<6 => Embedding(5, 3, mask_zero = true) => LSTM(4)>;
    struct MaskedByIdZeroStacked<6 => Embedding(5, 3, mask_zero = true) => GRU(4, return_sequences = true) => SimpleRNN(2)>;
}

/// Checks `net` against the fixture `case` of tests/fixtures/keras/layers.
fn check<N, const OUT: usize>(net: N, case: &str) -> (f32, f32)
where
    N: Network<Out = [f32; OUT]>,
{
    keras_fixture::check(net, "layers", case)
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(0)
}

#[test]
fn conv1d_same_padding_with_dilation_matches_keras() {
    check(Conv1dSameDilated::new(&mut rng()), "conv1d_same_dilated");
}

#[test]
fn conv1d_valid_padding_with_strides_matches_keras() {
    check(Conv1dValidStrided::new(&mut rng()), "conv1d_valid_strided");
}

#[test]
fn conv1d_causal_padding_with_dilation_matches_keras() {
    check(
        Conv1dCausalDilated::new(&mut rng()),
        "conv1d_causal_dilated",
    );
}

#[test]
fn conv1d_same_padding_with_strides_and_without_bias_matches_keras() {
    check(
        Conv1dSameStridedWithoutBias::new(&mut rng()),
        "conv1d_same_strided_without_bias",
    );
}

#[test]
fn global_average_pooling1d_matches_keras() {
    check(AverageSteps::new(&mut rng()), "global_average_pooling1d");
}

#[test]
fn global_max_pooling1d_matches_keras() {
    check(MaxSteps::new(&mut rng()), "global_max_pooling1d");
}

#[test]
fn global_average_pooling2d_matches_keras() {
    check(AveragePixels::new(&mut rng()), "global_average_pooling2d");
}

#[test]
fn global_max_pooling2d_matches_keras() {
    check(MaxPixels::new(&mut rng()), "global_max_pooling2d");
}

#[test]
fn zero_padding2d_of_each_side_matches_keras() {
    check(Padded::new(&mut rng()), "zero_padding2d");
}

#[test]
fn zero_padding2d_of_rows_and_columns_matches_keras() {
    check(
        PaddedRowsColumns::new(&mut rng()),
        "zero_padding2d_rows_columns",
    );
}

#[test]
fn up_sampling2d_matches_keras() {
    check(UpSampled::new(&mut rng()), "up_sampling2d");
}

#[test]
fn up_sampling2d_by_keras_default_size_matches_keras() {
    check(UpSampledByDefault::new(&mut rng()), "up_sampling2d_default");
}

#[test]
fn embedding_then_conv1d_matches_keras() {
    check(EmbeddedConvolution::new(&mut rng()), "embedding_conv1d");
}

#[test]
fn embedding_then_lstm_matches_keras() {
    check(EmbeddedLstm::new(&mut rng()), "embedding_lstm");
}

#[test]
fn dense_on_each_step_of_a_sequence_matches_keras() {
    check(DenseOnSteps::new(&mut rng()), "dense_on_steps");
}

#[test]
fn embedding_with_mask_zero_then_lstm_matches_keras() {
    check(MaskedByIdZero::new(&mut rng()), "embedding_mask_zero_lstm");
}

#[test]
fn embedding_with_mask_zero_through_stacked_recurrent_layers_matches_keras() {
    check(
        MaskedByIdZeroStacked::new(&mut rng()),
        "embedding_mask_zero_stacked",
    );
}
