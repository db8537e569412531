"""The README's tutorial, its Keras half: train a small convolutional network on MNIST in Keras 3,
then hand it to netdsl with netdsl_keras, which writes the network's `network!` declaration and
its weights under netdsl's names. `cargo run --release --example keras_mnist` then runs the same
network in netdsl on the test set and compares with the accuracy recorded here.

Run from the repository's root with Keras 3 on any backend (e.g. the venv .ci/interop makes,
target/venv-interop, Keras 3.15.1 on JAX; about a minute on two cores):

    python python/netdsl_keras/examples/train_mnist.py

It writes examples/keras_mnist/network.rs and examples/keras_mnist/weights.safetensors, whose
metadata holds Keras' test accuracy (`keras_test_accuracy`).
"""

import gzip
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "python" / "netdsl_keras"))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from netdsl_keras import keras_to_netdsl, save_safetensors  # noqa: E402

OUT = ROOT / "examples" / "keras_mnist"


def idx(name):
    """An IDX file of data/mnist as a numpy array (big-endian sizes after a 4-byte magic)."""
    data = gzip.open(ROOT / "data" / "mnist" / name).read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def mnist():
    """The bundled MNIST as `(x_train, y_train, x_test, y_test)`: images of 28×28×1 in [0, 1]."""
    x_train = idx("train-images.idx3-ubyte.gz")[..., None].astype("float32") / 255.0
    y_train = idx("train-labels.idx1-ubyte.gz")
    x_test = idx("t10k-images.idx3-ubyte.gz")[..., None].astype("float32") / 255.0
    y_test = idx("t10k-labels.idx1-ubyte.gz")
    return x_train, y_train, x_test, y_test


def tutorial_model():
    """The tutorial's network, compiled: examples/keras_mnist/network.rs is its declaration."""
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(8, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dropout(0.25),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main():
    keras.utils.set_random_seed(42)
    x_train, y_train, x_test, y_test = mnist()
    model = tutorial_model()
    model.fit(x_train, y_train, epochs=2, batch_size=64, verbose=2)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"Keras test accuracy: {accuracy:.4f}")

    converted = keras_to_netdsl(model, "KerasMnist")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "network.rs").write_text(
        "// Written by python/netdsl_keras/examples/train_mnist.py (netdsl_keras' declaration of the\n"
        "// Keras model it trained); included by examples/keras_mnist.rs.\n" + converted.declaration
    )
    save_safetensors(OUT / "weights.safetensors", converted.tensors,
                     {"netdsl": converted.chain, "keras_test_accuracy": f"{accuracy:.4f}"})
    print(converted.declaration, end="")


if __name__ == "__main__":
    main()
