//! Keras 3 -> netdsl -> Keras 3 with the Python tool `netdsl_keras` (python/netdsl_keras): for
//! each Keras model of python/netdsl_keras/tests/keras_cases.py, which together hold every
//! layer kind netdsl has and its joins (`Residual`, `Add`, `Concatenate`, `CrossAttention`,
//! from functional graphs whose branches part from one tensor and meet again), and keras_hub's
//! `PositionEmbedding`, `SinePositionEncoding` and `TransformerEncoder`, the tool wrote the `network!` declaration
//! (tests/fixtures/interop/keras/networks.rs, included here as written) and the weights file;
//! netdsl, given that file through `load_weights`, must give Keras' outputs within 1e-5 of their
//! scale, and its `save_weights` must write the same tensors back, which the tool loads into the
//! Keras model it builds from the declaration (python/netdsl_keras/tests/test_round_trip.py,
//! run by .ci/run). No Python is needed to run this test; make_fixtures.py rewrites its files.

mod interop;

use netdsl::prelude::*;

include!("fixtures/interop/keras/networks.rs");

fn rng() -> StdRng {
    StdRng::seed_from_u64(0)
}

macro_rules! cases {
    ($($test:ident: $net:ident, $case:literal;)*) => {$(
        #[test]
        fn $test() {
            interop::check($net::new(&mut rng()), "keras", $case);
        }
    )*};
}

cases! {
    dense_with_activations_round_trips: Mlp, "mlp";
    conv2d_and_pools_round_trip: Conv2dPools, "conv2d_pools";
    strided_conv2d_and_global_average_pool_round_trip: Conv2dStrided, "conv2d_strided";
    zero_padding_up_sampling_and_global_max_pool_round_trip: PaddedUpSampled, "padded_up_sampled";
    reshape_flatten_and_dropout_round_trip: ReshapeDropout, "reshape_dropout";
    simple_rnn_round_trips: SimpleRnnStack, "simple_rnn_stack";
    lstm_round_trips: LstmStack, "lstm_stack";
    gru_round_trips: GruStack, "gru_stack";
    bidirectional_round_trips: BidirectionalStack, "bidirectional_stack";
    conv1d_and_global_max_pool_round_trip: Conv1dGlobalMax, "conv1d_global_max";
    conv1d_and_global_average_pool_round_trip: Conv1dGlobalAverage, "conv1d_global_average";
    batch_normalization_round_trips: BatchNormalized, "batch_normalized";
    layer_normalization_round_trips: LayerNormalized, "layer_normalized";
    embedding_with_mask_zero_round_trips: EmbeddedMaskZero, "embedded_mask_zero";
    masking_round_trips: MaskedGru, "masked_gru";
    multi_head_attention_round_trips: SelfAttention, "self_attention";
    activation_layers_folded_into_the_layer_before_round_trip: FoldedActivations, "folded_activations";
    residual_blocks_with_and_without_an_activation_round_trip: ResidualBlocks, "residual_blocks";
    added_branches_round_trip: AddedBranches, "added_branches";
    concatenated_branches_round_trip: ConcatenatedImages, "concatenated_images";
    a_residual_block_inside_a_concatenation_round_trips: NestedJoins, "nested_joins";
    causal_cross_attention_of_two_branches_round_trips: CrossAttended, "cross_attended";
    cross_attention_with_a_key_branch_round_trips: CrossAttendedWithKeys, "cross_attended_with_keys";
    keras_hub_position_encodings_added_to_their_input_round_trip: PositionEncoded, "position_encoded";
    keras_hub_post_norm_transformer_encoders_round_trip: TransformerPostNorm, "transformer_post_norm";
    keras_hub_pre_norm_transformer_encoder_on_masked_tokens_round_trips: TransformerPreNorm, "transformer_pre_norm";
}
