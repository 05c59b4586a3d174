"""Runs a ``plan.coefficients.CoefficientPlan``: chosen signature coefficients of a batch of
paths, in the input's own array library (numpy, jax, torch), forward and a numpy backward.

The driver is table-driven: the plan's tables are constant index arrays, so one code path serves
every word set (nothing is compiled per request). Each level k of the prefix tree is done for all
steps at once: with the states of levels < k before each step known, level k's increments are

    inc_w[t] = sum_j S_{w[:j]}[t-1] * P_j[t] / (k-j)!,   P_j[t] = dx_{w[j]}[t] ... dx_{w[k-1]}[t]

and its states the cumulative sum of those over t. jax and torch differentiate this with their
own autodiff (it is plain array code: traceable under jit/grad/vmap); numpy uses
:func:`coefficients_vjp`, the same recurrence reversed by hand.
"""

from __future__ import annotations

import numpy as np

from .frameworks import Framework

__all__ = ["run_coefficients", "coefficients_vjp"]


def _cumsum(x, framework: Framework, axis: int):
    if framework.name == "torch":
        return framework.xp.cumsum(x, dim=axis)
    return framework.xp.cumsum(x, axis=axis)


def _shift(x, framework: Framework):
    """x[..., t-1, :] at t (zeros at t = 0): the states before each step."""
    return framework.concat([framework.zeros_like(x[..., :1, :]), x[..., :-1, :]], -2)


def _levels(plan, dx, framework: Framework):
    """The states (..., T, N_k) of every level after each step."""
    states, before = [], []
    for level in plan.levels:
        k, factors = level.degree, level.factors
        letters = np.asarray(level.letters, dtype=np.int64).reshape(level.size, k)
        prefixes = np.asarray(level.prefixes, dtype=np.int64).reshape(level.size, k)
        suffix = None  # P_j, built from j = k-1 down to 0
        inc = None
        for j in range(k - 1, -1, -1):
            g = framework.take(dx, letters[:, j], axis=-1)
            suffix = g if suffix is None else g * suffix
            term = suffix * factors[j] if factors[j] != 1.0 else suffix
            if j:
                term = term * framework.take(before[j - 1], prefixes[:, j], axis=-1)
            inc = term if inc is None else inc + term
        cum = _cumsum(inc, framework, -2)
        states.append(cum)
        if k < plan.depth:
            before.append(_shift(cum, framework))
    return states


def _gather_outputs(plan, states, framework: Framework, stream: bool):
    """The requested words' coefficients, (..., n_words) or (..., T, n_words)."""
    rows = [s if stream else s[..., -1, :] for s in states]
    flat = framework.concat(rows, -1) if len(rows) > 1 else rows[0]
    offsets = np.cumsum([0] + [level.size for level in plan.levels])
    index = np.asarray([offsets[k - 1] + i for k, i in plan.outputs], dtype=np.int64)
    return framework.take(flat, index, axis=-1)


def run_coefficients(plan, path, framework: Framework, stream: bool):
    """Coefficients of ``plan.words`` for paths ``(..., L, d)`` of the framework (float32 or
    float64): ``(..., n_words)``, or ``(..., L-1, n_words)`` when ``stream``."""
    length = path.shape[-2]
    if length < 2:  # no increments: a constant path, every coefficient 0
        steps = max(length - 1, 0)
        zeros = framework.zeros_like(path[..., :1, :1])
        shape = (*path.shape[:-2], steps, len(plan.words)) if stream else \
            (*path.shape[:-2], len(plan.words))
        return _zeros(zeros, shape, framework)
    dx = path[..., 1:, :] - path[..., :-1, :]
    return _gather_outputs(plan, _levels(plan, dx, framework), framework, stream)


def _zeros(like, shape, framework: Framework):
    if framework.name == "torch":
        return framework.xp.zeros(shape, dtype=like.dtype, device=like.device)
    return framework.xp.zeros(shape, dtype=like.dtype)


def _one_hot(index: np.ndarray, size: int, dtype) -> np.ndarray:
    """(len(index), size) with a 1 at (n, index[n]): a scatter-add as a matmul."""
    m = np.zeros((len(index), size), dtype=dtype)
    m[np.arange(len(index)), index] = 1
    return m


def coefficients_vjp(plan, path: np.ndarray, grad: np.ndarray, stream: bool) -> np.ndarray:
    """Gradient of ``sum(grad * run_coefficients(plan, path))`` w.r.t. a numpy ``path``."""
    from .frameworks import framework_of

    numpy = framework_of(path)
    out = np.zeros_like(path)
    if path.shape[-2] < 2:
        return out
    dx = path[..., 1:, :] - path[..., :-1, :]
    states = _levels(plan, dx, numpy)
    before = [np.concatenate([np.zeros_like(s[..., :1, :]), s[..., :-1, :]], -2)
              for s in states]
    # the cotangent of each level's states, from the outputs (repeated words add up)
    adj = [np.zeros_like(s) for s in states]
    for n, (k, i) in enumerate(plan.outputs):
        if stream:
            adj[k - 1][..., :, i] += grad[..., :, n]
        else:
            adj[k - 1][..., -1, i] += grad[..., n]
    gdx = np.zeros_like(dx)
    dim = plan.dim
    for level in reversed(plan.levels):
        k, factors = level.degree, level.factors
        letters = np.asarray(level.letters, dtype=np.int64).reshape(level.size, k)
        prefixes = np.asarray(level.prefixes, dtype=np.int64).reshape(level.size, k)
        # states = cumsum(inc) over t: inc's cotangent is the reversed cumulative sum
        ginc = np.flip(np.cumsum(np.flip(adj[k - 1], -2), -2), -2)
        g = [dx[..., letters[:, j]] for j in range(k)]
        suffix = [None] * (k + 1)  # suffix[j] = P_j, suffix[k] = 1
        for j in range(k - 1, -1, -1):
            suffix[j] = g[j] if suffix[j + 1] is None else g[j] * suffix[j + 1]
        gsuffix = [None] * (k + 1)
        for j in range(k):
            weight = ginc * factors[j]
            if j:
                b = before[j - 1][..., prefixes[:, j]]
                gb = weight * suffix[j]  # to the prefix's state before the step
                shifted = gb[..., 1:, :] @ _one_hot(prefixes[:, j], plan.levels[j - 1].size,
                                                    path.dtype)
                adj[j - 1][..., :-1, :] += shifted
                weight = weight * b
            gsuffix[j] = weight
        # P_j = g_j * P_{j+1}: push the cotangents from j = 0 up
        carry = None
        for j in range(k):
            total = gsuffix[j] if carry is None else gsuffix[j] + carry
            gg = total if suffix[j + 1] is None else total * suffix[j + 1]
            gdx += gg @ _one_hot(letters[:, j], dim, path.dtype)
            carry = total * g[j]
    out[..., 1:, :] += gdx
    out[..., :-1, :] -= gdx
    return out
