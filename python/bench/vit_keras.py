"""The vision transformer of examples/vit_mnist.rs in Keras 3 (keras_hub's TransformerEncoder),
on one thread, for the comparison in benches/RESULTS.md: the same layers, sizes, optimizer
(Adam, Keras' defaults, with a cosine decay over the epochs), batch (32) and data (the first 55,000 MNIST training images, pixels
/ 255), compiled as Keras compiles by default (`jit_compile="auto"`).

    python python/bench/vit_keras.py [epochs]

prints each epoch's time, the test accuracy, and the time of one image's `predict`, measured as
a compiled call of the model on one image (the best of 5 rounds of 1,000), as netdsl's example
measures its `predict`.
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
import keras_hub  # noqa: E402
from keras import layers  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "data" / "mnist"


def idx(name, offset):
    with gzip.open(DATA / name) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def mnist(split):
    images = idx(f"{split}-images.idx3-ubyte.gz", 16).reshape(-1, 28, 28, 1) / 255.0
    labels = idx(f"{split}-labels.idx1-ubyte.gz", 8)
    return images.astype(np.float32), keras.utils.to_categorical(labels, 10)


def vision_transformer():
    """`(28, 28, 1) => Conv2d(64, 7, stride = 7) => Reshape(16, 64) => PositionEmbedding =>
    TransformerEncoder(heads = 4, ff = 128, norm = pre) × 2 => LayerNormalization(epsilon =
    1e-5) => GlobalAveragePooling1D => Dense(10, softmax)`."""
    x = keras.Input((28, 28, 1))
    h = layers.Conv2D(64, 7, strides=7)(x)
    h = layers.Reshape((16, 64))(h)
    h = h + keras_hub.layers.PositionEmbedding(sequence_length=16)(h)
    for _ in range(2):
        h = keras_hub.layers.TransformerEncoder(
            intermediate_dim=128, num_heads=4, normalize_first=True
        )(h)
    h = layers.LayerNormalization(epsilon=1e-5)(h)
    h = layers.GlobalAveragePooling1D()(h)
    y = layers.Dense(10, activation="softmax")(h)
    return keras.Model(x, y)


def main():
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    (x, y), (x_test, y_test) = mnist("train"), mnist("t10k")
    keras.utils.set_random_seed(42)
    model = vision_transformer()
    decay = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=epochs * 1719)
    model.compile(
        optimizer=keras.optimizers.Adam(decay),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile="auto",
    )
    print(f"keras {keras.__version__}, keras_hub {keras_hub.__version__}, tensorflow {tf.__version__}, one thread")
    for epoch in range(epochs):
        start = time.perf_counter()
        model.fit(x[:55000], y[:55000], batch_size=32, epochs=1, verbose=0, shuffle=True)
        print(f"epoch {epoch + 1}: {time.perf_counter() - start:.1f} s")
    _, accuracy = model.evaluate(x_test, y_test, batch_size=32, verbose=0)
    print(f"test accuracy: {accuracy:.4f}")

    call = tf.function(lambda image: model(image, training=False))
    image = tf.constant(x_test[:1])
    call(image)
    best = min(timed(call, image) for _ in range(5))
    print(f"predict: {best * 1e6:.0f} µs per image (compiled call)")


def timed(call, image, rounds=1000):
    start = time.perf_counter()
    for _ in range(rounds):
        call(image)
    return (time.perf_counter() - start) / rounds


if __name__ == "__main__":
    main()
