"""netdsl -> Keras 3: reads a `network!` declaration and builds the Keras model it describes,
each layer named as its netdsl field (`dense_1`), so that the weights netdsl saves load by name.
"""

import re
from dataclasses import dataclass, field

import numpy as np

from .files import load_safetensors
from .names import KINDS, TRANSFORMER_FIELDS, Numbering, weight_name

__all__ = ["DeclarationError", "Layer", "Network", "parse_declaration", "netdsl_to_keras", "load_netdsl_weights"]

# DSL keyword (and alias) -> Keras class name
KEYWORDS = {keyword: kind for kind, (keyword, _) in KINDS.items()}
KEYWORDS["BatchNorm"] = "BatchNormalization"
KEYWORDS["LayerNorm"] = "LayerNormalization"
# netdsl's joins of branches: each Keras' merge or attention layer, the branches its inputs.
JOINS = ("Add", "Concatenate", "Residual", "CrossAttention")
# The field prefix netdsl gives each join (netdsl-macros/src/layers/join.rs, `field`).
JOIN_FIELDS = {"Add": "add", "Concatenate": "concatenate", "Residual": "residual",
               "CrossAttention": "multi_head_attention"}


class DeclarationError(ValueError):
    """A declaration the converter cannot read, or a netdsl construct it has no Keras layer for
    (named user layers); the message says which."""


@dataclass
class Layer:
    """One layer of a declaration: its keyword, positional arguments and options as written
    (numbers, identifiers as strings, tuples, and for `Bidirectional` the wrapped `Layer`). A
    join's (`Add`, `Concatenate`, `Residual`, `CrossAttention`) positional arguments are its
    branches, each a list of `Layer`s, and for `Residual` an activation's name last."""

    keyword: str
    positional: list = field(default_factory=list)
    options: dict = field(default_factory=dict)

    @property
    def kind(self):
        """Keras' class name of the layer (`Conv2D` for `Conv2d`), or the join's keyword."""
        return self.keyword if self.keyword in JOINS else KEYWORDS[self.keyword]


@dataclass
class Network:
    """A parsed declaration: its name, its input's shape and its layers."""

    name: str
    input: tuple
    layers: list


_TOKEN = re.compile(
    r"\s*(?:(?P<arrow>=>)|(?P<number>-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?(?:_?f32|_?f64|_?usize)?)"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[(),=]))"
)


def _tokens(text):
    position, tokens = 0, []
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise DeclarationError(f"unexpected `{text[position:position + 20].strip()}` in the declaration")
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "number":
            value = re.sub(r"_?(f32|f64|usize)$", "", value)
            value = float(value) if any(c in value for c in ".eE") else int(value)
        tokens.append((kind, value))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens):
        self.tokens = tokens
        self.at = 0

    def peek(self):
        return self.tokens[self.at] if self.at < len(self.tokens) else (None, None)

    def take(self, kind=None, value=None):
        token = self.peek()
        if token[0] is None or (kind and token[0] != kind) or (value is not None and token[1] != value):
            want = value or kind
            raise DeclarationError(f"expected `{want}`, found `{token[1]}` in the declaration")
        self.at += 1
        return token[1]

    def value(self):
        kind, value = self.peek()
        if kind == "number":
            return self.take()
        if (kind, value) == ("punct", "("):
            self.take()
            items = [self.value()]
            while self.peek() == ("punct", ","):
                self.take()
                if self.peek() == ("punct", ")"):
                    break
                items.append(self.value())
            self.take("punct", ")")
            return tuple(items)
        if kind == "ident":
            if self.at + 1 < len(self.tokens) and self.tokens[self.at + 1] == ("punct", "(") and value in KEYWORDS:
                return self.layer()
            self.take()
            return value
        raise DeclarationError(f"expected a value, found `{value}` in the declaration")

    def chain(self):
        """`Layer => Layer => ...`: a branch of a join."""
        layers = [self.layer()]
        while self.peek()[0] == "arrow":
            self.take()
            layers.append(self.layer())
        return layers

    def layer(self):
        keyword = self.take("ident")
        if keyword not in KEYWORDS and keyword not in JOINS:
            raise DeclarationError(
                f"`{keyword}`: netdsl_keras builds {', '.join(sorted(KEYWORDS))} and the joins "
                f"{', '.join(JOINS)}; named layers have no Keras counterpart here"
            )
        layer = Layer(keyword)
        if keyword in JOINS:
            self.take("punct", "(")
            while self.peek() != ("punct", ")"):
                kind, value = self.peek()
                if kind == "ident" and self.at + 1 < len(self.tokens) and self.tokens[self.at + 1] == ("punct", "="):
                    self.take()
                    self.take("punct", "=")
                    layer.options[value] = self.value()
                elif kind == "ident" and (value in KEYWORDS or value in JOINS):
                    layer.positional.append(self.chain())
                else:
                    layer.positional.append(self.take("ident"))
                if self.peek() != ("punct", ")"):
                    self.take("punct", ",")
            self.take("punct", ")")
            return layer
        if self.peek() == ("punct", "("):
            self.take()
            while self.peek() != ("punct", ")"):
                kind, value = self.peek()
                if kind == "ident" and self.at + 1 < len(self.tokens) and self.tokens[self.at + 1] == ("punct", "="):
                    self.take()
                    self.take("punct", "=")
                    layer.options[value] = self.value()
                else:
                    layer.positional.append(self.value())
                if self.peek() != ("punct", ")"):
                    self.take("punct", ",")
            self.take("punct", ")")
        return layer


