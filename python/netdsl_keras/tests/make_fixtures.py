"""Writes the committed Keras round-trip fixtures of tests/fixtures/interop/keras, read by the Rust
test tests/interop_keras.rs (which needs no Python):

    <case>.safetensors     the weights netdsl_keras writes for the case's Keras model (netdsl's names)
    <case>.io.safetensors  `input` (token ids as floats) and `output`, Keras' output on it
    networks.rs            the `network!` declaration netdsl_keras writes for each case

Keras computes in float64 (`keras.config.set_floatx`) from float32 weights and inputs, so each
output is the exact result rounded once to float32. That needs Keras on TensorFlow (JAX's scan
refuses the float64 state of Keras' recurrent layers), as the fixtures were written: Keras 3.15.1,
TensorFlow 2.21.0 (`pip install keras tensorflow-cpu`, or python/fixtures/requirements.txt).
Rerun from the repository's root:

    python python/netdsl_keras/tests/make_fixtures.py

A rerun writes the same files byte for byte; `test_round_trip.py` checks that the tool still
writes them.

`test_round_trip.py` checks that the tool still writes these files.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from common import predict, seeded, snake  # noqa: E402
from keras_cases import CASES  # noqa: E402
from netdsl_keras import keras_to_netdsl, save_safetensors  # noqa: E402

OUT = HERE.parents[2] / "tests" / "fixtures" / "interop" / "keras"
HEADER = """// Written by python/netdsl_keras/tests/make_fixtures.py: the `network!` declaration
// netdsl_keras writes for each Keras model of python/netdsl_keras/tests/keras_cases.py.
// Included by tests/interop_keras.rs; do not edit by hand.
"""


def main():
    keras.config.set_floatx("float64")
    OUT.mkdir(parents=True, exist_ok=True)
    declarations = [HEADER]
    for seed, (name, build) in enumerate(CASES):
        keras.backend.clear_session()
        model, x = seeded(build, seed)
        converted = keras_to_netdsl(model, name)
        case = snake(name)
        converted.save(OUT / f"{case}.safetensors")
        y = predict(model, x)
        save_safetensors(OUT / f"{case}.io.safetensors", {"input": x.astype(np.float32), "output": y})
        declarations.append(converted.declaration)
        print(f"{case}: {converted.chain}", file=sys.stderr)
    (OUT / "networks.rs").write_text("\n".join(declarations))


if __name__ == "__main__":
    main()
