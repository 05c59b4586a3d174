"""The in-process targets (jax, c) against the float64 reference: every strategy × stream ×
dtype × shape of tests/cases.py (the keras target runs the same matrix per backend in
test_keras_backends.py)."""

from __future__ import annotations

import numpy as np
import pytest

import sigcodegen as sc
from cases import TARGET_STRATEGIES, TOLERANCE, long_cases, numeric_cases
from reference import relative_error
from reference import signature as reference_signature

MATRIX = [(target, case) for target, strategies in TARGET_STRATEGIES.items()
          for case in numeric_cases(strategies)]


@pytest.mark.parametrize("target,case", MATRIX, ids=[f"{t}-{c[0]}" for t, c in MATRIX])
def test_target_matches_reference(target, case):
    _, dim, depth, strategy, stream, dtype, path = case
    got = sc.signature(path, depth, stream, target=target, strategy=strategy)
    want = reference_signature(path, depth, stream)
    assert isinstance(got, np.ndarray)
    assert got.dtype == np.dtype(dtype)
    assert got.shape == want.shape
    assert relative_error(got, want, dim, depth) <= TOLERANCE[dtype]


@pytest.mark.parametrize("case", long_cases(), ids=lambda c: c[0])
def test_jax_target_long_and_forced_splits(case):
    import jax
    import jax.numpy as jnp

    from sigcodegen.runtime.dispatch import load_module

    _, dim, depth, strategy, stream, dtype, path, options = case
    module = load_module(sc.KernelSpec(dim=dim, depth=depth, target="jax"))
    with jax.enable_x64(dtype == "float64"):
        got = np.asarray(module.signature(jnp.asarray(path), stream, strategy, **options))
    want = reference_signature(path, depth, stream)
    assert got.dtype == np.dtype(dtype)
    assert relative_error(got, want, dim, depth) <= TOLERANCE[dtype]


def test_default_strategy_and_target_match_reference():
    rng = np.random.default_rng(3)
    path = rng.standard_normal((5, 40, 3))
    assert relative_error(sc.signature(path, 3), reference_signature(path, 3), 3, 3) <= 1e-12
