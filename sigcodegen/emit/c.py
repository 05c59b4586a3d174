"""Emitter for the ``c`` target: straight-line C11 for one (dim, depth), both float and double,
with a work-claiming thread pool (templates/c/pool.j2), compiled by the system C compiler
(sigcodegen.jit.toolchain; loaded and bound by sigcodegen.runtime.bindings).

Paths sit on the SIMD lanes: a block of W paths (W = vector bytes / element size) is stepped
together, every coefficient of every level a GCC/Clang vector of W lanes (struct of arrays).
Routines from the plan become C functions whose loops have constant bounds; the emitter decides
where each plan value lives: level arrays are pointer arguments, degree-1 temporaries are
locals, higher-degree temporaries sit in a scratch buffer the driver allocates once per thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..plan import Plan, Routine, top_tiles
from .base import Emitter, Provenance

__all__ = ["CEmitter", "CRoutine", "PRECISIONS", "sigkernel_context", "projection_context"]

#: (suffix, C type, bits) of the precisions every C module holds.
PRECISIONS = (("f32", "float", 32), ("f64", "double", 64))
#: Routines of the forward part (the rest belong to the backward part).
FORWARD_ROUTINES = ("exp_step", "exp_steps", "chen", "exp_step_row", "exp_steps_row",
                    "exp_steps_prefix", "exp_steps_subtree", "exp_steps_lyndon",
                    "exp_steps_lyndon_row", "exp_steps_subtree_lyndon")
#: The routines the C drivers call, and whether each runs on vectors of paths or on scalars.
C_ROUTINES = (("exp_step", True), ("exp_steps", True), ("exp_step_vjp", True), ("chen", False))
#: The fused forward steps cut at the plan's subtree_depth q > 0 (on vectors of paths).
SUBTREE_ROUTINES = (("exp_steps_prefix", True), ("exp_steps_subtree", True))
#: The same steps on one path (scalar code, vectorised along its coefficients by the compiler),
#: for blocks of fewer paths than lanes whose lanes would take too much memory (the plan's
#: lane_max_bytes), keyed ``<routine>_row``.
ROW_ROUTINES = ("exp_step", "exp_steps", "exp_step_vjp", "exp_step_lower", "exp_steps_lyndon")
#: kind="logsignature": the fused steps pruned to the top level's Lyndon words, where the plan
#: has them (plan.logsignature.lyndon_steps; on vectors of paths, and as a row routine).
LYNDON_ROUTINES = (("exp_steps_lyndon", True), ("exp_steps_subtree_lyndon", True))
#: The vector routines whose K increments per call differ with the vector registers: the plan's
#: ``<name>_wide`` variants (32 registers: AVX-512) replace them under SIGCODEGEN_WIDE_STEPS.
FUSED_ROUTINES = ("exp_steps", "exp_steps_prefix", "exp_steps_subtree", "exp_steps_lyndon",
                  "exp_steps_subtree_lyndon")
#: kind="logsignature" adds the logarithm, the exponential and their adjoints, on vectors of
#: rows (a block of signatures on the lanes) and on one row (few rows: a block's unused lanes
#: would cost LANES x the row's memory), as (key, routine, vector, forward part).
LOG_ROUTINES = tuple((f"{name}{row}", name, not row, not name.endswith("_vjp"))
                     for name in ("log_series", "exp_series", "log_series_vjp", "exp_series_vjp")
                     for row in ("", "_row"))

_LEVEL = re.compile(r"^([a-z]+)(\d+)$")


@dataclass(frozen=True)
class CRoutine:
    """One routine rendered for one element type."""

    routine: Routine
    cname: str
    elem: str  # element type of every array: a vector type, or the scalar type
    scalar: str
    zero: str
    vector: bool
    signature: str
    declarations: tuple[str, ...]
    scratch: int  # elements of scratch the routine needs


def _c_routine(plan: Plan, routine: Routine, suffix: str, scalar: str, vector: bool,
               stem: str | None = None) -> CRoutine:
    """``stem``: the C name's stem (default the routine's; a ``_wide`` variant takes its
    narrow routine's, the two compiled under opposite #if)."""
    elem = f"vec_{suffix}" if vector else scalar
    depth = plan.depth
    params = {v.name for v in routine.params}
    results = {v.name for v in routine.results}
    used = {v.name for op in routine.ops for field in vars(op).values()
            for v in (field if isinstance(field, tuple) else (field,)) if hasattr(v, "degree")}
    named = params | results
    args, lines, groups, singles, roots = [], [], {}, [], {}
    for value in routine.params + routine.results:  # arguments in the plan's order
        match = _LEVEL.match(value.name)
        # levels 1..k of one array: a1, a2, ... (a prefix of the signature layout)
        is_level = bool(match) and int(match.group(2)) == value.degree and \
            f"{match.group(1)}1" in named
        if match and value.degree == 0:  # ra1, ra2, ...: one array of roots, one per level
            group = match.group(1)
            if group not in roots:
                qual = "const " if value.name not in results else ""
                args.append(f"{qual}{elem} *restrict {group}")
                roots[group] = qual
            lines.append(f"{roots[group]}{elem} *restrict {value.name} = {group} + "
                         f"{int(match.group(2)) - 1};")
        elif is_level and match.group(1) not in groups:
            group = match.group(1)
            groups[group] = max(k for k in range(1, depth + 1) if f"{group}{k}" in named)
            qual = "const " if value.name not in results else ""
            args.append(f"{qual}{elem} *restrict {group}")
        elif not is_level and value.name not in singles:
            singles.append(value.name)
            qual = "const " if value.name not in results else ""
            args.append(f"{qual}{elem} *restrict {value.name}")
    offset = 0
    for k in range(1, depth + 1):
        for group, levels in groups.items():
            name = f"{group}{k}"
            if k <= levels and name in used:
                qual = "const " if name not in results else ""
                lines.append(f"{qual}{elem} *restrict {name} = {group} + {offset};")
        offset += plan.dim**k
    known = {f"{g}{k}" for g, levels in groups.items() for k in range(1, levels + 1)} | \
        set(singles) | {v.name for v in routine.params if v.degree == 0}
    scratch = 0
    written = [v for op in routine.ops for v in (op.out, getattr(op, "gright", None)) if v]
    for value in written:  # every value an op writes (an adjoint op writes two)
        if value.name in known:
            continue
        known.add(value.name)
        if value.degree == 1:
            lines.append(f"{elem} {value.name}[{plan.dim}];")
        else:
            lines.append(f"{elem} *restrict {value.name} = w + {scratch};")
            scratch += plan.dim**value.degree
    if any(getattr(op, "trees", 1) > 1 for op in routine.ops):
        args.append("int tree")  # the subtree a pruned subtree routine runs on (its table)
    if vector or scratch:  # the drivers pass every vector routine (and a scalar one that needs
        args.append(f"{elem} *restrict w")  # it) a scratch buffer
    return CRoutine(
        routine=routine,
        cname=f"{stem or routine.name}_{suffix}{'v' if vector else 's'}",
        elem=elem,
        scalar=scalar,
        zero=f"({elem}){{0}}" if vector else f"({scalar})0",
        vector=vector,
        signature=", ".join(args),
        declarations=tuple(lines),
        scratch=scratch,
    )


