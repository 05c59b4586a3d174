"""Runs the multi-device checks on 4 forced CPU devices, in its own process (XLA_FLAGS must be
set before jax starts). Usage: python distributed_worker.py OUT_DIR [keras]

Writes OUT_DIR/outputs.npz and OUT_DIR/report.json; asserts nothing (tests/test_distributed.py
compares with tests/reference.py)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
KERAS = len(sys.argv) > 2 and sys.argv[2] == "keras"
if KERAS:
    os.environ["KERAS_BACKEND"] = "jax"

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.sharding import Mesh, NamedSharding, PartitionSpec  # noqa: E402

import sigcodegen as sc  # noqa: E402
from sigcodegen.distributed import time_sharded_signature  # noqa: E402

outputs, report = {}, {"devices": len(jax.devices())}


def sharding_checks():
    jax.config.update("jax_enable_x64", True)
    mesh = Mesh(np.array(jax.devices()), ("batch",))
    x = np.cumsum(np.random.default_rng(0).standard_normal((8, 20, 3)), axis=1) / 4
    outputs["batch-x"] = x
    sharded = jax.device_put(jnp.asarray(x), NamedSharding(mesh, PartitionSpec("batch")))
    for target in ("c", "jax"):
        for stream in (False, True):
            tag = f"batch-{target}-{'stream' if stream else 'final'}"
            forward = jax.jit(lambda p: sc.signature(p, 3, stream, target=target))
            grad = jax.jit(jax.grad(lambda p: jnp.sum(sc.signature(p, 3, stream, target=target) ** 2)))
            out, g = forward(sharded), grad(sharded)
            outputs[tag], outputs[tag + "-grad"] = np.asarray(out), np.asarray(g)
            report[tag] = {
                "sharded": tuple(out.sharding.spec)[:1] == ("batch",),
                "grad_sharded": tuple(g.sharding.spec)[:1] == ("batch",),
                "gathers": "all-gather" in forward.lower(sharded).compile().as_text()
                or "all-gather" in grad.lower(sharded).compile().as_text(),
            }
    time_mesh = Mesh(np.array(jax.devices()), ("time",))
    long = np.cumsum(np.random.default_rng(1).standard_normal((2, 103, 3)), axis=1) / 10
    outputs["time-x"] = long
    for target in ("c", "jax"):
        for stream in (False, True):
            tag = f"time-{target}-{'stream' if stream else 'final'}"
            outputs[tag] = np.asarray(time_sharded_signature(jnp.asarray(long), 4, time_mesh, "time",
                                                             stream, target=target))


def keras_checks():
    import keras

    x = (np.cumsum(np.random.default_rng(2).standard_normal((64, 30, 4)), axis=1) / 6).astype("float32")
    y = np.sin(x[:, -1, :1]).astype("float32")

    def train():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((30, 4)), keras.layers.Dense(3), sc.SigLayer(3),
                                  keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
        model.compile(keras.optimizers.Adam(0.01), "mse", jit_compile=True)
        return model.fit(x, y, epochs=4, batch_size=16, shuffle=False, verbose=0).history["loss"]

    report["keras-single"] = train()
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.devices()))
    report["keras-parallel"] = train()


def main(out_dir):
    (keras_checks if KERAS else sharding_checks)()
    out = Path(out_dir)
    np.savez(out / "outputs.npz", **outputs)
    (out / "report.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
