"""Keras 3 -> netdsl: a model's `network!` declaration and its weights under netdsl's names."""

from dataclasses import dataclass, field

import numpy as np

from .files import save_safetensors
from .names import KINDS, TRANSFORMER_FIELDS, Numbering, weight_name

__all__ = ["UnsupportedLayer", "Converted", "keras_to_netdsl", "ACTIVATIONS"]

# The activations netdsl's DSL has under the names Keras' configs give them (`gelu` is Keras'
# exact gelu, netdsl's `gelu`; netdsl's `gelu_tanh` is Keras' `gelu(approximate=True)`, which a
# layer's config cannot name).
ACTIVATIONS = {
    "relu", "relu6", "leaky_relu", "elu", "celu", "selu", "sigmoid", "hard_sigmoid",
    "sparse_sigmoid", "log_sigmoid", "tanh", "hard_tanh", "tanh_shrink", "softplus",
    "sparse_plus", "squareplus", "softsign", "soft_shrink", "hard_shrink", "exponential",
    "silu", "swish", "hard_silu", "hard_swish", "gelu", "mish", "softmax", "log_softmax",
    "linear",
}


class UnsupportedLayer(ValueError):
    """A layer netdsl has no kind for, or a setting of a layer netdsl's kind does not have. The
    message names the layer (Keras' name and class) and what is unsupported."""


@dataclass
class Converted:
    """A Keras model as netdsl sees it.

    - `declaration`: the `network!` invocation (`network! { pub struct Mnist<784 => ...>; }`)
    - `chain`: the declaration's chain alone (`784 => Dense(64, relu) => Dense(10, softmax)`)
    - `tensors`: every weight under its netdsl name (`dense_1.kernel`), float32, Keras' shape
    - `fields`: netdsl's field of each Keras layer with weights, by Keras name
    """

    name: str
    chain: str
    tensors: dict
    fields: dict = field(default_factory=dict)

    @property
    def declaration(self):
        return f"network! {{\n    pub struct {self.name}<{self.chain}>;\n}}\n"

    def save(self, weights_path, declaration_path=None):
        """Writes the weights as the safetensors file `load_weights` reads, and the declaration
        (a Rust file to `include!` or paste) if a path is given."""
        save_safetensors(weights_path, self.tensors, {"netdsl": self.chain})
        if declaration_path is not None:
            with open(declaration_path, "w") as file:
                file.write(self.declaration)


def _unsupported(layer, reason):
    return UnsupportedLayer(f"layer `{layer.name}` ({type(layer).__name__}): {reason}")


def _number(value):
    """A float as the DSL reads it: `0.5`, `0.001`, `1e-05`."""
    text = repr(float(value))
    return text if ("." in text or "e" in text or "inf" in text or "nan" in text) else text + ".0"


def _activation(layer, config):
    name = config.get("activation", "linear")
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise _unsupported(layer, f"activation {name!r}; netdsl has {', '.join(sorted(ACTIVATIONS))}")
    return name


def _square(layer, key, value):
    value = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(set(value)) != 1:
        raise _unsupported(layer, f"`{key}` {value}: netdsl takes one size for both axes")
    return value[0]


def _require(layer, config, **expected):
    for key, want in expected.items():
        if key in config and config[key] != want:
            raise _unsupported(layer, f"`{key}={config[key]!r}`: netdsl supports only `{key}={want!r}`")


def _call(keyword, positional=(), options=()):
    """`Keyword(a, b, key = value)`, or the bare keyword without arguments."""
    parts = [str(p) for p in positional] + [f"{k} = {v}" for k, v in options]
    return f"{keyword}({', '.join(parts)})" if parts else keyword


def _dense(layer, c):
    options = [] if c["use_bias"] else [("bias", "false")]
    act = _activation(layer, c)
    return _call("Dense", [c["units"]] + ([act] if act != "linear" else []), options)