class CEmitter(Emitter):
    target = "c"

    def render(self, plan, prov: Provenance) -> str:
        if plan.kind == "sigkernel":  # the Goursat PDE solver: templates/c/sigkernel.c.j2
            source = self.env.get_template("sigkernel.c.j2").render(**sigkernel_context(plan, prov))
            return source.rstrip() + "\n"
        if plan.kind == "coefficients":  # chosen coefficients: templates/c/coefficients.c.j2
            source = self.env.get_template("coefficients.c.j2").render(
                plan=plan, prov=prov, target="c", target_params=plan.target_params("c"),
                precisions=[{"suffix": s, "scalar": t, "bits": b} for s, t, b in PRECISIONS],
                refresh=f"sigcodegen build --kind coefficients --dim {plan.dim} --target c")
            return source.rstrip() + "\n"
        return super().render(plan, prov)

    def context(self, plan: Plan, prov: Provenance) -> dict:
        optimize = plan.target_params(self.target).param("optimize")
        precisions = []
        subtree = plan.target_params(self.target).param("subtree_depth")
        fused = len(plan.routine("exp_steps").params) - plan.depth
        wide = len(plan.routine("exp_steps_wide").params) - plan.depth \
            if "exp_steps_wide" in {r.name for r in plan.routines} else 0
        names = C_ROUTINES + ((("exp_step_lower", True),) if plan.depth > 1 else ()) \
            + (SUBTREE_ROUTINES if subtree else ()) \
            + tuple(r for r in LYNDON_ROUTINES if r[0] in {x.name for x in plan.routines})
        for suffix, scalar, bits in PRECISIONS:
            routines = {name: _c_routine(plan, plan.routine(name), suffix, scalar, vector)
                        for name, vector in names}
            routines.update({f"{name}_row": _c_routine(plan, plan.routine(name), suffix, scalar,
                                                       False)
                             for name in ROW_ROUTINES if name in routines})
            log_routines = {key: _c_routine(plan, plan.routine(name), suffix, scalar, vector)
                            for key, name, vector, _ in LOG_ROUTINES} \
                if plan.kind == "logsignature" else {}
            narrow = {name: routines[name] for name in FUSED_ROUTINES if name in routines}
            variants = [{"guard": "!SIGCODEGEN_WIDE_STEPS" if wide else None,
                         "fused_steps": fused, "routines": narrow}]
            if wide:
                variants.append({"guard": "SIGCODEGEN_WIDE_STEPS", "fused_steps": wide,
                                 "routines": {name: _c_routine(plan, plan.routine(f"{name}_wide"),
                                                               suffix, scalar, True, name)
                                              for name in narrow}})
            for v in variants:
                v["scratch"] = max([r.scratch for r in routines.values()]
                                   + [r.scratch for r in v["routines"].values()])
            precisions.append({
                "suffix": suffix,
                "scalar": scalar,
                "bits": bits,
                "routines": {k: r for k, r in routines.items() if k not in narrow},
                "variants": variants,
                # the narrow routines' scratch (the backward's buffers are sized by it), and
                # each variant's fused steps' own (the forward's)
                "scratch": max(r.scratch for r in routines.values()),
                "log_routines": log_routines,
                "log_scratch": max((r.scratch for r in log_routines.values()), default=0),
            })
        return {
            **super().context(plan, prov),
            "dim": plan.dim,
            "precisions": precisions,
            "chunk_min_steps": plan.schedule("chunked").param("min_steps", self.target),
            "fused_steps": fused,
            "wide_steps": wide,
            "forward_routines": FORWARD_ROUTINES + tuple(k for k, _, _, fwd in LOG_ROUTINES if fwd),
            "top_tiles": top_tiles,
            "tile_first_letters": tile_first_letters,
            "lyndon": any(r.name in ("exp_steps_lyndon", "exp_steps_subtree_lyndon")
                          for r in plan.routines),
            "row_tile_first_letters": row_tile_first_letters,
            "projections": [projection_context(p) for p in plan.projections],
            # rows of the largest dense block (0: none), the dense functions' buffer
            "dense_block": max((len(b.rows) for p in plan.projections for g in p.segments
                                for b in g.blocks), default=0),
            "subtree": _subtree_layout(plan.dim, plan.depth, subtree) if subtree else None,
            "optimize": "" if optimize == "flags" else optimize,
        }


