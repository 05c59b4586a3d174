"""Chen products and inverses of signatures, on arrays of any framework.

The products run as the ``combine`` routine of an emitted module (see
``sigcodegen.runtime.dispatch.run_routine``); the inverse is a signed permutation.
"""

from __future__ import annotations

from .. import algebra
from ..runtime.dispatch import run_routine
from ..runtime.frameworks import Framework, framework_of
from ..spec import check_dim_depth

__all__ = ["signature_combine", "multi_signature_combine", "signature_inverse", "prepare",
           "check_flat", "combine"]


def prepare(x, owner: str) -> tuple[object, Framework]:
    """(array in its compute dtype, its framework) with lists turned into numpy arrays; Keras
    symbolic tensors are refused (these functions need values)."""
    framework = framework_of(x)
    x = framework.adopt(x)
    if framework.symbolic:
        raise TypeError(f"{owner}: takes arrays, not Keras symbolic tensors; use LogSigLayer or "
                        f"SigLayer in a functional model")
    x, _ = framework.as_float(x, owner)
    return x, framework


def check_flat(x, dim: int, depth: int, owner: str, what: str = "signature") -> None:
    """Refuse an array whose last axis is not a (dim, depth) signature's."""
    siglen = algebra.signature_channels(dim, depth)
    if len(x.shape) < 1 or x.shape[-1] != siglen:
        raise ValueError(f"{owner}: a {what} of dim={dim}, depth={depth} has {siglen} values on "
                         f"its last axis; got shape {tuple(x.shape)}")


def combine(a, b, dim: int, depth: int, framework: Framework, target=None):
    """a ⊗ b for validated signatures of one framework (no checks: the callers made them)."""
    return run_routine("combine", dim, depth, framework, a, b, target=target)


def signature_combine(a, b, dim, depth, *, target=None):
    """Chen's identity: the signature of path a followed by path b, from their signatures
    ``(..., siglen)`` (leading axes broadcast; the keras target wants equal shapes).

    Args:
        a, b: ``(..., siglen)`` signatures of one framework; b's path starts where a's ends.
        dim, depth: the path dimension and truncation depth of both.
        target: as for :func:`signature` (runs the product).

    Example:
        >>> import numpy as np, sigcodegen as sc
        >>> x = np.cumsum(np.random.default_rng(0).standard_normal((9, 2)), axis=0)
        >>> ab = sc.signature_combine(sc.signature(x[:5], 3), sc.signature(x[4:], 3), 2, 3)
        >>> bool(np.allclose(ab, sc.signature(x, 3)))
        True
    """
    dim, depth = check_dim_depth(dim, depth, "signature_combine")
    a, framework = prepare(a, "signature_combine")
    b, framework_b = prepare(b, "signature_combine")
    if framework_b is not framework:
        raise TypeError(f"signature_combine: a is a {framework.name} array and b a "
                        f"{framework_b.name} array; pass two arrays of one framework")
    check_flat(a, dim, depth, "signature_combine")
    check_flat(b, dim, depth, "signature_combine")
    return combine(a, b, dim, depth, framework, target)


def multi_signature_combine(sigs, dim, depth, *, target=None):
    """The signature of paths joined end to end, from their signatures stacked on axis -2,
    ``(..., n, siglen) -> (..., siglen)``: a tree of pairwise Chen products (log2(n) rounds).

    Args:
        sigs: ``(..., n, siglen)``, n >= 1 signatures in path order (each piece starts where
            the one before it ends).
        dim, depth: the path dimension and truncation depth the signatures were computed with.
        target: as for :func:`signature`.

    Example:
        >>> import numpy as np, sigcodegen as sc
        >>> x = np.cumsum(np.random.default_rng(0).standard_normal((9, 2)), axis=0)
        >>> pieces = np.stack([sc.signature(x[i:i + 3], 3) for i in (0, 2, 4, 6)])  # (4, 14)
        >>> bool(np.allclose(sc.multi_signature_combine(pieces, 2, 3), sc.signature(x, 3)))
        True
    """
    dim, depth = check_dim_depth(dim, depth, "multi_signature_combine")
    sigs, framework = prepare(sigs, "multi_signature_combine")
    check_flat(sigs, dim, depth, "multi_signature_combine")
    if len(sigs.shape) < 2 or sigs.shape[-2] < 1:
        raise ValueError(f"multi_signature_combine: expects (..., n, siglen) with n >= 1 "
                         f"signatures on axis -2; got shape {tuple(sigs.shape)}")
    level = [sigs[..., i, :] for i in range(sigs.shape[-2])]
    while len(level) > 1:  # one round of the tree: neighbours in order, an odd last one waits
        pairs = [combine(level[i], level[i + 1], dim, depth, framework, target)
                 for i in range(0, len(level) - 1, 2)]
        level = pairs + ([level[-1]] if len(level) % 2 else [])
    return level[0]


def signature_inverse(sig, dim, depth):
    """The inverse of signatures ``(..., siglen) -> (..., siglen)`` in the tensor algebra: the
    signature of the reversed path (words reversed, odd levels negated).

    Example:
        >>> import numpy as np, sigcodegen as sc
        >>> x = np.cumsum(np.random.default_rng(0).standard_normal((9, 2)), axis=0)
        >>> inverse = sc.signature_inverse(sc.signature(x, 3), 2, 3)
        >>> bool(np.allclose(inverse, sc.signature(x[::-1], 3)))
        True
    """
    dim, depth = check_dim_depth(dim, depth, "signature_inverse")
    sig, framework = prepare(sig, "signature_inverse")
    check_flat(sig, dim, depth, "signature_inverse")
    perm, signs = algebra.antipode(dim, depth)
    return framework.take(sig, perm, axis=-1) * framework.const(signs, sig)
