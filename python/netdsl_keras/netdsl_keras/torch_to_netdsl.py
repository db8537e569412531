"""PyTorch -> netdsl: the `state_dict` of an `nn.Sequential` mapped to the weights of the
equivalent netdsl network, in Keras' layouts under netdsl's names. numpy alone: a `state_dict`
of torch tensors is read through `numpy()`, and a dict of numpy arrays works as well.

What changes on the way, module by module (the modules of the `state_dict` in order, matched to
the netdsl layers with weights in order):

| PyTorch                          | netdsl (Keras' layout)                                          |
|----------------------------------|-----------------------------------------------------------------|
| `Linear.weight` `(out, in)`      | `dense_n.kernel` `(in, out)`: transposed                        |
| `Conv2d.weight` `(O, I, kh, kw)` | `conv2d_n.kernel` `(kh, kw, I, O)`: OIHW -> HWIO                 |
| `Conv1d.weight` `(O, I, k)`      | `conv1d_n.kernel` `(k, I, O)`                                   |
| `RNN`/`LSTM` `weight_ih_l0`, `weight_hh_l0` | `kernel`, `recurrent_kernel`: transposed; the gates in the same order (PyTorch's LSTM `i, f, g, o` is Keras' `i, f, c, o`) |
| `RNN`/`LSTM` `bias_ih_l0 + bias_hh_l0` | `bias`: Keras has one bias, the sum                       |
| `GRU` `weight_ih_l0`, `weight_hh_l0` | `kernel`, `recurrent_kernel`: gates reordered from PyTorch's `r, z, n` to Keras' `z, r, h`, transposed |
| `GRU` `bias_ih_l0`, `bias_hh_l0` | `bias` `(2, 3·units)`: the two, reordered, stacked (Keras' `reset_after=True`, which is PyTorch's GRU) |
| `..._l1`, `..._reverse`          | the next recurrent layer of the chain; a `Bidirectional` layer's backward field |
| `Embedding.weight`               | `embedding_n.embeddings`                                        |
| `BatchNorm*d` `weight`, `bias`, `running_mean`, `running_var` | `gamma`, `beta`, `moving_mean`, `moving_variance` (`num_batches_tracked` dropped) |
| `LayerNorm` `weight`, `bias`     | `gamma`, `beta`                                                 |

A `Linear` after `Flatten` of an image: PyTorch flattens `(C, H, W)`, Keras and netdsl `(H, W,
C)`, so the kernel's rows are permuted from PyTorch's order to netdsl's; the image's size comes
from the declaration. Settings that are not weights must agree by hand: PyTorch's BatchNorm
`eps` is 1e-5 (Keras' 1e-3: write `epsilon = 1e-5`) and its `momentum` 0.1 is Keras' 0.9;
`padding="same"` convolutions exist in PyTorch only at stride 1; a recurrent output's last step
(`output[:, -1]`) is netdsl's layer without `return_sequences`.
"""

from collections import OrderedDict

import numpy as np

from .declaration import parse_declaration
from .names import KINDS, Numbering

__all__ = ["torch_to_netdsl", "TorchMappingError"]


class TorchMappingError(ValueError):
    """A `state_dict` that does not fit the declaration: the message names the module and the
    netdsl layer."""


def _array(value):
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float32)


def _modules(state_dict):
    """The state dict's tensors grouped by module, in order: `{"0": {"weight": ..}, ...}`."""
    modules = OrderedDict()
    for key, value in state_dict.items():
        prefix, _, name = key.rpartition(".")
        if name == "num_batches_tracked":
            continue
        modules.setdefault(prefix, {})[name] = _array(value)
    return modules


def _outputs(network):
    """Each layer with its input's shape: `[(layer, shape), ...]`, shapes without the batch."""
    shape = tuple(network.input)
    if network.layers and network.layers[0].kind == "Embedding":
        shape = (shape[0],)
    result = []
    for layer in network.layers:
        result.append((layer, shape))
        shape = _output(layer, shape)
    return result


