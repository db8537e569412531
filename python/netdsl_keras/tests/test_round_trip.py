"""Keras 3 -> netdsl -> Keras 3 for every layer kind, the error for what netdsl lacks, and the
command line. Run from the repository's root (.ci/run does, in its venv of Keras 3.15.1 on JAX):

    python -m unittest discover -s python/netdsl_keras/tests -t python/netdsl_keras/tests

netdsl's own outputs for the same files are checked by the Rust test tests/interop_keras.rs;
together: Keras -> (this tool) -> netdsl gives Keras' outputs, netdsl saves the tensors the tool
wrote, and the tool's Keras model built from the declaration and those tensors gives them again.
"""

import doctest
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]
os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from common import predict, seeded, snake  # noqa: E402
from keras_cases import CASES, HUB_CASES  # noqa: E402
import netdsl_keras  # noqa: E402
from netdsl_keras import (  # noqa: E402
    UnsupportedLayer, keras_to_netdsl, load_safetensors, netdsl_to_keras, parse_declaration,
)

FIXTURES = HERE.parents[2] / "tests" / "fixtures" / "interop" / "keras"
TOLERANCE = 1e-5

try:
    import keras_hub  # noqa: E402
except ImportError:  # the CI's venv (requirements-ci.txt) has no keras_hub
    keras_hub = None


def skip_without_keras_hub(test, name):
    if name in HUB_CASES and keras_hub is None:
        test.skipTest("keras_hub is not installed")


def largest_error(found, expected):
    """The largest `|found - expected|` relative to the largest magnitude of `expected`."""
    scale = max(float(np.max(np.abs(expected))), np.finfo(np.float32).tiny)
    return float(np.max(np.abs(np.asarray(found, np.float64) - expected))) / scale


