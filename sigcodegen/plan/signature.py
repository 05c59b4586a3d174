"""The planner of the signature kind: unrolls the truncated tensor algebra of one (dim, depth)
into routines and the schedules that drive them (``planner.make_plan`` dispatches here).

Routines (docs/architecture.md, "The plan IR"):

``exp_step``         state ⊗ exp(dx) for one increment, fused Horner form, levels updated from
                     the top down so each uses the old lower levels:
                     T1 = A1 + dx/n; Tk = Ak + T(k-1) ⊗ dx/(n-k+1); An += T(n-1) ⊗ dx; A1 += dx.
                     Cost H(d,m) + O(m d) multiply-adds (signatory, signax).
``chen``             the truncated product (Chen's identity) of two signatures:
                     Cn = An + Bn + sum_{i=1}^{n-1} Ai ⊗ B(n-i). Cost sum_n (n-1) d^n.
``levelwise_block``  keras_sig's gpu_optimized step, for every time step of a block at once:
                     S1 = cumsum(dx); level n's increment at t is the Horner chain above on the
                     lower levels at t-1 (``shift``), then cumsum over time.

Schedules say how each strategy drives them. Their constants (the parameters of the chunk and
block rules of ``rules.py``, defaults with per-target overrides) and each target's own
constants (which strategies it runs, the reversal tolerance, ...: ``TargetParams``) are plan
data, so ``sigcodegen plan`` shows them and the emitters read them from the plan.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from fractions import Fraction

from ..algebra import level_sizes
from .ir import (Add, Cumsum, OuterAdd, OuterAddSum, OuterAdjoint, Plan, Routine, Scale,
                 Schedule, Shift, Stage, TargetParams, TopPass, Value)
from .rules import POOL_GLOSSARY, POOL_PARAMS

__all__ = ["signature_plan", "c_optimize", "fused_steps", "subtree_depth", "subtree_routines",
           "CHUNK_LANES", "CHUNK_MIN_STEPS", "BLOCK_ELEMENTS", "BLOCK_MIN_STEPS"]

# ---- the constants that decide what runs: schedule parameters and target constants ----------
# (each lands in the plan, so `sigcodegen plan` prints it and the emitters read it from there)

#: chunked (jax, keras): paths × chunks to aim for per scan step (fills the vector units,
#: amortises XLA's per-iteration loop cost), and the fewest time steps a chunk may have (the
#: Chen tree that joins chunks must stay cheap next to the chunks). Measured at configs A-F.
CHUNK_LANES = 256
CHUNK_MIN_STEPS = 64
#: chunked (c): chunks only add threads' work, so they may be shorter.
NATIVE_CHUNK_MIN_STEPS = 16
#: chunked (triton): enough chunks that paths × chunks fill the GPU, each chunk at least this
#: long (the torch Chen tree that joins them is a few dozen small ops per round, each a launch,
#: so short paths run as one chunk).
TRITON_CHUNK_LANES = 8192
TRITON_CHUNK_MIN_STEPS = 256
#: levelwise: a time block holds at most this many coefficients per level array
#: (paths × steps × siglen), so peak memory is bounded by the block, not by L; blocks have at
#: least BLOCK_MIN_STEPS steps.
BLOCK_ELEMENTS = 2**22
BLOCK_MIN_STEPS = 16
#: Walking time back by S(t-1) = S(t) ⊗ exp(-dx) loses about steps · eps · max|S| (relative);
#: above this the backward pass of the c, jax and triton targets recomputes the states from
#: checkpoints (c, jax) or reads them from a stored stream (triton) instead.
REVERSAL_TOLERANCE = 1e-4
#: c: a parallel pass of fewer vector multiply-adds than this (~20 us of work) runs on the
#: calling thread alone: waking the pool costs more.
TEAM_MIN_OPS = 100_000
#: c: the register tile of the fused pass over the top levels, at most this many rows: from depth
#: 3 the letters j of a word u j of level m-1 (``top_pass``: the tile's rows x K values t live in
#: registers while the top level's rows u j are streamed; ``rules.top_tiles`` splits the dim
#: letters evenly), at depth 2 rows of the top level (``outer_add_sum``). 3 for 16 vector
#: registers (AVX2), 6 for 32 (AVX-512). Measured for top_pass on one Zen 5 core (AVX-512, min
#: of ~5000 one-thread calls, noise about 5%): 1, 2, 3 and 6 rows within noise at A (45-49 % of
#: the FMA peak), C, D, E and F; outer_add_sum on Zen 4: 6 rows over 3 is 0.83-0.92x the time
#: at E, 0.96x at F, 1.00x at A and D.
TOP_TILE_ROWS = 3
TOP_TILE_ROWS_AVX512 = 6
#: c: from this dim on, the tiles' loops over the letters keep the K increments' values in
#: registers (IN_REGISTER in the emitted C) instead of letting GCC fold a load of each into
#: every multiply-add, which made those loops load-bound. Measured on one Zen 3 core (AVX2,
#: fused steps alone in a C harness, interleaved): (20,2) 0.84x the time, (10,3) 0.88x, (5,4)
#: 1.00x, (3,6) 1.04x, (2,10) 1.07x (short loops GCC unrolls whole schedule better unpinned).
PIN_MIN_DIM = 8
#: c: a block of paths (or of signature rows) goes onto the SIMD lanes unless there are fewer
#: of them than lanes and the block's buffers would take more than this; then each path (row)
#: runs alone in scalar code, vectorised along its coefficients: at (1000, 2) in float64 a
#: block's lanes hold 64 MB for one path whose signature is 8 MB (iisignature's layout).
#: Below it the lanes are faster even mostly empty (the log of F (8, 200, 2, 10)'s 8 rows:
#: 0.06 ms one row at a time, a quarter of that on the lanes).
LANE_MAX_BYTES = 4 << 20
#: c: the fused forward steps of a signature of at least SUBTREE_MIN_SIGLEN coefficients run
#: subtree by subtree (``subtree_depth``), each subtree of at least this many coefficients.
#: Measured on one Zen 3 core (AVX2, f32, the fused steps alone in a C harness, both variants
#: in one binary, interleaved, best of 150, ms per 198 increments of 8 paths): (2,10) uncut
#: 0.32, cut at q = 3 / 4 / 5 / 6 (subtrees of 254 / 126 / 62 / 30 coefficients, the subtree
#: routine at -O3) 0.26 / 0.225 / 0.23 / 0.245; (3,6) uncut 0.097, q = 1 / 2 / 3 (363 / 120 /
#: 39) 0.085 / 0.084 / 0.096 (at q = 3 the roots' pass and their gather cost what the
#: subtrees save); (5,4) 0.047 uncut, about 0.045 at q = 1 with neither cost counted.
#: Cuts that leave larger subtrees gain nothing: (8,4) at q = 1 (subtrees of 584) 3 % slower
#: and (4,5) at q = 1 (340) as fast, through signature() at (64, 100), one thread.
SUBTREE_MIN_COEFFICIENTS = 100
SUBTREE_MAX_COEFFICIENTS = 256
SUBTREE_MIN_SIGLEN = 1000
#: jax, keras: the shape buckets a call runs at (``rules.bucket``), so that varying lengths and
#: batch sizes compile a bounded number of times: increments padded to the grid 16, 24, 32, 48,
#: ... (at most 1.5x the work past 16 increments; 11 compilations for L = 2..401), paths to
#: 8, 16, 32, ... (6 for 1..200: a routine on flat signatures costs far less than compiling it,
#: measured 1-3 ms a call against ~50 ms a compilation at dim 3, depth 4).
BUCKET_MIN_STEPS = 16
BUCKET_STEPS_PER_OCTAVE = 2
BUCKET_MIN_PATHS = 8
BUCKET_PATHS_PER_OCTAVE = 1
#: triton: tile values a lane may name in one forward step before the emitter splits words over
#: more lanes (a longer prefix), and lanes per program (paths × prefixes: 4 warps of 32), and
#: the largest lane block (longer prefixes make the cross-lane sums too wide).
REGISTER_BUDGET = 64
LANES_PER_PROGRAM = 128
MAX_LANE_BLOCK = 1024

#: What each parameter means, as ``sigcodegen plan`` prints it.
GLOSSARY = POOL_GLOSSARY + (
    ("chunked.lanes", "paths × chunks to aim for (the chunks run side by side as extra paths)"),
    ("chunked.min_steps", "the fewest increments a time chunk may have"),
    ("levelwise.block_elements", "most coefficients per level array of a time block "
                                 "(paths × Tb × siglen)"),
    ("levelwise.min_steps", "the fewest increments a time block may have"),
    ("reversal_tolerance", "the backward pass walks time back while steps · eps · max|S| stays "
                           "at or below this, else it recomputes (c, jax) or reads (triton) "
                           "states"),
    ("bucket_min_steps", "jax/keras: a call on a concrete path runs its increments padded (the "
                         "last point repeated) to the next bucket, the smallest of this, then "
                         "bucket_steps_per_octave evenly spaced sizes per octave above it"),
    ("bucket_steps_per_octave", "increment buckets per octave (2: 16, 24, 32, 48, 64, ...)"),
    ("bucket_min_paths", "the same for the number of paths (padded with copies of the last "
                         "path, whose results are dropped)"),
    ("bucket_paths_per_octave", "path buckets per octave (1: 8, 16, 32, ...)"),
    ("team_min_ops", "a parallel pass of fewer vector multiply-adds runs on one thread"),
    ("lane_max_bytes", "the most bytes the lanes of a block of fewer paths (or signature rows) "
                       "than lanes may take; above it each runs alone in scalar code"),
    ("top_tile_rows", "most rows per register tile of the fused pass over the top levels (letters "
                      "of level m-1 from depth 3, top-level rows at depth 2; 16 vector registers)"),
    ("top_tile_rows_avx512", "the same with 32 vector registers (AVX-512)"),
    ("subtree_depth", "c: the fused forward steps run on levels 1..q (exp_steps_prefix), then on "
                      "each subtree of the words under one of the dim**q prefixes "
                      "(exp_steps_subtree); 0: on the whole state (exp_steps)"),
    ("pin_increments", "c: the register tiles' loops keep the increments in registers "
                       "(from dim PIN_MIN_DIM = 8 on)"),
    ("optimize", "the GCC optimisation level (flags: that of $SIGCODEGEN_CFLAGS, -O3 by default)"),
    ("register_budget", "tile values a lane may name in one forward step (sets the prefix "
                        "length p)"),
    ("lanes_per_program", "lanes (paths × prefixes) of one Triton program"),
    ("max_lane_block", "the widest lane block per path (bounds the prefix length p)"),
)


def _levels(prefix: str, depth: int) -> tuple[Value, ...]:
    return tuple(Value(f"{prefix}{k}", k) for k in range(1, depth + 1))


def _scaled_increments(depth: int, name: str = "dx") -> tuple[dict[int, Value], tuple]:
    """``dx`` and ``dx/k`` for k = 2..depth, computed once per step."""
    dx = Value(name, 1)
    scaled = {1: dx}
    ops = []
    for k in range(2, depth + 1):
        scaled[k] = Value(f"{name}{k}", 1)
        ops.append(Scale(scaled[k], dx, Fraction(1, k)))
    return scaled, tuple(ops)


def _horner_chain(n: int, lower: tuple[Value, ...], scaled: dict[int, Value], out: Value, acc,
                  root: Value | None = None):
    """Ops for ``out = acc + sum_{k<n} lower[k] ⊗ dx^{⊗(n-k)}/(n-k)!`` (lower[0] is the scalar
    1), Horner form: t = L1 + dx/n; t = Lk + t ⊗ dx/(n-k+1); out = acc + t ⊗ dx. With a
    ``root`` (degree 0) the chain starts from it instead of 1: t = L1 + root ⊗ dx/n (a chain of
    a subtree of the word tree, ``_exp_steps_subtree``)."""
    ops = [Add(Value("t1", 1), lower[0], scaled[n]) if root is None
           else OuterAdd(Value("t1", 1), lower[0], root, scaled[n])]
    for k in range(2, n):
        prev = Value(f"t{k - 1}", k - 1)
        ops.append(OuterAdd(Value(f"t{k}", k), lower[k - 1], prev, scaled[n - k + 1]))
    ops.append(OuterAdd(out, acc, Value(f"t{n - 1}", n - 1), scaled[1]))
    return ops


def _exp_step(depth: int, name: str = "exp_step") -> Routine:
    a = _levels("a", depth)
    scaled, prologue = _scaled_increments(depth)
    stages = [Stage("scaled increments dx/k", prologue)] if prologue else []
    for n in range(depth, 1, -1):
        stages.append(
            Stage(f"degree {n}: Horner chain on the old levels 1..{n - 1}",
                  tuple(_horner_chain(n, a, scaled, a[n - 1], a[n - 1])))
        )
    stages.append(Stage("degree 1", (Add(a[0], a[0], scaled[1]),)))
    doc = "One Chen step, state ⊗ exp(dx), in fused Horner form (levels updated top-down)."
    if name != "exp_step":
        doc = (f"exp_step on levels 1..{depth} only: the backward pass walks the state back with "
               f"it, as nothing there reads the top level.")
    return Routine(
        name=name,
        doc=doc,
        params=a + (scaled[1],),
        results=a,
        stages=tuple(stages),
    )


#: c: increments per call of the fused steps (exp_steps) with 16 vector registers (AVX2), and
#: with 32 (AVX-512: the ``_wide`` routines, chosen in the emitted C by the vector width).
FUSED_STEPS = 3
FUSED_STEPS_WIDE = 6


def fused_steps(dim: int, depth: int, wide: bool = False) -> int:
    """Increments per call of exp_steps (c target); ``wide``: with 32 vector registers.
    Measured on one AVX2 core (ms per forward, K = 1 / 2 / 3 / 4): (10,3) at E 1.20 / 0.75 /
    0.69 / 0.80; (3,6) at D 3.69 / 3.17 / 2.97 / 3.85; (2,10) at F 1.60 / 1.56 / 0.97 / 1.04;
    (5,4) at A: 2 and 3 equal, 25% under 1. With the fused top pass on one Zen 5 core (AVX-512,
    ms, min of ~3000 calls, K = 2 / 3 / 4): A 0.20 / 0.15 / 0.15, C 0.22 / 0.17 / 0.17, D 0.40
    / 0.34-0.35 / 0.34, E 0.14 / 0.10 / 0.10, F 0.15 / 0.155 / 0.16. On one core of a Xeon with
    AVX-512 whose block state (780 vectors of 64 bytes at A) outgrows its 48 KiB L1 cache, so
    that each call streams the state through L2 (best of 5 medians of 60 calls, ms, K = 3 / 4 /
    6 / 8): A 0.378 / 0.336 / 0.299 / 0.451, B 0.120 / - / 0.102 / 0.117, C 0.44 / - / 0.321 /
    0.316, D 0.650 / 0.553 / 0.535 / 0.585, E 0.250 / 0.221 / 0.193 / 0.190, F 0.225 / - / 0.233
    / 0.214; the same machine limited to AVX2 (16 registers, K = 3 / 4 / 6): A 0.385 / 0.419 /
    0.428, D 0.789 / 0.810 / 0.920, F 0.248 / 0.246 / 0.384. Hence 3, and 6 where there are 32
    registers."""
    return 1 if depth == 1 else FUSED_STEPS_WIDE if wide else FUSED_STEPS


def c_optimize(depth: int) -> str:
    """The GCC optimisation level of the c target's kernels: -O3 (the flags' default) except for
    deep truncations, whose many small chains -O3 unrolls into code that compiles slowly and runs
    no faster. Measured at (2,10), F: -O3 3.2 s to compile, 0.62 ms forward; -O2 1.2 s, 0.52 ms;
    at (3,6), D: -O3 stays faster (1.55 vs 1.83 ms). "flags": the level of the build flags."""
    return "O2" if depth >= 8 else "flags"


def _exp_steps(dim: int, depth: int, wide: bool = False) -> Routine:
    """exp_step for K increments in a row, the top level updated once for all K: the top level
    is read by no other level, so its K rank-one terms (each from its own Horner chain on the
    levels as they stand before that increment) can wait and be added in one pass, which loads
    and stores the largest level once per K steps instead of K times. From depth 3 on, the level
    below the top joins that pass (``TopPass``): the K increments first step levels 1..m-2 and
    keep, per increment, the two Horner values of degree m-2 that levels m-1 and m need; then one
    pass over level m-1 updates it K times and makes the top level's K terms in registers, so
    neither level m-1 nor its Horner values go through memory more than once per K steps.
    ``wide``: K for 32 vector registers, the routine named ``exp_steps_wide``."""
    return _widened(_exp_steps_k(dim, depth, fused_steps(dim, depth, wide)), wide)


def _widened(routine: Routine, wide: bool) -> Routine:
    """A fused-steps routine of the wide K named ``<name>_wide`` (the c target's variant for 32
    vector registers; the emitted C gives it the narrow one's C name under its own #if)."""
    return dataclasses.replace(routine, name=f"{routine.name}_wide") if wide else routine


def _exp_steps_k(dim: int, depth: int, k: int) -> Routine:
    a = _levels("a", depth)
    names = [f"dx{chr(ord('a') + i)}" for i in range(k)]
    if depth >= 3:
        return _exp_steps_top_pass(depth, a, names)
    stages, lefts, rights = [], [], []
    for name in names:
        scaled, prologue = _scaled_increments(depth, name)
        ops = list(prologue)
        if depth >= 2:  # the top chain up to its last t, kept under its own name
            chain = _horner_chain(depth, a, scaled, a[depth - 1], a[depth - 1])[:-1]
            last = Value(f"t{depth - 1}{name[2:]}", depth - 1)
            chain[-1] = dataclasses.replace(chain[-1], out=last)  # read only by the final pass
            ops += chain
            lefts.append(last)
            rights.append(scaled[1])
        for n in range(depth - 1, 1, -1):
            ops += _horner_chain(n, a, scaled, a[n - 1], a[n - 1])
        if depth >= 2:
            ops.append(Add(a[0], a[0], scaled[1]))
        if ops:
            stages.append(Stage(f"increment {name}: top-level term, then levels {depth - 1}..1",
                                tuple(ops)))
    if depth >= 2:
        stages.append(Stage(f"degree {depth}: the {k} terms in one pass",
                            (OuterAddSum(a[depth - 1], a[depth - 1], tuple(lefts), tuple(rights)),)))
    else:
        stages.append(Stage("degree 1", tuple(Add(a[0], a[0], Value(n, 1)) for n in names)))
    return _fused_routine(k, a, names, stages)


def _exp_steps_top_pass(depth: int, a: tuple[Value, ...], names: list[str],
                        roots: dict[str, tuple[Value, ...]] | None = None) -> Routine:
    """exp_steps at depth >= 3: levels 1..m-2 stepped per increment, then one TopPass. With
    ``roots`` (per increment, a degree-0 root per level) every chain starts from its level's
    root instead of 1: the same K steps on one subtree of the word tree."""
    m, stages, terms = depth, [], []
    for name in names:
        scaled, prologue = _scaled_increments(m, name)
        root = roots[name] if roots else (None,) * m
        # the Horner values of degree m-2 of the chains of levels m and m-1, kept by name
        top = _horner_chain(m, a, scaled, a[m - 1], a[m - 1], root[m - 1])[:-2]
        top[-1] = dataclasses.replace(top[-1], out=Value(f"p{m - 2}{name[2:]}", m - 2))
        below = _horner_chain(m - 1, a, scaled, a[m - 2], a[m - 2], root[m - 2])[:-1]
        below[-1] = dataclasses.replace(below[-1], out=Value(f"q{m - 2}{name[2:]}", m - 2))
        ops = list(prologue) + top + below
        for n in range(m - 2, 1, -1):
            ops += _horner_chain(n, a, scaled, a[n - 1], a[n - 1], root[n - 1])
        ops.append(Add(a[0], a[0], scaled[1]) if root[0] is None
                   else OuterAdd(a[0], a[0], root[0], scaled[1]))
        stages.append(Stage(f"increment {name}: degree-{m - 2} Horner values of levels {m} and "
                            f"{m - 1}, then levels {m - 2}..1", tuple(ops)))
        terms.append((top[-1].out, scaled[2], below[-1].out, scaled[1], scaled[1]))
    tl, tr, bl, br, r = (tuple(t[i] for t in terms) for i in range(5))
    stages.append(Stage(f"degrees {m - 1} and {m}: the {len(names)} increments in one pass over "
                        f"level {m - 1}", (TopPass(a[m - 1], a[m - 2], tl, tr, bl, br, r),)))
    if roots:
        return Routine(
            name="exp_steps_subtree",
            doc=f"exp_steps on one subtree of the word tree: {len(names)} increment(s) on the "
                f"levels 1..{m} of the words under one prefix, each chain from its root.",
            params=a + tuple(r for name in names for r in roots[name])
            + tuple(Value(n, 1) for n in names),
            results=a,
            stages=tuple(stages),
            unit=f"per path per subtree per {len(names)} time step(s)",
        )
    return _fused_routine(len(names), a, names, stages)


def _fused_routine(k: int, a: tuple[Value, ...], names: list[str], stages: list) -> Routine:
    return Routine(
        name="exp_steps",
        doc=f"exp_step for {k} increment(s) in a row, the top level updated once for all of them.",
        params=a + tuple(Value(n, 1) for n in names),
        results=a,
        stages=tuple(stages),
        unit=f"per path per {k} time step(s)",
    )


def subtree_depth(dim: int, depth: int) -> int:
    """q, the prefix length by which the c target's fused forward steps cut the word tree (0:
    not cut). Every word of degree > q lies under one of the dim**q prefixes of degree q, and
    the chains of its levels read the levels up to q only through one value per level and
    increment, the chain's Horner value at the prefix (its root). So ``exp_steps_prefix``
    steps levels 1..q and keeps those roots, and then ``exp_steps_subtree`` runs the K
    increments on each subtree (levels q+1..m of the words under one prefix, depth m-q) in
    turn: short loops GCC unrolls whole (the routine is compiled at -O3 even where the module
    is at -O2), on a subtree that stays in the L1 cache. q is the largest that leaves subtrees
    of depth >= 3 (the top pass) with >= SUBTREE_MIN_COEFFICIENTS coefficients, and only for
    signatures of >= SUBTREE_MIN_SIGLEN coefficients whose subtrees then hold at most
    SUBTREE_MAX_COEFFICIENTS."""
    def size(q):
        return sum(dim**k for k in range(1, depth - q + 1))

    if fused_steps(dim, depth) == 1 or size(0) < SUBTREE_MIN_SIGLEN:
        return 0
    q = 0
    while depth - q - 1 >= 3 and size(q + 1) >= SUBTREE_MIN_COEFFICIENTS:
        q += 1
    return q if size(q) <= SUBTREE_MAX_COEFFICIENTS else 0


def subtree_routines(dim: int, depth: int, q: int, wide: bool = False) -> tuple[Routine, Routine]:
    """(exp_steps_prefix, exp_steps_subtree) for the word tree cut at prefix length q
    (1 <= q <= depth - 3); the plan holds them for q = subtree_depth(dim, depth) > 0."""
    if not 1 <= q <= depth - 3:
        raise ValueError(f"subtree_routines: q = {q} must lie in 1..depth-3 = 1..{depth - 3} "
                         f"(dim {dim}, depth {depth}): a subtree needs depth >= 3")
    return (_widened(_exp_steps_prefix(dim, depth, q, wide), wide),
            _widened(_exp_steps_subtree(dim, depth, q, wide), wide))


def _exp_steps_prefix(dim: int, depth: int, q: int, wide: bool) -> Routine:
    """The K increments on levels 1..q, keeping per increment each higher level's root: the
    Horner value of degree q of its chain (R<n><s>, for level n and increment s)."""
    k = fused_steps(dim, depth, wide)
    a, low = _levels("a", depth), _levels("a", q)
    names = [f"dx{chr(ord('a') + i)}" for i in range(k)]
    stages, roots = [], []
    for name in names:
        scaled, prologue = _scaled_increments(depth, name)
        ops, found = list(prologue), []
        for n in range(depth, q, -1):  # levels above q: their chains up to degree q
            chain = _horner_chain(n, a, scaled, a[n - 1], a[n - 1])[:q]
            chain[-1] = dataclasses.replace(chain[-1], out=Value(f"R{n}{name[2:]}", q))
            found.append(chain[-1].out)
            ops += chain
        roots += reversed(found)  # per increment, levels q+1..m
        for n in range(q, 1, -1):
            ops += _horner_chain(n, a, scaled, a[n - 1], a[n - 1])
        ops.append(Add(a[0], a[0], scaled[1]))
        stages.append(Stage(f"increment {name}: the roots of levels {depth}..{q + 1} (their "
                            f"chains' degree-{q} values), then levels {q}..1", tuple(ops)))
    return Routine(
        name="exp_steps_prefix",
        doc=f"exp_steps on levels 1..{q} for {k} increment(s), keeping the roots of the levels "
            f"above: the Horner values of degree {q} that exp_steps_subtree starts from.",
        params=low + tuple(Value(n, 1) for n in names),
        results=low + tuple(roots),
        stages=tuple(stages),
        unit=f"per path per {k} time step(s)",
    )


def _exp_steps_subtree(dim: int, depth: int, q: int, wide: bool) -> Routine:
    """exp_steps_top_pass on one subtree: depth m-q, chain n' (level q+n') of increment s from
    the root r<s><n'> (the value R<q+n'><s> of exp_steps_prefix at the subtree's prefix)."""
    k, mp = fused_steps(dim, depth, wide), depth - q
    names = [f"dx{chr(ord('a') + i)}" for i in range(k)]
    roots = {name: tuple(Value(f"r{name[2:]}{n}", 0) for n in range(1, mp + 1)) for name in names}
    return _exp_steps_top_pass(mp, _levels("a", mp), names, roots)


def _exp_step_vjp(depth: int) -> Routine:
    """Reverse mode of exp_step. Given the state *before* the step (a), the increment (dx) and
    the adjoint of the state after it (g), overwrite g with the adjoint of the state before it
    and return the adjoint of dx (gdx).

    Degree n's chain reads the old levels and writes only level n, so its adjoint adds into
    g1..g(n-1) and reads gn; going up in n (2..depth) every gn is read before a higher chain adds
    to it. Each chain's t values are recomputed from a and dx (cheaper than storing them).
    """
    a, g = _levels("a", depth), _levels("g", depth)
    scaled, prologue = _scaled_increments(depth)
    gdx = Value("gdx", 1)
    stages = [Stage("scaled increments dx/k", prologue)] if prologue else []
    stages.append(Stage("degree 1: a1 += dx", (Scale(gdx, g[0], Fraction(1)),)))
    for n in range(2, depth + 1):
        t = {k: Value(f"t{k}", k) for k in range(1, n)}
        u = {k: Value(f"u{k}", k) for k in range(1, n)}
        ops = list(_horner_chain(n, a, scaled, a[n - 1], a[n - 1])[:-1])  # recompute t1..t(n-1)
        ops.append(OuterAdjoint(u[n - 1], None, gdx, gdx, g[n - 1], t[n - 1], scaled[1]))
        for k in range(n - 1, 1, -1):
            ops.append(Add(g[k - 1], g[k - 1], u[k]))
            ops.append(OuterAdjoint(u[k - 1], None, gdx, gdx, u[k], t[k - 1], scaled[n - k + 1],
                                    Fraction(1, n - k + 1)))
        ops.append(Add(g[0], g[0], u[1]))
        ops.append(Add(gdx, gdx, u[1], Fraction(1, n)))
        stages.append(Stage(f"degree {n}: recompute the chain, then its adjoint", tuple(ops)))
    return Routine(
        name="exp_step_vjp",
        doc="Adjoint of exp_step: g becomes the adjoint of the state before the step; returns gdx.",
        params=a + (scaled[1],) + g,
        results=g + (gdx,),
        stages=tuple(stages),
    )


def _power_series(depth: int, name: str, coefficients, doc: str) -> Routine:
    """f(x) = sum_{k=1..depth} c_k x^k for x without scalar term (levels 1..depth), in Horner
    form: r = c_depth; r = c_k + x ⊗ r for k = depth-1..1; f = x ⊗ r. The running r keeps its
    levels 1..depth-k, updated from the top level down so each reads the old lower ones."""
    x, f = _levels("x", depth), _levels("y", depth)
    r = _levels("r", depth)
    stages = []
    for k in range(depth - 1, 0, -1):  # r <- c_k + x ⊗ r, r's scalar being c_{k+1}
        ops = []
        for n in range(depth - k, 0, -1):
            ops.append(Scale(r[n - 1], x[n - 1], coefficients[k + 1]))
            ops += [OuterAdd(r[n - 1], r[n - 1], x[i - 1], r[n - i - 1]) for i in range(1, n)]
        stages.append(Stage(f"r = {coefficients[k]} + x ⊗ r (levels 1..{depth - k})", tuple(ops)))
    ops = []
    for n in range(depth, 0, -1):
        ops.append(Scale(f[n - 1], x[n - 1], coefficients[1]))
        ops += [OuterAdd(f[n - 1], f[n - 1], x[i - 1], r[n - i - 1]) for i in range(1, n)]
    stages.append(Stage("result = x ⊗ r", tuple(ops)))
    return Routine(name=name, doc=doc, params=x, results=f, stages=tuple(stages),
                   unit="per path per element")


def _log_series(depth: int) -> Routine:
    coefficients = {k: Fraction((-1) ** (k + 1), k) for k in range(1, depth + 1)}
    return _power_series(depth, "log_series", coefficients,
                         "Tensor logarithm log(1 + x) = x - x^2/2 + x^3/3 - ... of a signature x.")


def _exp_series(depth: int) -> Routine:
    coefficients = {k: Fraction(1, math.factorial(k)) for k in range(1, depth + 1)}
    return _power_series(depth, "exp_series", coefficients,
                         "Tensor exponential exp(x) - 1 = x + x^2/2 + x^3/6 + ... of a Lie element x.")


def _chen(depth: int) -> Routine:
    a, b, c = _levels("a", depth), _levels("b", depth), _levels("c", depth)
    stages = []
    for n in range(1, depth + 1):
        ops = [Add(c[n - 1], a[n - 1], b[n - 1])]
        ops += [OuterAdd(c[n - 1], c[n - 1], a[i - 1], b[n - i - 1]) for i in range(1, n)]
        stages.append(Stage(f"degree {n}", tuple(ops)))
    return Routine(
        name="chen",
        doc="Truncated product a ⊗ b of two signatures (Chen's identity).",
        params=a + b,
        results=c,
        stages=tuple(stages),
        unit="per path per product",
    )


def _levelwise_block(depth: int) -> Routine:
    s, p = _levels("s", depth), _levels("p", depth)
    scaled, prologue = _scaled_increments(depth)
    stages = [Stage("scaled increments dx/k", prologue)] if prologue else []
    stages.append(Stage("degree 1: running sum of the increments", (Cumsum(s[0], scaled[1]),)))
    for n in range(2, depth + 1):
        inc = Value(f"i{n}", n)
        ops = [Shift(p[n - 2], s[n - 2])]
        ops += _horner_chain(n, p, scaled, inc, None)
        ops.append(Cumsum(s[n - 1], inc))
        stages.append(Stage(f"degree {n}: increments from levels 1..{n - 1} at t-1, then cumsum",
                            tuple(ops)))
    return Routine(
        name="levelwise_block",
        doc="Signatures of every prefix of a block of increments, degree by degree.",
        params=(scaled[1],),
        results=s,
        stages=tuple(stages),
        time_axis=True,
    )


def _schedules() -> tuple[Schedule, ...]:
    return (
        Schedule(
            "horner",
            "scan over the T increments, one exp_step per increment",
            ("exp_step",),
        ),
        Schedule(
            "chunked",
            "cut time into P chunks (P a power of two, paths × P ≤ lanes, chunks ≥ min_steps "
            "long) run side by side as extra paths, then a log2(P)-deep tree of chen; stream "
            "mode reruns each chunk from its prefix (jax, keras) or runs unchunked (c, triton). "
            "c has its own rule (forward_chunks, in C): the fewest chunks (≥ min_steps long) "
            "that give every thread a full block of SIMD lanes, joined left to right by chen",
            ("exp_step", "chen"),
            (("lanes", CHUNK_LANES), ("min_steps", CHUNK_MIN_STEPS)),
            (("c", (("lanes", None), ("min_steps", NATIVE_CHUNK_MIN_STEPS))),
             ("triton", (("lanes", TRITON_CHUNK_LANES), ("min_steps", TRITON_CHUNK_MIN_STEPS)))),
        ),
        Schedule(
            "levelwise",
            "time blocks of Tb steps (paths × Tb × siglen ≤ block_elements): levelwise_block "
            "inside a block, chen across blocks (one block when it fits: keras_sig's method)",
            ("levelwise_block", "chen"),
            (("block_elements", BLOCK_ELEMENTS), ("min_steps", BLOCK_MIN_STEPS)),
        ),
    )


def _targets(dim: int, depth: int) -> tuple[TargetParams, ...]:
    every = ("horner", "chunked", "levelwise")
    buckets = (("bucket_min_steps", BUCKET_MIN_STEPS),
               ("bucket_steps_per_octave", BUCKET_STEPS_PER_OCTAVE),
               ("bucket_min_paths", BUCKET_MIN_PATHS),
               ("bucket_paths_per_octave", BUCKET_PATHS_PER_OCTAVE))
    return (
        TargetParams("jax", every, (("reversal_tolerance", REVERSAL_TOLERANCE),) + buckets),
        TargetParams("keras", every, buckets),  # gradients by the backend's autodiff
        TargetParams("c", ("horner", "chunked"),
                     (("reversal_tolerance", REVERSAL_TOLERANCE), ("team_min_ops", TEAM_MIN_OPS),
                      *POOL_PARAMS, ("lane_max_bytes", LANE_MAX_BYTES),
                      ("top_tile_rows", TOP_TILE_ROWS), ("top_tile_rows_avx512", TOP_TILE_ROWS_AVX512),
                      ("subtree_depth", subtree_depth(dim, depth)),
                      ("pin_increments", dim >= PIN_MIN_DIM), ("optimize", c_optimize(depth)))),
        TargetParams("triton", ("horner", "chunked"),
                     (("reversal_tolerance", REVERSAL_TOLERANCE),
                      ("register_budget", REGISTER_BUDGET),
                      ("lanes_per_program", LANES_PER_PROGRAM),
                      ("max_lane_block", MAX_LANE_BLOCK))),
    )


def _wide_routines(dim: int, depth: int) -> tuple[Routine, ...]:
    """The c target's fused steps for 32 vector registers (``exp_steps_wide`` and, where the
    word tree is cut, ``exp_steps_prefix_wide`` and ``exp_steps_subtree_wide``), where their K
    differs from the narrow one's."""
    if fused_steps(dim, depth, True) == fused_steps(dim, depth):
        return ()
    q = subtree_depth(dim, depth)
    return (_exp_steps(dim, depth, True),) + (subtree_routines(dim, depth, q, True) if q else ())


@functools.lru_cache(maxsize=None)
def signature_plan(dim: int, depth: int) -> Plan:
    """The plan of the signature kernels for one (dim, depth): every strategy of every target."""
    return Plan(
        kind="signature",
        dim=dim,
        depth=depth,
        level_sizes=level_sizes(dim, depth),
        routines=(_exp_step(depth), _chen(depth), _levelwise_block(depth), _exp_step_vjp(depth),
                  _exp_steps(dim, depth), _log_series(depth), _exp_series(depth))
        + ((_exp_step(depth - 1, "exp_step_lower"),) if depth > 1 else ())
        + (subtree_routines(dim, depth, q) if (q := subtree_depth(dim, depth)) else ())
        + _wide_routines(dim, depth),
        schedules=_schedules(),
        targets=_targets(dim, depth),
        glossary=GLOSSARY,
    )