def _conv2d(layer, c):
    _require(layer, c, data_format="channels_last", groups=1)
    if _square(layer, "dilation_rate", c["dilation_rate"]) != 1:
        raise _unsupported(layer, "`dilation_rate` above 1: netdsl's Conv2d has none")
    kernel = _square(layer, "kernel_size", c["kernel_size"])
    stride = _square(layer, "strides", c["strides"])
    if c["padding"] not in ("valid", "same"):
        raise _unsupported(layer, f"`padding={c['padding']!r}`")
    act = _activation(layer, c)
    options = []
    if stride != 1:
        options.append(("stride", stride))
    if c["padding"] == "same":
        options.append(("padding", "same"))
    if not c["use_bias"]:
        options.append(("bias", "false"))
    return _call("Conv2d", [c["filters"], kernel] + ([act] if act != "linear" else []), options)


def _conv1d(layer, c):
    _require(layer, c, data_format="channels_last", groups=1)
    kernel = _square(layer, "kernel_size", c["kernel_size"])
    stride = _square(layer, "strides", c["strides"])
    dilation = _square(layer, "dilation_rate", c["dilation_rate"])
    act = _activation(layer, c)
    options = []
    if stride != 1:
        options.append(("strides", stride))
    if c["padding"] != "valid":
        options.append(("padding", c["padding"]))
    if dilation != 1:
        options.append(("dilation_rate", dilation))
    if not c["use_bias"]:
        options.append(("bias", "false"))
    return _call("Conv1D", [c["filters"], kernel] + ([act] if act != "linear" else []), options)


def _pool(keyword):
    def convert(layer, c):
        _require(layer, c, data_format="channels_last", padding="valid")
        size = _square(layer, "pool_size", c["pool_size"])
        stride = _square(layer, "strides", c["strides"] if c["strides"] is not None else size)
        return _call(keyword, [size], [("stride", stride)] if stride != size else [])

    return convert


def _bare(keyword):
    def convert(layer, c):
        if c.get("keepdims"):
            raise _unsupported(layer, "`keepdims=True`")
        _require(layer, c, data_format="channels_last")
        return keyword

    return convert


def _reshape(layer, c):
    return _call("Reshape", list(c["target_shape"]))


def _dropout(layer, c):
    if c.get("noise_shape") is not None:
        raise _unsupported(layer, "`noise_shape`")
    return _call("Dropout", [_number(c["rate"])])


def _normalization_axis(layer, c):
    axis = c["axis"]
    axis = axis if isinstance(axis, (list, tuple)) else [axis]
    rank = len(layer.input.shape)
    if [a % rank for a in axis] != [rank - 1]:
        raise _unsupported(layer, f"`axis={c['axis']!r}`: netdsl normalizes the last axis")


def _batch_normalization(layer, c):
    _normalization_axis(layer, c)
    if c.get("renorm") or c.get("synchronized"):
        raise _unsupported(layer, "`renorm` or `synchronized`")
    act = _activation(layer, c)
    options = []
    if c["momentum"] != 0.99:
        options.append(("momentum", _number(c["momentum"])))
    if c["epsilon"] != 1e-3:
        options.append(("epsilon", _number(c["epsilon"])))
    if not c["center"]:
        options.append(("center", "false"))
    if not c["scale"]:
        options.append(("scale", "false"))
    return _call("BatchNormalization", [act] if act != "linear" else [], options)


def _layer_normalization(layer, c):
    _normalization_axis(layer, c)
    if c.get("rms_scaling"):
        raise _unsupported(layer, "`rms_scaling=True`")
    act = _activation(layer, c)
    options = []
    if c["epsilon"] != 1e-3:
        options.append(("epsilon", _number(c["epsilon"])))
    if not c["center"]:
        options.append(("center", "false"))
    if not c["scale"]:
        options.append(("scale", "false"))
    return _call("LayerNormalization", [act] if act != "linear" else [], options)


def _masking(layer, c):
    value = float(c["mask_value"])
    return _call("Masking", [], [("mask_value", _number(value))] if value != 0.0 else [])


