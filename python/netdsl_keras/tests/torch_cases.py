"""The PyTorch models of the PyTorch -> netdsl tests, each with the netdsl declaration of the same
network, and a numpy float64 reimplementation of PyTorch's forward pass from the formulas of
PyTorch's documentation (torch.nn.Linear, Conv2d, MaxPool2d, Flatten, RNN, LSTM, GRU), so that
the tests need no torch: `make_torch_fixtures.py` checks it against torch itself when torch is
installed and writes the committed fixtures from torch's output.

A case is `(name, declaration chain, input shape (netdsl's, channels last), the state dict's
names and shapes, forward)`: `forward(state, x)` takes the state dict (numpy arrays under PyTorch's names) and a
batch in netdsl's layout, and returns PyTorch's output flattened per sample. The recurrent cases
read the final hidden state `h_n` (PyTorch's `output[:, -1]` for one direction), which is what a
netdsl recurrent layer without `return_sequences` returns; a bidirectional one concatenates
`h_n`'s two directions, as Keras' `Bidirectional` does.
"""

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def linear(state, prefix, x):
    y = x @ state[f"{prefix}.weight"].T
    return y + state[f"{prefix}.bias"] if f"{prefix}.bias" in state else y


def conv2d(state, prefix, x, padding=0, stride=1):
    """`nn.Conv2d` on NCHW: `y[n, o] = b[o] + sum_{i,u,v} w[o, i, u, v] x[n, i, s·h + u, s·w + v]`."""
    w = state[f"{prefix}.weight"]
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out_c, _, kh, kw = w.shape
    n, _, height, width = x.shape
    oh, ow = (height - kh) // stride + 1, (width - kw) // stride + 1
    y = np.zeros((n, out_c, oh, ow))
    for r in range(oh):
        for c in range(ow):
            window = x[:, :, r * stride : r * stride + kh, c * stride : c * stride + kw]
            y[:, :, r, c] = np.einsum("nihw,oihw->no", window, w)
    return y + state[f"{prefix}.bias"][None, :, None, None] if f"{prefix}.bias" in state else y