def _output(layer, shape):
    p, o, kind = layer.positional, layer.options, layer.kind
    if kind == "Dense":
        return shape[:-1] + (p[0],)
    if kind == "Conv2D":
        stride, k = o.get("stride", 1), p[1]
        if o.get("padding", "valid") == "same":
            return (-(-shape[0] // stride), -(-shape[1] // stride), p[0])
        return ((shape[0] - k) // stride + 1, (shape[1] - k) // stride + 1, p[0])
    if kind == "Conv1D":
        stride, k, d = o.get("strides", 1), p[1], o.get("dilation_rate", 1)
        if o.get("padding", "valid") in ("same", "causal"):
            return (-(-shape[0] // stride), p[0])
        return ((shape[0] - d * (k - 1) - 1) // stride + 1, p[0])
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        k, stride = p[0], o.get("stride", p[0])
        return ((shape[0] - k) // stride + 1, (shape[1] - k) // stride + 1, shape[2])
    if kind == "Flatten":
        return (int(np.prod(shape)),)
    if kind == "Reshape":
        return p[0] if len(p) == 1 and isinstance(p[0], tuple) else tuple(p)
    if kind.startswith("Global"):
        return (shape[-1],)
    if kind == "ZeroPadding2D":
        pad = p[0] if p else 1
        (t, b), (left, r) = ((pad, pad), (pad, pad)) if isinstance(pad, int) else (
            ((pad[0], pad[0]), (pad[1], pad[1])) if isinstance(pad[0], int) else pad
        )
        return (shape[0] + t + b, shape[1] + left + r, shape[2])
    if kind == "UpSampling2D":
        size = p[0] if p else 2
        rows, columns = (size, size) if isinstance(size, int) else size
        return (shape[0] * rows, shape[1] * columns, shape[2])
    if kind == "Embedding":
        return (shape[0], p[1])
    if kind in ("SimpleRNN", "LSTM", "GRU"):
        return (shape[0], p[0]) if o.get("return_sequences") == "true" else (p[0],)
    if kind == "Bidirectional":
        (inner,) = p
        out = _output(inner, shape)
        return out[:-1] + (2 * out[-1],)
    return shape


def _gru_gates(value, units):
    """PyTorch's GRU blocks `r, z, n` along the first axis reordered to Keras' `z, r, h`."""
    r, z, n = value[:units], value[units : 2 * units], value[2 * units :]
    return np.concatenate([z, r, n])


def _recurrent(kind, params, suffix, field, units, bias):
    w_ih, w_hh = params.get(f"weight_ih{suffix}"), params.get(f"weight_hh{suffix}")
    if w_ih is None or w_hh is None:
        raise TorchMappingError(f"no `weight_ih{suffix}`/`weight_hh{suffix}` for `{field}`")
    gates = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}[kind]
    if w_ih.shape[0] != gates * units or w_hh.shape != (gates * units, units):
        raise TorchMappingError(
            f"`weight_ih{suffix}` {w_ih.shape} and `weight_hh{suffix}` {w_hh.shape} do not fit "
            f"`{field}`, a {kind} of {units} units ({gates} gates)"
        )
    b_ih, b_hh = params.get(f"bias_ih{suffix}"), params.get(f"bias_hh{suffix}")
    if bias != (b_ih is not None):
        raise TorchMappingError(f"`{field}` {'has' if bias else 'has no'} bias, the module {'has none' if bias else 'has one'}")
    if kind == "GRU":
        w_ih, w_hh = _gru_gates(w_ih, units), _gru_gates(w_hh, units)
    tensors = {f"{field}.kernel": w_ih.T, f"{field}.recurrent_kernel": w_hh.T}
    if bias:
        if kind == "GRU":
            tensors[f"{field}.bias"] = np.stack([_gru_gates(b_ih, units), _gru_gates(b_hh, units)])
        else:
            tensors[f"{field}.bias"] = b_ih + b_hh
    return tensors


def torch_to_netdsl(state_dict, declaration, name=None):
    """Maps the `state_dict` of a PyTorch `nn.Sequential` to the weights of the netdsl network
    `declaration` (the `network!` text or its chain): returns `{netdsl name: float32 array}`,
    ready for `save_safetensors(path, tensors)` and netdsl's `load_weights`. The modules with
    weights are matched in order to the declaration's layers with weights (see the module's
    table for each kind).

    Raises `TorchMappingError` naming the module and the layer that do not fit.
    """
    network = parse_declaration(declaration, name) if isinstance(declaration, str) else declaration
    numbering = Numbering()
    targets = []
    flattened = None
    for layer, shape in _outputs(network):
        kind = layer.kind
        if kind == "Flatten" and len(shape) == 3:
            flattened = shape
        elif kind not in ("Dropout",):
            if kind == "Bidirectional":
                (inner,) = layer.positional
                prefix = KINDS[inner.kind][1]
                fields = [numbering.next(prefix), numbering.next(prefix)]
                targets.append((inner, fields, shape, None, True))
            elif kind == "MultiHeadAttention":
                raise TorchMappingError("`MultiHeadAttention`: netdsl_keras maps no PyTorch attention module yet")
            else:
                fields = [numbering.next(KINDS[kind][1])]
                if kind in ("Dense", "Conv2D", "Conv1D", "SimpleRNN", "LSTM", "GRU", "Embedding",
                            "BatchNormalization", "LayerNormalization"):
                    targets.append((layer, fields, shape, flattened if kind == "Dense" else None, False))
            if kind != "Flatten":
                flattened = None
    tensors = {}
    modules = list(_modules(state_dict).items())
    at = 0
    for prefix, params in modules:
        if at >= len(targets):
            raise TorchMappingError(f"module `{prefix}` ({', '.join(params)}) is left over: the declaration has no more layers with weights")
        layer, fields, shape, flat_image, bidirectional = targets[at]
        kind = layer.kind
        bias = layer.options.get("bias", "true") == "true"
        where = f"module `{prefix}` for `{fields[0]}` ({layer.keyword})"
        if any(k.startswith("weight_ih_l") for k in params):
            if kind not in ("SimpleRNN", "LSTM", "GRU"):
                raise TorchMappingError(f"{where}: a recurrent module where netdsl has {layer.keyword}")
            depth = sum(1 for k in params if k.startswith("weight_ih_l") and not k.endswith("_reverse"))
            reverse = any(k.endswith("_reverse") for k in params)
            for level in range(depth):
                layer, fields, shape, _, bidirectional = targets[at]
                if reverse != bidirectional or layer.kind != kind:
                    raise TorchMappingError(
                        f"module `{prefix}` level {level}: {'bidirectional' if reverse else 'one direction'}, "
                        f"where netdsl has `{fields[0]}` ({layer.keyword}{', bidirectional' if bidirectional else ''})"
                    )
                units = layer.positional[0]
                tensors.update(_recurrent(kind, params, f"_l{level}", fields[0], units, bias))
                if reverse:
                    tensors.update(_recurrent(kind, params, f"_l{level}_reverse", fields[1], units, bias))
                at += 1
            continue
        weight = params.get("weight")
        if weight is None:
            raise TorchMappingError(f"{where}: no `weight` among {', '.join(params)}")
        field = fields[0]
        if kind == "Dense":
            if weight.ndim != 2:
                raise TorchMappingError(f"{where}: a weight of shape {weight.shape}, expected a Linear's (out, in)")
            if flat_image is not None:
                height, width, channels = flat_image
                weight = weight.reshape(-1, channels, height, width).transpose(0, 2, 3, 1).reshape(weight.shape[0], -1)
            tensors[f"{field}.kernel"] = weight.T
        elif kind == "Conv2D":
            if weight.ndim != 4:
                raise TorchMappingError(f"{where}: a weight of shape {weight.shape}, expected a Conv2d's (O, I, kh, kw)")
            tensors[f"{field}.kernel"] = weight.transpose(2, 3, 1, 0)
        elif kind == "Conv1D":
            if weight.ndim != 3:
                raise TorchMappingError(f"{where}: a weight of shape {weight.shape}, expected a Conv1d's (O, I, k)")
            tensors[f"{field}.kernel"] = weight.transpose(2, 1, 0)
        elif kind == "Embedding":
            tensors[f"{field}.embeddings"] = weight
        elif kind in ("BatchNormalization", "LayerNormalization"):
            if layer.options.get("scale", "true") == "true":
                tensors[f"{field}.gamma"] = weight
            if layer.options.get("center", "true") == "true":
                tensors[f"{field}.beta"] = params["bias"]
            if kind == "BatchNormalization":
                tensors[f"{field}.moving_mean"] = params["running_mean"]
                tensors[f"{field}.moving_variance"] = params["running_var"]
            at += 1
            continue
        else:
            raise TorchMappingError(f"{where}: a module with `weight` where netdsl has {layer.keyword}")
        if bias:
            if "bias" not in params:
                raise TorchMappingError(f"{where}: no `bias`, and `{field}` has one (write `bias = false`)")
            tensors[f"{field}.bias"] = params["bias"]
        elif "bias" in params:
            raise TorchMappingError(f"{where}: a `bias`, and `{field}` has none")
        at += 1
    if at != len(targets):
        missing = ", ".join(t[1][0] for t in targets[at:])
        raise TorchMappingError(f"the state dict ends before {missing}")
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}
