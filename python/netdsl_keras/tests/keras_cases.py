"""The Keras models of the round-trip tests: together they hold every layer kind netdsl has, each
with the settings netdsl reads. Shared by `make_fixtures.py` (which writes the committed fixtures
the Rust test `tests/interop_keras.rs` runs) and `test_round_trip.py`.

Each case is `(struct name, build)`, `build()` returning the model and, for a model of token ids,
the vocabulary's size.
"""

import keras
from keras import layers


def dense():
    return keras.Sequential([
        keras.Input((4,)),
        layers.Dense(5, activation="tanh"),
        layers.Dense(4, activation="gelu", use_bias=False),
        layers.Dense(3, activation="softmax"),
    ])


def conv2d_pools():
    return keras.Sequential([
        keras.Input((8, 8, 2)),
        layers.Conv2D(3, 3, activation="relu", padding="same"),
        layers.MaxPooling2D(2),
        layers.Conv2D(4, 2, activation="tanh", use_bias=False),
        layers.AveragePooling2D(2, strides=1),
        layers.Flatten(),
        layers.Dense(3, activation="softmax"),
    ])


def conv2d_strided_global_pools():
    x = keras.Input((7, 7, 1))
    y = layers.Conv2D(2, 3, strides=2, activation="sigmoid")(x)
    y = layers.Conv2D(3, 2, padding="same")(y)
    y = layers.GlobalAveragePooling2D()(y)
    return keras.Model(x, y)


def global_max_pooling2d():
    return keras.Sequential([
        keras.Input((3, 3, 2)),
        layers.ZeroPadding2D(((1, 0), (2, 1))),
        layers.UpSampling2D((2, 1)),
        layers.Conv2D(2, 3, activation="tanh"),
        layers.GlobalMaxPooling2D(),
    ])


def reshape_dropout():
    return keras.Sequential([
        keras.Input((12,)),
        layers.Dense(12, activation="tanh"),
        layers.Reshape((2, 2, 3)),
        layers.Conv2D(2, 2, activation="tanh"),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(2),
    ])


def simple_rnn():
    return keras.Sequential([
        keras.Input((5, 3)),
        layers.SimpleRNN(4, return_sequences=True),
        layers.SimpleRNN(3, activation="relu"),
    ])


def lstm():
    return keras.Sequential([
        keras.Input((5, 3)),
        layers.LSTM(4, return_sequences=True),
        layers.LSTM(2),
    ])


def gru():
    return keras.Sequential([
        keras.Input((5, 3)),
        layers.GRU(4, return_sequences=True),
        layers.GRU(3, use_bias=False),
    ])


def bidirectional():
    return keras.Sequential([
        keras.Input((4, 3)),
        layers.Bidirectional(layers.LSTM(3, return_sequences=True)),
        layers.Bidirectional(layers.GRU(2)),
        layers.Dense(2, activation="softmax"),
    ])


def conv1d_global_pools():
    return keras.Sequential([
        keras.Input((10, 2)),
        layers.Conv1D(3, 3, padding="same", dilation_rate=2, activation="tanh"),
        layers.Conv1D(4, 2, strides=2, padding="causal"),
        layers.GlobalMaxPooling1D(),
    ])


def conv1d_average():
    return keras.Sequential([
        keras.Input((9, 2)),
        layers.Conv1D(4, 3, strides=2, activation="relu", use_bias=False),
        layers.GlobalAveragePooling1D(),
    ])


def batch_normalization():
    return keras.Sequential([
        keras.Input((6,)),
        layers.Dense(5, use_bias=False),
        layers.BatchNormalization(momentum=0.9, epsilon=1e-5),
        layers.Dense(2, activation="sigmoid"),
    ])


def folded_activations():
    """`Activation` layers, as Keras models often have them, folded into the layer before."""
    return keras.Sequential([
        keras.Input((6, 6, 2)),
        layers.Conv2D(3, 3, use_bias=False),
        layers.BatchNormalization(),
        layers.Activation("relu"),
        layers.Flatten(),
        layers.Dense(4),
        layers.ReLU(),
        layers.Dense(2),
        layers.Activation("softmax"),
    ])


