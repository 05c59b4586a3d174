"""Signature kernels (kind="sigkernel"): the generated PDE solver of the c target against an
independent float64 PDE loop written here, against pysiglib, and against the truncated
signature series <S(x), S(y)> of tests/reference.py; gradients against central finite
differences; Gram matrices, MMD and scores; the torch and jax bindings; bad input; the plan and
the command line."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import reference
import sigcodegen as sc
from sigcodegen.ops import sigkernel as sk
from sigcodegen.spec import KernelSpec

# ---- the independent reference: plain loops over the grid, float64 -------------------------


def rbf(sigma):
    return lambda a, b: math.exp(-float(((a - b) ** 2).sum()) / sigma)


def polynomial(degree, gamma, scale):
    return lambda a, b: scale * (float(a @ b) + gamma) ** degree


def matern32(sigma):
    def k(a, b):
        u = math.sqrt(3.0) * float(np.linalg.norm(a - b)) / sigma
        return (1 + u) * math.exp(-u)
    return k


def matern52(sigma):
    def k(a, b):
        u = math.sqrt(5.0) * float(np.linalg.norm(a - b)) / sigma
        return (1 + u + u * u / 3) * math.exp(-u)
    return k


def linear(a, b):
    return float(a @ b)


def reference_pde(x, y, orders=(0, 0), kappa=linear):
    """u(M, N) of the second-order explicit scheme on the dyadically refined grid; the static
    kernel's second difference from its values at every pair of points."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    l1, l2 = orders
    kmat = [[kappa(a, b) for b in y] for a in x]
    m, n = (len(x) - 1) * 2**l1, (len(y) - 1) * 2**l2
    u = [[1.0] * (n + 1) for _ in range(m + 1)]
    for i in range(m):
        a = i // 2**l1
        for j in range(n):
            b = j // 2**l2
            delta = kmat[a + 1][b + 1] - kmat[a + 1][b] - kmat[a][b + 1] + kmat[a][b]
            d = delta / 2 ** (l1 + l2)
            u[i + 1][j + 1] = ((u[i + 1][j] + u[i][j + 1]) * (1 + d / 2 + d * d / 12)
                               - u[i][j] * (1 - d * d / 12))
    return u[m][n]


#: (ours, the reference's kappa, pysiglib's class and arguments)
KERNELS = {
    "linear": (None, linear, ("LinearKernel", ())),
    "scaled": (sk.ScaledLinear(0.7), lambda a, b: 0.49 * float(a @ b),
               ("ScaledLinearKernel", (0.7,))),
    "rbf": (sk.RBF(0.8), rbf(0.8), ("RBFKernel", (0.8,))),
    "polynomial": (sk.Polynomial(3, 0.5, 1.5), polynomial(3, 0.5, 1.5),
                   ("PolynomialKernel", (3.0, 0.5, 1.5))),
    "matern32": (sk.Matern32(0.9), matern32(0.9), ("Matern32Kernel", (0.9,))),
    "matern52": (sk.Matern52(0.9), matern52(0.9), ("Matern52Kernel", (0.9,))),
}
ORDERS = [0, 2, (1, 2)]


def paths(seed, batch, length, dim, scale=0.3, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((batch, length, dim)) * scale).astype(dtype)


def pair_orders(order):
    return tuple(order) if isinstance(order, tuple) else (order, order)


def relative(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-300))


# ---- forward: the reference PDE, pysiglib, the signature series -----------------------------


TARGETS = ["c", "jax"] if importlib.util.find_spec("jax") else ["c"]