def _recurrent(keyword):
    def convert(layer, c):
        for key in ("return_state", "go_backwards", "stateful"):
            if c.get(key):
                raise _unsupported(layer, f"`{key}=True`")
        if c.get("dropout") or c.get("recurrent_dropout"):
            raise _unsupported(layer, "`dropout` or `recurrent_dropout`: netdsl's recurrent layers have none")
        positional = [c["units"]]
        if keyword == "SimpleRNN":
            act = _activation(layer, c)
            if act != "tanh":
                positional.append(act)
        else:
            _require(layer, c, activation="tanh", recurrent_activation="sigmoid")
            if keyword == "GRU":
                _require(layer, c, reset_after=True)
        options = []
        if not c["use_bias"]:
            options.append(("bias", "false"))
        if c["return_sequences"]:
            options.append(("return_sequences", "true"))
        if c.get("zero_output_for_mask"):
            options.append(("zero_output_for_mask", "true"))
        return _call(keyword, positional, options)

    return convert


def _zero_padding(layer, c):
    _require(layer, c, data_format="channels_last")
    (top, bottom), (left, right) = c["padding"]
    return f"ZeroPadding2D((({top}, {bottom}), ({left}, {right})))"


def _up_sampling(layer, c):
    _require(layer, c, data_format="channels_last", interpolation="nearest")
    rows, columns = c["size"]
    return f"UpSampling2D(({rows}, {columns}))"


def _embedding(layer, c):
    options = [("mask_zero", "true")] if c["mask_zero"] else []
    return _call("Embedding", [c["input_dim"], c["output_dim"]], options)


def _multi_head_attention(layer, c, causal=False):
    if c["value_dim"] not in (None, c["key_dim"]):
        raise _unsupported(layer, "`value_dim` unlike `key_dim`")
    if c.get("output_shape") is not None or not c["use_bias"] or c.get("dropout"):
        raise _unsupported(layer, "`output_shape`, `use_bias=False` or `dropout`")
    if c.get("use_gate") or c.get("sliding_window") is not None:
        raise _unsupported(layer, "`use_gate` or `sliding_window`")
    axes = c.get("attention_axes")
    if axes is not None and tuple(axes) != (1,):
        raise _unsupported(layer, f"`attention_axes={axes!r}`")
    options = [("heads", c["num_heads"]), ("key_dim", c["key_dim"])]
    if causal:
        options.append(("causal", "true"))
    return _call("MultiHeadAttention", [], options)


# keras_hub's layers netdsl has: the two encodings of positions its models add to their input
# (`x + PositionEmbedding(sequence_length=L)(x)`, which netdsl's layer of that name computes,
# addition included) and `TransformerEncoder`, which netdsl writes out as the layers it is made
# of (netdsl-macros/src/layers/transformer_encoder.rs).
ADDED_ENCODINGS = {"PositionEmbedding", "SinePositionEncoding"}


def _added_encoding(add, inputs):
    """The encoding layer of `add` if it is `x + encoding(x)` (the `+` of tensors or Keras'
    `Add` layer), else `None`."""
    if len(inputs) != 2:
        return None
    for x, encoded in (inputs, inputs[::-1]):
        layer, node = _producer(encoded)
        sources = list(node.input_tensors)
        if type(layer).__name__ in ADDED_ENCODINGS and len(sources) == 1 and sources[0] is x:
            return layer
    return None


def _position_embedding(layer, c):
    return _call("PositionEmbedding", [], [("sequence_length", c["sequence_length"])])


def _sine_position_encoding(layer, c):
    wavelength = float(c["max_wavelength"])
    return _call("SinePositionEncoding", [], [("max_wavelength", _number(wavelength))] if wavelength != 10000.0 else [])


def _transformer_encoder(layer, c):
    if c.get("dropout"):
        raise _unsupported(layer, f"`dropout={c['dropout']!r}`: netdsl's TransformerEncoder has no dropout")
    if c["layer_norm_epsilon"] != 1e-5:
        raise _unsupported(layer, f"`layer_norm_epsilon={c['layer_norm_epsilon']!r}`: netdsl's TransformerEncoder normalizes with 1e-5")
    act = _activation(layer, c)
    options = [("heads", c["num_heads"]), ("ff", c["intermediate_dim"])]
    text = ", ".join(f"{k} = {v}" for k, v in options)
    if act != "relu":
        text += f", {act}"
    if c["normalize_first"]:
        text += ", norm = pre"
    return f"TransformerEncoder({text})"


