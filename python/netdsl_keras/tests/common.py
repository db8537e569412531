"""What the fixture script and the tests share: a case's model with seeded weights and batch."""

import re

import numpy as np

BATCH = 2


def snake(name):
    """`Conv2dPools` -> `conv2d_pools`, the fixture files' names."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def seeded(build, seed):
    """The model of `build` with every weight drawn from a seeded generator, and a batch for it
    (token ids with two steps of padding, id 0, at the end of the first sample; for a float input
    whose first layer is `Masking`, the first sample's last two steps zeroed)."""
    import keras

    built = build()
    model, vocabulary = built if isinstance(built, tuple) else (built, None)
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        low = 0.5 if variable.name == "moving_variance" else -1.0
        high = 1.5 if variable.name == "moving_variance" else 1.0
        variable.assign(rng.uniform(low, high, variable.shape).astype(np.float32))
    shape = (BATCH, *model.inputs[0].shape[1:])
    if vocabulary:
        x = rng.integers(1, vocabulary, size=shape)
        x[0, -2:] = 0
        x = x.astype(np.int32)
    else:
        x = rng.uniform(-1.0, 1.0, shape).astype(np.float32)
        if isinstance(model.layers[0], keras.layers.Masking):
            x[0, -2:] = 0.0
    return model, x


def predict(model, x):
    """The model's output on `x` (inference mode), float64."""
    return np.asarray(model(x, training=False), dtype=np.float64)