def parse_declaration(text, name=None):
    """Parses a `network!` invocation (or the chain alone, `784 => Dense(10, softmax)`) into a
    [`Network`]. With several networks in `text`, `name` picks one (the first otherwise)."""
    text = re.sub(r"//[^\n]*", "", text)
    found = re.findall(r"struct\s+(\w+)\s*<(.*?)>\s*;", text, flags=re.S)
    if found:
        by_name = dict(found)
        if name is not None and name not in by_name:
            raise DeclarationError(f"no network `{name}` in the declaration; found {', '.join(by_name)}")
        name, chain = (name, by_name[name]) if name else found[0]
    else:
        chain, name = text, name or "Net"
    tokens = _tokens(chain)
    parser = _Parser(tokens)
    shape = parser.value()
    shape = shape if isinstance(shape, tuple) else (shape,)
    if not all(isinstance(d, int) for d in shape):
        raise DeclarationError(f"the input {shape}: netdsl_keras needs literal sizes")
    layers = []
    while parser.peek()[0] is not None:
        parser.take("arrow")
        layers.append(parser.layer())
    return Network(name=name, input=shape, layers=layers)


def _activation(name):
    import keras

    if name == "gelu_tanh":
        return lambda x: keras.activations.gelu(x, approximate=True)
    return name


def _flag(layer, key, default):
    value = layer.options.get(key, "true" if default else "false")
    return value == "true"


def _keras_layer(layer, name):
    """The Keras layer for one netdsl layer, named `name`."""
    from keras import layers as k

    p, o = layer.positional, layer.options
    kind = layer.kind
    if kind == "Dense":
        return k.Dense(p[0], activation=_activation(p[1] if len(p) > 1 else "linear"), use_bias=_flag(layer, "bias", True), name=name)
    if kind in ("Conv2D", "Conv1D"):
        cls = k.Conv2D if kind == "Conv2D" else k.Conv1D
        extra = {"dilation_rate": o.get("dilation_rate", 1)} if kind == "Conv1D" else {}
        return cls(
            p[0], p[1], strides=o.get("stride", o.get("strides", 1)), padding=o.get("padding", "valid"),
            activation=_activation(p[2] if len(p) > 2 else "linear"), use_bias=_flag(layer, "bias", True),
            name=name, **extra,
        )
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        cls = k.MaxPooling2D if kind == "MaxPooling2D" else k.AveragePooling2D
        return cls(p[0], strides=o.get("stride", p[0]), name=name)
    if kind == "Reshape":
        dims = p[0] if len(p) == 1 and isinstance(p[0], tuple) else tuple(p)
        return k.Reshape(dims, name=name)
    if kind == "Dropout":
        return k.Dropout(p[0], name=name)
    if kind == "BatchNormalization":
        return k.BatchNormalization(
            momentum=o.get("momentum", 0.99), epsilon=o.get("epsilon", 1e-3), center=_flag(layer, "center", True),
            scale=_flag(layer, "scale", True), name=name,
        )
    if kind == "LayerNormalization":
        return k.LayerNormalization(
            epsilon=o.get("epsilon", 1e-3), center=_flag(layer, "center", True), scale=_flag(layer, "scale", True), name=name
        )
    if kind == "Masking":
        return k.Masking(mask_value=o.get("mask_value", 0.0), name=name)
    if kind in ("SimpleRNN", "LSTM", "GRU"):
        cls = getattr(k, kind)
        extra = {"activation": _activation(p[1])} if kind == "SimpleRNN" and len(p) > 1 else {}
        return cls(
            p[0], use_bias=_flag(layer, "bias", True), return_sequences=_flag(layer, "return_sequences", False),
            zero_output_for_mask=_flag(layer, "zero_output_for_mask", False), name=name, **extra,
        )
    if kind == "ZeroPadding2D":
        return k.ZeroPadding2D(p[0] if p else 1, name=name)
    if kind == "UpSampling2D":
        return k.UpSampling2D(p[0] if p else 2, name=name)
    if kind == "Embedding":
        return k.Embedding(p[0], p[1], mask_zero=_flag(layer, "mask_zero", False), name=name)
    if kind == "MultiHeadAttention":
        return k.MultiHeadAttention(o["heads"], o["key_dim"], name=name)
    if kind in ("Flatten", "GlobalAveragePooling1D", "GlobalMaxPooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling2D"):
        return getattr(k, kind)(name=name)
    raise DeclarationError(f"`{layer.keyword}` has no Keras layer in netdsl_keras")