def _transformer_parts(layer):
    """keras_hub's encoder's sub-layers in the order netdsl numbers its expanded fields, each
    with its field prefix."""
    parts = {
        "attention": layer._self_attention_layer,
        "attention_norm": layer._self_attention_layer_norm,
        "feedforward_norm": layer._feedforward_layer_norm,
        "intermediate": layer._feedforward_intermediate_dense,
        "output": layer._feedforward_output_dense,
    }
    return [(prefix, parts.get(part)) for prefix, part in TRANSFORMER_FIELDS[bool(layer.normalize_first)]]


CONVERTERS = {
    "Dense": _dense,
    "Conv2D": _conv2d,
    "Conv1D": _conv1d,
    "MaxPooling2D": _pool("MaxPool2d"),
    "AveragePooling2D": _pool("AvgPool2d"),
    "Flatten": _bare("Flatten"),
    "Reshape": _reshape,
    "Dropout": _dropout,
    "BatchNormalization": _batch_normalization,
    "LayerNormalization": _layer_normalization,
    "Masking": _masking,
    "SimpleRNN": _recurrent("SimpleRNN"),
    "LSTM": _recurrent("LSTM"),
    "GRU": _recurrent("GRU"),
    "GlobalAveragePooling1D": _bare("GlobalAveragePooling1D"),
    "GlobalMaxPooling1D": _bare("GlobalMaxPooling1D"),
    "GlobalAveragePooling2D": _bare("GlobalAveragePooling2D"),
    "GlobalMaxPooling2D": _bare("GlobalMaxPooling2D"),
    "ZeroPadding2D": _zero_padding,
    "UpSampling2D": _up_sampling,
    "Embedding": _embedding,
    "PositionEmbedding": _position_embedding,
    "SinePositionEncoding": _sine_position_encoding,
}


# The kinds that take an activation, into which an `Activation` layer after them is folded.
FOLDS_ACTIVATION = {"Dense", "Conv2D", "Conv1D", "BatchNormalization", "LayerNormalization"}


def _input_text(shape):
    if any(d is None for d in shape):
        raise UnsupportedLayer(f"the input's shape {tuple(shape)} has a size left open; netdsl needs every size")
    if not 1 <= len(shape) <= 3:
        raise UnsupportedLayer(f"an input of rank {len(shape)}; netdsl takes 1 to 3 axes after the batch")
    return str(shape[0]) if len(shape) == 1 else "(" + ", ".join(str(d) for d in shape) + ")"


# Keras' merging layers and the netdsl join each becomes.
MERGES = {"Add": "Add", "Concatenate": "Concatenate"}


@dataclass
class _Join:
    """A join of the graph: `keyword` (`Add`, `Concatenate`, `Residual`, `CrossAttention`), the
    Keras layer doing it and its branches, each a list of layers and joins."""

    keyword: str
    layer: object
    branches: list
    causal: bool = False


def _producer(tensor):
    """The layer that made `tensor` and its one call's input tensors."""
    layer, node_index, _ = tensor._keras_history
    return layer, layer._inbound_nodes[node_index]


def _ancestors(tensor, memo):
    """The ids of `tensor` and of every tensor it is computed from."""
    key = id(tensor)
    if key not in memo:
        layer, node = _producer(tensor)
        found = {key}
        for source in node.input_tensors:
            found |= _ancestors(source, memo)
        memo[key] = found
    return memo[key]


def _fork(inputs, memo, tensors):
    """The nearest tensor all of `inputs` are computed from: where their branches part."""
    common = set.intersection(*(_ancestors(t, memo) for t in inputs))
    return tensors[max(common, key=lambda key: len(memo[key]))]