@pytest.mark.parametrize("order", ORDERS, ids=str)
@pytest.mark.parametrize("name", list(KERNELS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("target", TARGETS)
def test_matches_the_reference_pde(target, name, order, dtype):
    ours, kappa, _ = KERNELS[name]
    x, y = paths(0, 3, 6, 3), paths(1, 3, 5, 3)
    want = [reference_pde(a, b, pair_orders(order), kappa) for a, b in zip(x, y)]
    got = sc.signature_kernel(x.astype(dtype), y.astype(dtype), dyadic_order=order,
                              static_kernel=ours, target=target)
    assert got.dtype == np.dtype(dtype) and got.shape == (3,)
    assert relative(got, want) <= (1e-12 if dtype == "float64" else 1e-5)


@pytest.mark.parametrize("order", [0, (1, 0), (0, 1), 2, (2, 3), (3, 2), (1, 3)], ids=str)
@pytest.mark.parametrize("name", ["linear", "rbf"])
def test_grid_shapes(name, order):
    """Grids narrower and shorter than the rows one sweep advances together (the c target
    staggers several rows), row counts that leave a remainder, and batches that leave lanes of
    the last block empty. Orders (lam1, lam2) with lam1 >= 2 and lam2 in 2..3 take the c
    target's sweep for rows sharing a coarse row (sweep_shared: a coarse column's coefficients
    in registers), with no, one or many whole groups of 2^lam2 steps; (1, 3) does not. At
    order 0 the linear kernel's sweep runs in tiles of steps, each after its columns' products."""
    ours, kappa, _ = KERNELS[name]
    for lx in (2, 3, 4, 6, 9):
        for ly in (2, 3, 5, 8, 150):  # 150: the linear sweep's tiles of 64 steps (product_tile)
            x, y = paths(lx, 9, lx, 3), paths(ly + 20, 9, ly, 3)
            want = [reference_pde(a, b, pair_orders(order), kappa) for a, b in zip(x, y)]
            got = sc.signature_kernel(x, y, dyadic_order=order, static_kernel=ours)
            assert relative(got, want) <= 1e-12, (lx, ly)


#: (dim, x length, y length, pairs) for both product layouts of the linear kernel at orders (0, 0):
#: 1 to 8 grid rows (the fused sweep's 2 and the 4-row chunks with and without remainders), a
#: column, and 9 pairs (a block's lanes not all used)
FUSED_CASES = [(1, 6, 7, 9), (2, 2, 5, 9), (2, 4, 2, 9), (3, 9, 70, 9), (5, 8, 6, 9), (5, 5, 9, 9)]


@pytest.mark.parametrize("fused", [0, 1], ids=["products-pass", "products-in-sweep"])
def test_both_product_layouts_of_the_linear_sweep(tmp_path, fused):
    """The c target's linear kernel at orders (0, 0) makes its products in a pass before the
    sweep, or in the sweep itself where the compiler targets AMD Zen (the plan's fused_tunes).
    Both are built here, the choice forced by -DSIGCODEGEN_FUSED_PRODUCTS (sigcodegen_info(7)
    reports it), and checked against the reference PDE in both precisions, pairs and Gram
    layouts, with k(x, y) = k(y, x) to the last bit (the cell's left + up is symmetric)."""
    code = f"""
        import numpy as np, sigcodegen as sc
        from sigcodegen.ops import sigkernel as sk
        for dim, lx, ly, batch in {FUSED_CASES!r}:
            rng = np.random.default_rng(dim * 100 + lx)
            x = rng.standard_normal((batch, lx, dim)) * 0.3
            y = rng.standard_normal((batch, ly, dim)) * 0.3
            out = {{"layout": sk._module(dim).linear_products()}}
            for dt in ("float64", "float32"):
                a, b = x.astype(dt), y.astype(dt)
                out[dt] = sc.signature_kernel(a, b)
                out[dt + "_swapped"] = sc.signature_kernel(b, a)
                out[dt + "_gram"] = sc.signature_kernel_gram(a[:3], b[:4])
                out[dt + "_sym"] = sc.signature_kernel_gram(a[:5])
            np.savez(f"fused_{{dim}}_{{lx}}_{{ly}}.npz", **out)
        """
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                            text=True, timeout=600, cwd=tmp_path, env={
                                **os.environ, "SIGCODEGEN_CACHE_DIR": str(tmp_path / "cache"),
                                "SIGCODEGEN_PREBUILT": "0",
                                "SIGCODEGEN_CFLAGS": f"-O1 -march=native "
                                                     f"-DSIGCODEGEN_FUSED_PRODUCTS={fused}"})
    assert result.returncode == 0, result.stderr[-3000:]
    for dim, lx, ly, batch in FUSED_CASES:
        got = np.load(tmp_path / f"fused_{dim}_{lx}_{ly}.npz")
        assert str(got["layout"]) == ("sweep" if fused else "pass")
        rng = np.random.default_rng(dim * 100 + lx)
        x = rng.standard_normal((batch, lx, dim)) * 0.3
        y = rng.standard_normal((batch, ly, dim)) * 0.3
        want = np.array([reference_pde(a, b) for a, b in zip(x, y)])
        want_gram = np.array([[reference_pde(a, b) for b in y[:4]] for a in x[:3]])
        want_sym = np.array([[reference_pde(a, b) for b in x[:5]] for a in x[:5]])
        for dt, tol in (("float64", 1e-12), ("float32", 1e-5)):
            case = (dim, lx, ly, dt)
            assert got[dt].dtype == np.dtype(dt) and relative(got[dt], want) <= tol, case
            assert (got[dt + "_swapped"] == got[dt]).all(), case
            assert relative(got[dt + "_gram"], want_gram) <= tol, case
            assert relative(got[dt + "_sym"], want_sym) <= tol, case


@pytest.mark.parametrize("order", ORDERS, ids=str)
@pytest.mark.parametrize("name", list(KERNELS))
def test_matches_pysiglib(name, order):
    pysiglib = pytest.importorskip("pysiglib")
    ours, _, (cls, args) = KERNELS[name]
    theirs = getattr(pysiglib, cls)(*args)
    x, y = paths(2, 5, 9, 2), paths(3, 5, 7, 2)
    want = pysiglib.sig_kernel(x, y, dyadic_order=order, static_kernel=theirs)
    got = sc.signature_kernel(x, y, dyadic_order=order, static_kernel=ours)
    assert relative(got, want) <= 1e-10
    y4 = paths(4, 4, 7, 2)
    want = pysiglib.sig_kernel_gram(x, y4, dyadic_order=order, static_kernel=theirs)
    got = sc.signature_kernel_gram(x, y4, dyadic_order=order, static_kernel=ours)
    assert got.shape == (5, 4) and relative(got, want) <= 1e-10
    # pysiglib mirrors the upper triangle whenever path2 is path1; with different orders per
    # path k(x_a, x_b) is not symmetric, so it gets a copy (and gram(x) computes every pair)
    other = x if not isinstance(order, tuple) else x.copy()
    want = pysiglib.sig_kernel_gram(x, other, dyadic_order=order, static_kernel=theirs)
    assert relative(sc.signature_kernel_gram(x, dyadic_order=order, static_kernel=ours),
                    want) <= 1e-10


@pytest.mark.parametrize("unbiased", [True, False])
def test_mmd_and_score_match_pysiglib_and_the_reference(unbiased):
    pysiglib = pytest.importorskip("pysiglib")
    x, y = paths(5, 5, 6, 2), paths(6, 4, 7, 2, scale=0.4)
    kxx = np.array([[reference_pde(a, b, (1, 1)) for b in x] for a in x])
    kyy = np.array([[reference_pde(a, b, (1, 1)) for b in y] for a in y])
    kxy = np.array([[reference_pde(a, b, (1, 1)) for b in y] for a in x])
    m, n = len(x), len(y)
    if unbiased:
        want = ((kxx.sum() - np.trace(kxx)) / (m * (m - 1))
                + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2 * kxy.mean())
        assert abs(float(pysiglib.sig_mmd(x, y, dyadic_order=1)) - want) <= 1e-10
    else:
        want = kxx.mean() + kyy.mean() - 2 * kxy.mean()
    got = sc.signature_mmd(x, y, dyadic_order=1, unbiased=unbiased)
    assert abs(float(got) - want) <= 1e-12
    score = (0.5 * (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) - 2 * kxy.mean(0))
    got = sc.signature_score(x, y, dyadic_order=1, lam=0.5)
    assert got.shape == (n,) and relative(got, score) <= 1e-12
    assert relative(pysiglib.sig_score(x, y, dyadic_order=1, lam=0.5), score) <= 1e-10
    assert np.shape(sc.signature_score(x, y[0], dyadic_order=1)) == ()


def test_converges_to_the_signature_series():
    """For the linear kernel the PDE value tends to 1 + sum_k <S_k(x), S_k(y)> (the series
    truncated at depth 12 is exact to rounding for these short, small paths) as the dyadic
    order grows; the scheme is second order, so the error falls by about 4 per order once the
    grid is fine."""
    x, y = paths(7, 1, 4, 2, scale=0.5)[0], paths(8, 1, 3, 2, scale=0.5)[0]
    depth = 12
    sx, sy = reference.signature(x, depth), reference.signature(y, depth)
    series = 1.0 + float(sx @ sy)
    errors = [abs(float(sc.signature_kernel(x, y, dyadic_order=lam)) - series)
              for lam in range(5)]
    assert all(b < a for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < errors[-2] / 3 and errors[-1] < errors[0] / 100, errors


# ---- properties -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["linear", "rbf", "matern52"])
def test_properties(name):
    ours = KERNELS[name][0]
    x, y = paths(9, 4, 7, 3), paths(10, 4, 5, 3)
    k = sc.signature_kernel(x, y, dyadic_order=1, static_kernel=ours)
    assert relative(sc.signature_kernel(y, x, dyadic_order=1, static_kernel=ours), k) <= 1e-12
    shift = np.array([0.3, -1.2, 2.0])
    assert relative(sc.signature_kernel(x + shift, y + shift, dyadic_order=1,
                                        static_kernel=ours), k) <= 1e-12
    repeated = np.concatenate([x[:, :3], x[:, 2:3], x[:, 3:]], axis=1)  # a point twice
    assert relative(sc.signature_kernel(repeated, y, dyadic_order=1, static_kernel=ours),
                    k) <= 1e-12
    constant = np.repeat(x[:, :1], 5, axis=1)
    assert np.abs(sc.signature_kernel(constant, y, static_kernel=ours) - 1).max() <= 1e-14
    gram = sc.signature_kernel_gram(np.concatenate([x[:, :5], y]), dyadic_order=1,
                                    static_kernel=ours)
    assert (gram == gram.T).all()
    eigenvalues = np.linalg.eigvalsh(gram)
    assert eigenvalues.min() >= -1e-10 * eigenvalues.max()


def test_gram_layouts_agree_with_pairs():
    x, y = paths(11, 7, 6, 2), paths(12, 5, 8, 2)
    gram = sc.signature_kernel_gram(x, y, dyadic_order=(2, 1))
    a, b = np.meshgrid(np.arange(7), np.arange(5), indexing="ij")
    pairs = sc.signature_kernel(x[a.ravel()], y[b.ravel()], dyadic_order=(2, 1))
    assert relative(gram, pairs.reshape(7, 5)) <= 1e-15
    sym = sc.signature_kernel_gram(x, dyadic_order=1)
    assert relative(sym, sc.signature_kernel_gram(x, x, dyadic_order=1)) <= 1e-15
    assert (sym == sym.T).all()
    # leading axes: (2, 3) x (5,) -> (2, 3, 5)
    assert sc.signature_kernel_gram(x[:6].reshape(2, 3, 6, 2), y).shape == (2, 3, 5)
    assert sc.signature_kernel(x[:6].reshape(2, 3, 6, 2), x[:6].reshape(2, 3, 6, 2)).shape == (2, 3)


def test_edge_lengths_and_nan():
    x = paths(13, 3, 5, 2)
    one = x[:, :1]
    assert (sc.signature_kernel(one, x) == 1).all() and (sc.signature_kernel(x, one) == 1).all()
    gx, gy = sc.signature_kernel_vjp(one, x, np.ones(3))
    assert not gx.any() and not gy.any()
    bad = x.copy()
    bad[1, 2, 0] = np.nan
    k = sc.signature_kernel(bad, x)
    assert np.isnan(k[1]) and np.isfinite(k[[0, 2]]).all()
    assert relative(k[[0, 2]], sc.signature_kernel(x, x)[[0, 2]]) == 0


@pytest.mark.parametrize("name", ["linear", "rbf"])
def test_ragged_lengths(name):
    """lengths=(nx, ny): each pair as if its paths were cut to their lengths."""
    ours = KERNELS[name][0]
    x, y = paths(30, 4, 7, 2), paths(31, 4, 6, 2)
    nx, ny = np.array([7, 3, 1, 5]), np.array([2, 6, 4, 6])
    got = sc.signature_kernel(x, y, dyadic_order=1, static_kernel=ours, lengths=(nx, ny))
    want = [sc.signature_kernel(x[i, :nx[i]], y[i, :ny[i]], dyadic_order=1, static_kernel=ours)
            for i in range(4)]
    assert relative(got, want) <= 1e-13
    gram = sc.signature_kernel_gram(x, y, static_kernel=ours, lengths=(nx, None))
    want = [[float(sc.signature_kernel(x[a, :nx[a]], y[b], static_kernel=ours)) for b in range(4)]
            for a in range(4)]
    assert relative(gram, want) <= 1e-13
    sym = sc.signature_kernel_gram(x, static_kernel=ours, lengths=nx)
    assert (sym == sym.T).all()
    assert relative(sym, sc.signature_kernel_gram(x, x, static_kernel=ours, lengths=(nx, nx))) <= 1e-13
    weights = np.array([1.0, -0.4, 0.8, 0.3])
    gx, gy = sc.signature_kernel_vjp(x, y, weights, dyadic_order=1, static_kernel=ours,
                                     lengths=(nx, ny))

    def f(a, b):
        return float(weights @ sc.signature_kernel(a, b, dyadic_order=1, static_kernel=ours,
                                                   lengths=(nx, ny)))

    want_x = central_difference(lambda a: f(a, y), x)
    want_y = central_difference(lambda b: f(x, b), y)
    scale = max(np.abs(want_x).max(), np.abs(want_y).max())
    assert np.abs(gx - want_x).max() <= 1e-7 * scale and np.abs(gy - want_y).max() <= 1e-7 * scale
    assert not gx[1, 3:].any() and not gy[0, 2:].any()
    with pytest.raises(ValueError, match="lengths must lie in 1..L"):
        sc.signature_kernel(x, y, lengths=(nx + 1, None))
    with pytest.raises(ValueError, match="a pair"):
        sc.signature_kernel(x, y, lengths=nx)


def test_thread_counts_give_the_same_values():
    x, y = paths(14, 40, 6, 2), paths(15, 40, 6, 2)
    with sc.num_threads(1):
        one = sc.signature_kernel_gram(x, y)
    with sc.num_threads(2):
        two = sc.signature_kernel_gram(x, y)
    assert (one == two).all()


# ---- gradients ------------------------------------------------------------------------------


def central_difference(f, v, eps=1e-6):
    out = np.zeros_like(v)
    for index in np.ndindex(*v.shape):
        plus, minus = v.copy(), v.copy()
        plus[index] += eps
        minus[index] -= eps
        out[index] = (f(plus) - f(minus)) / (2 * eps)
    return out


@pytest.mark.parametrize("order", [0, 2, (2, 1)], ids=str)
@pytest.mark.parametrize("name", list(KERNELS))
def test_vjp_matches_finite_differences(name, order):
    ours = KERNELS[name][0]
    x, y = paths(16, 2, 5, 2), paths(17, 2, 4, 2)
    weights = np.array([0.7, -1.3])
    gx, gy = sc.signature_kernel_vjp(x, y, weights, dyadic_order=order, static_kernel=ours)

    def f(a, b):
        return float(weights @ sc.signature_kernel(a, b, dyadic_order=order, static_kernel=ours))

    want_x = central_difference(lambda a: f(a, y), x)
    want_y = central_difference(lambda b: f(x, b), y)
    scale = max(np.abs(want_x).max(), np.abs(want_y).max())
    assert np.abs(gx - want_x).max() <= 1e-7 * scale
    assert np.abs(gy - want_y).max() <= 1e-7 * scale


@pytest.mark.parametrize("layout", ["gram", "symmetric"])
def test_torch_gram_gradients_match_finite_differences(layout):
    torch = pytest.importorskip("torch")
    x, y = paths(18, 3, 5, 2), paths(19, 2, 6, 2)
    weights = np.random.default_rng(20).standard_normal((3, 3 if layout == "symmetric" else 2))
    kernel = KERNELS["rbf"][0]

    def f(a, b):
        gram = (sc.signature_kernel_gram(a, dyadic_order=1, static_kernel=kernel)
                if layout == "symmetric" else
                sc.signature_kernel_gram(a, b, dyadic_order=1, static_kernel=kernel))
        return float((weights * gram).sum())

    tx = torch.tensor(x, requires_grad=True)
    ty = torch.tensor(y, requires_grad=True)
    if layout == "symmetric":
        gram = sc.signature_kernel_gram(tx, dyadic_order=1, static_kernel=kernel)
    else:
        gram = sc.signature_kernel_gram(tx, ty, dyadic_order=1, static_kernel=kernel)
    assert isinstance(gram, torch.Tensor) and gram.dtype == torch.float64
    (gram * torch.tensor(weights)).sum().backward()
    want_x = central_difference(lambda a: f(a, y), x)
    assert np.abs(tx.grad.numpy() - want_x).max() <= 1e-7 * np.abs(want_x).max()
    if layout == "gram":
        want_y = central_difference(lambda b: f(x, b), y)
        assert np.abs(ty.grad.numpy() - want_y).max() <= 1e-7 * np.abs(want_y).max()


def test_torch_values_dtypes_and_gradcheck():
    torch = pytest.importorskip("torch")
    x, y = paths(21, 3, 5, 2), paths(22, 3, 4, 2)
    want = sc.signature_kernel(x, y, dyadic_order=1)
    got = sc.signature_kernel(torch.tensor(x), torch.tensor(y), dyadic_order=1)
    assert got.dtype == torch.float64 and relative(got.numpy(), want) <= 1e-15
    mixed = sc.signature_kernel(torch.tensor(x, dtype=torch.float32), torch.tensor(y),
                                dyadic_order=1)  # float32 and float64: both run in float64
    assert mixed.dtype == torch.float64
    assert relative(mixed.numpy(), sc.signature_kernel(x.astype(np.float32).astype(np.float64), y,
                                                       dyadic_order=1)) <= 1e-15
    got32 = sc.signature_kernel(torch.tensor(x, dtype=torch.float32),
                                torch.tensor(y, dtype=torch.float32), dyadic_order=1)
    assert got32.dtype == torch.float32 and relative(got32.numpy(), want) <= 1e-5
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.tensor(y, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b: sc.signature_kernel(a, b, dyadic_order=1, static_kernel=sk.Matern32(1.0)),
        (tx, ty))


def test_jax_values_jit_and_grad():
    pytest.importorskip("jax")
    import jax
    import jax.numpy as jnp

    from sigcodegen.runtime.frameworks import x64

    x, y = paths(23, 3, 5, 2), paths(24, 3, 6, 2)
    weights = np.array([1.0, -0.5, 2.0])
    want = sc.signature_kernel(x, y, dyadic_order=2)
    gx, gy = sc.signature_kernel_vjp(x, y, weights, dyadic_order=2)
    with x64(True):
        jx, jy = jnp.asarray(x), jnp.asarray(y)
        f = jax.jit(lambda a, b: jnp.sum(jnp.asarray(weights) * sc.signature_kernel(
            a, b, dyadic_order=2)))
        assert relative(np.asarray(sc.signature_kernel(jx, jy, dyadic_order=2)), want) <= 1e-15
        ga, gb = jax.grad(f, argnums=(0, 1))(jx, jy)
        assert relative(np.asarray(ga), gx) <= 1e-14 and relative(np.asarray(gb), gy) <= 1e-14
        batched = jax.vmap(lambda a, b: sc.signature_kernel(a, b, dyadic_order=2))(jx, jy)
        assert relative(np.asarray(batched), want) <= 1e-15
        mmd = sc.signature_mmd(jx, jy, dyadic_order=2)
        assert abs(float(mmd) - float(sc.signature_mmd(x, y, dyadic_order=2))) <= 1e-14



# ---- the c target's jax binding: the XLA FFI (and host callbacks without its headers) ---------

#: layout -> the operation on (x, y) of that layout (the symmetric Gram matrix takes x alone)
JAX_LAYOUTS = {
    "pairs": lambda a, b, **kw: sc.signature_kernel(a, b, **kw),
    "gram": lambda a, b, **kw: sc.signature_kernel_gram(a, b, **kw),
    "symmetric": lambda a, b, **kw: sc.signature_kernel_gram(a, **kw),
}


def _c_jax_module():
    """The c target's dim-2 sigkernel module, or a skip where jax or the FFI headers are
    missing (the FFI tests need the handlers)."""
    pytest.importorskip("jax")
    module = sk._module(2)
    if not module.has_ffi:
        pytest.skip("the c library was compiled without jaxlib's XLA FFI headers")
    return module


def _jax_case(layout, seed=41):
    x, y = paths(seed, 3, 5, 2), paths(seed + 1, 3 if layout == "pairs" else 2, 6, 2)
    return x, (x if layout == "symmetric" else y)


@pytest.mark.parametrize("order", [0, (1, 2)], ids=str)
@pytest.mark.parametrize("name", ["linear", "rbf", "matern32"])
@pytest.mark.parametrize("layout", list(JAX_LAYOUTS))
def test_c_jax_ffi_values_and_gradients(layout, name, order):
    """Inside jax.jit the c target runs through its XLA FFI handlers: the values are the numpy
    path's, and jax.grad (the backward handler) matches central differences of the numpy path
    for both arguments."""
    import jax
    import jax.numpy as jnp

    from sigcodegen.runtime.frameworks import x64

    _c_jax_module()
    op, ours = JAX_LAYOUTS[layout], KERNELS[name][0]
    kw = dict(dyadic_order=order, static_kernel=ours)
    x, y = _jax_case(layout)
    want = op(x, y, **kw)
    weights = np.random.default_rng(5).standard_normal(want.shape)
    with x64(True):
        got = jax.jit(lambda a, b: op(a, b, **kw))(jnp.asarray(x), jnp.asarray(y))
        assert got.dtype == jnp.float64 and relative(np.asarray(got), want) <= 1e-12
        if layout == "symmetric":
            loss = jax.jit(lambda a: jnp.sum(jnp.asarray(weights) * op(a, a, **kw)))
            (gx,) = jax.grad(loss, argnums=(0,))(jnp.asarray(x))
            grads, args = [gx], [x]
        else:
            loss = jax.jit(lambda a, b: jnp.sum(jnp.asarray(weights) * op(a, b, **kw)))
            grads, args = jax.grad(loss, argnums=(0, 1))(jnp.asarray(x), jnp.asarray(y)), [x, y]

    def f(*vs):
        return float(np.sum(weights * op(*(vs if len(vs) == 2 else (vs[0], vs[0])), **kw)))

    for i, (grad, arg) in enumerate(zip(grads, args)):
        want_g = central_difference(lambda v: f(*[v if j == i else a for j, a in enumerate(args)]),
                                    arg)
        assert np.abs(np.asarray(grad) - want_g).max() <= 1e-7 * max(np.abs(want_g).max(), 1.0)


@pytest.mark.parametrize("layout", list(JAX_LAYOUTS))
def test_c_jax_ffi_vmap_over_an_extra_axis(layout):
    """jax.vmap over a leading axis (and two nested) broadcasts into the FFI handlers, which run
    each slice as its own problem: the same values and gradients as a loop over the numpy path."""
    import jax
    import jax.numpy as jnp

    from sigcodegen.runtime.frameworks import x64

    _c_jax_module()
    op = JAX_LAYOUTS[layout]
    kw = dict(dyadic_order=1, static_kernel=sk.RBF(0.8))
    cases = [_jax_case(layout, seed) for seed in (51, 53, 55, 57)]
    xs, ys = np.stack([c[0] for c in cases]), np.stack([c[1] for c in cases])
    want = np.stack([op(a, b, **kw) for a, b in zip(xs, ys)])
    with x64(True):
        f = jax.jit(jax.vmap(lambda a, b: op(a, b, **kw)))
        assert relative(np.asarray(f(jnp.asarray(xs), jnp.asarray(ys))), want) <= 1e-12
        nested = jax.jit(jax.vmap(jax.vmap(lambda a, b: op(a, b, **kw))))
        got = nested(jnp.asarray(xs.reshape(2, 2, *xs.shape[1:])),
                     jnp.asarray(ys.reshape(2, 2, *ys.shape[1:])))
        assert relative(np.asarray(got).reshape(want.shape), want) <= 1e-12
        # the same y for every slice (in_axes None): broadcast to the batch by the FFI call
        shared = jax.jit(jax.vmap(lambda a: op(a, jnp.asarray(ys[0]), **kw)))(jnp.asarray(xs))
        want_shared = np.stack([op(a, ys[0] if layout != "symmetric" else a, **kw) for a in xs])
        assert relative(np.asarray(shared), want_shared) <= 1e-12
        g = jax.grad(lambda a, b: jnp.sum(f(a, b)), argnums=(0, 1))(jnp.asarray(xs),
                                                                      jnp.asarray(ys))
        # each slice's gradient without vmap (the path the test above checks against finite
        # differences); for pairs also the numpy backward
        one = jax.jit(jax.grad(lambda a, b: jnp.sum(op(a, b, **kw)), argnums=(0, 1)))
        for i, (a, b) in enumerate(zip(xs, ys)):
            want_x, want_y = one(jnp.asarray(a), jnp.asarray(b))
            if layout == "pairs":
                want_x, want_y = sc.signature_kernel_vjp(a, b, np.ones(a.shape[0]), **kw)
            assert relative(np.asarray(g[0][i]), want_x) <= 1e-12
            if layout != "symmetric":
                assert relative(np.asarray(g[1][i]), want_y) <= 1e-12


def test_c_jax_ffi_lowers_to_our_custom_call():
    """The jitted program holds a custom call to the module's registered FFI targets (no host
    callback), forward and backward."""
    import jax
    import jax.numpy as jnp

    from sigcodegen.runtime.frameworks import x64

    module = _c_jax_module()
    x, y = _jax_case("gram")
    with x64(True):
        f = jax.jit(lambda a, b: sc.signature_kernel_gram(a, b, dyadic_order=1))
        text = f.lower(jnp.asarray(x), jnp.asarray(y)).as_text()
        grad = jax.jit(jax.grad(lambda a, b: jnp.sum(sc.signature_kernel_gram(a, b)),
                                argnums=(0, 1)))
        grad_text = grad.lower(jnp.asarray(x), jnp.asarray(y)).as_text()
    assert f"custom_call @{module.name}_sigkernel_forward_f64" in text
    assert f"custom_call @{module.name}_sigkernel_backward_f64" in grad_text
    assert "callback" not in text and "callback" not in grad_text


def test_c_jax_through_host_callbacks_without_ffi_headers(monkeypatch):
    """A library compiled without jaxlib's FFI headers runs traced jax arrays through
    jax.pure_callback: the same values and gradients, under jit and vmap."""
    import jax
    import jax.numpy as jnp

    from sigcodegen.runtime.frameworks import x64

    pytest.importorskip("jax")
    module = sk._module(2)
    monkeypatch.setattr(module, "has_ffi", False)
    monkeypatch.setattr(module, "_jax", None)
    x, y = _jax_case("gram")
    kw = dict(dyadic_order=1, static_kernel=sk.Matern32(0.9))
    weights = np.random.default_rng(3).standard_normal((x.shape[0], y.shape[0]))
    want = sc.signature_kernel_gram(x, y, **kw)
    want_gx = central_difference(
        lambda a: float(np.sum(weights * sc.signature_kernel_gram(a, y, **kw))), x)
    with x64(True):
        f = jax.jit(lambda a, b: sc.signature_kernel_gram(a, b, **kw))
        text = f.lower(jnp.asarray(x), jnp.asarray(y)).as_text()
        got = f(jnp.asarray(x), jnp.asarray(y))
        gx = jax.grad(lambda a: jnp.sum(jnp.asarray(weights) * f(a, jnp.asarray(y))))(
            jnp.asarray(x))
        batched = jax.vmap(f)(jnp.stack([jnp.asarray(x)] * 2), jnp.stack([jnp.asarray(y)] * 2))
    assert "callback" in text and "sigkernel_forward" not in text
    assert relative(np.asarray(got), want) <= 1e-12
    assert np.abs(np.asarray(gx) - want_gx).max() <= 1e-7 * max(np.abs(want_gx).max(), 1.0)
    assert relative(np.asarray(batched), np.stack([want, want])) <= 1e-12
    monkeypatch.undo()
    module._jax = None  # the next call binds the FFI again


@pytest.mark.parametrize("order", [0, 2], ids=str)
@pytest.mark.parametrize("name", ["linear", "rbf", "polynomial", "matern32"])
def test_jax_target_gradients_match_finite_differences(name, order):
    """The jax target (anti-diagonal scan) differentiated by JAX, a pair layout and the
    symmetric Gram layout (whose diagonal puts the radial kernels at distance 0)."""
    pytest.importorskip("jax")
    import jax
    import jax.numpy as jnp

    from sigcodegen.runtime.frameworks import x64

    ours = KERNELS[name][0]
    x, y = paths(26, 2, 5, 2), paths(27, 2, 4, 2)
    weights = np.array([[0.4, -1.1], [0.9, 0.3]])

    def loss(a, b):
        k = sc.signature_kernel(a, b, dyadic_order=order, static_kernel=ours, target="jax")
        g = sc.signature_kernel_gram(a, dyadic_order=order, static_kernel=ours, target="jax")
        return (weights[0] * k).sum() + (weights * g).sum()

    with x64(True):
        gx, gy = jax.grad(loss, argnums=(0, 1))(jnp.asarray(x), jnp.asarray(y))

    def f(a, b):
        k = sc.signature_kernel(a, b, dyadic_order=order, static_kernel=ours)
        g = sc.signature_kernel_gram(a, dyadic_order=order, static_kernel=ours)
        return float((weights[0] * k).sum() + (weights * g).sum())

    want_x = central_difference(lambda a: f(a, y), x)
    want_y = central_difference(lambda b: f(x, b), y)
    scale = max(np.abs(want_x).max(), np.abs(want_y).max())
    assert np.isfinite(np.asarray(gx)).all()
    assert np.abs(np.asarray(gx) - want_x).max() <= 1e-7 * scale
    assert np.abs(np.asarray(gy) - want_y).max() <= 1e-7 * scale


# ---- the triton target: Triton's interpreter, and the compiler for sm_90 / sm_80 ----------

TRITON_WORKER = Path(__file__).resolve().parent / "sigkernel_triton_worker.py"


def _triton_worker(tmp_path_factory, mode):
    pytest.importorskip("triton")
    pytest.importorskip("torch")
    out = tmp_path_factory.mktemp(f"sigkernel-triton-{mode}")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    if mode == "interpret":
        env["TRITON_INTERPRET"] = "1"
    result = subprocess.run([sys.executable, str(TRITON_WORKER), mode, str(out)], env=env,
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads((out / "report.json").read_text()), dict(np.load(out / "outputs.npz"))


@pytest.fixture(scope="module")
def triton_interpreted(tmp_path_factory):
    return _triton_worker(tmp_path_factory, "interpret")


TRITON_CASES = {  # the worker's CASES: static kernel, dyadic order, dtype
    "linear-0-f64": (None, 0, "float64"),
    "linear-12-f64": (None, (1, 2), "float64"),
    "rbf-2-f64": (sk.RBF(0.8), 2, "float64"),
    "matern52-1-f64": (sk.Matern52(0.9), 1, "float64"),
    "polynomial-0-f32": (sk.Polynomial(3, 0.5, 1.5), 0, "float32"),
    "linear-long-f64": (None, 0, "float64"),
}


@pytest.mark.parametrize("case", list(TRITON_CASES))
def test_triton_interpreted_matches_the_reference(triton_interpreted, case):
    report, out = triton_interpreted
    assert report[case]["ok"], report[case].get("trace")
    kernel, order, dtype = TRITON_CASES[case]
    get = {k.split("/", 1)[1]: v for k, v in out.items() if k.startswith(case + "/")}
    x, y, weights = (get[k].astype(np.float64) for k in ("x", "y", "weights"))
    name = next(n for n, v in KERNELS.items() if v[0] == kernel)
    kappa = KERNELS[name][1]
    tol = 1e-12 if dtype == "float64" else 1e-5
    want = [reference_pde(a, b, pair_orders(order), kappa) for a, b in zip(x, y)]
    assert get["k"].dtype == np.dtype(dtype) and relative(get["k"], want) <= tol
    gram = sc.signature_kernel_gram(x, y, dyadic_order=order, static_kernel=kernel)
    assert relative(get["gram"], gram) <= tol
    sym = get["sym"]
    assert isinstance(order, tuple) or (sym == sym.T).all()  # (λ1, λ2): not symmetric
    assert relative(sym, sc.signature_kernel_gram(x, dyadic_order=order, static_kernel=kernel)) <= tol
    if case == "linear-long-f64":
        return  # finite differences at L = 50 would cost 400 solves; the values are checked

    def f(a, b):
        return float(weights @ sc.signature_kernel(a, b, dyadic_order=order, static_kernel=kernel))

    want_x = central_difference(lambda a: f(a, y), x)
    want_y = central_difference(lambda b: f(x, b), y)
    scale = max(np.abs(want_x).max(), np.abs(want_y).max())
    gtol = 1e-7 if dtype == "float64" else 1e-3
    assert np.abs(get["gx"] - want_x).max() <= gtol * scale
    assert np.abs(get["gy"] - want_y).max() <= gtol * scale


def test_triton_kernels_compile_for_sm90_and_sm80(tmp_path_factory):
    report, out = _triton_worker(tmp_path_factory, "compile")
    assert len(report) == 6
    for name, entry in report.items():
        assert entry["ok"], entry.get("trace")
        assert int(out[f"{name}/kernels"]) == 4  # forward and backward, float32 and float64


# ---- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("call, error, message", [
    (lambda x: sc.signature_kernel(x, x[..., :1]), ValueError, "same dimension d"),
    (lambda x: sc.signature_kernel(x, x[:2]), ValueError, "same leading"),
    (lambda x: sc.signature_kernel(x, x, dyadic_order=-1), ValueError, "must be >= 0"),
    (lambda x: sc.signature_kernel(x, x, dyadic_order=(1, 2, 3)), ValueError, "pair"),
    (lambda x: sc.signature_kernel(x, x, dyadic_order=1.5), TypeError, "int"),
    (lambda x: sc.signature_kernel(x, x, dyadic_order=40), ValueError, "grid steps"),
    (lambda x: sc.signature_kernel(x, x, dyadic_order=(0, 23)), ValueError, "lower dyadic_order"),
    (lambda x: sc.signature_kernel(x, x, static_kernel="cosine"), ValueError, "unknown static_kernel"),
    (lambda x: sc.signature_kernel(x, x, static_kernel=object()), ValueError, "unknown static_kernel"),
    (lambda x: sc.signature_kernel(x[:, :0], x), ValueError, "no points"),
    (lambda x: sc.signature_kernel(x[0, 0], x[0, 0]), ValueError, "(..., L, d)"),
    (lambda x: sc.signature_kernel(x.astype(complex), x), TypeError, "complex"),
    (lambda x: sc.signature_mmd(x[:1], x), ValueError, "at least 2"),
    (lambda x: sc.signature_score(x[:1], x), ValueError, "at least 2"),
    (lambda x: sk.RBF(0.0), ValueError, "sigma"),
    (lambda x: sk.Polynomial(2.5), ValueError, "integer"),
    (lambda x: sc.signature_kernel(x, x, target="keras"), ValueError, "target must be"),
    (lambda x: sc.signature_kernel(x, x, target="triton"), ValueError, "takes torch tensors"),
])
def test_bad_input_is_refused(call, error, message):
    with pytest.raises(error, match=None) as info:
        call(paths(25, 3, 4, 2))
    assert message in str(info.value)


def test_spec_of_the_kind():
    spec = KernelSpec(dim=3, kind="sigkernel", target="c")
    assert spec.module_fields() == {"kind": "sigkernel", "dim": 3, "target": "c"}
    assert spec.siglen is None and str(spec) == "sigkernel(dim=3, target=c)"
    with pytest.raises(ValueError, match="no depth"):
        KernelSpec(dim=3, depth=2, kind="sigkernel", target="c")
    assert KernelSpec(dim=3, kind="sigkernel", target="jax").module_fields()["target"] == "jax"
    with pytest.raises(NotImplementedError, match="target='keras'"):
        KernelSpec(dim=3, kind="sigkernel", target="keras")
    assert KernelSpec(dim=3, kind="sigkernel", target="triton").module_fields()["dim"] == 3
    with pytest.raises(TypeError, match="needs a depth"):
        KernelSpec(dim=3)


# ---- the plan, the emitted source and the command line -------------------------------------


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "sigcodegen", *args], capture_output=True,
                          text=True, timeout=300)


