"""Signatures on several devices (4 CPU devices forced in a subprocess): batch-sharded inputs
stay sharded on the c and jax targets (no gather), time-sharded signatures equal the
single-device ones, and a Keras model with SigLayer trains the same under DataParallel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reference import relative_error
from reference import signature as reference_signature

WORKER = Path(__file__).resolve().parent / "distributed_worker.py"


def _run(tmp_path_factory, *mode):
    out = tmp_path_factory.mktemp("devices")
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    result = subprocess.run([sys.executable, str(WORKER), str(out), *mode], env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads((out / "report.json").read_text())
    assert report["devices"] == 4
    return report, dict(np.load(out / "outputs.npz"))


@pytest.fixture(scope="module")
def sharding(tmp_path_factory):
    return _run(tmp_path_factory)


@pytest.mark.parametrize("target", ["c", "jax"])
@pytest.mark.parametrize("stream", [False, True])
def test_batch_sharded_input_stays_sharded(sharding, target, stream):
    report, outputs = sharding
    tag = f"batch-{target}-{'stream' if stream else 'final'}"
    assert report[tag]["sharded"] and report[tag]["grad_sharded"]
    assert not report[tag]["gathers"]
    x = outputs["batch-x"]
    assert relative_error(outputs[tag], reference_signature(x, 3, stream), 3, 3) <= 1e-12


@pytest.mark.parametrize("target", ["c", "jax"])
@pytest.mark.parametrize("stream", [False, True])
def test_time_sharded_signature_equals_one_device(sharding, target, stream):
    _, outputs = sharding
    x = outputs["time-x"]
    got = outputs[f"time-{target}-{'stream' if stream else 'final'}"]
    assert relative_error(got, reference_signature(x, 4, stream), 3, 4) <= 1e-12


def test_keras_data_parallel_training_matches_one_device(tmp_path_factory):
    report, _ = _run(tmp_path_factory, "keras")
    single, parallel = np.array(report["keras-single"]), np.array(report["keras-parallel"])
    assert single[-1] < single[0]
    np.testing.assert_allclose(parallel, single, rtol=1e-4)
