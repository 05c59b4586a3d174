"""Emitter for the ``triton`` target: straight-line Triton kernels with (path, word-prefix) lanes.

Lane layout (docs/architecture.md, "The four targets"). A program owns ``BP`` paths, and each path is split over
``d**p`` lanes, one per word prefix ``q`` of length ``p``: the lane holds the coefficients of the
words that start with ``q`` (``d**(k-p)`` of level k, by suffix s, at index ``q*d**(k-p) + s``)
and, for the levels ``k <= p``, the one word ``q[:k]`` (computed redundantly on the lanes that
share it). Tiles are ``(BP, PP)`` tensors, ``PP`` the power of two at or above ``d**p``.

Chen's Horner step then needs no data from other lanes: the right operand of every product is
the increment, whose letters are either constants (suffix letters: per-path loads broadcast
over the lanes) or the lane's own prefix letters (gathered loads). The backward step needs two
cross-lane sums: the increment's adjoint (a sum over every word: ``tl.sum`` over the lane axis)
and, for levels at or below ``p``, the adjoint of a prefix word (``tl.gather`` of the d lanes
that differ in one prefix letter, once per summed letter).

The emitter lowers the plan's ``exp_step``, ``exp_step_lower`` and ``exp_step_vjp`` routines
to one statement per tile (every index map a constant) and picks ``p``, the smallest prefix
that keeps the tiles a lane holds within the plan's triton ``register_budget`` (and the lane
block within ``max_lane_block``); a program holds ``lanes_per_program`` lanes. Those constants,
the chunked strategy's and the reversal tolerance are the plan's (``Plan.target_params``,
``Schedule.params_for``), printed by ``sigcodegen plan --target triton``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from fractions import Fraction

from ..plan import Plan, Routine, Value
from .base import Provenance
from .python import PythonEmitter

__all__ = ["TritonEmitter", "LaneLayout", "lane_layout", "lower"]


_ASSIGN = re.compile(r"^\s*([A-Za-z_]\w*)\s*=")


def _pow2(n: int) -> int:
    return 1 << max(0, n - 1).bit_length()


def _const(f: Fraction) -> str:
    sign = "m" if f < 0 else ""
    return f"F_{sign}{abs(f.numerator)}_{f.denominator}"


class Lowering:
    """Lowers straight-line plan routines to per-tile Triton statements for prefix length p.

    Values fall in three kinds: *lane* values (state-like: a level of every path, split over the
    prefix lanes), *path* values (the increment and its scaled copies: degree 1, kept as ``d``
    per-path components ``name_c<v>`` of shape (BP, 1) plus the lane's prefix letters
    ``name_q<j>`` of shape (BP, PP)) and *accumulators* (the increment's adjoint ``gdx``: one
    (BP, PP) partial sum per letter ``name_p<v>``, summed over the lanes once per step).
    """

    def __init__(self, dim: int, prefix: int):
        self.d, self.p = dim, prefix
        self.lines: list[str] = []
        self.kinds: dict[str, str] = {}
        self.constants: set[Fraction] = set()
        self.letters_summed: set[int] = set()  # prefix positions summed over lanes
        self.own: set[int] = set()
        self.mads = 0  # multiply-adds per lane
        self.path_mads = 0  # multiply-adds per path on the increment

    # -- naming ---------------------------------------------------------------------------
    def tiles(self, value: Value) -> list[str]:
        """Every tile of ``value`` on one lane, in suffix order."""
        count = self.d ** max(0, value.degree - self.p)
        return [self.tile(value, s) for s in range(count)]

    def tile(self, value: Value, s: int) -> str:
        """Tile ``s`` of ``value``: its word q·s past the lane's prefix q (levels at or below
        p have one tile, so ``s`` is ignored there)."""
        return value.name if value.degree <= self.p else f"{value.name}_{s}"

    def kind(self, value: Value) -> str:
        return self.kinds.get(value.name, "lane")

    def scaled(self, expr: str, factor: Fraction) -> str:
        if factor == 1:
            return expr
        self.constants.add(factor)
        return f"{expr} * {_const(factor)}"

    def emit(self, line: str) -> None:
        self.lines.append(line)

    def own_mask(self, k: int) -> str:
        """Lanes that own the word q[:k] (one per word; the others hold copies)."""
        self.own.add(k)
        return f"own{k}"

    # -- ops ------------------------------------------------------------------------------
    def declare_path(self, name: str) -> None:
        self.kinds[name] = "path"

    def op(self, op) -> None:
        getattr(self, "_" + op.kind)(op)

    def _scale(self, op) -> None:
        d, p = self.d, self.p
        src, out = self.kind(op.x), op.out
        if src == "path":
            self.kinds[out.name] = "path"
            for v in range(d):
                self.emit(f"{out.name}_c{v} = {self.scaled(f'{op.x.name}_c{v}', op.factor)}")
            self.path_mads += d  # once per path (a (BP, 1) tile), as the plan counts it
            for j in range(p):
                self.emit(f"{out.name}_q{j} = {self.scaled(f'{op.x.name}_q{j}', op.factor)}")
        elif out.name.startswith("gdx"):  # the increment's adjoint, started from a lane value
            self.kinds[out.name] = "acc"
            self._accumulate(out, None, op.x, op.factor)
        else:
            self.kinds[out.name] = "lane"
            for a, b in zip(self.tiles(out), self.tiles(op.x)):
                self.emit(f"{a} = {self.scaled(b, op.factor)}")
                self.mads += 1

    def _accumulate(self, out: Value, acc: Value | None, x: Value, factor: Fraction) -> None:
        """out_p<v> = acc_p<v> + factor * x[v] for a degree-1 lane value x."""
        d, p = self.d, self.p
        for v in range(d):
            if p == 0:
                term = self.scaled(f"{x.name}_{v}", factor)
            else:
                term = f"tl.where({self.own_mask(1)} & (q0 == {v}), {self.scaled(x.name, factor)}, 0.0)"
            base = f"{acc.name}_p{v} + " if acc is not None else ""
            self.emit(f"{out.name}_p{v} = {base}{term}")
            self.mads += 1

    def _add(self, op) -> None:
        x, y, out = op.x, op.y, op.out
        kx, ky = self.kind(x), self.kind(y)
        if kx == "acc" and ky == "lane":
            self.kinds[out.name] = "acc"
            self._accumulate(out, x, y, op.factor)
            return
        if kx == "lane" and ky == "path":  # a degree-1 level plus (a multiple of) the increment
            self.kinds[out.name] = "lane"
            if self.p == 0:
                for v in range(self.d):
                    self.emit(f"{out.name}_{v} = {x.name}_{v} + {self.scaled(f'{y.name}_c{v}', op.factor)}")
                    self.mads += 1
            else:
                self.emit(f"{out.name} = {x.name} + {self.scaled(f'{y.name}_q0', op.factor)}")
                self.mads += 1
            return
        if kx == ky == "lane":
            self.kinds[out.name] = "lane"
            for a, b, c in zip(self.tiles(out), self.tiles(x), self.tiles(y)):
                self.emit(f"{a} = {b} + {self.scaled(c, op.factor)}")
                self.mads += 1
            return
        raise NotImplementedError(f"triton lowering: add of a {kx} and a {ky} value ({op})")

    def _right(self, right: Value, k: int, s: int) -> str:
        """The increment's letter at position k-1 of the word (prefix letter or suffix letter)."""
        if self.kind(right) != "path" or right.degree != 1:
            raise NotImplementedError(f"triton lowering: the right factor {right} is not an increment")
        return f"{right.name}_q{k - 1}" if k <= self.p else f"{right.name}_c{s % self.d}"

    def _outer_add(self, op) -> None:
        self._outer_add_sum_terms(op.out, op.acc, ((op.left, op.right),))

    def _outer_add_sum(self, op) -> None:
        self._outer_add_sum_terms(op.out, op.acc, tuple(zip(op.lefts, op.rights)))

    def _outer_add_sum_terms(self, out: Value, acc: Value | None, terms) -> None:
        k = out.degree
        self.kinds[out.name] = "lane"
        for s, name in enumerate(self.tiles(out)):
            parts = [self.tile(acc, s)] if acc is not None else []
            for left, right in terms:
                if self.kind(left) != "lane":
                    raise NotImplementedError(f"triton lowering: left factor {left} is not a level")
                parts.append(f"{self.tile(left, s // self.d)} * {self._right(right, k, s)}")
            self.emit(f"{name} = {' + '.join(parts)}")
            self.mads += len(terms)

    def _outer_adjoint(self, op) -> None:
        d, p = self.d, self.p
        g, left, right, out = op.g, op.left, op.right, op.out
        k = g.degree
        self.kinds[out.name] = "lane"
        # out[u] = acc[u] + sum_v g[u v] right[v]
        if k > p:
            for s, name in enumerate(self.tiles(out)):
                terms = [f"{self.tile(g, s * d + v)} * {right.name}_c{v}" for v in range(d)]
                acc = [self.tile(op.acc, s)] if op.acc is not None else []
                self.emit(f"{name} = {' + '.join(acc + terms)}")
                self.mads += d
        else:  # g holds one word q[:k]: sum the lanes that share q[:k-1]
            self.emit(f"gs = tl.where({self.own_mask(k)}, {g.name} * {right.name}_q{k - 1}, 0.0)")
            for i in range(k - 1, p):  # sum out prefix letter i: gather the d lanes that differ there
                self.letters_summed.add(i)
                terms = [f"tl.gather(gs, I{i}_{c}, axis=1)" for c in range(d)]
                self.emit(f"gs = {' + '.join(terms)}")
                self.mads += d
            acc = f"{op.acc.name} + " if op.acc is not None else ""
            self.emit(f"{out.name} = {acc}gs")
            self.mads += 1
        # gright[v] = gright_acc[v] + factor * sum_u left[u] g[u v]
        self.kinds[op.gright.name] = "acc"
        acc = op.gright_acc
        if k > p:
            for v in range(d):
                terms = [f"{self.tile(left, s // d)} * {self.tile(g, s)}"
                         for s in range(v, d ** (k - p), d)]
                total = " + ".join(terms)
                total = self.scaled(f"({total})", op.factor) if op.factor != 1 else total
                base = f"{acc.name}_p{v} + " if acc is not None else ""
                self.emit(f"{op.gright.name}_p{v} = {base}{total}")
                self.mads += len(terms)
        else:
            self.emit(f"gl = {self.scaled(f'{left.name} * {g.name}', op.factor)}")
            for v in range(d):
                base = f"{acc.name}_p{v} + " if acc is not None else ""
                self.emit(f"{op.gright.name}_p{v} = {base}tl.where({self.own_mask(k)} & "
                          f"(q{k - 1} == {v}), gl, 0.0)")
            self.mads += 1 + d

    def routine(self, routine: Routine) -> None:
        """Lower every op of ``routine``; its params are tiles the kernel has already named."""
        for stage in routine.stages:
            self.emit(f"# {stage.title}")
            for op in stage.ops:
                self.op(op)


