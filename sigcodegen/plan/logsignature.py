"""The planner of the log-signature kind: the signature's routines and schedules, then the
tensor logarithm in Horner form (``log_series``), then the projection onto the basis a call
asks for; and the adjoints of the last two for the backward pass.

One module per (dim, depth, target) holds every mode (``spec.LOGSIGNATURE_MODES``); the
projection is a call argument:

``expand``    the tensor logarithm itself (siglen values): no projection.
``words``     its coefficients at the Lyndon words: a gather (``algebra.lyndon_index``).
``brackets``  coordinates in the Lyndon bracket basis: that gather, then the unitriangular
              per-level map ``algebra.lyndon_maps(...).inverse``, applied by its nonzeros
              (never a dense siglen × n matrix, never an inverse of one).

The maps depend only on (dim, depth) but can be large (500,500 nonzeros at (1000, 2)): the c
target receives them as tables (rows, columns, values) at run time, and ``projection_plan``
chooses per level what its module applies instead: straight-line code for the first
PROJECTION_CODE_TERMS terms, dense blocks where the bracket map's blocks are nearly full, and
the tables for the rest, so the emitted sources stay small; the plan prints both.

``log_series_vjp`` is the adjoint of ``log_series`` (``exp_series_vjp`` likewise of the
exponential, for ``logsignature_to_signature``), written out in single-assignment form: the
Horner values R_k (k = depth-1..1, levels 1..depth-k; the scalar of R_k is c_k) are recomputed
from x and kept, then the adjoint walks the stages back: f = R_0, R_k,n = c_{k+1} x_n +
sum_{i<n} x_i ⊗ R_{k+1,n-i}, so

    gx_n += c_{k+1} G_k,n,   gx_i += G_k,n ⌟ R_{k+1,n-i},   G_{k+1,n-i} += x_i ⌞ G_k,n.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from fractions import Fraction

from .. import algebra
from ..spec import LOGSIGNATURE_BASES
from .ir import (Add, DenseBlock, OuterAdd, OuterAdjoint, Plan, Projection, ProjectionSegment,
                 Routine, Scale, Stage, Value)
from .signature import signature_plan

__all__ = ["logsignature_plan", "log_coefficients", "exp_coefficients", "projection_lines",
           "projection_plan", "lyndon_steps", "LYNDON_MAX_ROWS",
           "PROJECTION_CODE_TERMS", "PROJECTION_DENSE_COEFFICIENTS", "PROJECTION_DENSE_FILL",
           "PROJECTION_DENSE_BLOCK"]

#: The pruned fused steps (``lyndon_steps``) are planned when the top level has at most this
#: many rows (dim ** (depth - 1)): each emitted copy holds a table of first letters per row
#: (per tile of rows), 4 copies per module. (1000, 2) has 1000 rows; (4, 7) 4096.
LYNDON_MAX_ROWS = 4096


#: ``projection_plan``'s choice, level by level from level 1: straight-line code while a
#: projection's terms (its nonzeros) stay within PROJECTION_CODE_TERMS (one line of C each, in
#: the forward and in the adjoint, per precision); then dense blocks (the bracket map is block
#: diagonal over the words' letter content, its blocks lower unitriangular and nearly full)
#: where the blocks' triangles hold at most PROJECTION_DENSE_FILL x the level's nonzeros, no
#: block has more than PROJECTION_DENSE_BLOCK rows and the coefficients emitted stay within
#: PROJECTION_DENSE_COEFFICIENTS; else the run-time tables (the large maps: (5, 6) on).
PROJECTION_CODE_TERMS = 2048
PROJECTION_DENSE_COEFFICIENTS = 16384
PROJECTION_DENSE_FILL = 1.5
PROJECTION_DENSE_BLOCK = 128


def _blocks(words, rows: range, index, csr) -> tuple[DenseBlock, ...]:
    """The level's rows grouped by letter content, each group's lower triangle dense (``csr``:
    ``algebra.log_projection``'s tables, whose columns are positions ``index`` of the Lyndon
    words)."""
    import numpy as np

    groups: dict[tuple[int, ...], list[int]] = {}
    for r in rows:
        groups.setdefault(tuple(sorted(words[r])), []).append(r)
    indptr, cols, values = csr
    row_of = np.searchsorted(index, cols)  # the Lyndon word (row) of each column; index sorted
    blocks = []
    for members in groups.values():
        where = {r: i for i, r in enumerate(members)}
        lower = [[0] * i for i in range(len(members))]
        for i, r in enumerate(members):
            for k in range(indptr[r], indptr[r + 1]):
                j = where[int(row_of[k])]  # the map never leaves the letter content
                if j < i:
                    lower[i][j] = int(values[k])
                else:
                    assert j == i and values[k] == 1, "the bracket map is lower unitriangular"
        blocks.append(DenseBlock(rows=tuple(members), columns=tuple(int(index[r]) for r in members),
                                 lower=tuple(c for row in lower for c in row)))
    return tuple(blocks)


def projection_plan(dim: int, depth: int, mode: str) -> Projection:
    """How the c target applies basis ``mode`` (words or brackets), level by level: see
    PROJECTION_CODE_TERMS. Words have one term per row (a gather); brackets that gather
    composed with the bracket map, whose rows at a Lyndon word of level k read the Lyndon words
    of level k with the same letters."""
    import numpy as np

    index = algebra.lyndon_index(dim, depth)
    offsets = algebra.level_offsets(dim, depth)
    level_of = np.searchsorted(np.asarray(offsets[1:]), index, side="right") + 1
    if mode not in LOGSIGNATURE_BASES:
        raise ValueError(f"projection_plan: no projection of mode {mode!r}; use words or brackets")
    indptr, cols, values = algebra.log_projection(dim, depth, mode)  # cols: the logarithm's
    assert np.all(values == np.round(values)), "the bases' coefficients are integers"
    words = None
    segments, terms_left, dense_left = [], PROJECTION_CODE_TERMS, PROJECTION_DENSE_COEFFICIENTS
    for level in range(1, depth + 1):
        first, last = np.searchsorted(level_of, [level, level + 1])
        if first == last:
            continue
        first, last = int(first), int(last)
        nonzeros = int(indptr[last] - indptr[first])
        segment = dict(level=level, first=first, rows=last - first, nonzeros=nonzeros)
        if nonzeros <= terms_left:
            terms_left -= nonzeros
            segments.append(ProjectionSegment(**segment, how="code", terms=tuple(
                tuple((int(cols[k]), int(values[k])) for k in range(indptr[r], indptr[r + 1]))
                for r in range(first, last))))
            continue
        terms_left = 0  # the code is the leading levels'
        if mode == "brackets" and level >= 3 and words is None:
            words = algebra.lyndon_words(dim, depth)
        blocks = _blocks(words, range(first, last), index, (indptr, cols, values)) \
            if mode == "brackets" and level >= 3 and nonzeros * PROJECTION_DENSE_FILL <= dense_left else ()
        size = sum(len(b.rows) + len(b.lower) for b in blocks)
        if blocks and size <= PROJECTION_DENSE_FILL * nonzeros and size <= dense_left \
                and max(len(b.rows) for b in blocks) <= PROJECTION_DENSE_BLOCK:
            dense_left -= size
            segments.append(ProjectionSegment(**segment, how="dense", blocks=blocks))
        else:
            segments.append(ProjectionSegment(**segment, how="table"))
    return Projection(mode=mode, code=LOGSIGNATURE_BASES[mode], outputs=int(index.size),
                      segments=tuple(segments))


def log_coefficients(depth: int) -> dict[int, Fraction]:
    """c_k of log(1 + x) = sum_k c_k x^k: (-1)^(k+1) / k."""
    return {k: Fraction((-1) ** (k + 1), k) for k in range(1, depth + 1)}


def _horner_values(depth: int) -> dict[tuple[int, int], Value]:
    """R_k,n for k = 1..depth-1, n = 1..depth-k (single assignment: one value per (k, n))."""
    return {(k, n): Value(f"h{k}_{n}", n) for k in range(1, depth) for n in range(1, depth - k + 1)}


def exp_coefficients(depth: int) -> dict[int, Fraction]:
    """c_k of exp(x) - 1 = sum_k c_k x^k: 1 / k!."""
    return {k: Fraction(1, math.factorial(k)) for k in range(1, depth + 1)}


def _series_vjp(depth: int, name: str, c: dict[int, Fraction], doc: str) -> Routine:
    """Adjoint of the power series routine of the signature plan with coefficients ``c``
    (``log_series``, ``exp_series``): given x (levels 1..depth) and g, the adjoint of the
    series' value, return gx (g is only read)."""
    x = tuple(Value(f"x{k}", k) for k in range(1, depth + 1))
    g = tuple(Value(f"g{k}", k) for k in range(1, depth + 1))
    gx = tuple(Value(f"gx{k}", k) for k in range(1, depth + 1))
    h = _horner_values(depth)
    adj = {(k, n): Value(f"q{k}_{n}", n) for k in range(1, depth) for n in range(1, depth - k + 1)}
    stages = []
    for k in range(depth - 1, 0, -1):  # the forward's Horner values, kept
        ops = []
        for n in range(1, depth - k + 1):
            ops.append(Scale(h[k, n], x[n - 1], c[k + 1]))
            ops += [OuterAdd(h[k, n], h[k, n], x[i - 1], h[k + 1, n - i]) for i in range(1, n)]
        stages.append(Stage(f"recompute R{k} = {c[k]} + x ⊗ R{k + 1} (levels 1..{depth - k})",
                            tuple(ops)))

    def level(k: int, n: int) -> Value:  # G_k,n: g for k = 0, else the adjoint of R_k,n
        return g[n - 1] if k == 0 else adj[k, n]

    stages.append(Stage(f"gx = {c[1]} g", tuple(Scale(gx[n - 1], g[n - 1], c[1])
                                                   for n in range(1, depth + 1))))
    for k in range(0, depth - 1):  # adjoint of R_k = c_{k+1} x + x ⊗ R_{k+1}: into gx, G_{k+1}
        ops, started = [], set()
        if k > 0:
            ops += [Add(gx[n - 1], gx[n - 1], level(k, n), c[k + 1])
                    for n in range(1, depth - k + 1)]
        for n in range(2, depth - k + 1):
            for i in range(1, n):
                j = n - i
                ops.append(OuterAdjoint(gx[i - 1], gx[i - 1], adj[k + 1, j],
                                        adj[k + 1, j] if j in started else None,
                                        level(k, n), x[i - 1], h[k + 1, j]))
                started.add(j)
        stages.append(Stage(f"adjoint of R{k} (levels 1..{depth - k})" if k else
                            "adjoint of the result x ⊗ R1", tuple(ops)))
    if depth > 1:  # R_{depth-1} = c_depth x_1
        k = depth - 1
        stages.append(Stage(f"adjoint of R{k} = {c[k + 1]} x1",
                            (Add(gx[0], gx[0], adj[k, 1], c[k + 1]),)))
    return Routine(name=name, doc=doc, params=x + g, results=gx, stages=tuple(stages),
                   unit="per path per element")


