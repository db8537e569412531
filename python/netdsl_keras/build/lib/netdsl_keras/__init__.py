"""Round trips between netdsl and the frameworks people train in.

- Keras 3 -> netdsl: `keras_to_netdsl(model, name)` gives the `network!` declaration and the
  weights under netdsl's names; `.save(weights_path, declaration_path)` writes them.
- netdsl -> Keras 3: `netdsl_to_keras(declaration, weights_path)` builds the Keras model of a
  declaration and loads the weights netdsl's `save_weights` wrote.
- PyTorch -> netdsl: `torch_to_netdsl(state_dict, declaration)` maps the `state_dict` of the
  equivalent `nn.Sequential` (Linear, Conv2d, RNN, LSTM, GRU, Embedding, BatchNorm, LayerNorm)
  to the same weights.

Example (needs Keras):

    >>> import keras
    >>> from netdsl_keras import keras_to_netdsl
    >>> model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(64, activation="relu"),
    ...                           keras.layers.Dense(10, activation="softmax")])
    >>> converted = keras_to_netdsl(model, "Mnist")
    >>> print(converted.declaration, end="")
    network! {
        pub struct Mnist<784 => Dense(64, relu) => Dense(10, softmax)>;
    }
    >>> sorted(converted.tensors)
    ['dense_1.bias', 'dense_1.kernel', 'dense_2.bias', 'dense_2.kernel']

The naming rules are in `netdsl_keras.names`, the one place where Keras' names meet netdsl's.
"""

from .declaration import DeclarationError, load_netdsl_weights, netdsl_to_keras, parse_declaration
from .files import load_safetensors, save_safetensors
from .keras_to_netdsl import Converted, UnsupportedLayer, keras_to_netdsl
from .torch_to_netdsl import torch_to_netdsl

__all__ = [
    "Converted",
    "DeclarationError",
    "UnsupportedLayer",
    "keras_to_netdsl",
    "load_netdsl_weights",
    "load_safetensors",
    "netdsl_to_keras",
    "parse_declaration",
    "save_safetensors",
    "torch_to_netdsl",
]
