"""The one place where Keras 3's names meet netdsl's.

netdsl names each layer's field after its kind, numbered from 1 in network order per kind
(`dense_1`, `dense_2`, `conv2d_1`, ...), and each tensor `<field>.<weight>` with Keras' weight
names and shapes (`dense_1.kernel` of shape `(in, out)`, `lstm_1.recurrent_kernel`,
`batch_normalization_1.moving_mean`, `multi_head_attention_1.query.kernel`). Keras 3 numbers its
layers per class from 0 over a whole session (`dense`, `dense_1`, ...), so a layer's Keras name
says nothing about its netdsl field: the field comes from the layer's place in the network.

`KINDS` is the table of layer kinds: each Keras class with its netdsl keyword (how the
declaration spells it) and its netdsl field prefix (`Keyword::field` in
netdsl-macros/src/layers). A `Bidirectional` layer has no field of its own: its forward and
backward layers take the next two numbers of their kind (`Bidirectional(LSTM(3))` is `lstm_1`
forward and `lstm_2` backward). A join (`Add`, `Concatenate`, `Residual`, `CrossAttention`) takes
its own number first (`add_1`, `concatenate_1`, `residual_1`, and a `CrossAttention`'s
attention weights `multi_head_attention_1.query.kernel`), then its branches' layers theirs, in
the order the declaration lists them; `Residual(chain, relu)`'s `Activation` is numbered after
its chain's layers (`activation_1`). Only the attention's numbers name weights.
"""

__all__ = ["KINDS", "Numbering", "weight_name", "TRANSFORMER_FIELDS"]

# Keras class name -> (netdsl keyword, netdsl field prefix)
KINDS = {
    "Dense": ("Dense", "dense"),
    "Conv2D": ("Conv2d", "conv2d"),
    "MaxPooling2D": ("MaxPool2d", "max_pool2d"),
    "AveragePooling2D": ("AvgPool2d", "avg_pool2d"),
    "Flatten": ("Flatten", "flatten"),
    "Reshape": ("Reshape", "reshape"),
    "Dropout": ("Dropout", "dropout"),
    "BatchNormalization": ("BatchNormalization", "batch_normalization"),
    "LayerNormalization": ("LayerNormalization", "layer_normalization"),
    "Masking": ("Masking", "masking"),
    "SimpleRNN": ("SimpleRNN", "simple_rnn"),
    "LSTM": ("LSTM", "lstm"),
    "GRU": ("GRU", "gru"),
    "Conv1D": ("Conv1D", "conv1d"),
    "GlobalAveragePooling1D": ("GlobalAveragePooling1D", "global_average_pooling1d"),
    "GlobalMaxPooling1D": ("GlobalMaxPooling1D", "global_max_pooling1d"),
    "GlobalAveragePooling2D": ("GlobalAveragePooling2D", "global_average_pooling2d"),
    "GlobalMaxPooling2D": ("GlobalMaxPooling2D", "global_max_pooling2d"),
    "ZeroPadding2D": ("ZeroPadding2D", "zero_padding2d"),
    "UpSampling2D": ("UpSampling2D", "up_sampling2d"),
    "Embedding": ("Embedding", "embedding"),
    "MultiHeadAttention": ("MultiHeadAttention", "multi_head_attention"),
    "Bidirectional": ("Bidirectional", None),
    # keras_hub's (netdsl-macros/src/layers/position_embedding.rs and neighbours); its
    # `TransformerEncoder` takes the fields of the layers netdsl writes it out as.
    "PositionEmbedding": ("PositionEmbedding", "position_embedding"),
    "SinePositionEncoding": ("SinePositionEncoding", "sine_position_encoding"),
    "TransformerEncoder": ("TransformerEncoder", None),
}


# The fields netdsl's `TransformerEncoder` expands to, in its order, each with the part of
# keras_hub's encoder whose weights it holds (None: a residual block's own field, no weights),
# by `normalize_first` (netdsl-macros/src/layers/transformer_encoder.rs; keras_hub's
# `_self_attention_layer`, `_self_attention_layer_norm`, `_feedforward_layer_norm`,
# `_feedforward_intermediate_dense`, `_feedforward_output_dense`).
TRANSFORMER_FIELDS = {
    False: [("residual", None), ("multi_head_attention", "attention"), ("layer_normalization", "attention_norm"),
            ("residual", None), ("dense", "intermediate"), ("dense", "output"), ("layer_normalization", "feedforward_norm")],
    True: [("residual", None), ("layer_normalization", "attention_norm"), ("multi_head_attention", "attention"),
           ("residual", None), ("layer_normalization", "feedforward_norm"), ("dense", "intermediate"), ("dense", "output")],
}


class Numbering:
    """Gives each field its number: `next("dense")` is `dense_1`, then `dense_2`."""

    def __init__(self):
        self.counts = {}

    def next(self, prefix):
        self.counts[prefix] = self.counts.get(prefix, 0) + 1
        return f"{prefix}_{self.counts[prefix]}"


def weight_name(field, layer, variable):
    """netdsl's name of a Keras weight: `<field>.<variable name>`, and for the sub-layers of a
    `MultiHeadAttention` `<field>.<sub-layer>.<variable name>` (`query.kernel`)."""
    if type(layer).__name__ == "MultiHeadAttention":
        sublayer, kind = variable.path.split("/")[-2:]
        return f"{field}.{sublayer}.{kind}"
    return f"{field}.{variable.name}"