def netdsl_to_keras(declaration, weights=None, name=None):
    """Builds the Keras 3 functional model of a netdsl declaration (the `network!` text, or a
    parsed [`Network`]), each layer named as netdsl names its field (`dense_1`; a
    `Bidirectional` layer `bidirectional_1`, its two layers as netdsl's two fields; `Add`,
    `Concatenate` and `Residual` as Keras' `Add` or `Concatenate` of their branches,
    `CrossAttention` as a `MultiHeadAttention` of its branches), and loads
    `weights` (a path to the safetensors file `save_weights` wrote, or a dict of tensors) if
    given."""
    import keras

    network = declaration if isinstance(declaration, Network) else parse_declaration(declaration, name)
    numbering = Numbering()
    tokens = bool(network.layers) and network.layers[0].kind == "Embedding"
    inputs = keras.Input(shape=network.input, dtype="int32" if tokens else "float32", name="input")
    y = _build_chain(inputs, network.layers, numbering)
    model = keras.Model(inputs, y, name=network.name)
    if weights is not None:
        load_netdsl_weights(model, weights)
    return model


def _build_chain(y, layers, numbering):
    """Calls the Keras layers of `layers` (a chain of the declaration) on `y`, naming each as
    netdsl names its field; a join's own field is numbered before its branches' layers, as
    netdsl numbers them."""
    import keras

    for layer in layers:
        if layer.kind in JOINS:
            y = _build_join(y, layer, numbering)
            continue
        if layer.kind == "Bidirectional":
            (inner,) = layer.positional
            if not isinstance(inner, Layer) or inner.kind not in ("SimpleRNN", "LSTM", "GRU"):
                raise DeclarationError("`Bidirectional` wraps one SimpleRNN, LSTM or GRU")
            wrapper_name = numbering.next("bidirectional")
            prefix = KINDS[inner.kind][1]
            forward_name, backward_name = numbering.next(prefix), numbering.next(prefix)
            forward = _keras_layer(inner, forward_name)
            backward = _keras_layer(inner, backward_name)
            backward = type(backward).from_config({**backward.get_config(), "go_backwards": True})
            wrapper = keras.layers.Bidirectional(forward, backward_layer=backward, name=wrapper_name)
            y = wrapper(y)
            continue
        if layer.kind == "TransformerEncoder":
            y = _transformer_encoder(layer, numbering)(y)
            continue
        field_name = numbering.next(KINDS[layer.kind][1])
        if layer.kind in ("PositionEmbedding", "SinePositionEncoding"):
            # keras_hub's layer gives the encoding, which netdsl's adds to its input.
            encoding = _hub_encoding(layer, field_name, y.shape[1])
            y = keras.layers.Add(name=f"{field_name}_add")([y, encoding(y)])
            continue
        keras_layer = _keras_layer(layer, field_name)
        if layer.kind == "MultiHeadAttention":
            y = keras_layer(y, y, use_causal_mask=_flag(layer, "causal", False))
        else:
            y = keras_layer(y)
        if layer.kind in ("BatchNormalization", "LayerNormalization") and layer.positional:
            # netdsl's normalization with an activation: Keras' layer, then an `Activation`.
            y = keras.layers.Activation(_activation(layer.positional[0]), name=f"{field_name}_activation")(y)
    return y


def _keras_hub(keyword):
    try:
        import keras_hub
    except ImportError as error:
        raise DeclarationError(f"`{keyword}` is keras_hub's layer: install keras-hub to build it") from error
    return keras_hub


def _hub_encoding(layer, name, steps):
    """keras_hub's `PositionEmbedding` or `SinePositionEncoding` of a netdsl layer of that name."""
    hub = _keras_hub(layer.keyword)
    o = layer.options
    if layer.positional:
        raise DeclarationError(f"`{layer.keyword}` takes options only")
    if layer.kind == "PositionEmbedding":
        return hub.layers.PositionEmbedding(sequence_length=o.get("sequence_length", steps), name=name)
    return hub.layers.SinePositionEncoding(max_wavelength=float(o.get("max_wavelength", 10000.0)), name=name)


