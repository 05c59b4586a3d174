"""Sizes and words of the truncated tensor algebra T(R^dim), pure Python.

A signature truncated at ``depth`` holds levels 1..depth; level k has ``dim**k`` coefficients,
one per word ``(i1, ..., ik)`` with letters in ``range(dim)``, stored row-major: the word sits at
index ``i1*dim**(k-1) + ... + ik`` of its level, and the levels are concatenated in order. This is
the layout of iisignature, signax, signatory, pysiglib and keras_sig.
"""

from __future__ import annotations

import functools
import itertools

__all__ = [
    "level_sizes",
    "level_offsets",
    "signature_channels",
    "words",
    "lyndon_words",
    "lyndon_brackets",
    "logsignature_channels",
    "basis_maps",
    "antipode",
]


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
    A count: any size is answered, also one above the limit a computation may allocate.

    >>> signature_channels(5, 4), signature_channels(4, 12)
    (780, 22369620)
    """
    from .spec import check_dim_depth

    dim, depth = check_dim_depth(dim, depth, "signature_channels", limits=False)
    return depth if dim == 1 else dim * (dim**depth - 1) // (dim - 1)


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


# ---- Lyndon words, brackets and the maps between bases ---------------------------------------


def _lyndon_of_length(dim: int, length: int) -> list[tuple[int, ...]]:
    """Lyndon words of exactly ``length`` letters over range(dim), lexicographic (Duval)."""
    out, word = [], [-1]
    while word:
        word[-1] += 1
        if len(word) == length:
            out.append(tuple(word))
        base = len(word)
        while len(word) < length:  # extend periodically
            word.append(word[len(word) - base])
        while word and word[-1] == dim - 1:
            word.pop()
    return out


def lyndon_words(dim: int, depth: int) -> list[tuple[int, ...]]:
    """Lyndon words of length 1..depth (0-based letters): level by level, lexicographic within
    a level. Their count is the log-signature length (Witt's formula); the order is
    iisignature's.

    >>> lyndon_words(2, 3)
    [(0,), (1,), (0, 1), (0, 0, 1), (0, 1, 1)]
    """
    from .spec import check_dim_depth

    dim, depth = check_dim_depth(dim, depth)
    return [w for k in range(1, depth + 1) for w in _lyndon_of_length(dim, k)]


def _is_lyndon(word: tuple[int, ...]) -> bool:
    return all(word < word[i:] + word[:i] for i in range(1, len(word)))


def _factor(word: tuple[int, ...]):
    """Standard bracketing: w = u v with v the longest proper suffix that is Lyndon."""
    if len(word) == 1:
        return word[0]
    for i in range(1, len(word)):
        if _is_lyndon(word[i:]):
            return (_factor(word[:i]), _factor(word[i:]))
    raise AssertionError(word)


def lyndon_brackets(dim: int, depth: int) -> list:
    """The Lyndon bracket basis of the free Lie algebra, as nested pairs of 0-based letters:
    ``(a, b)`` is the Lie bracket [a, b] = ab - ba. Same order as :func:`lyndon_words`.

    >>> lyndon_brackets(2, 3)
    [0, 1, (0, 1), (0, (0, 1)), ((0, 1), 1)]
    """
    return [_factor(w) for w in lyndon_words(dim, depth)]


def logsignature_channels(dim: int, depth: int) -> int:
    """Length of the log-signature in the ``words`` and ``brackets`` modes: the number of
    Lyndon words of length 1..depth, by Witt's formula sum_k (1/k) sum_{j | k} mu(k/j) dim^j.

    A count: any size is answered.

    >>> logsignature_channels(2, 4), logsignature_channels(9, 9)
    (8, 49212093)
    """
    from .spec import check_dim_depth

    dim, depth = check_dim_depth(dim, depth, "logsignature_channels", limits=False)

    def mobius(n: int) -> int:
        result, p = 1, 2
        while p * p <= n:
            if n % p == 0:
                n //= p
                if n % p == 0:
                    return 0
                result = -result
            p += 1
        return -result if n > 1 else result

    return sum(sum(mobius(k // j) * dim**j for j in range(1, k + 1) if k % j == 0) // k
               for k in range(1, depth + 1))


def _expand(bracket, dim: int) -> dict[tuple[int, ...], int]:
    """The polynomial of a bracket as {word: coefficient}."""
    if isinstance(bracket, int):
        return {(bracket,): 1}
    left, right = _expand(bracket[0], dim), _expand(bracket[1], dim)
    out: dict[tuple[int, ...], int] = {}
    for u, a in left.items():
        for v, b in right.items():
            out[u + v] = out.get(u + v, 0) + a * b
            out[v + u] = out.get(v + u, 0) - a * b
    return {w: c for w, c in out.items() if c}


def _word_index(word: tuple[int, ...], dim: int) -> int:
    """Position of a word in the flat signature layout."""
    offset = sum(dim**k for k in range(1, len(word)))
    index = 0
    for letter in word:
        index = index * dim + letter
    return offset + index


@functools.lru_cache(maxsize=64)
def basis_maps(dim: int, depth: int):
    """float64 matrices between the flat tensor log (siglen) and the Lyndon coordinates:

    - ``words_index``: positions of the Lyndon words in the flat layout (the ``words`` mode);
    - ``to_brackets`` (n_lyndon × siglen): Lie-bracket coordinates of a Lie element from its
      expansion (block diagonal per level: the inverse of the unitriangular matrix of bracket
      expansions at the Lyndon words, composed with their selection);
    - ``from_brackets`` (siglen × n_lyndon): the expansion of each bracket (columns);
    - ``from_words`` (siglen × n_lyndon): a Lie element from its Lyndon-word coefficients.
    """
    import numpy as np

    from .spec import check_dim_depth

    dim, depth = check_dim_depth(dim, depth)
    words = lyndon_words(dim, depth)
    siglen = level_offsets(dim, depth)[-1]
    index = np.array([_word_index(w, dim) for w in words], dtype=np.int64)
    expand = np.zeros((siglen, len(words)))
    for j, bracket in enumerate(lyndon_brackets(dim, depth)):
        for word, coefficient in _expand(bracket, dim).items():
            expand[_word_index(word, dim), j] = coefficient
    square = expand[index]  # bracket j at Lyndon word i: unitriangular per level
    inverse = np.linalg.inv(square)
    to_brackets = np.zeros((len(words), siglen))
    to_brackets[:, index] = inverse
    return {
        "words_index": index,
        "to_brackets": to_brackets,
        "from_brackets": expand,
        "from_words": expand @ inverse,
    }


@functools.lru_cache(maxsize=64)
def antipode(dim: int, depth: int):
    """(permutation, signs) with inverse[i] = signs[i] * sig[permutation[i]]: the inverse of a
    group-like element reverses every word and flips the sign of odd levels."""
    import numpy as np

    perm, signs = [], []
    for k in range(1, depth + 1):
        for word in itertools.product(range(dim), repeat=k):
            perm.append(_word_index(tuple(reversed(word)), dim))
            signs.append((-1) ** k)
    return np.array(perm, dtype=np.int64), np.array(signs, dtype=np.float64)