def layer_normalization():
    return keras.Sequential([
        keras.Input((4, 5)),
        layers.LayerNormalization(epsilon=1e-5),
        layers.Dense(3),
        layers.LayerNormalization(center=False),
    ])


def embedding_mask_zero():
    return keras.Sequential([
        keras.Input((6,), dtype="int32"),
        layers.Embedding(7, 3, mask_zero=True),
        layers.LSTM(4),
    ]), 7


def masking():
    return keras.Sequential([
        keras.Input((5, 3)),
        layers.Masking(),
        layers.GRU(3),
    ])


def multi_head_attention():
    x = keras.Input((5, 4))
    y = layers.MultiHeadAttention(2, 3)(x, x, use_causal_mask=True)
    y = layers.LayerNormalization()(y)
    y = layers.MultiHeadAttention(2, 2)(y, y)
    y = layers.GlobalAveragePooling1D()(y)
    return keras.Model(x, y)


def residual_blocks():
    """Keras' residual pattern, `Add([x, g(x)])`, with and without an `Activation` after it."""
    x = keras.Input((4,))
    h = layers.Dense(5, activation="tanh")(x)
    g = layers.Dense(5, activation="sigmoid")(h)
    g = layers.Dense(5)(g)
    h = layers.Add()([h, g])
    h = layers.Activation("tanh")(h)
    g = layers.Dense(5, activation="relu")(h)
    h = layers.Add()([g, h])
    y = layers.Dense(3, activation="softmax")(h)
    return keras.Model(x, y)


def added_branches():
    x = keras.Input((4,))
    a = layers.Dense(3, activation="tanh")(x)
    b = layers.Dense(3, activation="sigmoid")(x)
    c = layers.Dense(2, activation="tanh")(x)
    c = layers.Dense(3)(c)
    y = layers.Add()([a, b, c])
    y = layers.Dense(2, activation="softmax")(y)
    return keras.Model(x, y)


def concatenated_images():
    x = keras.Input((5, 5, 2))
    a = layers.Conv2D(2, 3, activation="tanh", padding="same")(x)
    b = layers.Conv2D(1, 1, activation="sigmoid")(x)
    b = layers.Conv2D(3, 3, activation="tanh", padding="same")(b)
    y = layers.Concatenate()([a, b])
    y = layers.Flatten()(y)
    y = layers.Dense(2, activation="sigmoid")(y)
    return keras.Model(x, y)


def nested_joins():
    """A residual block with batch normalization inside one branch of a `Concatenate`."""
    x = keras.Input((4,))
    h = layers.Dense(6, activation="tanh")(x)
    r = layers.Dense(6, use_bias=False)(h)
    r = layers.BatchNormalization()(r)
    r = layers.Add()([h, r])
    r = layers.ReLU()(r)
    b = layers.Dense(3, activation="tanh")(h)
    b = layers.BatchNormalization()(b)
    b = layers.Dense(2)(b)
    y = layers.Concatenate()([r, b])
    y = layers.Dense(2, activation="softmax")(y)
    return keras.Model(x, y)


def cross_attention():
    """`MultiHeadAttention` of a query branch over a value branch of one input, causal."""
    x = keras.Input((5, 4))
    q = layers.Dense(4, activation="tanh")(x)
    v = layers.Conv1D(3, 2)(x)
    y = layers.MultiHeadAttention(2, 3)(q, v, use_causal_mask=True)
    y = layers.MultiHeadAttention(2, 2)(y, y)
    y = layers.GlobalAveragePooling1D()(y)
    return keras.Model(x, y)


def cross_attention_with_keys():
    x = keras.Input((5, 4))
    h = layers.Dense(4, activation="tanh")(x)
    q = layers.Dense(4)(h)
    v = layers.Conv1D(3, 2)(h)
    k = layers.Conv1D(2, 2, activation="tanh")(h)
    y = layers.MultiHeadAttention(2, 3)(q, v, key=k)
    y = layers.Flatten()(y)
    return keras.Model(x, y)