def lower(plan: Plan, prefix: int) -> dict:
    """The forward and backward step bodies for prefix length ``prefix``, with their counts."""
    depth = plan.depth
    fwd = Lowering(plan.dim, prefix)
    fwd.declare_path("dx")
    fwd.routine(plan.routine("exp_step"))
    bwd = Lowering(plan.dim, prefix)
    bwd.declare_path("dx")
    bwd.declare_path("ndx")
    if depth > 1:
        # S(t-1) = S(t) ⊗ exp(-dx) on the levels the adjoint reads: exp_step_lower, dx negated
        lower_routine = plan.routine("exp_step_lower")
        bwd.emit("# the state before the step: S(t-1) = S(t) ⊗ exp(-dx), levels below the top")
        bwd.emit("if not READ_STATES:")
        mark = len(bwd.lines)
        renamed = _rename_routine(lower_routine, {"dx": "ndx"})
        bwd.routine(renamed)
        bwd.lines[mark:] = ["    " + line for line in bwd.lines[mark:]]
    bwd.routine(plan.routine("exp_step_vjp"))
    return {"forward": fwd, "backward": bwd}


def _rename_routine(routine: Routine, names: dict[str, str]) -> Routine:
    """The routine with values renamed (the backward reuses exp_step_lower on -dx)."""
    def value(v):
        return Value(names.get(v.name, v.name), v.degree) if isinstance(v, Value) else v

    def op(o):
        changes = {}
        for f in fields(o):
            if not f.init:
                continue
            x = getattr(o, f.name)
            changes[f.name] = tuple(value(i) for i in x) if isinstance(x, tuple) else value(x)
        return replace(o, **changes)

    stages = tuple(replace(s, ops=tuple(op(o) for o in s.ops)) for s in routine.stages)
    return replace(routine, stages=stages, params=tuple(value(v) for v in routine.params),
                   results=tuple(value(v) for v in routine.results))