def _graph(model):
    """The model as netdsl's chain: a list of layers and `_Join`s from the input to the output,
    each branch of a join a list of the same from the tensor where the branches part. Refuses,
    naming the layer, a graph that is not made of chains, `Add`, `Concatenate` and attention of
    one input's branches."""
    import keras

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if isinstance(model, keras.Sequential):
        return layers
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UnsupportedLayer(f"model `{model.name}` has {len(model.inputs)} inputs and {len(model.outputs)} outputs; the converter reads one input's chains and joins, and one output")
    for layer in layers:
        nodes = [n for n in layer._inbound_nodes if n.input_tensors]
        if len(nodes) != 1:
            raise _unsupported(layer, f"called {len(nodes)} times; netdsl's layers are each called once (no shared layers)")
    memo, tensors, seen = {}, {}, set()

    def remember(tensor):
        if id(tensor) in tensors:
            return
        tensors[id(tensor)] = tensor
        layer, node = _producer(tensor)
        for source in node.input_tensors:
            remember(source)

    remember(model.outputs[0])
    start = model.inputs[0]

    def walk(tensor, stop):
        items = []
        while tensor is not stop:
            layer, node = _producer(tensor)
            if isinstance(layer, keras.layers.InputLayer):
                raise UnsupportedLayer(f"model `{model.name}`: a branch does not start from the tensor its join's other branches start from")
            seen.add(id(layer))
            kind = type(layer).__name__
            inputs = list(node.input_tensors)
            encoding = _added_encoding(layer, inputs) if kind == "Add" else None
            if encoding is not None:
                # keras_hub's `x + PositionEmbedding(..)(x)`: netdsl's layer does the addition.
                seen.add(id(encoding))
                items.append(encoding)
                (tensor,) = encoding._inbound_nodes[0].input_tensors
                continue
            if kind in MERGES:
                if kind == "Concatenate" and layer.axis not in (-1, len(tensor.shape) - 1):
                    raise _unsupported(layer, f"`axis={layer.axis}`: netdsl's `Concatenate` joins along the last axis")
                fork = _fork(inputs, memo, tensors)
                branches = [walk(t, fork) for t in inputs]
                empty = [i for i, b in enumerate(branches) if not b]
                if kind == "Add" and len(branches) == 2 and len(empty) == 1:
                    branch = branches[1 - empty[0]]
                    items.append(_Join("Residual", layer, [branch]))
                elif empty:
                    raise _unsupported(layer, f"its input {empty[0] + 1} is the tensor its branches part from; netdsl's `{kind}` joins branches of one or more layers each (a block adding its input to one chain's output is `Residual`)")
                else:
                    items.append(_Join(MERGES[kind], layer, branches))
                tensor = fork
            elif kind == "MultiHeadAttention":
                args, kwargs = node.arguments.args, node.arguments.kwargs
                query = args[0] if args else kwargs["query"]
                value = args[1] if len(args) > 1 else kwargs["value"]
                key = args[2] if len(args) > 2 else kwargs.get("key")
                if kwargs.get("return_attention_scores"):
                    raise _unsupported(layer, "`return_attention_scores=True`: netdsl's attention gives its output alone")
                for setting in ("query_mask", "value_mask", "key_mask", "attention_mask"):
                    if kwargs.get(setting) is not None:
                        raise _unsupported(layer, f"called with `{setting}`; netdsl's attention takes the masks its input carries")
                causal = bool(kwargs.get("use_causal_mask"))
                if value is query and (key is None or key is query):
                    items.append(layer)
                    tensor = query
                    continue
                parts = [query, value] + ([key] if key is not None else [])
                fork = _fork(parts, memo, tensors)
                branches = [walk(t, fork) for t in parts]
                if any(not b for b in branches):
                    raise _unsupported(layer, "its query, value or key is the tensor the others branch from; netdsl's `CrossAttention` reads branches of one or more layers each")
                items.append(_Join("CrossAttention", layer, branches, causal))
                tensor = fork
            else:
                if kind in ADDED_ENCODINGS:
                    raise _unsupported(layer, "netdsl's layer adds the encoding to its input: expected `x + layer(x)` (or `Add()([x, layer(x)])`), as keras_hub's models use it")
                if kind == "TransformerEncoder":
                    for setting in ("padding_mask", "attention_mask"):
                        if node.arguments.kwargs.get(setting) is not None:
                            raise _unsupported(layer, f"called with `{setting}`; netdsl's encoder takes the mask its input carries")
                    if node.arguments.kwargs.get("return_attention_scores"):
                        raise _unsupported(layer, "`return_attention_scores=True`: netdsl's encoder gives its output alone")
                if len(inputs) != 1:
                    raise _unsupported(layer, f"takes {len(inputs)} tensors; netdsl joins branches with `Add`, `Concatenate` and attention")
                items.append(layer)
                (tensor,) = inputs
        items.reverse()
        return items

    chain = walk(model.outputs[0], start)
    left = [layer.name for layer in layers if id(layer) not in seen]
    if left:
        raise UnsupportedLayer(f"model `{model.name}`: layers {', '.join(left)} do not lead to its output")
    return chain


