"""The examples run end to end on a small subset (``--quick``), each in its own process with the
Keras backend it is meant for (switching backends inside one process is unsafe)."""

from __future__ import annotations

import importlib.util
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NUMBER = r"[-+]?\d+(?:\.\d*)?(?:e[-+]?\d+)?"


def need(*modules: str) -> None:
    """Skip unless the modules are installed (found, not imported: importing keras here would
    fix this process's Keras backend)."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")


def run_example(script: str, backend: str, *args: str) -> str:
    env = {**os.environ, "KERAS_BACKEND": backend}
    result = subprocess.run([sys.executable, str(EXAMPLES / script), *args], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result.stdout


def test_classify_timeseries_quick():
    need("jax", "keras", "sktime")
    out = run_example("classify_timeseries.py", "jax", "--quick")
    assert "54 train / 90 test utterances" in out and "on jax" in out

    # SigLayer on a padded, masked batch gives the signatures of the unpadded paths
    masking = re.search(rf"unpadded paths: relative difference ({NUMBER})", out)
    assert masking and float(masking.group(1)) < 1e-5, out

    rows = {}
    for name in ("signature", "logsignature", "GRU baseline"):
        row = re.search(rf"^{name} +(\d+) +({NUMBER}) ", out, re.MULTILINE)
        assert row, f"no result line for {name}:\n{out}"
        rows[name] = int(row.group(1)), float(row.group(2))
    assert all(params > 0 and 0.0 <= accuracy <= 1.0 for params, accuracy in rows.values())
    # Over seeds 0..5 the signature model scores 0.62-0.77 on this subset after 3 epochs;
    # chance is 1/9.
    assert rows["signature"][1] > 2 / 9, out


@pytest.mark.parametrize("backend", ["jax", "torch", "tensorflow"])
def test_sigkan_forecast_quick(backend):
    need("keras", backend)
    out = run_example("sigkan_forecast.py", backend, "--quick")
    assert f"on {backend}:" in out
    loss = re.search(r"(\S+) after epoch 1, (\S+) after epoch 2", out)
    mse = re.search(r"test MSE: model (\S+), no-change baseline (\S+) ", out)
    assert loss and mse, out
    # the training loss and the predictions are finite (nan and inf print as such)
    assert all(math.isfinite(float(v)) for v in loss.groups() + mse.groups()), out


def test_signature_pipeline_quick():
    need("sklearn", "sktime")
    out = run_example("signature_pipeline.py", "jax", "--quick")
    assert "60 train / 90 test utterances" in out
    difference = re.search(rf"transformers differ by ({NUMBER})", out)
    assert difference and float(difference.group(1)) == 0.0, out
    for name in ("sktime pipeline", "sklearn pipeline"):
        row = re.search(rf"^{name} +test accuracy ({NUMBER})", out, re.MULTILINE)
        assert row, out
        # 0.889 on this subset (seed 0); chance is 1/9
        assert float(row.group(1)) > 3 / 9, out