def projection_lines(dim: int, depth: int) -> tuple[str, ...]:
    """What each mode's projection costs and holds, as ``sigcodegen plan`` prints it."""
    maps = algebra.lyndon_maps(dim, depth)
    n, siglen = len(maps.words_index), maps.siglen
    return (
        "projections (a call argument; the maps are tables passed at run time)",
        f"  expand    the tensor logarithm, {siglen:,} values per path: none",
        f"  words     {n:,} Lyndon coefficients: a gather of {n:,} of the {siglen:,}",
        f"  brackets  {n:,} bracket coordinates: the gather and the unitriangular map, "
        f"{maps.inverse.nnz:,} nonzeros ({maps.inverse.nbytes / 2**20:.2f} MiB as rows, "
        f"columns and values), applied on the lanes (the c target: level by level, below)",
        f"  backward  the transposed projection, then log_series_vjp, then the signature's "
        f"backward with the signature as its state",
    )


def lyndon_steps(steps: Routine, dim: int, depth: int) -> Routine:
    """``exp_steps`` with its top-level update pruned to the Lyndon words (``exp_steps_lyndon``),
    or ``exp_steps_subtree`` likewise (``exp_steps_subtree_lyndon``: its top pass holds one
    table per subtree, and the routine takes the subtree's index).

    The words and brackets projections read the logarithm's top level only at the Lyndon words
    (``algebra.log_projection``'s columns), and the logarithm's top level at a word w reads the
    signature's top level only at w (log_m = S_m - products of lower levels). No level reads
    the top one, and Chen's product keeps the top level at w a function of the top level at w
    and lower levels. So the forward pass of those modes may update the top level at the Lyndon
    words only: about dim^depth / depth of the dim^depth terms (99 of 1,024 at (2, 10), 190 of
    400 at (20, 2)). The top level's other coefficients are left unspecified; the c target
    runs this routine only where the caller keeps no signature."""
    first = algebra.lyndon_last_letters(dim, depth)
    top = steps.ops[-1]
    trees = dim ** (depth - top.out.degree)  # the subtrees' top rows, prefix by prefix
    assert top.kind in ("top_pass", "outer_add_sum") and (trees == 1 or top.kind == "top_pass")
    stage = steps.stages[-1]
    pruned = dataclasses.replace(top, first_letters=first) if trees == 1 else \
        dataclasses.replace(top, first_letters=first, trees=trees)
    stages = steps.stages[:-1] + (dataclasses.replace(
        stage, title=f"{stage.title}, the top level at the Lyndon words only",
        ops=stage.ops[:-1] + (pruned,)),)
    count = sum(dim - v for v in first)
    if trees > 1:
        return dataclasses.replace(
            steps, name="exp_steps_subtree_lyndon", stages=stages,
            doc=f"exp_steps_subtree with the top level updated at the Lyndon words under the "
                f"subtree's prefix only ({count:,} of {dim ** depth:,} over the {trees} "
                f"subtrees; argument tree: which), its other coefficients unspecified.")
    return dataclasses.replace(
        steps, name="exp_steps_lyndon", stages=stages,
        doc=f"exp_steps with the top level updated at its {count:,} Lyndon words only (of "
            f"{dim ** depth:,}), its other coefficients unspecified: for the words and "
            f"brackets projections, which read nothing else of it.")


