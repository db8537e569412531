"""Writes the committed PyTorch -> netdsl fixtures of tests/fixtures/interop/torch, read by the
Rust test tests/interop_torch.rs (which needs no Python):

    <case>.torch.safetensors  the PyTorch state dict, under PyTorch's names and layouts
    <case>.safetensors        what netdsl_keras.torch_to_netdsl makes of it (netdsl's names)
    <case>.io.safetensors     `input` (netdsl's layout, channels last) and `output`, PyTorch's
    networks.rs               the netdsl declaration of each case

The weights are drawn from a seeded generator. The outputs come from torch itself when it is
installed (the file's metadata says `torch <version>`; the numpy reimplementation of
torch_cases.py is checked against it to 1e-12), else from that reimplementation in float64
(`numpy reference`). Rerun from the repository's root:

    python python/netdsl_keras/tests/make_torch_fixtures.py
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import numpy as np  # noqa: E402

from common import snake  # noqa: E402
from netdsl_keras import save_safetensors, torch_to_netdsl  # noqa: E402
from torch_cases import CASES  # noqa: E402

OUT = HERE.parents[2] / "tests" / "fixtures" / "interop" / "torch"
HEADER = """// Written by python/netdsl_keras/tests/make_torch_fixtures.py: the netdsl declaration of each
// PyTorch model of python/netdsl_keras/tests/torch_cases.py. Included by tests/interop_torch.rs.
"""


def state_dict(shapes, seed):
    rng = np.random.default_rng(seed)
    return {name: rng.uniform(-1.0, 1.0, shape).astype(np.float32) for name, shape in shapes.items()}


def torch_outputs(name, state, x):
    """PyTorch's own output, in float64, or `None` without torch."""
    try:
        import torch
    except ImportError:
        return None, None
    from torch_cases import torch_models

    models, run = torch_models()
    module = models[name].double()
    module.load_state_dict({k: torch.from_numpy(v.astype(np.float64)) for k, v in state.items()})
    return run(module, x.astype(np.float64)), f"torch {torch.__version__}"


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    declarations = [HEADER]
    for seed, (name, chain, input_shape, shapes, forward) in enumerate(CASES):
        case = snake(name)
        state = state_dict(shapes, seed)
        x = np.random.default_rng(100 + seed).uniform(-1.0, 1.0, (2, *input_shape)).astype(np.float32)
        reference = forward({k: v.astype(np.float64) for k, v in state.items()}, x.astype(np.float64))
        output, source = torch_outputs(name, state, x)
        if output is None:
            output, source = reference, "numpy reference"
        else:
            error = np.max(np.abs(output.reshape(reference.shape) - reference))
            assert error < 1e-12, f"{name}: the numpy reference is {error} from torch"
        save_safetensors(OUT / f"{case}.torch.safetensors", state)
        save_safetensors(OUT / f"{case}.safetensors", torch_to_netdsl(state, chain), {"netdsl": chain})
        save_safetensors(OUT / f"{case}.io.safetensors", {"input": x, "output": output.reshape(2, -1)},
                         {"output from": source})
        declarations.append(f"network! {{\n    pub struct {name}<{chain}>;\n}}\n")
        print(f"{case}: {chain} (output from {source})", file=sys.stderr)
    (OUT / "networks.rs").write_text("\n".join(declarations))


if __name__ == "__main__":
    main()
