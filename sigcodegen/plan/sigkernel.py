"""The planner of the signature-kernel kind: the Goursat PDE solver of one dim
(``planner.make_plan`` dispatches here for ``kind="sigkernel"``).

The signature kernel k(x, y) = <S(x), S(y)> of the untruncated signatures is u(1, 1) for the
solution of d²u/ds dt = <x'(s), y'(t)> u, u = 1 on both axes (Salvi, Cass, Foster, Lyons and
Yang, 2021). The plan fixes the scheme, the static kernels the module carries and the
constants of each target:

- **Grid.** The increments of x (L1 points) are each split into 2**λ1 equal pieces and those of
  y into 2**λ2 (the dyadic orders): M = (L1-1)·2**λ1 rows, N = (L2-1)·2**λ2 columns.
- **Scheme** (the second-order explicit one of the paper and of pysiglib's
  ``finite_difference``): with D the refined cell's increment inner product,
  u[i+1, j+1] = (u[i+1, j] + u[i, j+1])·(1 + D/2 + D²/12) − u[i, j]·(1 − D²/12), and D =
  Δ(a, b) / 2**(λ1+λ2) for the coarse cell (a, b) = (i >> λ1, j >> λ2) holding it, where Δ is
  the static kernel's second difference κ(x[a+1], y[b+1]) − κ(x[a+1], y[b]) − κ(x[a], y[b+1])
  + κ(x[a], y[b]) (for the linear kernel, exactly <x[a+1] − x[a], y[b+1] − y[b]>).
- **Static kernels** (:data:`STATIC_KERNELS`): each is a formula of one scalar, the inner product
  s = <x, y> ("inner") or the squared distance q = |x − y|² ("radial"), with its derivative; the
  linear kernel is taken on the increments directly ("increments"). The emitter writes each
  as code; which one runs, and its parameters, are arguments of the emitted functions.
- **Sweep** (c): a block of W pairs on the SIMD lanes walks the grid two rows at a time
  (staggered by a column: two independent recurrences), the row updated in place (N + 1
  vectors), the coarse row's coefficients computed once per coarse row.
- **Backward**: reverse mode over the same cells, rows from checkpoints: the forward pass keeps
  every S-th row (S = ceil(sqrt(M))), the reverse pass recomputes the S rows of a segment from
  its checkpoint and walks them back with two adjoint rows. Memory per block of pairs:
  (ceil(M/S) + S + 1)·(N + 1) + O(L1 + L2) vectors, about 2·sqrt(M)·N; work about 3x the
  forward pass.
- **Products** (c, the linear kernel at orders (0, 0)): each cell's h = <dx, dy> in a pass of
  its own before the sweep, stored and read back; or, where the compiler targets one of
  :data:`FUSED_TUNES` (AMD Zen), in the sweep itself, :data:`FUSED_ROWS` rows at a time, with
  the cell written as (w − u[i][j]) + h (w + (h/3)(w + u[i][j])), w = u[i+1][j] + u[i][j+1]:
  the same scheme in one multiply-unit operation fewer per cell, and no store and load of h.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from ..spec import SIGKERNEL_MAX_DYADIC_ORDER, SIGKERNEL_MAX_GRID_ROW
from .ir import TargetParams
from .rules import POOL_GLOSSARY, POOL_PARAMS

__all__ = ["StaticKernelForm", "SigKernelPlan", "sigkernel_plan", "STATIC_KERNELS",
           "MAX_DYADIC_ORDER", "MAX_GRID_ROW", "FUSED_TUNES", "cell_flops"]

#: Largest dyadic order per path, and most grid steps per side (the leaves hold them, so that
#: validating a call needs no planner): see sigcodegen.spec.
MAX_DYADIC_ORDER = SIGKERNEL_MAX_DYADIC_ORDER
MAX_GRID_ROW = SIGKERNEL_MAX_GRID_ROW
#: c: grid rows advanced by one sweep, staggered by a column (1 to 8): the row's left-to-right
#: recurrence is a chain of one FMA per cell (4 cycles on FMA units that could start two a
#: cycle); four staggered rows give four independent chains and share one pass over the row.
ROWS_PER_SWEEP = 4
#: c: a pass of fewer grid-cell updates (vector) than this runs on the calling thread alone.
TEAM_MIN_CELLS = 20_000
#: c: dyadic orders lam2 whose coarse columns span G = 2^lam2 fine columns, rows_per_sweep <= G
#: <= this, get a sweep of their own for rows that share a coarse row: the steps in groups of G
#: (one per coarse column, unrolled whole) with the column's coefficients in registers, instead
#: of an index and two loads per cell. At (128, 100, 5), order 2, one Xeon core (AVX-512,
#: float32, median of 100 calls): 1.94 -> 1.52 ms (and 1.52 -> 1.03 with the linear kernel's
#: coarse rows made ROWS_PER_SWEEP at a time, templates/c/sigkernel.c.j2).
SHARED_SWEEP_COLUMNS = 8
#: c: the linear kernel at orders (0, 0): the sweep in tiles of this many steps, each after the
#: products of the columns it reaches (those and y's increments then stay in L1). At (128, 100,
#: 5), one Xeon core (AVX-512, float32, median of 100 calls), tiles of 16 / 32 / 64 / all
#: steps: 0.232 / 0.227 / 0.222 / 0.295 ms (0.273 before the tiles).
PRODUCT_TILE = 64
#: c: the compiler targets (GCC's and clang's -march names, the macros __NAME__) whose linear
#: kernel at orders (0, 0) makes the products in the sweep: AMD Zen, whose stores move 32 bytes
#: a cycle (an AVX-512 vector in two), so the products pass's store and the sweep's load of
#: every cell's product cost more than the FMAs they spare the sweep. At (128, 100, 5), one core
#: of an AMD EPYC (Zen 4, GCC 12 -march=native = znver3, AVX-512, float32, best of 20 x 100
#: calls): 0.241 ms with the products pass, 0.217 ms in the sweep (2 rows; 0.215 with 3, 0.218
#: with 6 in two sweeps of 3). Not measured on Intel cores: they keep the products pass.
FUSED_TUNES = ("znver1", "znver2", "znver3", "znver4", "znver5")
#: c: grid rows of one sweep that makes its products (divides ROWS_PER_SWEEP)
FUSED_ROWS = 2
#: flops of one grid-cell update: 2 adds, 2 multiplies (the coefficients are per coarse cell)
CELL_FLOPS = 4

GLOSSARY = POOL_GLOSSARY + (
    ("rows_per_sweep", "grid rows advanced together by one sweep, staggered by a column (1 to 8)"),
    ("team_min_cells", "a pass of fewer vector cell updates runs on one thread"),
    ("product_tile", "c: steps per tile of the linear kernel's sweep at orders (0, 0), its "
                     "columns' products made just before it"),
    ("shared_sweep_columns", "c: the most fine columns per coarse column (2^lam2) whose sweep "
                             "keeps a coarse column's coefficients in registers"),
    ("fused_rows", "c: grid rows per sweep of the linear kernel at orders (0, 0) where the "
                   "compiler targets AMD Zen (its products made in the sweep)"),
    ("checkpoints", "the backward pass keeps every S-th grid row, S = ceil(sqrt(M))"),
)


@dataclass(frozen=True)
class StaticKernelForm:
    """One static kernel κ as the emitter writes it.

    ``family``: "increments" (κ = p0·<x, y>, Δ from the increments directly), "inner"
    (κ = f(s), s = <x, y>) or "radial" (κ = g(q), q = |x − y|²). ``value`` and ``derivative``
    are C expressions of ``s`` (or ``q``) and the parameters ``p0, p1, ...`` (doubles; ``ip``
    is the integer parameter), with ``EXP``/``SQRT``/``POWI`` standing for the element-wise
    exponential, square root and integer power the template provides and ``C(v)`` for a
    constant of the element type. ``params`` names what p0, p1, ... hold, as
    computed by ``sigcodegen.ops.sigkernel`` from the user's parameters."""

    name: str
    code: int
    family: str
    formula: str
    params: tuple[str, ...]
    value: str = ""
    derivative: str = ""


