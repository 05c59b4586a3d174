"""signature() on every input kind, its tracing (jit / grad / vmap, torch autograd), dtypes and
the errors it gives for bad input."""

from __future__ import annotations

import numpy as np
import pytest

import sigcodegen as sc
from reference import brownian, finite_difference_gradient, relative_error
from reference import signature as reference_signature


def _path(shape=(3, 12, 2), seed=0):
    return brownian(np.random.default_rng(seed), shape)


# ---- input kinds and dtypes -----------------------------------------------------------------


def test_numpy_in_numpy_out_keeps_dtype():
    path = _path()
    for dtype in ("float32", "float64"):
        out = sc.signature(path.astype(dtype), 3)
        assert isinstance(out, np.ndarray) and out.dtype == dtype and out.flags.writeable


def test_float64_is_not_downcast_without_jax_x64():
    import jax

    assert not jax.config.jax_enable_x64  # the default; keras_sig silently drops to float32 here
    path = _path()
    out = sc.signature(path, 4)
    assert out.dtype == np.float64
    assert relative_error(out, reference_signature(path, 4), 2, 4) <= 1e-12


@pytest.mark.parametrize("dtype,expected", [("int64", "float64"), ("int32", "float64"),
                                            ("bool", "float64"), ("float16", "float32")])
def test_non_float_inputs_are_converted(dtype, expected):
    path = (np.arange(24).reshape(2, 4, 3) % 3).astype(dtype)
    out = sc.signature(path, 2)
    assert out.dtype == expected
    want = reference_signature(path.astype("float64"), 2)
    assert relative_error(out, want, 3, 2) <= (1e-12 if expected == "float64" else 1e-5)


def test_nested_list_input():
    path = [[0.0, 0.0], [1.0, 2.0]]
    out = sc.signature(path, 2)
    # exp of the increment (1, 2): (1, 2, 1/2, 1, 1, 2), derived by hand
    np.testing.assert_allclose(out, [1.0, 2.0, 0.5, 1.0, 1.0, 2.0], rtol=0, atol=1e-15)


def test_single_point_gives_zeros_and_empty_stream():
    path = np.ones((4, 1, 3))
    assert np.array_equal(sc.signature(path, 3), np.zeros((4, 39)))
    assert sc.signature(path, 3, stream=True).shape == (4, 0, 39)


def test_empty_batch():
    assert sc.signature(np.zeros((0, 5, 2)), 3).shape == (0, 14)
    assert sc.signature(np.zeros((0, 5, 2)), 3, stream=True).shape == (0, 4, 14)


def test_signature_channels():
    assert sc.signature_channels(5, 4) == 5 + 25 + 125 + 625
    assert sc.signature_channels(1, 7) == 7
    with pytest.raises(ValueError, match="dim must be >= 1"):
        sc.signature_channels(0, 2)


@pytest.mark.parametrize("dim,depth", [(4, 12), (9, 9), (1000, 2), (2, 70), (1, 100)])
def test_counts_answer_sizes_no_computation_may_allocate(dim, depth):
    """Counting allocates nothing, so it never refuses (issue 15): the signature's length is
    the plain sum of powers, the log-signature's iisignature's logsiglength where it fits in
    its int32 (siglength(9, 9) overflows there). A computation is judged by the bytes it would
    allocate: (9, 9) in float64 is refused by the memory limit, depth > 64 by MAX_DEPTH."""
    assert sc.signature_channels(dim, depth) == sum(dim**k for k in range(1, depth + 1))
    if (dim, depth) in ((4, 12), (9, 9), (1000, 2)):
        iisignature = pytest.importorskip("iisignature")
        assert sc.logsignature_channels(dim, depth) == iisignature.logsiglength(dim, depth)
    if (dim, depth) == (9, 9) or depth > 64:
        with pytest.raises(ValueError, match="max_bytes|MAX_SIGLEN|MAX_DEPTH"):
            sc.signature(np.zeros((1, 2, dim)), depth)


def test_jax_gpu_signature_is_the_seeds_entry_point():
    import jax.numpy as jnp

    path = _path((4, 30, 3)).astype("float32")
    out = sc.jax_gpu_signature(jnp.asarray(path), 3)
    assert relative_error(np.asarray(out), reference_signature(path, 3), 3, 3) <= 1e-5
    stream = sc.jax_gpu_signature(jnp.asarray(path), 3, stream=True)
    assert stream.shape == (4, 29, 39)


# ---- tracing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["horner", "chunked", "levelwise"])
def test_jax_jit_grad_vmap(strategy):
    import jax
    import jax.numpy as jnp

    path = _path((2, 20, 2))
    weights = np.random.default_rng(1).standard_normal(sc.signature_channels(2, 3))
    with jax.enable_x64(True):
        x = jnp.asarray(path)

        def loss(p):
            return jnp.sum(jnp.asarray(weights) * sc.signature(p, 3, strategy=strategy))

        grad = np.asarray(jax.jit(jax.grad(loss))(x))
        batched = np.asarray(jax.vmap(lambda p: sc.signature(p, 3, strategy=strategy))(x))
    want = finite_difference_gradient(path, 3, weights)
    assert np.max(np.abs(grad - want)) <= 1e-6 * np.max(np.abs(want))
    assert relative_error(batched, reference_signature(path, 3), 2, 3) <= 1e-12


