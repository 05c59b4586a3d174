"""Signature kernels: k(x, y) = <S(x), S(y)> of the untruncated signatures, by the Goursat PDE.

The kernel solves d²u/ds dt = <x'(s), y'(t)> u with u = 1 on both axes (Salvi, Cass, Foster,
Lyons and Yang, "The signature kernel is the solution of a Goursat PDE", 2021); the c target's
generated solver (``kind="sigkernel"``, ``sigcodegen plan --kind sigkernel --dim d``) runs the
second-order explicit scheme of the paper and of pysiglib's ``finite_difference`` on the grid
of the paths' increments, each split into 2**dyadic_order pieces. A static kernel κ replaces
<x', y'> by its second difference on each cell (linear by default).

Inputs: numpy arrays (and nested lists), torch tensors (with autograd; CPU computation) and jax
arrays (under jit, grad and vmap, through a host callback), float32 or float64 (float16 and
integers run in float32; if either argument is float64 both run in float64), shape
``(..., L, d)``. x and y may have different lengths. NaN or inf in a path makes every kernel
value that path enters non-finite (and leaves the others alone).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..runtime.bindings.sigkernel import SigKernelModule
from ..runtime.dispatch import load_module, loaded
from ..runtime.frameworks import framework_named, framework_of, x64
from ..spec import SIGKERNEL_MAX_DYADIC_ORDER as MAX_DYADIC_ORDER
from ..spec import SIGKERNEL_MAX_GRID_ROW as MAX_GRID_ROW
from ..spec import SIGKERNEL_TARGETS, KernelSpec
from .options import PathOptions

__all__ = ["StaticKernel", "Linear", "ScaledLinear", "RBF", "Polynomial", "Matern32",
           "Matern52", "signature_kernel", "signature_kernel_gram", "signature_kernel_vjp",
           "signature_mmd", "signature_score", "sig_kernel", "sig_kernel_gram", "sig_mmd",
           "sig_score"]


# ---- static kernels ------------------------------------------------------------------------


class StaticKernel:
    """A static kernel κ on R^d; the PDE uses its second difference on each grid cell. The
    classes below are what the generated solver runs (their codes and formulas are in the
    plan: ``sigcodegen plan --kind sigkernel --dim d``)."""

    name = ""
    code = -1

    def params(self) -> tuple[tuple[float, float, float], int]:
        """(p0, p1, p2) and the integer parameter, as the emitted code reads them."""
        raise NotImplementedError


def _positive(owner: str, name: str, value) -> float:
    value = float(value)
    if not value > 0 or not math.isfinite(value):
        raise ValueError(f"{owner}: {name} must be a finite number > 0, got {value!r}")
    return value


@dataclass(frozen=True)
class Linear(StaticKernel):
    """κ(x, y) = <x, y>: the signature kernel itself (the default)."""

    name = "linear"
    code = 0

    def params(self):
        return (1.0, 0.0, 0.0), 0


@dataclass(frozen=True)
class ScaledLinear(StaticKernel):
    """κ(x, y) = <scale·x, scale·y> = scale²·<x, y> (pysiglib's ScaledLinearKernel)."""

    scale: float = 1.0
    name = "linear"
    code = 0

    def __post_init__(self):
        if not float(self.scale) >= 0 or not math.isfinite(float(self.scale)):
            raise ValueError(f"ScaledLinear: scale must be a finite number >= 0, got {self.scale!r}")

    def params(self):
        return (float(self.scale) ** 2, 0.0, 0.0), 0


@dataclass(frozen=True)
class RBF(StaticKernel):
    """κ(x, y) = exp(−|x − y|² / sigma) (the convention of pysiglib and sigkernel)."""

    sigma: float = 1.0
    name = "rbf"
    code = 1

    def __post_init__(self):
        _positive("RBF", "sigma", self.sigma)

    def params(self):
        return (1.0 / float(self.sigma), 0.0, 0.0), 0


@dataclass(frozen=True)
class Polynomial(StaticKernel):
    """κ(x, y) = scale·(<x, y> + gamma)**degree, degree an integer >= 0."""

    degree: int = 3
    gamma: float = 1.0
    scale: float = 1.0
    name = "polynomial"
    code = 2

    def __post_init__(self):
        if isinstance(self.degree, bool) or int(self.degree) != self.degree or self.degree < 0:
            raise ValueError(f"Polynomial: degree must be an integer >= 0, got {self.degree!r}")

    def params(self):
        return (float(self.scale), float(self.gamma), 0.0), int(self.degree)


@dataclass(frozen=True)
class Matern32(StaticKernel):
    """κ(x, y) = (1 + √3 r/sigma)·exp(−√3 r/sigma), r = |x − y|."""

    sigma: float = 1.0
    name = "matern32"
    code = 3

    def __post_init__(self):
        _positive("Matern32", "sigma", self.sigma)

    def params(self):
        return (math.sqrt(3.0) / float(self.sigma), 0.0, 0.0), 0


@dataclass(frozen=True)
class Matern52(StaticKernel):
    """κ(x, y) = (1 + √5 r/sigma + 5r²/(3 sigma²))·exp(−√5 r/sigma), r = |x − y|."""

    sigma: float = 1.0
    name = "matern52"
    code = 4

    def __post_init__(self):
        _positive("Matern52", "sigma", self.sigma)

    def params(self):
        return (math.sqrt(5.0) / float(self.sigma), 0.0, 0.0), 0


_BY_NAME = {"linear": Linear, "rbf": RBF, "polynomial": Polynomial, "matern32": Matern32,
            "matern52": Matern52}
_LINEAR = Linear()  # static_kernel=None (frozen: one instance serves every call)
_NUMPY = framework_named("numpy")
_NUMPY_FLOATS = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64"}


def _static(static_kernel, owner: str) -> StaticKernel:
    if static_kernel is None:
        return _LINEAR
    if isinstance(static_kernel, StaticKernel):
        return static_kernel
    if isinstance(static_kernel, str) and static_kernel in _BY_NAME:
        return _BY_NAME[static_kernel]()
    raise ValueError(
        f"{owner}: unknown static_kernel {static_kernel!r}; pass None (linear), one of "
        f"{', '.join(map(repr, _BY_NAME))} (default parameters), or an instance of "
        f"sigcodegen.ops.sigkernel.Linear, ScaledLinear, RBF(sigma), Polynomial(degree, gamma, "
        f"scale), Matern32(sigma) or Matern52(sigma)")


# ---- validation ------------------------------------------------------------------------------


def _orders(dyadic_order, lengths, owner: str) -> tuple[int, int]:
    if (type(dyadic_order) is int and 0 <= dyadic_order <= MAX_DYADIC_ORDER
            and max(lengths[0] - 1, lengths[1] - 1, 0) << dyadic_order <= MAX_GRID_ROW):
        return dyadic_order, dyadic_order  # the common call: one plain int within the limits
    pair = dyadic_order if isinstance(dyadic_order, (tuple, list)) else (dyadic_order,) * 2
    if len(pair) != 2:
        raise ValueError(f"{owner}: dyadic_order is an int or a pair (λ1, λ2), got {dyadic_order!r}")
    out = []
    for order, length, which in zip(pair, lengths, ("x", "y")):
        if isinstance(order, bool) or not isinstance(order, (int, np.integer)):
            raise TypeError(f"{owner}: dyadic_order must be an int >= 0 or a pair of them, got "
                            f"{dyadic_order!r}")
        order = int(order)
        if order < 0:
            raise ValueError(f"{owner}: dyadic_order must be >= 0, got {order}")
        points = (max(length - 1, 0) << min(order, 64)) + 1
        if order > MAX_DYADIC_ORDER or points - 1 > MAX_GRID_ROW:
            raise ValueError(
                f"{owner}: dyadic_order {order} refines {which}'s {max(length - 1, 0)} "
                f"increments into {points - 1:,} grid steps (2**{order} each), above the limits "
                f"(dyadic order <= {MAX_DYADIC_ORDER}, at most {MAX_GRID_ROW:,} steps per side: "
                f"sigcodegen.spec.SIGKERNEL_MAX_*); lower dyadic_order")
        out.append(order)
    return out[0], out[1]


def _prepare(x, y, owner: str):
    """(framework, x, y, dtype): both adopted, shapes checked, in one compute dtype."""
    if (type(x) is np.ndarray and type(y) is np.ndarray and x.dtype == y.dtype
            and x.dtype in _NUMPY_FLOATS and x.ndim >= 2 and y.ndim >= 2 and x.shape[-2] >= 1
            and y.shape[-2] >= 1 and x.shape[-1] >= 1 and x.shape[-1] == y.shape[-1]):
        return _NUMPY, x, y, _NUMPY_FLOATS[x.dtype]  # numpy floats of one dtype: as they are
    fx, fy = framework_of(x), framework_of(y)
    if fx.name != fy.name:
        raise TypeError(f"{owner}: x and y must be arrays of one framework, got {fx.name} and "
                        f"{fy.name}")
    if fx.name not in ("numpy", "torch", "jax"):
        raise TypeError(f"{owner}: takes numpy arrays, torch tensors and jax arrays, not "
                        f"{fx.name} tensors")
    x, y = fx.adopt(x), fx.adopt(y)
    shapes = fx.shape(x), fx.shape(y)
    for name, shape in zip(("x", "y"), shapes):
        if len(shape) < 2:
            raise ValueError(f"{owner}: {name} must have shape (..., L, d) (L points in R^d), "
                             f"got {tuple(shape)}")
        if shape[-2] < 1:
            raise ValueError(f"{owner}: {name} has no points (L = 0 in shape {tuple(shape)}); a "
                             f"path needs at least one point")
        if shape[-1] < 1:
            raise ValueError(f"{owner}: {name}'s last axis (the dimension d) is empty: "
                             f"{tuple(shape)}")
    if shapes[0][-1] != shapes[1][-1]:
        raise ValueError(f"{owner}: x and y must have the same dimension d (the last axis), got "
                         f"{shapes[0][-1]} and {shapes[1][-1]}")
    x, dx = fx.as_float(x, owner)
    y, dy = fx.as_float(y, owner)
    dtype = "float64" if "float64" in (dx, dy) else "float32"
    x, y = (v if d == dtype else fx.cast(v, dtype) for v, d in ((x, dx), (y, dy)))
    return fx, x, y, dtype


def _module(dim: int) -> SigKernelModule:
    """The c target's sigkernel module for ``dim`` (built or loaded on first use, memoised by
    the runtime; raises sigcodegen.jit.toolchain.CompilerUnavailable / CompileError without a
    working compiler)."""
    module = loaded("sigkernel", dim, None, "c")  # the fast path: no spec built
    return module if module is not None else load_module(
        KernelSpec(dim=dim, kind="sigkernel", target="c"))


def _jax_module(dim: int):
    """The jax target's sigkernel module for ``dim`` (an anti-diagonal lax.scan)."""
    return load_module(KernelSpec(dim=dim, kind="sigkernel", target="jax"))


def _check_target(target, framework, owner: str) -> str:
    if target is None:
        return "c"
    if target not in SIGKERNEL_TARGETS:
        raise ValueError(f"{owner}: target must be one of {', '.join(SIGKERNEL_TARGETS)} (or "
                         f"None: c), got {target!r}")
    if target == "jax" and framework.name == "torch":
        raise ValueError(f"{owner}: target='jax' takes numpy and jax arrays; use target='c' "
                         f"(or None) for torch tensors")
    if target == "triton" and framework.name != "torch":
        raise ValueError(f"{owner}: target='triton' takes torch tensors (CUDA, or the CPU under "
                         f"TRITON_INTERPRET=1), not {framework.name} arrays")
    return target


def _run_triton(framework, x, y, dtype, layout, kernel: StaticKernel, orders):
    """The triton target (torch tensors): pairs for every layout."""
    import torch

    dim = framework.shape(x)[-1]
    module = load_module(KernelSpec(dim=dim, kind="sigkernel", target="triton"))
    params, ip = kernel.params()

    def run(a, b):
        return module.pairs(a.contiguous(), b.contiguous(), kernel.code, params, ip, *orders)

    if layout == "pairs":
        return run(x, y)
    if layout == "gram":
        nx, ny = x.shape[0], y.shape[0]
        ia, ib = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
        return run(x[torch.as_tensor(ia.ravel())], y[torch.as_tensor(ib.ravel())]).reshape(nx, ny)
    n = x.shape[0]
    ia, ib = (torch.as_tensor(v, device=x.device) for v in np.triu_indices(n))
    values = run(x[ia], x[ib])
    out = torch.zeros((n, n), dtype=x.dtype, device=x.device)
    return out.index_put((ia, ib), values).index_put((ib, ia), values)


def _run_jax(framework, x, y, dtype, layout, kernel: StaticKernel, orders):
    """The jax target: pairs for every layout (Gram matrices gather the pairs' paths)."""
    import jax.numpy as jnp

    module = _jax_module(framework.shape(x)[-1])
    params, ip = kernel.params()
    with x64(dtype == "float64"):
        jx, jy = jnp.asarray(x), jnp.asarray(y)
        p = jnp.asarray(params, dtype=jx.dtype)

        def run(a, b):
            return module.pairs(a, b, kernel.code, p, ip, orders[0], orders[1])

        if layout == "pairs":
            out = run(jx, jy)
        elif layout == "gram":
            nx, ny = jx.shape[0], jy.shape[0]
            ia, ib = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
            out = run(jx[ia.ravel()], jy[ib.ravel()]).reshape(nx, ny)
        else:
            n = jx.shape[0]
            ia, ib = np.triu_indices(n)
            values = run(jx[ia], jx[ib])
            out = jnp.zeros((n, n), jx.dtype).at[ia, ib].set(values).at[ib, ia].set(values)
        return np.array(out) if framework.name == "numpy" else out


def _ragged(framework, x, y, lengths, owner: str):
    """x and y with the points past each path's length repeating its last point (zero
    increments: the PDE's rows past the end copy the last row exactly, for every static
    kernel); ``lengths`` is None or (lengths of x, lengths of y), either None."""
    if lengths is None:
        return x, y
    if not isinstance(lengths, (tuple, list)) or len(lengths) != 2:
        raise ValueError(f"{owner}: lengths must be a pair (lengths of x, lengths of y), each "
                         f"None or integers of the paths' leading shape, got {lengths!r}")
    lx, ly = lengths
    if lx is not None:
        x = PathOptions.of(lengths=lx).prepare(x, framework)
    if ly is not None:
        y = PathOptions.of(lengths=ly).prepare(y, framework)
    return x, y


def _flat(framework, v):
    shape = framework.shape(v)
    if len(shape) == 3:
        return v
    return v.reshape((math.prod(shape[:-2]),) + tuple(shape[-2:]))


def _run(framework, x, y, dtype, layout, kernel: StaticKernel, orders, target="c"):
    """The kernel values of ``layout`` for flat x (nx, L1, d), y (ny, L2, d)."""
    if target == "jax":
        return _run_jax(framework, x, y, dtype, layout, kernel, orders)
    if target == "triton":
        return _run_triton(framework, x, y, dtype, layout, kernel, orders)
    module = _module(framework.shape(x)[-1])
    params, ip = kernel.params()
    if framework.name == "torch":
        return module.torch_apply(x.contiguous(), y.contiguous(), layout, kernel.code, params,
                                  ip, orders)
    if framework.name == "jax":
        with x64(dtype == "float64"):
            return module.jax_apply(x, y, layout, kernel.code, params, ip, orders)
    return module.forward(np.asarray(x), np.asarray(y), layout, kernel.code, params, ip, orders)


# ---- the operations --------------------------------------------------------------------------


def signature_kernel(x, y, *, dyadic_order=0, static_kernel=None, target=None, lengths=None):
    """Signature kernels k(x[i], y[i]) of pairs of paths, by the Goursat PDE.

    Args:
        x: paths ``(..., L1, d)``; y: paths ``(..., L2, d)`` with the same leading axes (one
            pair per leading index) and the same d; L1 and L2 may differ.
        dyadic_order: λ >= 0, or a pair (λ1, λ2): each increment of x is split into 2**λ1
            pieces, of y into 2**λ2 (the PDE solution converges as λ grows).
        static_kernel: None (linear: the signature kernel itself), a name ("rbf", ...) or a
            static kernel instance (``Linear``, ``ScaledLinear``, ``RBF``, ``Polynomial``,
            ``Matern32``, ``Matern52``).
        target: None or ``"c"`` (the generated C solver: numpy, torch, jax), ``"jax"``
            (the generated JAX anti-diagonal scan, JAX autodiff: numpy and jax arrays) or
            ``"triton"`` (a Triton anti-diagonal wavefront: torch tensors on a CUDA GPU, or on
            the CPU under TRITON_INTERPRET=1).
        lengths: None, or (lengths of x, lengths of y) for ragged batches: integers of x's
            (y's) leading shape in 1..L, the points each path uses (either may be None); as
            for :func:`sigcodegen.signature`.

    Returns:
        ``(...)``: one value per pair, an array of the input's framework (torch with autograd,
        jax differentiable), in the inputs' float dtype.

    Example:
        >>> import numpy as np, sigcodegen as sc
        >>> x = np.zeros((2, 5, 3)); x[:, 1:, 0] = 1.0     # a step of length 1, then constant
        >>> y = x.copy()
        >>> bool(np.allclose(sc.signature_kernel(x, y, dyadic_order=4), np.i0(2.0), rtol=1e-3))
        True
    """
    owner = "signature_kernel"
    framework, x, y, dtype = _prepare(x, y, owner)
    kernel = _static(static_kernel, owner)
    sx, sy = framework.shape(x), framework.shape(y)
    if tuple(sx[:-2]) != tuple(sy[:-2]):
        raise ValueError(f"{owner}: x and y must have the same leading (batch) axes, got "
                         f"{tuple(sx)} and {tuple(sy)}; use signature_kernel_gram for every "
                         f"pair of two batches")
    orders = _orders(dyadic_order, (sx[-2], sy[-2]), owner)
    target = _check_target(target, framework, owner)
    x, y = _ragged(framework, x, y, lengths, owner)
    out = _run(framework, _flat(framework, x), _flat(framework, y), dtype, "pairs", kernel,
               orders, target)
    return out.reshape(tuple(sx[:-2]))


def signature_kernel_gram(x, y=None, *, dyadic_order=0, static_kernel=None, target=None,
                          lengths=None):
    """The Gram matrix k(x[a], y[b]) of every pair of two batches of paths.

    ``x`` ``(..., L1, d)`` and ``y`` ``(..., L2, d)`` give ``(*x_batch, *y_batch)``. With
    ``y=None`` the Gram matrix of x with itself, computing each pair once (a <= b) and
    mirroring it (symmetric to the last bit); ``dyadic_order``, ``static_kernel``, ``target``
    and ``lengths`` as in :func:`signature_kernel` (with ``y=None``: ``lengths`` is x's).

    Example:
        >>> import numpy as np, sigcodegen as sc
        >>> x = np.random.default_rng(0).standard_normal((4, 10, 2)) * 0.3
        >>> gram = sc.signature_kernel_gram(x)
        >>> gram.shape, bool((gram == gram.T).all())
        ((4, 4), True)
    """
    owner = "signature_kernel_gram"
    symmetric = y is None
    framework, x, y, dtype = _prepare(x, x if symmetric else y, owner)
    kernel = _static(static_kernel, owner)
    sx, sy = framework.shape(x), framework.shape(y)
    orders = _orders(dyadic_order, (sx[-2], sy[-2]), owner)
    if symmetric and orders[0] != orders[1]:
        symmetric = False  # k(x_a, x_b) with different refinements is not symmetric
    target = _check_target(target, framework, owner)
    if symmetric and lengths is not None:
        x, _ = _ragged(framework, x, x, (lengths, None), owner)
    elif lengths is not None:
        x, y = _ragged(framework, x, y, lengths, owner)
    fx = _flat(framework, x)
    fy = fx if symmetric else _flat(framework, y)
    out = _run(framework, fx, fy, dtype, "symmetric" if symmetric else "gram", kernel, orders,
               target)
    return out.reshape(tuple(sx[:-2]) + tuple(sy[:-2]))


def signature_kernel_vjp(x, y, grad, *, dyadic_order=0, static_kernel=None, lengths=None):
    """The gradients (gx, gy) of ``sum(grad * signature_kernel(x, y))`` for numpy arrays, by
    the native backward (reverse mode over the grid, rows recomputed from sqrt(M) checkpoints).

    Example:
        >>> import numpy as np, sigcodegen as sc
        >>> x = np.random.default_rng(0).standard_normal((3, 6, 2)) * 0.5
        >>> gx, gy = sc.signature_kernel_vjp(x, x[:, ::-1], np.ones(3))
        >>> gx.shape, gy.shape
        ((3, 6, 2), (3, 6, 2))
    """
    owner = "signature_kernel_vjp"
    framework, x, y, dtype = _prepare(np.asarray(x), np.asarray(y), owner)
    kernel = _static(static_kernel, owner)
    sx, sy = x.shape, y.shape
    if sx[:-2] != sy[:-2]:
        raise ValueError(f"{owner}: x and y must have the same leading (batch) axes, got {sx} "
                         f"and {sy}")
    grad = np.asarray(grad, dtype=dtype)
    if grad.shape != sx[:-2]:
        raise ValueError(f"{owner}: grad must have the shape of the kernel values {sx[:-2]}, "
                         f"got {grad.shape}")
    orders = _orders(dyadic_order, (sx[-2], sy[-2]), owner)
    params, ip = kernel.params()
    cx, cy = _ragged(framework, x, y, lengths, owner)
    gx, gy = _module(sx[-1]).backward(_flat(framework, cx), _flat(framework, cy),
                                      grad.reshape(-1), "pairs", kernel.code, params, ip, orders)
    gx, gy = gx.reshape(sx), gy.reshape(sy)
    if lengths is not None:  # the repeated points' gradients belong to the last point used
        gx, gy = (_fold(g, n) for g, n in zip((gx, gy), lengths))
    return gx, gy


def _fold(grad: np.ndarray, lengths) -> np.ndarray:
    if lengths is None:
        return grad
    n = np.asarray(lengths)
    length = grad.shape[-2]
    index = np.minimum(np.arange(length), n[..., None] - 1)  # (..., L): the point each row is
    out = np.zeros_like(grad)
    lead = np.indices(index.shape)[:-1]
    np.add.at(out, (*lead, index), grad)
    return out


def _sum_off_diagonal(framework, gram):
    xp = framework.xp
    return xp.sum(gram) - xp.trace(gram)


def signature_mmd(x, y, *, dyadic_order=0, static_kernel=None, unbiased=True, target=None):
    """The squared maximum mean discrepancy of the signature kernel between the samples
    ``x`` ``(..., L1, d)`` (m paths) and ``y`` ``(..., L2, d)`` (n paths):

    unbiased (default): sum_{i != j} k(x_i, x_j) / (m(m-1)) + sum_{i != j} k(y_i, y_j) / (n(n-1))
    − 2 mean k(x_i, y_j) (as pysiglib's ``sig_mmd``); biased: the means over all pairs
    (diagonals included). A 0-d array of the input's framework.

    Example:
        >>> import numpy as np, sigcodegen as sc
        >>> rng = np.random.default_rng(0)
        >>> x, y = rng.standard_normal((2, 8, 10, 2)) * 0.2
        >>> float(sc.signature_mmd(x, x, unbiased=False))
        0.0
    """
    owner = "signature_mmd"
    framework, x, y, _ = _prepare(x, y, owner)
    m = math.prod(framework.shape(x)[:-2])
    n = math.prod(framework.shape(y)[:-2])
    if unbiased and (m < 2 or n < 2):
        raise ValueError(f"{owner}: the unbiased estimate needs at least 2 paths in each sample, "
                         f"got {m} and {n}; pass unbiased=False")
    if not isinstance(unbiased, bool):
        raise TypeError(f"{owner}: unbiased must be True or False, got {unbiased!r}")
    options = {"dyadic_order": dyadic_order, "static_kernel": static_kernel, "target": target}
    xs, ys = _flat(framework, x), _flat(framework, y)
    kxx = signature_kernel_gram(xs, **options)
    kyy = signature_kernel_gram(ys, **options)
    kxy = signature_kernel_gram(xs, ys, **options)
    xp = framework.xp
    if unbiased:
        return (_sum_off_diagonal(framework, kxx) / (m * (m - 1))
                + _sum_off_diagonal(framework, kyy) / (n * (n - 1)) - 2 * xp.mean(kxy))
    return xp.mean(kxx) + xp.mean(kyy) - 2 * xp.mean(kxy)


def signature_score(samples, y, *, dyadic_order=0, static_kernel=None, lam=1.0, target=None):
    """The signature kernel scoring rule of a sample ``samples`` ``(..., L1, d)`` (m >= 2
    paths) from a model μ against observations ``y`` ``(..., L2, d)``, as pysiglib's
    ``sig_score``: lam · sum_{i != j} k(x_i, x_j) / (m(m-1)) − 2/m · sum_i k(x_i, y), one value
    per observation (shape: y's leading axes).

    Example:
        >>> import numpy as np, sigcodegen as sc
        >>> rng = np.random.default_rng(0)
        >>> samples, y = rng.standard_normal((16, 10, 2)) * 0.2, rng.standard_normal((3, 10, 2)) * 0.2
        >>> sc.signature_score(samples, y).shape
        (3,)
    """
    owner = "signature_score"
    framework, samples, y, _ = _prepare(samples, y, owner)
    m = math.prod(framework.shape(samples)[:-2])
    if m < 2:
        raise ValueError(f"{owner}: needs at least 2 sample paths, got {m}")
    options = {"dyadic_order": dyadic_order, "static_kernel": static_kernel, "target": target}
    xs = _flat(framework, samples)
    lead = tuple(framework.shape(y)[:-2])
    kxx = signature_kernel_gram(xs, **options)
    kxy = signature_kernel_gram(xs, _flat(framework, y), **options)
    xp = framework.xp
    score = lam * _sum_off_diagonal(framework, kxx) / (m * (m - 1)) - 2 * xp.mean(kxy, 0)
    return score.reshape(lead)


#: pysiglib's names for the same operations
sig_kernel = signature_kernel
sig_kernel_gram = signature_kernel_gram
sig_mmd = signature_mmd
sig_score = signature_score