def max_pool2d(x, k):
    n, c, h, w = x.shape
    return x[:, :, : h // k * k, : w // k * k].reshape(n, c, h // k, k, w // k, k).max(axis=(3, 5))


def recurrent(state, kind, x, layer=0, reverse=False):
    """`nn.RNN` (tanh), `nn.LSTM` or `nn.GRU` over `x` (batch, steps, features), one layer and
    direction: every step's hidden state (batch, steps, units)."""
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    w_ih, w_hh = state[f"weight_ih{suffix}"], state[f"weight_hh{suffix}"]
    b_ih, b_hh = state.get(f"bias_ih{suffix}", 0.0), state.get(f"bias_hh{suffix}", 0.0)
    units = w_hh.shape[1]
    h = np.zeros((x.shape[0], units))
    c = np.zeros_like(h)
    steps = range(x.shape[1] - 1, -1, -1) if reverse else range(x.shape[1])
    outputs = [None] * x.shape[1]
    for t in steps:
        gi = x[:, t] @ w_ih.T + b_ih
        gh = h @ w_hh.T + b_hh
        if kind == "rnn":
            h = np.tanh(gi + gh)
        elif kind == "lstm":
            i, f, g, o = np.split(gi + gh, 4, axis=1)
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
            h = sigmoid(o) * np.tanh(c)
        else:
            r = sigmoid(gi[:, :units] + gh[:, :units])
            z = sigmoid(gi[:, units : 2 * units] + gh[:, units : 2 * units])
            n = np.tanh(gi[:, 2 * units :] + r * gh[:, 2 * units :])
            h = (1.0 - z) * n + z * h
        outputs[t] = h
    return np.stack(outputs, axis=1)


def sub(state, prefix):
    """The tensors of module `prefix` without it: `{"weight_ih_l0": ...}`."""
    return {k[len(prefix) + 1 :]: v for k, v in state.items() if k.startswith(prefix + ".")}


def mlp_forward(state, x):
    return softmax(linear(state, "2", np.tanh(linear(state, "0", x))))


def lenet_forward(state, x):
    x = x.transpose(0, 3, 1, 2)  # netdsl's NHWC -> PyTorch's NCHW
    h = max_pool2d(np.maximum(conv2d(state, "0", x, padding=1), 0.0), 2)
    h = np.tanh(conv2d(state, "3", h))
    return linear(state, "6", h.reshape(h.shape[0], -1))  # nn.Flatten: (C, H, W) order


def rnn_forward(state, x):
    return linear(state, "1", recurrent(sub(state, "0.recurrent"), "rnn", x)[:, -1])


def lstm_forward(state, x):
    lstm = sub(state, "0.recurrent")
    h = recurrent(lstm, "lstm", recurrent(lstm, "lstm", x, 0), 1)
    return linear(state, "1", h[:, -1])


def gru_forward(state, x):
    return linear(state, "1", recurrent(sub(state, "0.recurrent"), "gru", x)[:, -1])


def gru_bidirectional_forward(state, x):
    gru = sub(state, "0.recurrent")
    forward = recurrent(gru, "gru", x)[:, -1]
    backward = recurrent(gru, "gru", x, reverse=True)[:, 0]
    return softmax(linear(state, "1", np.concatenate([forward, backward], axis=1)))


def recurrent_shapes(gates, inputs, units, layers=1, directions=1):
    """The state dict of `Last(nn.RNN/LSTM/GRU(...))` at index 0 of the Sequential."""
    shapes = {}
    for layer in range(layers):
        for suffix in [""] + (["_reverse"] if directions == 2 else []):
            width = inputs if layer == 0 else units * directions
            shapes[f"0.recurrent.weight_ih_l{layer}{suffix}"] = (gates * units, width)
            shapes[f"0.recurrent.weight_hh_l{layer}{suffix}"] = (gates * units, units)
            shapes[f"0.recurrent.bias_ih_l{layer}{suffix}"] = (gates * units,)
            shapes[f"0.recurrent.bias_hh_l{layer}{suffix}"] = (gates * units,)
    return shapes


def linear_shapes(prefix, inputs, outputs):
    return {f"{prefix}.weight": (outputs, inputs), f"{prefix}.bias": (outputs,)}


CASES = [
    ("TorchMlp", "4 => Dense(5, tanh) => Dense(3, softmax)", (4,),
     {**linear_shapes("0", 4, 5), **linear_shapes("2", 5, 3)}, mlp_forward),
    ("TorchLenet",
     "(8, 8, 2) => Conv2d(3, 3, relu, padding = same) => MaxPool2d(2) => Conv2d(4, 2, tanh) => Flatten => Dense(3)",
     (8, 8, 2),
     {"0.weight": (3, 2, 3, 3), "0.bias": (3,), "3.weight": (4, 3, 2, 2), "3.bias": (4,), **linear_shapes("6", 36, 3)},
     lenet_forward),
    ("TorchRnn", "(5, 3) => SimpleRNN(4) => Dense(2)", (5, 3),
     {**recurrent_shapes(1, 3, 4), **linear_shapes("1", 4, 2)}, rnn_forward),
    ("TorchLstm", "(5, 3) => LSTM(4, return_sequences = true) => LSTM(4) => Dense(2)", (5, 3),
     {**recurrent_shapes(4, 3, 4, layers=2), **linear_shapes("1", 4, 2)}, lstm_forward),
    ("TorchGru", "(5, 3) => GRU(4) => Dense(2)", (5, 3),
     {**recurrent_shapes(3, 3, 4), **linear_shapes("1", 4, 2)}, gru_forward),
    ("TorchBidirectionalGru", "(5, 3) => Bidirectional(GRU(3)) => Dense(2, softmax)", (5, 3),
     {**recurrent_shapes(3, 3, 3, directions=2), **linear_shapes("1", 6, 2)}, gru_bidirectional_forward),
]


def torch_models():
    """The same networks as torch modules (needs torch): `{name: (module, forward)}`, `forward`
    taking the module and a batch in netdsl's layout."""
    import torch
    from torch import nn

    class Last(nn.Module):
        """A recurrent module's final hidden state `h_n`, its directions concatenated."""

        def __init__(self, recurrent):
            super().__init__()
            self.recurrent = recurrent

        def forward(self, x):
            _, h = self.recurrent(x)
            h = h[0] if isinstance(h, tuple) else h
            directions = 2 if self.recurrent.bidirectional else 1
            return torch.cat(list(h[-directions:]), dim=1)

    def seq(*modules):
        return nn.Sequential(*modules)

    models = {
        "TorchMlp": seq(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3), nn.Softmax(dim=1)),
        "TorchLenet": seq(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(3, 4, 2), nn.Tanh(),
                          nn.Flatten(), nn.Linear(36, 3)),
        "TorchRnn": seq(Last(nn.RNN(3, 4, batch_first=True)), nn.Linear(4, 2)),
        "TorchLstm": seq(Last(nn.LSTM(3, 4, num_layers=2, batch_first=True)), nn.Linear(4, 2)),
        "TorchGru": seq(Last(nn.GRU(3, 4, batch_first=True)), nn.Linear(4, 2)),
        "TorchBidirectionalGru": seq(Last(nn.GRU(3, 3, batch_first=True, bidirectional=True)), nn.Linear(6, 2),
                                     nn.Softmax(dim=1)),
    }

    def run(module, x):
        x = torch.from_numpy(x)
        if x.dim() == 4:
            x = x.permute(0, 3, 1, 2)
        with torch.no_grad():
            return module(x).numpy()

    return models, run