@functools.lru_cache(maxsize=None)
def logsignature_plan(dim: int, depth: int) -> Plan:
    """The plan of the log-signature kernels for one (dim, depth): the signature's plan (every
    strategy of every target), kind "logsignature", with the adjoints of the logarithm and the
    exponential (``log_series_vjp``, ``exp_series_vjp``) added."""
    base = signature_plan(dim, depth)
    # where the c target cuts the word tree into subtrees the subtrees are pruned, as the cut
    # is faster than pruning the uncut steps: at (2, 10), F, one thread, on a Zen 3, 0.30 ms
    # (cut) against 0.43 (pruned, uncut) and 0.47 (neither); cut and pruned, on a Xeon with
    # AVX-512, 0.31 against 0.38 (cut); at (3, 6), D, 0.78 against 1.28.
    cut = base.target_params("c").param("subtree_depth")
    steps = base.routine("exp_steps_subtree" if cut else "exp_steps")
    pruned = (lyndon_steps(steps, dim, depth),) \
        if depth >= 2 and dim >= 2 and dim ** (depth - 1) <= LYNDON_MAX_ROWS else ()
    # no wide fused steps (signature_plan's for 32 vector registers): with the top level pruned
    # to the Lyndon words the narrow ones run faster, and words and brackets are the modes that
    # matter (one Xeon core, AVX-512, f32, ms, words narrow / wide: A 0.20 / 0.22, D 0.36 /
    # 0.48, E 0.14 / 0.155, F 0.226 / 0.237, G 0.072 / 0.078; expand, which prunes nothing,
    # loses: A 0.44 / 0.32, D 0.64 / 0.54, E 0.28 / 0.21)
    narrow = tuple(r for r in base.routines if not r.name.endswith("_wide"))
    adjoints = (
        _series_vjp(depth, "log_series_vjp", log_coefficients(depth),
                    "Adjoint of log_series: gx = the adjoint of x, given g, that of log(1 + x)."),
        _series_vjp(depth, "exp_series_vjp", exp_coefficients(depth),
                    "Adjoint of exp_series: gx = the adjoint of x, given g, that of exp(x) - 1."),
    )
    return dataclasses.replace(base, kind="logsignature", routines=narrow + pruned + adjoints,
                               notes=projection_lines(dim, depth),
                               projections=tuple(projection_plan(dim, depth, mode)
                                                 for mode in LOGSIGNATURE_BASES))
