"""Every public function on the inputs users get wrong: each gives the documented result or a
ValueError/TypeError that says what to change (never an IndexError from inside)."""

from __future__ import annotations

import numpy as np
import pytest

import sigcodegen as sc
from reference import brownian
from sigcodegen.runtime.dispatch import load_module

GOOD = brownian(np.random.default_rng(0), (2, 5, 3))


@pytest.mark.parametrize("function", ["signature_channels", "words", "level_sizes"])
@pytest.mark.parametrize("dim,depth,error,match", [
    (0, 2, ValueError, "dim must be >= 1"),
    (3, 0, ValueError, "depth must be >= 1"),
    (3, -1, ValueError, "depth must be >= 1"),
    (3, 2.0, TypeError, "depth must be an integer"),
    (3, "2", TypeError, "depth must be an integer"),
    (2, 10**6, ValueError, "coefficients per path"),
    (1, 10**6, ValueError, "MAX_DEPTH"),
])
def test_algebra_functions_refuse_bad_sizes(function, dim, depth, error, match):
    if function == "signature_channels" and depth == 10**6:  # a count: never refused
        # 1 + 1 + ... = depth; 2 + 4 + ... + 2**depth = 2**(depth + 1) - 2 (binary 11...10)
        assert sc.signature_channels(dim, depth) == (depth if dim == 1 else 2**(depth + 1) - 2)
        return
    with pytest.raises(error, match=match):
        getattr(sc, function)(dim, depth)


@pytest.mark.parametrize("call", [
    lambda p, m: sc.signature(p, m),
    lambda p, m: sc.signature_vjp(p, np.zeros((2, 12)), m),
    lambda p, m: sc.jax_gpu_signature(p, m),
], ids=["signature", "signature_vjp", "jax_gpu_signature"])
@pytest.mark.parametrize("path,depth,error,match", [
    (np.zeros(4), 2, ValueError, r"shape \(\.\.\., L, d\)"),
    (np.zeros((2, 0, 3)), 2, ValueError, "no points"),
    (np.zeros((2, 5, 0)), 2, ValueError, "last axis"),
    (GOOD, 0, ValueError, "depth must be >= 1"),
    (GOOD, 2.5, TypeError, "depth must be an integer"),
    (GOOD, 40, ValueError, "coefficients per path"),
    (GOOD.astype(complex), 2, TypeError, "complex"),
], ids=["rank1", "L0", "dim0", "depth0", "depth-float", "huge", "complex"])
def test_path_functions_refuse_bad_input(call, path, depth, error, match):
    with pytest.raises(error, match=match):
        call(path, depth)


@pytest.mark.parametrize("target", ["c", "jax"])
def test_modules_refuse_the_wrong_last_axis(target):
    module = load_module(sc.KernelSpec(dim=3, depth=2, target=target))
    with pytest.raises(ValueError, match=r"\(\.\.\., L, 3\)"):
        module.signature(np.zeros((2, 5, 4)) if target == "c" else __import__("jax").numpy.zeros((2, 5, 4)))


@pytest.mark.parametrize("target", ["c", "jax"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_inf_propagate(target, bad):
    """Documented: a non-finite point makes that path's signature non-finite; the other paths of
    the batch are unaffected."""
    path = GOOD.copy()
    path[0, 2, 1] = bad
    out = sc.signature(path, 3, target=target)
    assert not np.isfinite(out[0]).all()
    assert np.isfinite(out[1]).all()
    stream = sc.signature(path, 3, stream=True, target=target)
    assert np.isfinite(stream[0, 0]).all() and not np.isfinite(stream[0, -1]).all()


@pytest.mark.parametrize("target", ["c", "jax"])
def test_negative_strides_and_lists(target):
    reversed_view = GOOD[:, ::-1, ::-1]
    copy = np.ascontiguousarray(reversed_view)
    assert np.array_equal(sc.signature(reversed_view, 3, target=target),
                          sc.signature(copy, 3, target=target))
    assert np.array_equal(sc.signature(GOOD.tolist(), 3, target=target),
                          sc.signature(GOOD, 3, target=target))


def test_signature_vjp_refuses_a_misshapen_gradient():
    with pytest.raises(ValueError, match="grad has shape"):
        sc.signature_vjp(GOOD, np.zeros((2, 13)), 2)
    with pytest.raises(ValueError, match="runs the c and jax targets"):
        sc.signature_vjp(GOOD, np.zeros((2, 12)), 2, target="keras")