def _terms(terms, operand) -> str:
    """A straight-line sum: (index, integer coefficient) pairs of ``operand``'s elements."""
    parts = []
    for index, coef in terms:
        term = f"{operand}[{index}]" if abs(coef) == 1 else f"{abs(coef)} * {operand}[{index}]"
        parts.append(("- " if coef < 0 else "+ ") + term)
    text = " ".join(parts)
    return text[2:] if text.startswith("+ ") else "-" + text[2:]


def projection_context(projection) -> dict:
    """The C of one of the plan's projections (``plan.ir.Projection``), segment by segment:
    ``code`` segments as straight-line lines, forward (o[row] = its terms over y) and adjoint
    (g[column] += its terms over o, the transposed rows grouped by column); ``dense`` segments
    as their blocks' tables; ``table`` segments as row ranges of the run-time tables."""
    segments = []
    for seg in projection.segments:
        item = {"how": seg.how, "level": seg.level, "first": seg.first,
                "last": seg.first + seg.rows, "nonzeros": seg.nonzeros}
        if seg.how == "code":  # integer literals: exact in either precision
            assert all(abs(c) < 2**24 for t in seg.terms for _, c in t), projection.mode
            item["forward"] = [f"o[{seg.first + i}] = {_terms(t, 'y')};"
                               for i, t in enumerate(seg.terms)]
            columns: dict[int, list] = {}
            for i, t in enumerate(seg.terms):
                for column, coef in t:
                    columns.setdefault(column, []).append((seg.first + i, coef))
            item["adjoint"] = [f"g[{c}] += {_terms(t, 'o')};" for c, t in sorted(columns.items())]
        elif seg.how == "dense":
            start = [0]
            for b in seg.blocks:
                start.append(start[-1] + len(b.rows))
            item.update(blocks=len(seg.blocks), largest=max(len(b.rows) for b in seg.blocks),
                        rows=[r for b in seg.blocks for r in b.rows],
                        columns=[c for b in seg.blocks for c in b.columns], start=start,
                        lower=[c for b in seg.blocks for c in b.lower])
        segments.append(item)
    return {"mode": projection.mode, "code": projection.code, "outputs": projection.outputs,
            "segments": segments}