def test_plan_show_and_build_through_the_cli(tmp_path):
    plan = run_cli("plan", "--kind", "sigkernel", "--dim", "3", "--batch", "32", "--length",
                   "100", "--length2", "50", "--dyadic-order", "1")
    assert plan.returncode == 0, plan.stderr
    assert "(1 + D/2 + D²/12)" in plan.stdout and "matern52" in plan.stdout
    assert f"{32 * 198 * 98:,} cells" in plan.stdout
    shown = run_cli("show", "--kind", "sigkernel", "--dim", "3")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("/* sigcodegen kernel module: sigkernel, dim 3, target c.")
    assert "int sigcodegen_sigkernel_backward_f64" in shown.stdout
    built = run_cli("build", "--kind", "sigkernel", "--dim", "2", "--out", str(tmp_path))
    assert built.returncode == 0, built.stderr
    assert [p.name.split("_c_")[0] for p in tmp_path.glob("*.c")] == ["sig_kernel_d2"]
    if importlib.util.find_spec("jax"):
        module = next(tmp_path.glob("sig_kernel_d2_jax_*.py"))
        checked = subprocess.run([sys.executable, str(module)], capture_output=True, text=True,
                                 timeout=300)
        assert checked.returncode == 0 and "self-check" in checked.stdout, checked.stderr
    refused = run_cli("show", "--kind", "sigkernel", "--dim", "3", "--depth", "2")
    assert refused.returncode == 2 and "takes no --depth" in refused.stderr
    refused = run_cli("plan", "--kind", "sigkernel", "--dim", "3", "--target", "keras")  # noqa
    assert refused.returncode == 2 and "not 'keras'" in refused.stderr
    shown = run_cli("show", "--kind", "sigkernel", "--dim", "2", "--target", "jax")
    assert shown.returncode == 0 and "lax.scan(step" in shown.stdout


def test_readme_example_runs():
    """The README's signature-kernel example runs as written."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text.split("## Signature kernels\n", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("(8,) (8, 8)")
