"""A direct numpy interpreter of plan routines (tests only): runs the ops of a Routine on
float64 arrays, batch-last ((dim**k, N) per value), with the meaning each op's docstring gives.
It checks the plan itself, independent of any emitter."""

from __future__ import annotations

import numpy as np


def _outer(x, y):
    z = x[:, None, :] * y[None, :, :]
    return z.reshape(-1, z.shape[-1])


def run(routine, dim: int, inputs: dict[str, np.ndarray], tree: int = 0) -> dict[str, np.ndarray]:
    """``tree``: the subtree a pruned subtree routine runs on (the C routine's ``tree``)."""
    if routine.time_axis:
        raise NotImplementedError("the interpreter runs per-step routines only")
    env = {k: np.array(v, dtype=np.float64) for k, v in inputs.items()}
    for op in routine.ops:
        if op.kind == "scale":
            value = env[op.x.name] * float(op.factor)
        elif op.kind == "add":
            value = env[op.x.name] + float(op.factor) * env[op.y.name]
        elif op.kind == "outer_add":
            value = _outer(env[op.left.name], env[op.right.name])
            if op.acc is not None:
                value = env[op.acc.name] + value
        elif op.kind == "outer_add_sum":
            value = sum(_outer(env[l.name], env[r.name]) for l, r in zip(op.lefts, op.rights))
            if op.acc is not None:
                value = env[op.acc.name] + value
        elif op.kind == "outer_adjoint":
            g, left, right = env[op.g.name], env[op.left.name], env[op.right.name]
            g = g.reshape(left.shape[0], right.shape[0], g.shape[-1])
            value = np.einsum("ujn,jn->un", g, right)
            if op.acc is not None:
                value = env[op.acc.name] + value
            gright = float(op.factor) * np.einsum("un,ujn->jn", left, g)
            if op.gright_acc is not None:
                gright = env[op.gright_acc.name] + gright
            env[op.gright.name] = gright
        elif op.kind == "top_pass":  # written level by level, as the docstring's sums say
            below = env[op.below.name]
            value = env[op.out.name]
            for tl, tr, bl, br, r in zip(op.top_lefts, op.top_rights, op.below_lefts,
                                         op.below_rights, op.rights):
                t = below + _outer(env[tl.name], env[tr.name])
                below = below + _outer(env[bl.name], env[br.name])
                value = value + _outer(t, env[r.name])
            env[op.below.name] = below
        else:
            raise NotImplementedError(op.kind)
        if getattr(op, "first_letters", ()):  # pruned: the others are unspecified, so NaN here
            rows_per_tree = len(op.first_letters) // getattr(op, "trees", 1)
            table = op.first_letters[tree * rows_per_tree:(tree + 1) * rows_per_tree]
            value = value.copy()
            rows = value.reshape(len(table), dim, -1)
            for row, first in enumerate(table):
                rows[row, :first] = np.nan
        assert value.shape[0] == dim**op.out.degree, (str(op), value.shape)
        env[op.out.name] = value
    return {v.name: env[v.name] for v in routine.results}
