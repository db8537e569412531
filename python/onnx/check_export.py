"""Runs netdsl's exported ONNX files with onnxruntime and compares with netdsl's predictions.

`cargo test --release --test onnx` with `NETDSL_ONNX_DIR=DIR` writes, for each model, `NAME.onnx`,
`NAME.input.f32` (the inputs, `samples x inputs` little-endian floats) and `NAME.output.f32`
(netdsl's `predict` of each), listed in `DIR/manifest.json`. This script runs each graph on the
inputs with onnxruntime's CPU provider, prints the largest absolute difference per model, and
fails if any exceeds the tolerance (1e-5 unless `--tolerance` says otherwise):

    python python/onnx/check_export.py DIR
"""

import argparse
import json
import pathlib
import sys

import numpy as np
import onnxruntime as ort


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=pathlib.Path, help="where the Rust test wrote the files")
    parser.add_argument("--tolerance", type=float, default=1e-5)
    args = parser.parse_args()

    manifest = json.loads((args.dir / "manifest.json").read_text())
    failures = []
    print(f"onnxruntime {ort.__version__}, numpy {np.__version__}")
    for model in manifest["models"]:
        name, samples = model["name"], model["samples"]
        x = np.fromfile(args.dir / f"{name}.input.f32", dtype="<f4")
        expected = np.fromfile(args.dir / f"{name}.output.f32", dtype="<f4")
        x = x.reshape(samples, model["inputs"])
        expected = expected.reshape(samples, model["outputs"])
        session = ort.InferenceSession(
            str(args.dir / f"{name}.onnx"), providers=["CPUExecutionProvider"]
        )
        (y,) = session.run(["output"], {"input": x})
        error = float(np.max(np.abs(y - expected)))
        agree = int(np.sum(np.argmax(y, axis=1) == np.argmax(expected, axis=1)))
        verdict = "ok" if error <= args.tolerance else "FAILED"
        print(
            f"{name:>14}: max |onnxruntime - netdsl| = {error:.2e}, "
            f"same class {agree}/{samples}  {verdict}"
        )
        if error > args.tolerance:
            failures.append(name)
    if failures:
        print(f"over {args.tolerance:g}: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
