"""Scale out in Keras, run in netdsl: the tutorial's network trained data-parallel with Keras 3's
distribution API on JAX, then brought back for allocation-free inference in netdsl.

A data set that outgrows one machine is trained where there are devices: Keras'
`keras.distribution.DataParallel` splits each batch across them, on one host or many (on several
hosts, `jax.distributed.initialize()` first, the same script on each). Here the devices are two
JAX CPU devices of this machine (`jax.config.update("jax_num_cpu_devices", 2)`, the setting
that replaced `XLA_FLAGS=--xla_force_host_platform_device_count=2`), the path end to end the
same. The trained model goes through netdsl_keras, which checks that its
declaration is the one examples/keras_mnist.rs compiles and writes its weights under netdsl's
names; netdsl then evaluates them:

    target/venv-interop/bin/python python/netdsl_keras/examples/data_parallel.py
    cargo run --release --example keras_mnist -- target/data_parallel/weights.safetensors

(`target/venv-interop` is the venv .ci/interop makes: Keras 3.15.1 on JAX, CPU.)
"""

import os
import sys
from pathlib import Path

os.environ["KERAS_BACKEND"] = "jax"
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "python" / "netdsl_keras"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import jax  # noqa: E402

# Before JAX starts its CPU client: two CPU devices to split the batches across. (JAX's own
# setting; with JAX 0.10 and Keras 3.15 on two cores, the older
# `XLA_FLAGS=--xla_force_host_platform_device_count=2` leaves Keras' first all-reduce waiting
# for its second device.)
jax.config.update("jax_num_cpu_devices", 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from netdsl_keras import keras_to_netdsl, save_safetensors  # noqa: E402
from train_mnist import mnist, tutorial_model  # noqa: E402

OUT = ROOT / "target" / "data_parallel"


def main():
    devices = keras.distribution.list_devices("cpu")
    print(f"JAX devices: {jax.devices()}")
    # Each batch of 128 split into two of 64, one per device; the gradients averaged across them.
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))

    keras.utils.set_random_seed(42)
    x_train, y_train, x_test, y_test = mnist()
    model = tutorial_model()
    # Batches fed one at a time: `model.fit`'s own input pipeline, which prefetches batches onto
    # the devices from a thread of its own, leaves the first all-reduce of two CPU devices
    # waiting on a machine of two cores (Keras 3.15.1, JAX 0.10.2); `train_on_batch` shards each
    # batch alike, without it.
    rng = np.random.default_rng(42)
    for epoch in range(1, 3):
        order = rng.permutation(len(x_train))
        for start in range(0, len(order), 128):
            batch = order[start:start + 128]
            loss, train_accuracy = model.train_on_batch(x_train[batch], y_train[batch])
        print(f"epoch {epoch}/2: loss {loss:.4f}, accuracy {train_accuracy:.4f} (its last batch)")
    _, accuracy = model.evaluate(x_test, y_test, batch_size=128, verbose=0)
    print(f"Keras test accuracy (data-parallel on {len(devices)} devices): {accuracy:.4f}")

    converted = keras_to_netdsl(model, "KerasMnist")
    compiled = (ROOT / "examples" / "keras_mnist" / "network.rs").read_text()
    if converted.declaration not in compiled:
        raise SystemExit(
            "the trained model's declaration is not the one examples/keras_mnist.rs compiles:\n"
            + converted.declaration
        )
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "weights.safetensors"
    save_safetensors(path, converted.tensors,
                     {"netdsl": converted.chain, "keras_test_accuracy": f"{accuracy:.4f}"})
    print(f"wrote {path.relative_to(ROOT)}; now: "
          f"cargo run --release --example keras_mnist -- {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