def _names(lines: list[str]) -> set[str]:
    return {m.group(1) for line in lines if (m := _ASSIGN.match(line))}


@dataclass(frozen=True)
class LaneLayout:
    """How the triton kernels of one (dim, depth) spread paths and words over lanes."""

    dim: int
    depth: int
    prefix: int  # p: a lane holds the words that start with one p-letter prefix
    lanes_per_path: int  # d**p
    lane_block: int  # PP: d**p rounded up to a power of two
    paths_per_program: int  # BP
    forward_tiles: int  # values a lane names in one forward step: its registers, in elements
    backward_tiles: int
    forward_macs: int  # multiply-adds per path per step, all lanes of the path
    backward_macs: int
    useful_macs: int  # the plan's exp_step, per path per step

    def __str__(self) -> str:
        d, p = self.dim, self.prefix
        lanes = f"{d}**{p} = {self.lanes_per_path}" if p else "1"
        return "\n".join([
            f"triton lanes: dim={d}, depth={self.depth}",
            f"  prefix length p = {p}: each path spreads over {lanes} lane(s), one per "
            f"{p}-letter word prefix,",
            f"  padded to PP = {self.lane_block}; {self.paths_per_program} path(s) x "
            f"{self.lane_block} = {self.paths_per_program * self.lane_block} lanes per program",
            f"  registers per lane (tile values named per step, elements): forward "
            f"{self.forward_tiles}, backward {self.backward_tiles}",
            f"  multiply-adds per path per time step: forward {self.forward_macs:,} "
            f"(the plan's exp_step: {self.useful_macs:,}; the rest recomputes levels <= p on "
            f"every lane that shares them), backward {self.backward_macs:,}",
            f"  FLOPs per path per time step: forward {2 * self.forward_macs:,}, backward "
            f"{2 * self.backward_macs:,}",
        ])