def _keras_hub():
    """keras_hub, which the CI's venv lacks: its cases are skipped there (`HUB_CASES`)."""
    import keras_hub

    return keras_hub


def position_encodings():
    """keras_hub's encodings added as its models add them: `x + layer(x)`, as a `+` of tensors
    and as an `Add` layer."""
    hub = _keras_hub()
    x = keras.Input((5, 4))
    h = layers.Dense(4, activation="tanh")(x)
    h = h + hub.layers.PositionEmbedding(sequence_length=7)(h)
    h = layers.Add()([hub.layers.SinePositionEncoding(max_wavelength=100.0)(h), h])
    h = h + hub.layers.SinePositionEncoding()(h)
    y = layers.Dense(3, activation="tanh")(h)
    return keras.Model(x, y)


def transformer_post_norm():
    """keras_hub's `TransformerEncoder` (post-norm, its default) after a learned position
    embedding, then one more encoder of gelu, and a pool."""
    hub = _keras_hub()
    x = keras.Input((5, 8))
    h = x + hub.layers.PositionEmbedding(sequence_length=5)(x)
    h = hub.layers.TransformerEncoder(intermediate_dim=12, num_heads=2)(h)
    h = hub.layers.TransformerEncoder(intermediate_dim=6, num_heads=4, activation="gelu")(h)
    h = layers.GlobalAveragePooling1D()(h)
    y = layers.Dense(2, activation="softmax")(h)
    return keras.Model(x, y)


def transformer_pre_norm():
    """keras_hub's pre-norm `TransformerEncoder` (`normalize_first=True`) on embedded tokens,
    reading their padding mask; keras_hub's `SinePositionEncoding` after it drops the mask (it
    does not support masking), so the pool averages every step, in Keras as in netdsl."""
    hub = _keras_hub()
    x = keras.Input((6,), dtype="int32")
    h = layers.Embedding(9, 6, mask_zero=True)(x)
    h = hub.layers.TransformerEncoder(intermediate_dim=10, num_heads=3, activation="silu", normalize_first=True)(h)
    h = h + hub.layers.SinePositionEncoding()(h)
    h = layers.LayerNormalization(epsilon=1e-5)(h)
    h = layers.GlobalAveragePooling1D()(h)
    y = layers.Dense(2)(h)
    return keras.Model(x, y), 9


# The cases of keras_hub's layers, skipped where keras_hub is not installed.
HUB_CASES = {"PositionEncoded", "TransformerPostNorm", "TransformerPreNorm"}

CASES = [
    ("Mlp", dense),
    ("Conv2dPools", conv2d_pools),
    ("Conv2dStrided", conv2d_strided_global_pools),
    ("PaddedUpSampled", global_max_pooling2d),
    ("ReshapeDropout", reshape_dropout),
    ("SimpleRnnStack", simple_rnn),
    ("LstmStack", lstm),
    ("GruStack", gru),
    ("BidirectionalStack", bidirectional),
    ("Conv1dGlobalMax", conv1d_global_pools),
    ("Conv1dGlobalAverage", conv1d_average),
    ("BatchNormalized", batch_normalization),
    ("LayerNormalized", layer_normalization),
    ("EmbeddedMaskZero", embedding_mask_zero),
    ("MaskedGru", masking),
    ("SelfAttention", multi_head_attention),
    ("FoldedActivations", folded_activations),
    ("ResidualBlocks", residual_blocks),
    ("AddedBranches", added_branches),
    ("ConcatenatedImages", concatenated_images),
    ("NestedJoins", nested_joins),
    ("CrossAttended", cross_attention),
    ("CrossAttendedWithKeys", cross_attention_with_keys),
    ("PositionEncoded", position_encodings),
    ("TransformerPostNorm", transformer_post_norm),
    ("TransformerPreNorm", transformer_pre_norm),
]