class RoundTrip(unittest.TestCase):
    def test_fixtures_are_what_the_tool_writes(self):
        """The committed declarations and weights, which tests/interop_keras.rs runs, are what
        the tool writes today."""
        committed = (FIXTURES / "networks.rs").read_text()
        for seed, (name, build) in enumerate(CASES):
            with self.subTest(name):
                skip_without_keras_hub(self, name)
                keras.backend.clear_session()
                model, _ = seeded(build, seed)
                converted = keras_to_netdsl(model, name)
                self.assertIn(converted.declaration, committed)
                tensors, metadata = load_safetensors(FIXTURES / f"{snake(name)}.safetensors")
                self.assertEqual(sorted(tensors), sorted(converted.tensors))
                for key, value in tensors.items():
                    np.testing.assert_array_equal(value, converted.tensors[key], err_msg=key)
                self.assertEqual(metadata["netdsl"], converted.chain)

    def test_keras_to_netdsl_to_keras_gives_the_same_outputs(self):
        """The Keras model the tool builds from each declaration and weights file gives the
        original model's outputs (the committed ones, which netdsl gives too, and the live
        model's on this backend) within 1e-5 of their scale."""
        committed = (FIXTURES / "networks.rs").read_text()
        for seed, (name, build) in enumerate(CASES):
            with self.subTest(name):
                skip_without_keras_hub(self, name)
                keras.backend.clear_session()
                original, x = seeded(build, seed)
                rebuilt = netdsl_to_keras(committed, FIXTURES / f"{snake(name)}.safetensors", name=name)
                io, _ = load_safetensors(FIXTURES / f"{snake(name)}.io.safetensors")
                x_in = io["input"].astype(x.dtype)
                np.testing.assert_array_equal(x_in, x)
                y = predict(rebuilt, x_in)
                committed_error = largest_error(y, io["output"].astype(np.float64))
                live_error = largest_error(y, predict(original, x_in))
                print(f"{name}: rebuilt Keras vs committed Keras {committed_error:.2e}, vs live {live_error:.2e}",
                      file=sys.stderr)
                self.assertLessEqual(committed_error, TOLERANCE)
                self.assertLessEqual(live_error, TOLERANCE)

    def test_unsupported_layers_are_named(self):
        cases = [
            (keras.Sequential([keras.Input((4,)), layers.Dense(3), layers.Softmax(name="act")]),
             "layer `act` (Softmax): netdsl has no such layer"),
            (keras.Sequential([keras.Input((6, 6, 1)), layers.Conv2D(2, 3, dilation_rate=2, name="dilated")]),
             "layer `dilated` (Conv2D): `dilation_rate` above 1"),
            (keras.Sequential([keras.Input((6, 6, 1)), layers.Conv2D(2, (3, 2), name="oblong")]),
             "layer `oblong` (Conv2D): `kernel_size` (3, 2): netdsl takes one size for both axes"),
            (keras.Sequential([keras.Input((5, 2)), layers.GRU(2, reset_after=False, name="old_gru")]),
             "layer `old_gru` (GRU): `reset_after=False`"),
            (keras.Sequential([keras.Input((4,)), layers.Dense(3, activation="tanh"), layers.Activation("relu", name="twice")]),
             "layer `twice` (Activation): netdsl has no activation layer: it folds one into the Dense"),
        ]
        for model, message in cases:
            with self.subTest(message):
                with self.assertRaises(UnsupportedLayer) as raised:
                    keras_to_netdsl(model)
                self.assertIn(message, str(raised.exception))
        with self.assertRaises(UnsupportedLayer) as raised:
            keras_to_netdsl(keras.Sequential([layers.Dense(3)], name="unbuilt"))
        self.assertIn("model `unbuilt` is not built: give it a `keras.Input`", str(raised.exception))
        x = keras.Input((4,))
        h = layers.Dense(4, name="first")(x)
        g = layers.Dense(4, name="second")(x)
        graphs = [
            (layers.Add(name="sum")([x, h, g]),
             "layer `sum` (Add): its input 1 is the tensor its branches part from"),
            (layers.Subtract(name="difference")([h, g]),
             "layer `difference` (Subtract): takes 2 tensors; netdsl joins branches with `Add`, `Concatenate` and attention"),
            (layers.Concatenate(axis=1, name="stack")([layers.Reshape((2, 2))(h), layers.Reshape((2, 2))(g)]),
             "layer `stack` (Concatenate): `axis=1`: netdsl's `Concatenate` joins along the last axis"),
            (layers.MultiHeadAttention(2, 2, name="attend")(x, h),
             "layer `attend` (MultiHeadAttention): its query, value or key is the tensor the others branch from"),
        ]
        for y, message in graphs:
            with self.subTest(message):
                with self.assertRaises(UnsupportedLayer) as raised:
                    keras_to_netdsl(keras.Model(x, y))
                self.assertIn(message, str(raised.exception))
        shared = layers.Dense(4, name="shared")
        with self.assertRaises(UnsupportedLayer) as raised:
            keras_to_netdsl(keras.Model(x, layers.Add()([shared(x), shared(h)])))
        self.assertIn("layer `shared` (Dense): called 2 times", str(raised.exception))

    @unittest.skipIf(keras_hub is None, "keras_hub is not installed")
    def test_keras_hub_settings_netdsl_lacks_are_named(self):
        hub = keras_hub.layers
        x = keras.Input((5, 4))
        encoded = hub.PositionEmbedding(sequence_length=5, name="positions")(x)
        graphs = [
            (hub.TransformerEncoder(6, 2, dropout=0.1, name="dropped")(x),
             "layer `dropped` (TransformerEncoder): `dropout=0.1`: netdsl's TransformerEncoder has no dropout"),
            (hub.TransformerEncoder(6, 2, layer_norm_epsilon=1e-6, name="eps")(x),
             "layer `eps` (TransformerEncoder): `layer_norm_epsilon=1e-06`: netdsl's TransformerEncoder normalizes with 1e-5"),
            (layers.Dense(3)(encoded),
             "layer `positions` (PositionEmbedding): netdsl's layer adds the encoding to its input: expected `x + layer(x)`"),
            (layers.Dense(4)(x) + hub.SinePositionEncoding(name="sine")(x),
             "layer `sine` (SinePositionEncoding): netdsl's layer adds the encoding to its input"),
        ]
        for y, message in graphs:
            with self.subTest(message):
                with self.assertRaises(UnsupportedLayer) as raised:
                    keras_to_netdsl(keras.Model(x, y))
                self.assertIn(message, str(raised.exception))
        with self.assertRaises(netdsl_keras.DeclarationError) as raised:
            netdsl_to_keras("(5, 4) => TransformerEncoder(heads = 2, ff = 6, causal = true)")
        self.assertIn("keras_hub's TransformerEncoder has no causal mask", str(raised.exception))

    def test_declarations_parse_with_comments_and_several_networks(self):
        text = """
            network! {
                /// A comment `=> Dense(1)`.
                pub struct A<784 => Dense(64, relu) => Dense(10, softmax)>; // trailing
                struct B<(28, 28) => Bidirectional(LSTM(32, return_sequences = true)) => Dense(2)>;
            }
        """
        b = parse_declaration(text, "B")
        self.assertEqual(b.input, (28, 28))
        self.assertEqual(b.layers[0].keyword, "Bidirectional")
        self.assertEqual(b.layers[0].positional[0].options, {"return_sequences": "true"})
        self.assertEqual(parse_declaration(text).name, "A")

    def test_joins_parse_into_branches(self):
        network = parse_declaration(
            "4 => Concatenate(Residual(Dense(6) => BatchNormalization, relu), Flatten => Dense(2))"
            " => CrossAttention(Dense(4), Dense(3), heads = 2, key_dim = 3, causal = true)"
        )
        concatenate, cross = network.layers
        self.assertEqual(concatenate.keyword, "Concatenate")
        residual, branch = concatenate.positional
        self.assertEqual([layer.keyword for layer in branch], ["Flatten", "Dense"])
        (residual,) = residual
        self.assertEqual([layer.keyword for layer in residual.positional[0]], ["Dense", "BatchNormalization"])
        self.assertEqual(residual.positional[1], "relu")
        self.assertEqual(cross.options, {"heads": 2, "key_dim": 3, "causal": "true"})
        self.assertEqual(len(cross.positional), 2)

    def test_command_line_round_trip(self):
        keras.backend.clear_session()
        model, x = seeded(dict(CASES)["Conv2dPools"], 1)
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            model.save(tmp / "model.keras")
            env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
            run = [sys.executable, "-m", "netdsl_keras"]
            subprocess.run(run + ["from-keras", str(tmp / "model.keras"), "--name", "Lenet",
                                  "--weights", str(tmp / "lenet.safetensors"),
                                  "--declaration", str(tmp / "lenet.rs")], check=True, env=env)
            self.assertIn("pub struct Lenet<(8, 8, 2) => Conv2d(3, 3, relu, padding = same)",
                          (tmp / "lenet.rs").read_text())
            subprocess.run(run + ["to-keras", str(tmp / "lenet.rs"), "--weights", str(tmp / "lenet.safetensors"),
                                  "--output", str(tmp / "back.keras")], check=True, env=env)
            back = keras.saving.load_model(tmp / "back.keras")
            self.assertLessEqual(largest_error(predict(back, x), predict(model, x)), TOLERANCE)
            failed = subprocess.run(run + ["to-keras", str(tmp / "lenet.rs"), "--weights",
                                           str(FIXTURES / "mlp.safetensors"), "--output", str(tmp / "x.keras")],
                                    env=env, capture_output=True, text=True)
            self.assertEqual(failed.returncode, 1)
            self.assertIn("the weights have no tensor `conv2d_1.kernel`", failed.stderr)


def load_tests(loader, tests, ignore):
    """The package's docstring examples run as tests too."""
    tests.addTests(doctest.DocTestSuite(netdsl_keras))
    return tests


if __name__ == "__main__":
    unittest.main()
