"""The examples in the public docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib.util
import os
import subprocess
import sys

import pytest

import sigcodegen
from sigcodegen import algebra, distributed, spec
from sigcodegen.compat import iisignature as compat_iisignature
from sigcodegen.ops import (coefficients, features, logsignature, sigkernel, signature, stream, tensor_algebra,
                            transforms, windows)
from sigcodegen.runtime import dispatch

MODULES = [sigcodegen, algebra, distributed, spec, signature, logsignature, tensor_algebra,
           transforms, windows, dispatch, sigkernel, compat_iisignature, features, stream,
           coefficients]
if importlib.util.find_spec("sklearn") is not None:
    from sigcodegen import sklearn as sklearn_integration

    MODULES.append(sklearn_integration)
if importlib.util.find_spec("torch") is not None:
    from sigcodegen.compat import signatory as compat_signatory

    MODULES.append(compat_signatory)
if importlib.util.find_spec("sktime") is not None:
    from sigcodegen import sktime as sktime_integration

    MODULES.append(sktime_integration)


@pytest.mark.parametrize("module", MODULES,
                         ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_layer_docstring_examples():
    """sigcodegen.layers in a child process on the JAX backend: importing keras here would fix
    this process's Keras backend."""
    if importlib.util.find_spec("keras") is None or importlib.util.find_spec("jax") is None:
        pytest.skip("keras with the jax backend is not installed")
    code = ("import doctest, sigcodegen.layers as m; "
            "r = doctest.testmod(m, optionflags=doctest.NORMALIZE_WHITESPACE); "
            "print('doctest', r.attempted, r.failed)")
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    attempted, failed = map(int, result.stdout.split("doctest")[-1].split())
    assert attempted > 0 and failed == 0, result.stdout[-4000:]