def keras_to_netdsl(model, name="Net"):
    """Converts a Keras 3 model (a `keras.Sequential`, or a functional model of chains whose
    branches part from one tensor and meet in `Add`, `Concatenate` or `MultiHeadAttention`, and
    keras_hub's `TransformerEncoder` and position encodings added to their input) to
    netdsl: returns a [`Converted`] with the `network!` declaration of the struct `name` and
    the weights under netdsl's names.

    Raises `UnsupportedLayer` naming the first layer netdsl has no kind for, or a setting its
    kind lacks (e.g. `layer `conv2d` (Conv2D): `dilation_rate` above 1`).
    """
    import keras

    if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        model = keras.saving.load_model(model, compile=False)
    try:
        built = bool(model.inputs)
    except (AttributeError, ValueError):
        built = False
    if not built:
        raise UnsupportedLayer(f"model `{model.name}` is not built: give it a `keras.Input` so that its shapes are known")
    graph = _graph(model)
    numbering = Numbering()
    tensors = {}
    fields = {}

    def take(prefix, layer, name=None):
        name = name or numbering.next(prefix)
        for variable in layer.weights:
            tensors[weight_name(name, layer, variable)] = np.asarray(
                keras.ops.convert_to_numpy(variable.value), dtype=np.float32
            )
        if layer.weights:
            fields.setdefault(layer.name, []).append(name)
        return name

    def convert(items):
        """The DSL text of each layer and join of `items`, numbering their fields in the order
        the declaration lists them (a join's own field, then its branches' layers)."""
        chain = []
        # The layer an `Activation` after it may fold into: (its kind, the layer, its config),
        # or for a residual block ("Residual", the join, its activation).
        foldable = None
        for layer in items:
            if isinstance(layer, _Join):
                join = layer
                field_name = numbering.next(JOIN_FIELDS[join.keyword])
                if join.keyword == "CrossAttention":
                    config = join.layer.get_config()
                    attention = _multi_head_attention(join.layer, config, join.causal)
                    take(None, join.layer, field_name)
                    branches = [" => ".join(convert(branch)) for branch in join.branches]
                    options = attention[len("MultiHeadAttention("):-1]
                    chain.append(f"CrossAttention({', '.join(branches)}, {options})")
                    foldable = None
                else:
                    branches = [" => ".join(convert(branch)) for branch in join.branches]
                    chain.append(f"{join.keyword}({', '.join(branches)})")
                    foldable = ("Residual", branches, "linear") if join.keyword == "Residual" else None
                continue
            kind = type(layer).__name__
            config = layer.get_config()
            if kind in ("Activation", "ReLU"):
                if kind == "ReLU" and (config.get("max_value") is not None or config.get("negative_slope")
                                       or config.get("threshold")):
                    raise _unsupported(layer, "`max_value`, `negative_slope` or `threshold`: netdsl's `relu` has none")
                activation = "relu" if kind == "ReLU" else config["activation"]
                if foldable is not None and foldable[0] == "Residual" and foldable[2] == "linear":
                    _activation(layer, {"activation": activation})
                    chain[-1] = f"Residual({foldable[1][0]}, {activation})" if activation != "linear" else chain[-1]
                    foldable = ("Residual", foldable[1], activation)
                    continue
                if foldable is None or foldable[0] == "Residual" or foldable[2].get("activation", "linear") != "linear":
                    raise _unsupported(
                        layer,
                        "netdsl has no activation layer: it folds one into the Dense, Conv2D, Conv1D, "
                        "BatchNormalization, LayerNormalization or residual block right before it, whose own activation must be linear",
                    )
                inner_kind, inner, inner_config = foldable
                inner_config = {**inner_config, "activation": activation}
                chain[-1] = CONVERTERS[inner_kind](inner, inner_config)
                foldable = (inner_kind, inner, inner_config)
                continue
            foldable = (kind, layer, config) if kind in FOLDS_ACTIVATION else None
            if kind == "Bidirectional":
                if config["merge_mode"] != "concat":
                    raise _unsupported(layer, f"`merge_mode={config['merge_mode']!r}`: netdsl concatenates")
                inner = layer.forward_layer
                inner_kind = type(inner).__name__
                if inner_kind not in ("SimpleRNN", "LSTM", "GRU"):
                    raise _unsupported(layer, f"wraps {inner_kind}; netdsl's Bidirectional wraps SimpleRNN, LSTM or GRU")
                # Keras' Bidirectional sets `zero_output_for_mask` on the layers it wraps when they
                # return sequences; netdsl's Bidirectional does the same, so it is not written.
                text = CONVERTERS[inner_kind](inner, {**inner.get_config(), "zero_output_for_mask": False})
                backward = layer.backward_layer
                backward_config = {**backward.get_config(), "go_backwards": False, "zero_output_for_mask": False}
                if CONVERTERS[inner_kind](backward, backward_config) != text:
                    raise _unsupported(layer, "its backward layer differs from its forward layer")
                # netdsl numbers the join's own field (`bidirectional_1`, no weights), then its two lines.
                numbering.next("bidirectional")
                prefix = KINDS[inner_kind][1]
                take(prefix, inner)
                take(prefix, backward)
                fields[layer.name] = fields.pop(inner.name) + fields.pop(backward.name)
                chain.append(f"Bidirectional({text})")
            elif kind == "MultiHeadAttention":
                chain.append(_multi_head_attention(layer, config, _causal(layer)))
                take(KINDS[kind][1], layer)
            elif kind == "TransformerEncoder":
                chain.append(_transformer_encoder(layer, config))
                names = []
                for prefix, part in _transformer_parts(layer):
                    field_name = numbering.next(prefix)
                    if part is not None:
                        take(None, part, field_name)
                        fields.pop(part.name)
                        names.append(field_name)
                fields[layer.name] = names
            elif kind in CONVERTERS:
                chain.append(CONVERTERS[kind](layer, config))
                take(KINDS[kind][1], layer)
            elif kind == "InputLayer":
                continue
            else:
                raise _unsupported(layer, f"netdsl has no such layer; it has {', '.join(sorted(KINDS))}, and joins of branches with Add, Concatenate and MultiHeadAttention")
        return chain

    chain = [_input_text(model.inputs[0].shape[1:])] + convert(graph)
    return Converted(name=name, chain=" => ".join(chain), tensors=tensors, fields=fields)


# The field prefix netdsl gives each join (netdsl-macros/src/layers/join.rs, `field`).
JOIN_FIELDS = {"Add": "add", "Concatenate": "concatenate", "Residual": "residual",
               "CrossAttention": "multi_head_attention", "Bidirectional": "bidirectional"}


def _causal(layer):
    """Whether a functional model calls the attention layer with `use_causal_mask=True`."""
    nodes = [n for n in layer._inbound_nodes if n.input_tensors]
    return bool(nodes) and bool(nodes[0].arguments.kwargs.get("use_causal_mask"))
