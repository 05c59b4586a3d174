"""SignatureStream: windows equal the reference signature of the slice (tests/reference.py,
float64 Chen products), for random windows, both stores, float32 and float64, batches, scalar
and array queries, a long path (L = 10^5), the auto rule, gradients and errors."""

from __future__ import annotations

import numpy as np
import pytest
from reference import brownian, finite_difference_gradient
from reference import signature as reference_signature

import sigcodegen as sc


def _windows(rng, length, count):
    starts = rng.integers(0, length - 1, count)
    ends = np.minimum(starts + rng.integers(1, length, count), length)
    return starts, ends


@pytest.mark.parametrize("method", ["prefix", "dyadic"])
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-11), (np.float32, 2e-5)],
                         ids=["float64", "float32"])
@pytest.mark.parametrize("dim,depth,length", [(2, 3, 37), (3, 2, 16), (1, 4, 9)])
def test_windows_equal_the_reference_signature_of_the_slice(method, dtype, tol, dim, depth,
                                                            length):
    rng = np.random.default_rng(dim * 100 + length)
    x = brownian(rng, (3, length, dim), dtype)
    stream = sc.SignatureStream(x, depth, method=method)
    assert stream.method == method
    starts, ends = _windows(rng, length, 25)
    got = stream.signature(starts, ends)
    assert got.shape == (3, 25, sc.signature_channels(dim, depth)) and got.dtype == dtype
    want = np.stack([reference_signature(x[:, s:e], depth) for s, e in zip(starts, ends)], 1)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    for s, e in zip(starts[:5], ends[:5]):
        np.testing.assert_allclose(stream.signature(int(s), int(e)),
                                   reference_signature(x[:, s:e], depth), rtol=tol, atol=tol)
    np.testing.assert_allclose(stream.signature(), reference_signature(x, depth), rtol=tol,
                               atol=tol)
    np.testing.assert_allclose(stream.signature(-5, None),
                               reference_signature(x[:, -5:], depth), rtol=tol, atol=tol)


def test_every_window_of_a_short_path_both_stores():
    x = brownian(np.random.default_rng(1), (13, 2))
    for method in ("prefix", "dyadic"):
        stream = sc.SignatureStream(x, 3, method=method)
        starts, ends = np.array([(s, e) for s in range(13) for e in range(s + 1, 14)]).T
        want = np.stack([reference_signature(x[s:e], 3) for s, e in zip(starts, ends)])
        np.testing.assert_allclose(stream.signature(starts, ends), want, rtol=1e-12,
                                   atol=1e-12)


def test_logsignature_windows():
    x = brownian(np.random.default_rng(2), (2, 20, 3))
    stream = sc.SignatureStream(x, 3)
    for mode in ("words", "brackets", "expand"):
        np.testing.assert_allclose(stream.logsignature(4, 17, mode=mode),
                                   sc.logsignature(x[:, 4:17], 3, mode=mode), rtol=1e-10,
                                   atol=1e-12)


def test_long_path_and_the_auto_rule():
    """L = 10^5: float64 takes the prefix store, float32 the dyadic one (L eps N^2 > 1e-6)."""
    rng = np.random.default_rng(3)
    x = np.cumsum(rng.standard_normal((1, 100_000, 2)), axis=1) / 300
    starts = rng.integers(0, 99_000, 6)
    ends = starts + rng.integers(2, 1000, 6)
    want = np.stack([reference_signature(x[:, s:e], 3) for s, e in zip(starts, ends)], 1)
    for dtype, method, tol in ((np.float64, "prefix", 1e-11), (np.float32, "dyadic", 1e-5)):
        stream = sc.SignatureStream(x.astype(dtype), 3)
        assert stream.method == method
        np.testing.assert_allclose(stream.signature(starts, ends), want, rtol=tol, atol=tol)


def test_large_paths_switch_to_the_dyadic_store_which_stays_accurate():
    rng = np.random.default_rng(4)
    x = 40.0 * brownian(rng, (1, 200, 2))  # large prefixes: the inverse would cancel
    stream = sc.SignatureStream(x, 4)
    assert stream.method == "dyadic" and stream.prefix_bound > 1e-6
    starts, ends = np.arange(150, 190, 4), np.arange(150, 190, 4) + 5  # small windows
    want = np.stack([reference_signature(x[:, s:e], 4) for s, e in zip(starts, ends)], 1)
    np.testing.assert_allclose(stream.signature(starts, ends), want, rtol=1e-10, atol=1e-10)


def test_torch_gradients_match_finite_differences():
    torch = pytest.importorskip("torch")
    x = brownian(np.random.default_rng(5), (12, 2))
    weights = np.random.default_rng(6).standard_normal(sc.signature_channels(2, 3))
    want = np.zeros_like(x)
    want[3:9] = finite_difference_gradient(x[3:9], 3, weights)
    for method in ("prefix", "dyadic"):
        leaf = torch.tensor(x, requires_grad=True)
        out = sc.SignatureStream(leaf, 3, method=method).signature(3, 9)
        (out * torch.tensor(weights)).sum().backward()
        np.testing.assert_allclose(leaf.grad.numpy(), want, rtol=1e-6, atol=1e-6)


def test_bad_queries_are_refused():
    stream = sc.SignatureStream(brownian(np.random.default_rng(7), (10, 2)), 2)
    for start, end in ((5, 5), (np.array([0, 3]), np.array([4, 11])), (7, 3)):
        with pytest.raises(ValueError, match="window"):
            stream.signature(start, end)
    with pytest.raises(ValueError, match="integers"):
        stream.signature(np.array([0.5]), np.array([3]))
    with pytest.raises(ValueError, match="method"):
        sc.SignatureStream(np.zeros((4, 2)), 2, method="cached")