def tile_first_letters(first_letters: tuple[int, ...], tiles) -> list[list[int]]:
    """The pruned top pass's table (``TopPass.first_letters``): per word u of degree n-2 and
    tile (j0, rows) of letters j, the least first letter of the tile's rows u j, from which
    its loop over the top level's letters v starts (a tile runs its rows together)."""
    dim = sum(rows for _, rows in tiles)
    return [[min(first_letters[u * dim + j0 + i] for i in range(rows)) for j0, rows in tiles]
            for u in range(len(first_letters) // dim)]


def row_tile_first_letters(first_letters: tuple[int, ...], tile: int) -> list[int]:
    """The pruned outer_add_sum's table (``OuterAddSum.first_letters``): per row p, the least
    first letter of the rows p..p+tile-1 where p starts a tile of the main loop, p's own in the
    rows after the last whole tile (which run one by one)."""
    n = len(first_letters)
    main = n - n % tile
    return [min(first_letters[p:p + tile]) if p < main and p % tile == 0 else first_letters[p]
            for p in range(n)]


def _subtree_layout(dim: int, depth: int, q: int) -> dict:
    """Where the forward's state lives while its fused steps run subtree by subtree: levels
    1..q first (``prefix`` coefficients, as in the signature layout), then subtree u (the words
    under prefix u, levels q+1..depth, ``size`` coefficients) at prefix + u * size, its levels
    one after another. ``levels``: (level, its offset in the signature layout, its offset in a
    subtree, coefficients per subtree)."""
    prefix = sum(dim**k for k in range(1, q + 1))
    size = sum(dim**k for k in range(1, depth - q + 1))
    levels = tuple((q + k, sum(dim**j for j in range(1, q + k)),
                    sum(dim**j for j in range(1, k)), dim**k) for k in range(1, depth - q + 1))
    return {"q": q, "count": dim**q, "prefix": prefix, "size": size, "levels": levels,
            "roots": depth - q}


def sigkernel_context(plan, prov: Provenance) -> dict:
    """The template context of a signature-kernel module (a ``plan.sigkernel.SigKernelPlan``):
    its static kernels' formulas and the c target's constants come from the plan.
    ``shared_orders``: the orders lam2 with a sweep of their own for rows sharing a coarse row
    (rows_per_sweep <= 2^lam2 <= shared_sweep_columns)."""
    params = plan.target_params("c")
    rows, columns = params.param("rows_per_sweep"), params.param("shared_sweep_columns")
    return {
        "shared_orders": [lam for lam in range(1, 8) if rows <= 2**lam <= columns],
        "fused_tunes": plan.fused_tunes,
        "fused_rows": params.param("fused_rows"),
        "plan": plan,
        "prov": prov,
        "target": "c",
        "target_params": plan.target_params("c"),
        "precisions": [{"suffix": s, "scalar": t, "bits": b} for s, t, b in PRECISIONS],
        "refresh": f"sigcodegen build --kind sigkernel --dim {plan.dim} --target c",
    }