def _transformer_encoder(layer, numbering):
    """keras_hub's `TransformerEncoder` of `TransformerEncoder(heads = H, ff = D, ..)`, named
    `transformer_encoder_<n>`; the netdsl fields its sub-layers' weights load from (the layers
    netdsl writes it out as, numbered as netdsl numbers them) are its `netdsl_fields`."""
    hub = _keras_hub(layer.keyword)
    o, p = layer.options, layer.positional
    if _flag(layer, "causal", False):
        raise DeclarationError("`TransformerEncoder(causal = true)`: keras_hub's TransformerEncoder has no causal mask")
    if "heads" not in o or "ff" not in o or len(p) > 1:
        raise DeclarationError("`TransformerEncoder` takes `heads`, `ff` and optionally an activation, `key_dim` and `norm`")
    pre = o.get("norm", "post") == "pre"
    fields = [(numbering.next(prefix), part) for prefix, part in TRANSFORMER_FIELDS[pre]]
    encoder = hub.layers.TransformerEncoder(
        intermediate_dim=o["ff"], num_heads=o["heads"], activation=_activation(p[0] if p else "relu"),
        normalize_first=pre, name=numbering.next("transformer_encoder"),
    )
    encoder.netdsl_fields = [field_name for field_name, part in fields if part is not None]
    return encoder


def _build_join(x, layer, numbering):
    """A join of branches from `x`: `Add` or `Concatenate` of the branches' outputs, `Residual`
    as `Add([x, chain(x)])` and its activation as an `Activation` layer, `CrossAttention` as a
    `MultiHeadAttention` called on the query, value (and key) branches."""
    import keras

    keyword = layer.keyword
    field_name = numbering.next(JOIN_FIELDS[keyword])
    branches = [p for p in layer.positional if isinstance(p, list)]
    names = [p for p in layer.positional if not isinstance(p, list)]
    if keyword == "CrossAttention":
        if not 2 <= len(branches) <= 3 or names:
            raise DeclarationError("`CrossAttention` takes a query branch, a value branch and optionally a key branch")
        o = layer.options
        attention = keras.layers.MultiHeadAttention(o["heads"], o["key_dim"], name=field_name)
        ends = [_build_chain(x, branch, numbering) for branch in branches]
        key = ends[2] if len(ends) == 3 else None
        return attention(ends[0], ends[1], key=key, use_causal_mask=_flag(layer, "causal", False))
    if layer.options:
        raise DeclarationError(f"`{keyword}` takes no options")
    if keyword == "Residual":
        if len(branches) != 1 or len(names) > 1:
            raise DeclarationError("`Residual` takes one chain and optionally an activation")
        y = keras.layers.Add(name=field_name)([x, _build_chain(x, branches[0], numbering)])
        if names and names[0] != "linear":
            # netdsl numbers the activation once the chain's layers are numbered.
            y = keras.layers.Activation(_activation(names[0]), name=numbering.next("activation"))(y)
        return y
    if len(branches) < 2 or names:
        raise DeclarationError(f"`{keyword}` joins two or more branches")
    ends = [_build_chain(x, branch, numbering) for branch in branches]
    merge = keras.layers.Add if keyword == "Add" else keras.layers.Concatenate
    return merge(name=field_name)(ends)


def load_netdsl_weights(model, weights):
    """Loads netdsl's weights (a safetensors path or a dict) into a model built by
    [`netdsl_to_keras`] (whose layers are named as netdsl's fields, a `Bidirectional` layer's
    forward and backward layers too), checking that every tensor is used and every shape
    agrees."""
    tensors = load_safetensors(weights)[0] if not isinstance(weights, dict) else dict(weights)
    import keras

    owners = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Bidirectional):
            # Keras renames the wrapped layers `forward_<name>` and `backward_<name>`.
            owners += [
                (layer.forward_layer.name.removeprefix("forward_"), layer.forward_layer),
                (layer.backward_layer.name.removeprefix("backward_"), layer.backward_layer),
            ]
        elif type(layer).__name__ == "TransformerEncoder":
            from .keras_to_netdsl import _transformer_parts

            parts = [part for _, part in _transformer_parts(layer) if part is not None]
            fields = getattr(layer, "netdsl_fields", None)
            if fields is None or len(fields) != len(parts):
                raise DeclarationError(f"layer `{layer.name}`: a TransformerEncoder not built by netdsl_to_keras")
            owners += list(zip(fields, parts))
        else:
            owners.append((layer.name, layer))
    used = set()
    for field_name, layer in owners:
        for variable in layer.weights:
            key = weight_name(field_name, layer, variable)
            if key not in tensors:
                raise DeclarationError(f"the weights have no tensor `{key}`")
            value = np.asarray(tensors[key], dtype=np.float32)
            if tuple(value.shape) != tuple(variable.shape):
                raise DeclarationError(f"`{key}`: the weights hold {tuple(value.shape)}, the layer needs {tuple(variable.shape)}")
            variable.assign(value)
            used.add(key)
    left = sorted(set(tensors) - used)
    if left:
        raise DeclarationError(f"tensors the network has no place for: {', '.join(left)}")
    return model