_PATH_TILE = re.compile(r"_[cq]\d+$")


def _tile_count(low: Lowering, plan: Plan) -> int:
    """(BP, PP) values a lane names per step: the state, temporaries and adjoint partials (the
    increment's per-path components, (BP, 1), are left out)."""
    state = {t for k in range(1, plan.depth + 1) for t in low.tiles(Value(f"a{k}", k))}
    named = {n for n in _names(low.lines) if not _PATH_TILE.search(n)}
    return len(named | state)


def _choose(plan: Plan) -> tuple[int, dict]:
    """The smallest prefix whose forward step stays within the plan's ``register_budget`` tiles
    (or the largest whose lane block fits in ``max_lane_block``), with its lowering."""
    params = plan.target_params("triton")
    budget, widest = params.param("register_budget"), params.param("max_lane_block")
    chosen = None
    for p in range(0, plan.depth + 1):
        if _pow2(plan.dim**p) > widest:
            break
        chosen = (p, lower(plan, p))
        if _tile_count(chosen[1]["forward"], plan) <= budget or plan.dim == 1:
            break
    return chosen


def _layout(plan: Plan, p: int, low: dict) -> LaneLayout:
    d = plan.dim
    lanes = d**p
    block = _pow2(lanes)
    per_program = plan.target_params("triton").param("lanes_per_program")
    return LaneLayout(
        dim=d, depth=plan.depth, prefix=p, lanes_per_path=lanes, lane_block=block,
        paths_per_program=max(1, per_program // block),
        forward_tiles=_tile_count(low["forward"], plan),
        backward_tiles=_tile_count(low["backward"], plan),
        forward_macs=low["forward"].mads * lanes + low["forward"].path_mads,
        backward_macs=low["backward"].mads * lanes + low["backward"].path_mads,
        useful_macs=plan.routine("exp_step").macs(d),
    )


def lane_layout(plan: Plan) -> LaneLayout:
    """The triton kernels' lane layout for ``plan`` (what ``sigcodegen plan --target triton``
    prints)."""
    return _layout(plan, *_choose(plan))


class TritonEmitter(PythonEmitter):
    target = "triton"
    #: Routines whose torch form the module holds (Chen tree over time chunks; log-signatures).
    routines = ("chen", "log_series", "exp_series")

    @staticmethod
    def shape(size: int, time_axis: bool) -> str:
        return f"(N, {size})"

    def render(self, plan, prov: Provenance) -> str:
        if plan.kind == "sigkernel":  # the Goursat PDE wavefront: templates/triton/sigkernel.py.j2
            context = {"plan": plan, "prov": prov, "target": self.target, "refresh":
                       f"sigcodegen build --kind sigkernel --dim {plan.dim} --target triton"}
            return self.env.get_template("sigkernel.py.j2").render(**context).rstrip() + "\n"
        return super().render(plan, prov)

    def context(self, plan: Plan, prov: Provenance) -> dict:
        p, low = _choose(plan)
        layout = _layout(plan, p, low)
        d = plan.dim
        naming = low["forward"]
        offsets = [sum(plan.level_sizes[:k]) for k in range(plan.depth)]

        def index(k: int, s: int) -> str:
            """Flat index of tile s of level k (1-based) on lane ``lane``."""
            if k <= p:
                return f"{offsets[k - 1]} + lane // {d ** (p - k)}"
            return f"{offsets[k - 1]} + lane * {d ** (k - p)} + {s}"

        def level_tiles(group: str, k: int) -> list[tuple[str, str, str]]:
            """(tile name, index expression, store mask) of level k of ``group``."""
            names = naming.tiles(Value(f"{group}{k}", k))
            mask = f"path_ok & own{k}" if k <= p else "ok"
            return [(n, index(k, s), mask) for s, n in enumerate(names)]

        constants = sorted(low["forward"].constants | low["backward"].constants)
        own = sorted(low["forward"].own | low["backward"].own | set(range(1, p + 1)))
        return {
            **super().context(plan, prov),
            "layout": layout,
            "layout_doc": str(layout),
            "prefix": p,
            "lanes": d**p,
            "forward_lines": low["forward"].lines,
            "backward_lines": low["backward"].lines,
            "constants": [(_const(f), f"{f.numerator} / {f.denominator}") for f in constants],
            "own": [(k, d ** (p - k)) for k in own],
            "gathers": [(i, c, d ** (p - 1 - i)) for i in sorted(low["backward"].letters_summed)
                        for c in range(d)],
            "letters": [(j, d ** (p - 1 - j)) for j in range(p)],
            "level_tiles": level_tiles,
        }
