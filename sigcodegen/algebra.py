"""Sizes and words of the truncated tensor algebra T(R^dim), pure Python.

A signature truncated at ``depth`` holds levels 1..depth; level k has ``dim**k`` coefficients,
one per word ``(i1, ..., ik)`` with letters in ``range(dim)``, stored row-major: the word sits at
index ``i1*dim**(k-1) + ... + ik`` of its level, and the levels are concatenated in order. This is
the layout of iisignature, signax, signatory, pysiglib and keras_sig.
"""

from __future__ import annotations

import itertools

__all__ = ["level_sizes", "level_offsets", "signature_channels", "words"]


def level_sizes(dim: int, depth: int) -> tuple[int, ...]:
    """Coefficients per level: ``(dim, dim**2, ..., dim**depth)``.

    >>> level_sizes(3, 2)
    (3, 9)
    """
    from .spec import check_dim_depth

    dim, depth = check_dim_depth(dim, depth)
    return tuple(dim**k for k in range(1, depth + 1))


def level_offsets(dim: int, depth: int) -> tuple[int, ...]:
    """Start of each level in the flat signature; the last entry is the total length."""
    offsets = [0]
    for size in level_sizes(dim, depth):
        offsets.append(offsets[-1] + size)
    return tuple(offsets)


def signature_channels(dim: int, depth: int) -> int:
    """Length of the flat signature (no scalar term): ``dim + dim**2 + ... + dim**depth``.

    >>> signature_channels(5, 4)
    780
    """
    from .spec import check_dim_depth

    check_dim_depth(dim, depth)
    return level_offsets(dim, depth)[-1]


def words(dim: int, depth: int) -> list[tuple[int, ...]]:
    """Every word of length 1..depth in output order (letters are 0-based).

    >>> words(2, 2)
    [(0,), (1,), (0, 0), (0, 1), (1, 0), (1, 1)]
    """
    from .spec import check_dim_depth

    check_dim_depth(dim, depth)
    out: list[tuple[int, ...]] = []
    for k in range(1, depth + 1):
        out.extend(itertools.product(range(dim), repeat=k))
    return out
