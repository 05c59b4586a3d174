"""Gradients of the in-process targets (jax: custom VJP walking time back; c: native backward)
against central finite differences of the float64 reference, float32 against float64, the
checkpoint fallback for large states, and memory that does not grow with the state count.
(The keras target's gradients run per backend in test_keras_backends.py.)"""

from __future__ import annotations

import numpy as np
import pytest

import sigcodegen as sc
from cases import TARGET_STRATEGIES
from reference import brownian, finite_difference_gradient
from reference import signature as reference_signature
from sigcodegen.runtime.dispatch import load_module

SHAPES = [(1, 1, 2), (2, 3, 9), (3, 4, 6)]  # (dim, depth, L), with d=1, depth=1, L=2


def grad_of(target, strategy, path, weights, depth, stream):
    """d sum(weights * signature) / d path through the target's own gradient machinery."""
    import jax
    import jax.numpy as jnp

    with jax.enable_x64(path.dtype == np.float64):
        return np.asarray(jax.grad(lambda p: jnp.sum(jnp.asarray(weights, p.dtype) * sc.signature(
            p, depth, stream, target=target, strategy=strategy)))(jnp.asarray(path)))


CASES = [(t, s, st, shape) for t, strategies in TARGET_STRATEGIES.items() for s in strategies
         for st in (False, True) for shape in SHAPES]


@pytest.mark.parametrize("target,strategy,stream,shape", CASES,
                         ids=[f"{t}-{s}-{'stream' if st else 'final'}-d{d}m{m}L{L}"
                              for t, s, st, (d, m, L) in CASES])
def test_float64_gradient_matches_finite_differences(target, strategy, stream, shape):
    dim, depth, length = shape
    rng = np.random.default_rng(dim * 100 + depth * 10 + length)
    path = brownian(rng, (3, length, dim))
    weights = rng.standard_normal(reference_signature(path, depth, stream).shape)
    got = grad_of(target, strategy, path, weights, depth, stream)
    want = finite_difference_gradient(path, depth, weights, stream)
    assert np.max(np.abs(got - want)) <= 1e-6 * np.max(np.abs(want))


def test_jax_check_grads():
    import jax
    from jax.test_util import check_grads

    path = brownian(np.random.default_rng(0), (2, 7, 3))
    with jax.enable_x64(True):
        for strategy in ("horner", "chunked", "levelwise"):
            check_grads(lambda p: sc.signature(p, 3, target="jax", strategy=strategy),
                        (jax.numpy.asarray(path),), order=1, modes=["rev"])


@pytest.mark.parametrize("target", ["jax", "c"])
def test_float32_gradient_of_normalised_paths(target):
    """Walking back in float32 stays within 1e-4 of the float64 gradient on Brownian paths."""
    rng = np.random.default_rng(1)
    path = brownian(rng, (4, 200, 5))
    weights = rng.standard_normal(sc.signature_channels(5, 4))
    want = grad_of(target, "horner", path, weights, 4, False)
    got = grad_of(target, "horner", path.astype(np.float32), weights, 4, False)
    assert np.max(np.abs(got - want)) <= 1e-4 * np.max(np.abs(want))


def test_large_states_take_the_checkpointed_backward():
    """Unit increments at d=2, m=6 give |S| ~ 1e11: steps * eps * |S| exceeds the reversal bound
    even in float64, so the jax target recomputes from checkpoints; it must agree with the c
    target's checkpointed backward (itself checked against finite differences)."""
    path = np.cumsum(np.ones((2, 200, 2)), axis=1)
    weights = np.random.default_rng(2).standard_normal(sc.signature_channels(2, 6))
    got = grad_of("jax", "horner", path, weights, 6, False)
    module = load_module(sc.KernelSpec(dim=2, depth=6, target="c"))
    y = module.forward(path)
    want = module.backward(path, y, np.broadcast_to(weights, y.shape), mode="checkpoint")
    assert np.max(np.abs(got - want)) <= 1e-10 * np.max(np.abs(want))


def test_jax_backward_memory_does_not_hold_the_states():
    """The compiled gradient's scratch grows with L like the input (dx, gdx), not like the
    states (siglen = 780 coefficients per path per step, 156x the input's 5)."""
    import jax
    import jax.numpy as jnp

    module = load_module(sc.KernelSpec(dim=5, depth=4, target="jax"))

    def scratch(length):
        f = jax.jit(jax.grad(lambda p: jnp.sum(module.signature(p, False, "horner"))))
        return f.lower(jnp.zeros((8, length, 5), jnp.float32)).compile().memory_analysis().temp_size_in_bytes

    per_step = (scratch(4000) - scratch(1000)) / 3000
    input_per_step = 8 * 5 * 4
    assert per_step <= 8 * input_per_step  # a few input-sized buffers
    assert per_step < 8 * 780 * 4 / 10  # far below one stored state per step