STATIC_KERNELS = (
    StaticKernelForm("linear", 0, "increments", "κ(x, y) = c·<x, y> (c = 1, or scale² for "
                     "ScaledLinear)", ("c",)),
    StaticKernelForm("rbf", 1, "radial", "κ(x, y) = exp(−|x − y|²/σ)", ("1/σ",),
                     value="EXP(-p0 * q)", derivative="-p0 * EXP(-p0 * q)"),
    StaticKernelForm("polynomial", 2, "inner", "κ(x, y) = scale·(<x, y> + γ)**degree (integer "
                     "degree >= 0)", ("scale", "γ", "degree"),
                     value="p0 * POWI(s + p1, ip)",
                     derivative="p0 * ip * POWI(s + p1, ip - 1)"),
    StaticKernelForm("matern32", 3, "radial", "κ(x, y) = (1 + √3 r/σ)·exp(−√3 r/σ), r = |x − y|",
                     ("√3/σ",),
                     value="(1 + p0 * SQRT(q)) * EXP(-p0 * SQRT(q))",
                     derivative="-C(0.5) * p0 * p0 * EXP(-p0 * SQRT(q))"),
    StaticKernelForm("matern52", 4, "radial", "κ(x, y) = (1 + √5 r/σ + 5r²/(3σ²))·exp(−√5 r/σ)",
                     ("√5/σ",),
                     value="(1 + p0 * SQRT(q) + p0 * p0 * q / 3) * EXP(-p0 * SQRT(q))",
                     derivative="-(p0 * p0 / 6) * (1 + p0 * SQRT(q)) * EXP(-p0 * SQRT(q))"),
)


