"""Independent float64 reference for signatures: plain Chen products in numpy.

Written for the tests only and on purpose unlike the generated kernels: levels are kept as full
k-dimensional tensors (not flattened), each increment's exponential is formed explicitly
(dx^{⊗k}/k!), and every step is a full truncated tensor product. Slow, obvious, float64.
"""

from __future__ import annotations

import math

import numpy as np


def tensor_exp(dx: np.ndarray, depth: int) -> list[np.ndarray]:
    """Levels 1..depth of exp(dx): the k-fold outer power of dx divided by k!."""
    levels, power = [], np.ones(())
    for k in range(1, depth + 1):
        power = np.multiply.outer(power, dx)
        levels.append(power / math.factorial(k))
    return levels


def chen_product(a: list[np.ndarray], b: list[np.ndarray]) -> list[np.ndarray]:
    """Truncated product of group-like elements given by levels 1..depth (scalar term 1)."""
    depth = len(a)
    out = []
    for n in range(1, depth + 1):
        level = a[n - 1] + b[n - 1]
        for i in range(1, n):
            level = level + np.multiply.outer(a[i - 1], b[n - i - 1])
        out.append(level)
    return out


def flatten(levels: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([level.reshape(-1) for level in levels])


def signature_levels(path: np.ndarray, depth: int) -> list[list[np.ndarray]]:
    """Levels after each increment of one path (L, d): a list of L-1 states."""
    path = np.asarray(path, dtype=np.float64)
    dim = path.shape[-1]
    state = [np.zeros((dim,) * k) for k in range(1, depth + 1)]
    states = []
    for dx in np.diff(path, axis=0):
        state = chen_product(state, tensor_exp(dx, depth))
        states.append(state)
    return states


def siglen(dim: int, depth: int) -> int:
    return sum(dim**k for k in range(1, depth + 1))


def signature(path, depth: int, stream: bool = False) -> np.ndarray:
    """Reference signature of (..., L, d) paths: (..., siglen), or (..., L-1, siglen)."""
    path = np.asarray(path, dtype=np.float64)
    *lead, length, dim = path.shape
    flat = path.reshape(-1, length, dim)
    rows = []
    for p in flat:
        states = signature_levels(p, depth)
        if stream:
            rows.append(np.stack([flatten(s) for s in states]) if states
                        else np.zeros((0, siglen(dim, depth))))
        else:
            rows.append(flatten(states[-1]) if states else np.zeros(siglen(dim, depth)))
    out = np.stack(rows) if rows else np.zeros((0,) + ((max(length - 1, 0),) if stream else ())
                                               + (siglen(dim, depth),))
    tail = ((length - 1,) if stream else ()) + (siglen(dim, depth),)
    return out.reshape(*lead, *tail)


def level_slices(dim: int, depth: int) -> list[slice]:
    out, start = [], 0
    for k in range(1, depth + 1):
        out.append(slice(start, start + dim**k))
        start += dim**k
    return out


def relative_error(got, want, dim: int, depth: int) -> float:
    """Worst over levels of max|got - want| / max|want| on that level (levels differ in scale
    by orders of magnitude, so one global norm would hide errors in the small ones)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    if want.size == 0:
        return 0.0
    worst = 0.0
    for sl in level_slices(dim, depth):
        scale = np.max(np.abs(want[..., sl]))
        err = np.max(np.abs(got[..., sl] - want[..., sl]))
        worst = max(worst, err / scale if scale > 0 else err)
    return float(worst)


def brownian(rng, shape, dtype=np.float64) -> np.ndarray:
    """Brownian paths (..., L, d) on [0, 1] starting at 0."""
    *lead, length, dim = shape
    steps = rng.standard_normal((*lead, length - 1, dim)) / np.sqrt(max(length - 1, 1))
    zero = np.zeros((*lead, 1, dim))
    return np.concatenate([zero, np.cumsum(steps, axis=-2)], axis=-2).astype(dtype)


def finite_difference_gradient(path, depth: int, weights, stream: bool = False,
                               eps: float = 1e-6) -> np.ndarray:
    """d sum(weights * signature(path)) / d path by central differences of the reference."""
    path = np.asarray(path, dtype=np.float64)
    grad = np.zeros_like(path)
    for index in np.ndindex(path.shape):
        up, down = path.copy(), path.copy()
        up[index] += eps
        down[index] -= eps
        diff = signature(up, depth, stream) - signature(down, depth, stream)
        grad[index] = np.sum(diff * weights) / (2 * eps)
    return grad


def _times(a, b):
    """Product of two elements without scalar term (levels 1..depth as full tensors)."""
    return [p - u - v for p, u, v in zip(chen_product(a, b), a, b)]


def tensor_log(flat_sig: np.ndarray, dim: int, depth: int) -> np.ndarray:
    """log(1 + s) = sum_k (-1)^(k+1) s^k / k of one flat signature, by plain powers."""
    s = [flat_sig[sl].reshape((dim,) * (k + 1)) for k, sl in enumerate(level_slices(dim, depth))]
    out, power = [np.zeros_like(level) for level in s], s
    for k in range(1, depth + 1):
        out = [o + (-1) ** (k + 1) / k * p for o, p in zip(out, power)]
        power = _times(power, s)
    return flatten(out)


def lyndon_words_brute(dim: int, depth: int) -> list[tuple[int, ...]]:
    """Lyndon words by definition (strictly smaller than every proper rotation), by level then
    lexicographic order."""
    import itertools

    out = []
    for k in range(1, depth + 1):
        for word in itertools.product(range(dim), repeat=k):
            if all(word < word[i:] + word[:i] for i in range(1, k)):
                out.append(word)
    return out


def logsignature(path, depth: int, mode: str) -> np.ndarray:
    """Reference log-signature in the expand and words modes (brackets: compare with
    iisignature)."""
    path = np.asarray(path, dtype=np.float64)
    dim = path.shape[-1]
    sigs = signature(path, depth).reshape(-1, siglen(dim, depth))
    logs = np.stack([tensor_log(s, dim, depth) for s in sigs])
    if mode == "words":
        index = []
        for word in lyndon_words_brute(dim, depth):
            position = 0
            for letter in word:
                position = position * dim + letter
            index.append(sum(dim**j for j in range(1, len(word))) + position)
        logs = logs[:, index]
    return logs.reshape(*path.shape[:-2], logs.shape[-1])