def test_jax_float32_stays_jax_float32():
    import jax.numpy as jnp

    out = sc.signature(jnp.ones((2, 5, 3), jnp.float32), 2)
    assert type(out).__module__.startswith("jax") and out.dtype == jnp.float32


def test_torch_autograd_and_types():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    path = torch.tensor(_path((2, 15, 3)), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p: sc.signature(p, 3), (path,), eps=1e-6, atol=1e-7)
    out = sc.signature(path.detach().float(), 3, stream=True)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    want = reference_signature(path.detach().numpy(), 3, stream=True)
    assert relative_error(out.numpy(), want, 3, 3) <= 1e-5


def test_torch_noncontiguous_input():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    base = torch.tensor(_path((2, 10, 4)))
    view = base.transpose(0, 1).transpose(0, 1)[:, ::3, 1:]
    got = sc.signature(view, 3).numpy()
    assert relative_error(got, reference_signature(view.numpy(), 3), 3, 3) <= 1e-12


# ---- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path,depth,error,match",
    [
        (np.zeros(5), 2, ValueError, r"shape \(\.\.\., L, d\)"),
        (np.zeros((3, 0, 2)), 2, ValueError, "no points"),
        (np.zeros((3, 4, 0)), 2, ValueError, "last axis"),
        (np.zeros((3, 4, 2)), 0, ValueError, "depth must be >= 1"),
        (np.zeros((3, 4, 2)), -2, ValueError, "depth must be >= 1"),
        (np.zeros((3, 4, 2)), 2.5, TypeError, "depth must be an integer"),
        (np.zeros((3, 4, 2)), True, TypeError, "depth must be an integer"),
        (np.zeros((3, 4, 2)), 40, ValueError, r"needs about .* coefficients per path"),
        (np.zeros((3, 4, 2), complex), 2, TypeError, "complex"),
        (np.array([[["a", "b"]]]), 2, TypeError, "numeric"),
    ],
)
def test_bad_input_is_refused_clearly(path, depth, error, match):
    with pytest.raises(error, match=match):
        sc.signature(path, depth)


def test_bad_options_are_refused_clearly():
    path = np.zeros((2, 4, 2))
    with pytest.raises(ValueError, match="unknown target 'cuda'"):
        sc.signature(path, 2, target="cuda")
    with pytest.raises(ValueError, match="target='triton' takes torch tensors"):
        sc.signature(path, 2, target="triton")
    with pytest.raises(ValueError, match="unknown strategy"):
        sc.signature(path, 2, strategy="fast")
    with pytest.raises(TypeError, match="stream must be True or False"):
        sc.signature(path, 2, stream="yes")


def test_module_refuses_wrong_last_axis():
    import jax.numpy as jnp

    from sigcodegen.runtime.dispatch import load_module

    module = load_module(sc.KernelSpec(dim=3, depth=2))
    with pytest.raises(ValueError, match=r"\(\.\.\., L, 3\)"):
        module.signature(jnp.zeros((2, 5, 4)))


# ---- signature_vjp ------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["c", "jax"])
@pytest.mark.parametrize("stream", [False, True])
def test_signature_vjp_matches_finite_differences(target, stream):
    path = _path((2, 9, 3), seed=7)
    out = reference_signature(path, 3, stream)
    grad = np.random.default_rng(8).standard_normal(out.shape)
    want = finite_difference_gradient(path, 3, grad, stream)
    got = sc.signature_vjp(path, grad, 3, stream, target=target)
    assert isinstance(got, np.ndarray) and got.dtype == np.float64 and got.shape == path.shape
    assert np.max(np.abs(got - want)) <= 1e-6 * np.max(np.abs(want))


def test_signature_vjp_on_jax_and_torch_and_bad_shapes():
    import jax.numpy as jnp
    import torch

    path = _path((2, 6, 2))
    grad = np.ones((2, sc.signature_channels(2, 2)))
    want = sc.signature_vjp(path, grad, 2)
    from_jax = sc.signature_vjp(jnp.asarray(path, jnp.float32), grad, 2)
    from_torch = sc.signature_vjp(torch.tensor(path), grad, 2)
    assert type(from_jax).__module__.startswith("jax") and isinstance(from_torch, torch.Tensor)
    assert np.max(np.abs(np.asarray(from_jax) - want)) <= 1e-5 * np.max(np.abs(want))
    assert np.max(np.abs(from_torch.numpy() - want)) <= 1e-12 * np.max(np.abs(want))
    with pytest.raises(ValueError, match="grad has shape"):
        sc.signature_vjp(path, np.ones((2, 5)), 2)
    with pytest.raises(ValueError, match="grad has shape"):
        sc.signature_vjp(torch.tensor(path), np.ones((2, 5)), 2)
