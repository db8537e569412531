"""PyTorch -> netdsl: the committed fixtures of tests/fixtures/interop/torch are what
`torch_to_netdsl` makes of the committed state dicts, PyTorch's formulas (numpy, float64) give the
committed outputs, and (when torch is installed) torch itself gives them too; the mapping's
errors name the module and the layer. numpy alone runs it; tests/interop_torch.rs checks that
netdsl, given the mapped weights, gives the same outputs.
"""

import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import numpy as np  # noqa: E402

from common import snake  # noqa: E402
from netdsl_keras import load_safetensors, torch_to_netdsl  # noqa: E402
from netdsl_keras.torch_to_netdsl import TorchMappingError  # noqa: E402
from torch_cases import CASES, linear_shapes, recurrent_shapes  # noqa: E402

FIXTURES = HERE.parents[2] / "tests" / "fixtures" / "interop" / "torch"


def fixture(case, kind):
    return load_safetensors(FIXTURES / f"{case}.{kind}safetensors")


class TorchToNetdsl(unittest.TestCase):
    def test_fixtures_are_what_the_mapping_writes(self):
        committed = (FIXTURES / "networks.rs").read_text()
        for name, chain, _, _, _ in CASES:
            with self.subTest(name):
                case = snake(name)
                self.assertIn(f"pub struct {name}<{chain}>;", committed)
                state, _ = fixture(case, "torch.")
                mapped = torch_to_netdsl(state, chain)
                netdsl, _ = fixture(case, "")
                self.assertEqual(sorted(mapped), sorted(netdsl))
                for key, value in netdsl.items():
                    np.testing.assert_array_equal(mapped[key], value, err_msg=key)

    def test_pytorch_formulas_give_the_committed_outputs(self):
        for name, _, _, _, forward in CASES:
            with self.subTest(name):
                case = snake(name)
                state, _ = fixture(case, "torch.")
                io, metadata = fixture(case, "io.")
                y = forward({k: v.astype(np.float64) for k, v in state.items()}, io["input"].astype(np.float64))
                scale = np.max(np.abs(io["output"]))
                self.assertLessEqual(np.max(np.abs(y.reshape(2, -1) - io["output"])) / scale, 1e-6, metadata)

    def test_torch_itself_gives_the_committed_outputs(self):
        try:
            import torch
        except ImportError:
            self.skipTest("torch is not installed")
        from torch_cases import torch_models

        models, run = torch_models()
        for name, _, _, _, _ in CASES:
            with self.subTest(name):
                case = snake(name)
                state, _ = fixture(case, "torch.")
                io, _ = fixture(case, "io.")
                module = models[name]
                module.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
                y = run(module, io["input"]).reshape(2, -1)
                scale = np.max(np.abs(io["output"]))
                self.assertLessEqual(np.max(np.abs(y - io["output"])) / scale, 1e-5)

    def test_gru_gates_are_reordered_and_biases_stacked(self):
        units = 2
        w_ih = np.arange(3 * units * 3, dtype=np.float32).reshape(3 * units, 3)
        state = {
            "0.weight_ih_l0": w_ih,
            "0.weight_hh_l0": np.zeros((3 * units, units), np.float32),
            "0.bias_ih_l0": np.array([1, 1, 2, 2, 3, 3], np.float32),  # r, z, n
            "0.bias_hh_l0": np.array([4, 4, 5, 5, 6, 6], np.float32),
        }
        mapped = torch_to_netdsl(state, "(4, 3) => GRU(2)")
        np.testing.assert_array_equal(mapped["gru_1.bias"], [[2, 2, 1, 1, 3, 3], [5, 5, 4, 4, 6, 6]])
        np.testing.assert_array_equal(mapped["gru_1.kernel"][:, :units], w_ih[units : 2 * units].T)

    def test_mismatches_name_the_module_and_the_layer(self):
        shapes = {**recurrent_shapes(4, 3, 4), **linear_shapes("1", 4, 2)}
        state = {k: np.zeros(v, np.float32) for k, v in shapes.items()}
        cases = [
            ("(5, 3) => GRU(4) => Dense(2)", "do not fit `gru_1`, a GRU of 4 units (3 gates)"),
            ("(5, 3) => Dense(4) => Dense(2)", "module `0.recurrent` for `dense_1` (Dense): a recurrent module where netdsl has Dense"),
            ("(5, 3) => LSTM(4)", "module `1` (weight, bias) is left over"),
            ("(5, 3) => LSTM(4) => Dense(2) => Dense(2)", "the state dict ends before dense_2"),
        ]
        for chain, message in cases:
            with self.subTest(chain):
                with self.assertRaises(TorchMappingError) as raised:
                    torch_to_netdsl(state, chain)
                self.assertIn(message, str(raised.exception))


if __name__ == "__main__":
    unittest.main()
