"""signature_coefficients() and signature_coefficients_vjp(): chosen coefficients of the
signature, from a plan pruned to the prefix tree of the requested words (pysiglib's
``sig_coef``, pathsig's word projections).

validate -> plan (``plan.coefficients``, memoised per (dim, words)) -> prepare the options
(basepoint, lengths: ``ops.options``) -> ``runtime.coefficients``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..runtime.coefficients import coefficients_vjp, run_coefficients
from ..runtime.dispatch import load_coefficients
from ..runtime.frameworks import Framework, framework_of
from .options import PathOptions

__all__ = ["signature_coefficients", "signature_coefficients_vjp", "coefficients_plan"]

_FRAMEWORKS = ("numpy", "jax", "torch")


@lru_cache(maxsize=256)
def _plan(dim: int, words: tuple):
    from ..plan.coefficients import coefficient_plan

    return coefficient_plan(dim, words)


def coefficients_plan(dim: int, words):
    """The pruned plan of ``words`` for paths in R^dim (a ``plan.coefficients.CoefficientPlan``:
    its ``text()`` prints the prefix tree and its cost)."""
    from ..plan.coefficients import check_words

    return _plan(int(dim), check_words(words, int(dim)))


def _validate(path, words, stream, owner):
    framework = framework_of(path)
    path = framework.adopt(path)
    if framework.name not in _FRAMEWORKS:
        raise TypeError(f"{owner}: takes numpy, jax and torch arrays (or nested lists), not "
                        f"{framework.name} tensors; convert with np.asarray first")
    if not isinstance(stream, bool):
        raise TypeError(f"{owner}: stream must be True or False, got {stream!r}")
    shape = framework.shape(path)
    if len(shape) < 2 or shape[-1] is None or shape[-1] < 1 or shape[-2] < 1:
        raise ValueError(f"{owner}: a path has shape (..., L, d) with L >= 1 points of dimension "
                         f"d >= 1; got shape {tuple(shape)}")
    plan = coefficients_plan(shape[-1], words)
    path, _ = framework.as_float(path, owner)
    return path, framework, plan


def signature_coefficients(path, words, *, stream=False, basepoint=None, lengths=None):
    """Chosen coefficients of the signature of one path or a batch of paths.

    Only the prefix tree of the requested words is computed: the cost is proportional to its
    number of nodes (``coefficients_plan(d, words).text()`` prints them), not to d**m, so a few
    words of a long truncation are cheap where the full signature would be large.

    Args:
        path: array ``(..., L, d)``: numpy, jax or torch, or a nested list.
        words: a list of words, each a tuple of 0-based letters in 0..d-1, e.g.
            ``[(0,), (1, 0), (0, 1, 1)]`` (a single word may be given alone, as ``(1, 0)``).
            Words may repeat and have any lengths >= 1; the output follows their order. The
            empty word (coefficient 1) is refused.
        stream: if True, the coefficients of every prefix ``path[..., :k+1, :]``, k = 1..L-1.
        basepoint, lengths: as for :func:`sigcodegen.signature`.

    Returns:
        ``(..., len(words))`` (``(..., L-1, len(words))`` when ``stream``): entry n is the
        signature coefficient of ``words[n]``, i.e. ``signature(path, m)[..., index]`` for the
        word's row-major index in its level. Same framework and float dtype as the input.
        Differentiable with jax (jit, grad, vmap) and torch autograd; numpy callers use
        :func:`signature_coefficients_vjp`. numpy paths run the c target's table-driven kernel
        (one library per d for every word set; numpy array code when no C compiler works), jax
        and torch arrays the same plan as array code of their own library.

    Example:
        >>> import numpy as np, sigcodegen as sc
        >>> path = np.array([[0.0, 0.0], [1.0, 2.0]])   # one step: exp of (1, 2)
        >>> sc.signature_coefficients(path, [(1,), (0, 1), (1, 1, 1)])
        array([2.        , 1.        , 1.33333333])
    """
    owner = "signature_coefficients"
    path, framework, plan = _validate(path, words, stream, owner)
    path = _prepare(path, framework, basepoint, lengths, owner)
    if framework.name == "numpy" and path.shape[-2] >= 2:
        module = load_coefficients(plan.dim, str(path.dtype))
        if module is not None:
            return module.forward(path, _tables(plan), stream)
    return run_coefficients(plan, path, framework, stream)


@lru_cache(maxsize=256)
def _tables(plan):
    return plan.tables()


def _prepare(path, framework: Framework, basepoint, lengths, owner):
    options = PathOptions.of(basepoint, False, None, lengths)
    try:
        return options.prepare(path, framework)
    except ValueError as error:
        raise ValueError(str(error).replace("signature:", f"{owner}:", 1)) from None


def signature_coefficients_vjp(path, grad, words, *, stream=False):
    """Gradient of ``sum(grad * signature_coefficients(path, words, stream=stream))`` with
    respect to ``path`` (like pysiglib's ``sig_coef_backprop``).

    numpy paths run the plan's recurrence in reverse; jax and torch use their own autodiff
    through :func:`signature_coefficients`. ``grad`` is shaped like the coefficients.

    Example:
        >>> import numpy as np, sigcodegen as sc
        >>> path = np.array([[0.0, 0.0], [1.0, 2.0]])
        >>> sc.signature_coefficients_vjp(path, np.array([1.0]), [(0, 1)])  # S_01 = dx0 dx1 / 2
        array([[-1. , -0.5],
               [ 1. ,  0.5]])
    """
    owner = "signature_coefficients_vjp"
    path, framework, plan = _validate(path, words, stream, owner)
    steps = max(path.shape[-2] - 1, 0)
    expected = (*path.shape[:-2], steps, len(plan.words)) if stream else \
        (*path.shape[:-2], len(plan.words))
    if tuple(grad.shape if hasattr(grad, "shape") else np.shape(grad)) != tuple(expected):
        raise ValueError(f"{owner}: grad has shape {tuple(np.shape(grad))}; the coefficients of "
                         f"{len(plan.words)} words of a path {tuple(path.shape)} have shape "
                         f"{tuple(expected)}")
    if framework.name == "jax":
        import jax

        out, pullback = jax.vjp(lambda p: run_coefficients(plan, p, framework, stream), path)
        return pullback(jax.numpy.asarray(grad, out.dtype))[0]
    if framework.name == "torch":
        import torch

        leaf = path.detach().requires_grad_(True)
        out = run_coefficients(plan, leaf, framework, stream)
        (result,) = torch.autograd.grad(out, leaf, torch.as_tensor(grad, dtype=out.dtype))
        return result
    grad = np.asarray(grad, dtype=path.dtype)
    return coefficients_vjp(plan, np.ascontiguousarray(path), grad, stream)
