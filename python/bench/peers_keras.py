"""Keras 3's side of the speed table in benches/RESULTS.md: the workloads of
`cargo bench --bench speed`, in Keras on one thread, with the same layers, optimizer, batch (32)
and data (the 60,000 MNIST training images, pixels / 255), compiled as Keras compiles by
default (`jit_compile="auto"`).

    python python/bench/peers_keras.py [epochs]

prints, for each workload, the time of each epoch (the first includes tracing and compiling, so
the table takes the best), and for the tutorial network the rate of batched inference over the
10,000 test images at batch 32. Run it beside `cargo bench --bench speed`, on a quiet machine.
"""

import gzip
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

import keras  # noqa: E402
from keras import layers  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "data" / "mnist"


def idx(name, offset):
    with gzip.open(DATA / name) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def mnist(split):
    images = idx(f"{split}-images.idx3-ubyte.gz", 16).reshape(-1, 28, 28, 1) / 255.0
    labels = idx(f"{split}-labels.idx1-ubyte.gz", 8)
    return images.astype(np.float32), keras.utils.to_categorical(labels, 10)


def tutorial():
    """`784 => Dense(64, relu) => Dense(10, softmax)`, SGD 0.01."""
    model = keras.Sequential(
        [keras.Input((784,)), layers.Dense(64, "relu"), layers.Dense(10, "softmax")]
    )
    return model, keras.optimizers.SGD(0.01), (784,)


def lenet5():
    """examples/lenet5.rs, Adam."""
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(6, 5, activation="relu", padding="same"),
            layers.MaxPooling2D(2),
            layers.Conv2D(16, 5, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(120, "relu"),
            layers.Dense(84, "relu"),
            layers.Dense(10, "softmax"),
        ]
    )
    return model, keras.optimizers.Adam(), (28, 28, 1)


def recurrent(cell):
    """examples/mnist_rnn.rs: 28 rows of 28 pixels, `cell(64) => Dense(10, softmax)`, Adam."""
    model = keras.Sequential(
        [keras.Input((28, 28)), cell(64), layers.Dense(10, "softmax")]
    )
    return model, keras.optimizers.Adam(), (28, 28)


WORKLOADS = {
    "tutorial MLP, SGD": tutorial,
    "LeNet-5, Adam": lenet5,
    "SimpleRNN(64), Adam": lambda: recurrent(layers.SimpleRNN),
    "LSTM(64), Adam": lambda: recurrent(layers.LSTM),
    "GRU(64), Adam": lambda: recurrent(layers.GRU),
}


def main():
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    (x, y), (x_test, _) = mnist("train"), mnist("t10k")
    print(f"keras {keras.__version__}, tensorflow {tf.__version__}, one thread, batch 32")
    for name, build in WORKLOADS.items():
        keras.utils.set_random_seed(42)
        model, optimizer, shape = build()
        model.compile(optimizer=optimizer, loss="categorical_crossentropy", jit_compile="auto")
        inputs = x.reshape((-1, *shape))
        times = []
        for _ in range(epochs):
            start = time.perf_counter()
            model.fit(inputs, y, batch_size=32, epochs=1, verbose=0, shuffle=True)
            times.append(time.perf_counter() - start)
        print(f"{name}: epoch of 60,000 {min(times):.2f} s (each: {', '.join(f'{t:.2f}' for t in times)})")
        if name.startswith("tutorial"):
            test = x_test.reshape((-1, *shape))
            model.predict(test, batch_size=32, verbose=0)
            best = min(_timed(lambda: model.predict(test, batch_size=32, verbose=0)) for _ in range(3))
            print(f"{name}: batched inference {len(test) / best / 1e6:.3f} M samples/s")


def _timed(call):
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
