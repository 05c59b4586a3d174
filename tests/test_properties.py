"""Property-based tests (hypothesis) over random dims, depths, lengths, batches and paths: the
identities every signature satisfies, checked on the c and jax targets, and every emitted
module (random spec, every target run in-process) against the float64 reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sigcodegen as sc
from reference import chen_product, level_slices, relative_error
from reference import signature as reference_signature

TARGETS = ("c", "jax")
SETTINGS = settings(max_examples=20, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def paths(draw, min_length=2):
    dim = draw(st.integers(1, 4))
    depth = draw(st.integers(1, 4))
    length = draw(st.integers(min_length, 12))
    batch = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    path = np.random.default_rng(seed).standard_normal((batch, length, dim))
    return np.cumsum(path, axis=1) / np.sqrt(length), depth


def levels(flat, dim, depth):
    return [flat[sl].reshape((dim,) * (k + 1)) for k, sl in enumerate(level_slices(dim, depth))]


def close(a, b, dim, depth, tol=1e-10):
    return relative_error(a, b, dim, depth) <= tol or np.max(np.abs(a - b)) <= 1e-12


@pytest.mark.parametrize("target", TARGETS)
@SETTINGS
@given(case=paths(min_length=3), data=st.data())
def test_chens_identity(target, case, data):
    path, depth = case
    dim, length = path.shape[-1], path.shape[1]
    k = data.draw(st.integers(1, length - 2))
    whole = sc.signature(path, depth, target=target)
    head = sc.signature(path[:, : k + 1], depth, target=target)
    tail = sc.signature(path[:, k:], depth, target=target)
    for b in range(path.shape[0]):
        joined = chen_product(levels(head[b], dim, depth), levels(tail[b], dim, depth))
        assert close(np.concatenate([x.ravel() for x in joined]), whole[b], dim, depth)


@pytest.mark.parametrize("target", TARGETS)
@SETTINGS
@given(case=paths(), shift=st.floats(-10, 10), scale=st.floats(-3, 3).filter(lambda c: abs(c) > 1e-3))
def test_translation_and_scaling(target, case, shift, scale):
    path, depth = case
    dim = path.shape[-1]
    base = sc.signature(path, depth, target=target)
    assert close(sc.signature(path + shift, depth, target=target), base, dim, depth)
    scaled = sc.signature(scale * path, depth, target=target)
    for k, sl in enumerate(level_slices(dim, depth), start=1):  # level k scales by c^k
        assert np.allclose(scaled[:, sl], scale**k * base[:, sl], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("target", TARGETS)
@SETTINGS
@given(case=paths(), data=st.data())
def test_repeating_a_point_changes_nothing(target, case, data):
    path, depth = case
    dim, length = path.shape[-1], path.shape[1]
    i = data.draw(st.integers(0, length - 1))
    repeated = np.concatenate([path[:, : i + 1], path[:, i:]], axis=1)
    assert close(sc.signature(repeated, depth, target=target),
                 sc.signature(path, depth, target=target), dim, depth)


@pytest.mark.parametrize("target", TARGETS)
@SETTINGS
@given(case=paths())
def test_reversal_gives_the_inverse(target, case):
    path, depth = case
    dim = path.shape[-1]
    forward = sc.signature(path, depth, target=target)
    backward = sc.signature(path[:, ::-1], depth, target=target)  # a negative-stride view
    for b in range(path.shape[0]):
        product = chen_product(levels(forward[b], dim, depth), levels(backward[b], dim, depth))
        scale = max(1.0, float(np.max(np.abs(forward[b]))))
        assert all(np.max(np.abs(level)) <= 1e-10 * scale**2 for level in product)


@SETTINGS
@given(dim=st.integers(1, 6), depth=st.integers(1, 5), target=st.sampled_from(TARGETS),
       strategy=st.sampled_from(("horner", "chunked")), stream=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_random_specs_import_and_match_the_reference(dim, depth, target, strategy, stream, seed):
    if sc.signature_channels(dim, depth) > 4000:
        return  # keep the compile time of the c target in check
    path = np.cumsum(np.random.default_rng(seed).standard_normal((2, 7, dim)), axis=1)
    got = sc.signature(path, depth, stream, target=target, strategy=strategy)
    assert relative_error(got, reference_signature(path, depth, stream), dim, depth) <= 1e-12