def cell_flops() -> int:
    return CELL_FLOPS


@dataclass(frozen=True)
class SigKernelPlan:
    """Everything an emitter needs for the signature-kernel module of one dim."""

    dim: int
    static_kernels: tuple[StaticKernelForm, ...]
    targets: tuple[TargetParams, ...]
    glossary: tuple[tuple[str, str], ...] = GLOSSARY
    kind: str = "sigkernel"
    depth: None = None
    max_dyadic_order: int = MAX_DYADIC_ORDER
    max_grid_row: int = MAX_GRID_ROW
    fused_tunes: tuple[str, ...] = FUSED_TUNES

    def target_params(self, target: str) -> TargetParams:
        for params in self.targets:
            if params.target == target:
                return params
        raise KeyError(target)

    def static_kernel(self, name: str) -> StaticKernelForm:
        for form in self.static_kernels:
            if form.name == name:
                return form
        raise KeyError(name)

    def summary(self) -> str:
        """One line for provenance headers."""
        return (f"Goursat PDE, second-order explicit scheme, dim {self.dim}; static kernels "
                f"{', '.join(k.name for k in self.static_kernels)}; {CELL_FLOPS} flops per grid "
                f"cell")

    def cost(self, pairs: int, length1: int, length2: int, orders=(0, 0)) -> dict:
        """Grid cells and flops of the forward pass for ``pairs`` pairs of paths of
        ``length1`` and ``length2`` points at dyadic orders ``orders``."""
        m = max(length1 - 1, 0) << orders[0]
        n = max(length2 - 1, 0) << orders[1]
        coarse = max(length1 - 1, 0) * max(length2 - 1, 0)
        cells = pairs * m * n
        return {"rows": m, "columns": n, "cells": cells, "grid_flops": CELL_FLOPS * cells,
                "static_kernel_cells": pairs * coarse, "serial_rows": m}

    def text(self, target: str | None = None, pairs: int | None = None,
             lengths: tuple[int, int] | None = None, orders=(0, 0)) -> str:
        """The plan as ``sigcodegen plan --kind sigkernel`` prints it."""
        lines = [
            f"sigkernel plan: dim={self.dim}",
            "solver   Goursat PDE d²u/ds dt = <x'(s), y'(t)> u, u = 1 on both axes; "
            "second-order explicit finite differences",
            "  u[i+1,j+1] = (u[i+1,j] + u[i,j+1])(1 + D/2 + D²/12) − u[i,j](1 − D²/12)",
            "  D = Δ(i >> λ1, j >> λ2) / 2**(λ1 + λ2): each increment of x split in 2**λ1 "
            "pieces, of y in 2**λ2",
            "  Δ(a, b) = κ(x[a+1], y[b+1]) − κ(x[a+1], y[b]) − κ(x[a], y[b+1]) + κ(x[a], y[b])",
            f"  limits: dyadic order <= {self.max_dyadic_order}, grid rows and columns <= "
            f"{self.max_grid_row:,}",
            "",
            "static kernels (chosen at run time; parameters p0, p1, ...)",
        ]
        for k in self.static_kernels:
            extra = f"  [{k.family}: params {', '.join(k.params)}]"
            lines.append(f"  {k.name:<11} {k.formula}{extra}")
        lines += [
            "",
            "layout (c)   pairs on the SIMD lanes: a block of W pairs (W = the vector width) "
            "walks the grid, rows_per_sweep rows",
            "             at a time staggered by a column, one row of N + 1 vectors updated in "
            "place; the coarse row's",
            "             coefficients once per coarse row (the linear kernel at orders (0, 0): "
            "the products <dx, dy> of",
            "             the sweep's rows in a pass before it, two columns at a time; where "
            "the compiler targets",
            f"             {self.fused_tunes[0]}..{self.fused_tunes[-1]} (AMD Zen): in the "
            "sweep, fused_rows rows at a time); the paths' points onto",
            "             the lanes by LANES x LANES transposes;",
            "             the thread pool runs the blocks; a Gram matrix is tiled into blocks "
            "of (x_a, y_b) pairs, the",
            "             symmetric gram(x) into the pairs a <= b only",
            "layout (jax) a lax.scan over the M + N anti-diagonals, every cell of a diagonal "
            "at once, pairs on the batch axis;",
            "             gradients by JAX's reverse mode through the scan (O((M + N) M) values "
            "per pair)",
            "layout (triton) one program per pair, the cells of an anti-diagonal on the lanes "
            "(BLOCK >= M + 1), a loop over",
            "             the M + N diagonals; every diagonal kept for the backward kernel "
            "(gathered adjoints, atomic adds)",
            "backward (c) reverse sweep over rows recomputed from checkpoints (every S-th row, "
            "S = ceil(sqrt(M))): memory",
            "             about 2·sqrt(M)·(N + 1) vectors per block of pairs, work about 3x the "
            "forward",
        ]
        targets = self.targets if target is None else (self.target_params(target),)
        lines += ["", "targets: what each runs, and its constants"]
        lines += [t.text() for t in targets]
        names = {k for t in targets for k, _ in t.params} | {"checkpoints"}
        glossary = [(k, doc) for k, doc in self.glossary if k in names]
        if glossary:
            lines += ["", "parameters"]
            width = max(len(k) for k, _ in glossary)
            for k, doc in glossary:
                lines += textwrap.wrap(doc, 96, initial_indent=f"  {k:<{width}}  ",
                                       subsequent_indent=" " * (width + 4))
        if pairs is not None and lengths is not None:
            cost = self.cost(pairs, lengths[0], lengths[1], orders)
            lines += ["", f"work for {pairs} pairs of lengths {lengths[0]} and {lengths[1]}, "
                          f"dyadic orders {orders}",
                      f"  grid {cost['rows']:,} x {cost['columns']:,} per pair, "
                      f"{cost['cells']:,} cells, {cost['grid_flops'] / 1e6:.3f} MFLOP forward "
                      f"(+ {cost['static_kernel_cells']:,} static-kernel second differences); "
                      f"{cost['serial_rows']:,} rows in sequence per pair"]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()


def sigkernel_plan(dim: int, depth: None = None) -> SigKernelPlan:
    """The plan of the signature-kernel module for paths in R^dim (``depth`` must be None:
    the signature kernel has none)."""
    assert depth is None, "signature kernels have no depth"
    assert ROWS_PER_SWEEP % FUSED_ROWS == 0, "a fused sweep's rows divide rows_per_sweep"
    targets = (
        TargetParams("c", ("pde",), (("rows_per_sweep", ROWS_PER_SWEEP),
                                     ("team_min_cells", TEAM_MIN_CELLS),
                                     ("shared_sweep_columns", SHARED_SWEEP_COLUMNS),
                                     ("product_tile", PRODUCT_TILE),
                                     ("fused_rows", FUSED_ROWS),
                                     *POOL_PARAMS)),
        TargetParams("jax", ("antidiagonal",), ()),
        TargetParams("triton", ("wavefront",), ()),
    )
    return SigKernelPlan(dim=dim, static_kernels=STATIC_KERNELS, targets=targets)
