"""Agreement with the established libraries where they are installed (skipped with the reason
when not): iisignature and pysiglib, float64."""

from __future__ import annotations

import numpy as np
import pytest

import sigcodegen as sc
from reference import brownian, relative_error

PAIRS = [(1, 4), (2, 5), (3, 4), (5, 4), (8, 2)]


@pytest.mark.parametrize("strategy", ["horner", "chunked", "levelwise"])
@pytest.mark.parametrize("dim,depth", PAIRS)
def test_matches_iisignature(dim, depth, strategy):
    iisignature = pytest.importorskip("iisignature", reason="iisignature is not installed")
    path = brownian(np.random.default_rng(dim * 10 + depth), (6, 30, dim))
    want = iisignature.sig(path, depth)
    got = sc.signature(path, depth, strategy=strategy)
    assert relative_error(got, want, dim, depth) <= 1e-12
    want_stream = iisignature.sig(path, depth, 2)  # format 2: every prefix
    got_stream = sc.signature(path, depth, stream=True, strategy=strategy)
    assert relative_error(got_stream, want_stream, dim, depth) <= 1e-12


@pytest.mark.parametrize("dim,depth", PAIRS)
def test_matches_pysiglib(dim, depth):
    pysiglib = pytest.importorskip("pysiglib", reason="pysiglib is not installed")
    path = brownian(np.random.default_rng(dim * 7 + depth), (6, 30, dim))
    want = np.asarray(pysiglib.signature(path, degree=depth))
    if want.shape[-1] == sc.signature_channels(dim, depth) + 1:  # a leading scalar term
        want = want[..., 1:]
    got = sc.signature(path, depth)
    assert relative_error(got, want, dim, depth) <= 1e-12
