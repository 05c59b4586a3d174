"""The plan IR: frozen dataclasses, printable, shared by every emitter.

A plan is a list of *routines* (straight-line functions over named tensors), a list of
*schedules* (how each strategy drives those routines over time, with the parameters of its
rules: defaults and per-target overrides) and per target a :class:`TargetParams` (the
strategies it runs and the constants its module is emitted with). Every tensor is a truncated
tensor-algebra level of some degree k for a batch of paths: ``dim**k`` coefficients per path,
with an optional time axis. Emitters choose the memory layout (batch-last for jax, batch-first
for keras); the plan only fixes names, degrees, the order of operations, their cost and every
constant that decides what runs. ``str(plan)`` prints all of it; this module imports nothing
else of the package.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from fractions import Fraction

__all__ = [
    "Value",
    "Scale",
    "Add",
    "OuterAdd",
    "OuterAddSum",
    "OuterAdjoint",
    "TopPass",
    "Shift",
    "Cumsum",
    "Stage",
    "Routine",
    "Schedule",
    "TargetParams",
    "DenseBlock",
    "ProjectionSegment",
    "Projection",
    "Plan",
    "pruned_words",
]


def pruned_words(first_letters: tuple[int, ...], dim: int, degree: int, trees: int = 1) -> int:
    """The coefficients of a level of ``degree`` an op pruned by ``first_letters`` must write:
    per row p (a word of degree - 1), the letters v >= first_letters[p]; all dim**degree when
    ``first_letters`` is empty. With ``trees`` > 1 the table holds one such table per subtree
    (the op runs on one, named by the routine's ``tree`` argument): their mean. (The
    log-signature's words and brackets read its top level only at the Lyndon words,
    ``algebra.lyndon_last_letters``.)"""
    if not first_letters:
        return dim**degree
    assert len(first_letters) == trees * dim ** (degree - 1)
    return sum(dim - v for v in first_letters) // trees


@dataclass(frozen=True)
class Value:
    """A named tensor of one degree (dim**degree coefficients per path)."""

    name: str
    degree: int

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Scale:
    """``out = x * factor`` (a scaled increment such as dx/3)."""

    out: Value
    x: Value
    factor: Fraction
    kind: str = field(default="scale", init=False)

    def macs(self, dim: int) -> int:
        return dim**self.out.degree

    def __str__(self) -> str:
        return f"{self.out} = {self.x}" + ("" if self.factor == 1 else f" * {self.factor}")


@dataclass(frozen=True)
class Add:
    """``out = x + factor * y`` (same degree; factor 1 by default)."""

    out: Value
    x: Value
    y: Value
    factor: Fraction = Fraction(1)
    kind: str = field(default="add", init=False)

    def macs(self, dim: int) -> int:
        return dim**self.out.degree

    def __str__(self) -> str:
        scaled = f"{self.y}" if self.factor == 1 else f"{self.y} * {self.factor}"
        return f"{self.out} = {self.x} + {scaled}"


@dataclass(frozen=True)
class OuterAdd:
    """``out = acc + left ⊗ right`` (``acc`` may be absent): the tensor product of a degree-i and
    a degree-j tensor is the degree-(i+j) tensor whose word ``u v`` is ``left[u] * right[v]``."""

    out: Value
    acc: Value | None
    left: Value
    right: Value
    kind: str = field(default="outer_add", init=False)

    def __post_init__(self):
        assert self.out.degree == self.left.degree + self.right.degree
        assert self.acc is None or self.acc.degree == self.out.degree

    def macs(self, dim: int) -> int:
        return dim**self.out.degree

    def __str__(self) -> str:
        prod = f"{self.left} ⊗ {self.right}"
        return f"{self.out} = {self.acc} + {prod}" if self.acc else f"{self.out} = {prod}"


@dataclass(frozen=True)
class OuterAddSum:
    """``out = acc + sum_k lefts[k] ⊗ rights[k]``: several rank-one updates of one level in a
    single pass over it (each coefficient loaded and stored once)."""

    out: Value
    acc: Value | None
    lefts: tuple[Value, ...]
    rights: tuple[Value, ...]
    #: empty: every coefficient; else, per row p of out (a coefficient of the lefts, whose
    #: rights are of degree 1), the first letter v of the coefficients p v the op must write
    #: (``dim``: none); the others are left unspecified (see :func:`pruned_words`)
    first_letters: tuple[int, ...] = ()
    kind: str = field(default="outer_add_sum", init=False)

    def __post_init__(self):
        assert len(self.lefts) == len(self.rights) >= 1
        assert all(l.degree + r.degree == self.out.degree for l, r in zip(self.lefts, self.rights))
        assert not self.first_letters or all(r.degree == 1 for r in self.rights)

    def macs(self, dim: int) -> int:
        return len(self.lefts) * pruned_words(self.first_letters, dim, self.out.degree)

    def __str__(self) -> str:
        prods = " + ".join(f"{l} ⊗ {r}" for l, r in zip(self.lefts, self.rights))
        text = f"{self.out} = {self.acc} + {prods}" if self.acc else f"{self.out} = {prods}"
        return text + (" [pruned]" if self.first_letters else "")


@dataclass(frozen=True)
class OuterAdjoint:
    """Both adjoints of ``g = left ⊗ right`` in one pass over g (each coefficient read once):
    ``out[u] = acc[u] + sum_v g[u v] right[v]`` (the adjoint of left; ``out`` is that value) and
    ``gright[v] = gright_acc[v] + factor * sum_u left[u] g[u v]`` (the adjoint of right)."""

    out: Value
    acc: Value | None
    gright: Value
    gright_acc: Value | None
    g: Value
    left: Value
    right: Value
    factor: Fraction = Fraction(1)
    kind: str = field(default="outer_adjoint", init=False)

    def __post_init__(self):
        assert self.out.degree == self.left.degree == self.g.degree - self.right.degree
        assert self.gright.degree == self.right.degree

    def macs(self, dim: int) -> int:
        return 2 * dim**self.g.degree

    def __str__(self) -> str:
        scale = "" if self.factor == 1 else f" * {self.factor}"
        acc = f"{self.acc} + " if self.acc else ""
        racc = f"{self.gright_acc} + " if self.gright_acc else ""
        return (f"{self.out} = {acc}{self.g} ⌟ {self.right};  "
                f"{self.gright} = {racc}{self.left} ⌞ {self.g}{scale}")


@dataclass(frozen=True)
class TopPass:
    """The top two levels for K increments in one pass over ``below`` (degree n-1; ``top`` is
    degree n, ``out``): for every coefficient ``w = u j`` of ``below`` (u a word of degree n-2,
    j a letter) and each increment s in order, ``t_s = below[w] + top_lefts[s][u] *
    top_rights[s][j]`` (the top level's Horner value on ``below`` as it stands before s), then
    ``below[w] += below_lefts[s][u] * below_rights[s][j]``; then ``top[w v] += sum_s t_s *
    rights[s][v]`` for every letter v. No t_s is stored: each lives only while the pass is at w,
    so ``below`` and ``top`` are each loaded and stored once per K increments."""

    out: Value
    below: Value
    top_lefts: tuple[Value, ...]
    top_rights: tuple[Value, ...]
    below_lefts: tuple[Value, ...]
    below_rights: tuple[Value, ...]
    rights: tuple[Value, ...]
    #: empty: every coefficient of ``top``; else, per coefficient w of ``below``, the first
    #: letter v of the coefficients w v of ``top`` the pass must write (``dim``: none); the
    #: others are left unspecified (see :func:`pruned_words`). ``below`` is always whole.
    first_letters: tuple[int, ...] = ()
    #: > 1: ``first_letters`` holds one table per subtree of the word tree, one after another
    #: (the routine runs on one subtree, and its caller names which: the ``tree`` argument)
    trees: int = 1
    kind: str = field(default="top_pass", init=False)

    def __post_init__(self):
        k = len(self.top_lefts)
        assert k >= 1 and all(len(t) == k for t in (self.top_rights, self.below_lefts,
                                                     self.below_rights, self.rights))
        assert self.below.degree == self.out.degree - 1 >= 2
        assert all(v.degree == self.out.degree - 2 for v in self.top_lefts + self.below_lefts)
        assert all(v.degree == 1 for v in self.top_rights + self.below_rights + self.rights)

    def macs(self, dim: int) -> int:
        return len(self.top_lefts) * (2 * dim**self.below.degree
                                      + pruned_words(self.first_letters, dim, self.out.degree,
                                                     self.trees))

    def __str__(self) -> str:
        terms = ", ".join(f"({tl}, {tr}; {bl}, {br}; {r})" for tl, tr, bl, br, r in zip(
            self.top_lefts, self.top_rights, self.below_lefts, self.below_rights, self.rights))
        pruned = "" if not self.first_letters else \
            " [pruned]" if self.trees == 1 else f" [pruned, {self.trees} subtrees' tables]"
        return f"{self.out}, {self.below} = top_pass({self.out}, {self.below}; {terms}){pruned}"


@dataclass(frozen=True)
class Shift:
    """``out[t] = x[t-1]``, ``out[0] = 0`` along the time axis: the state before each step."""

    out: Value
    x: Value
    kind: str = field(default="shift", init=False)

    def macs(self, dim: int) -> int:
        return 0

    def __str__(self) -> str:
        return f"{self.out} = shift({self.x})"


@dataclass(frozen=True)
class Cumsum:
    """``out = cumsum(x)`` along the time axis."""

    out: Value
    x: Value
    kind: str = field(default="cumsum", init=False)

    def macs(self, dim: int) -> int:
        return dim**self.out.degree

    def __str__(self) -> str:
        return f"{self.out} = cumsum({self.x})"


Op = Scale | Add | OuterAdd | OuterAddSum | OuterAdjoint | TopPass | Shift | Cumsum


@dataclass(frozen=True)
class Stage:
    """Ops that build one degree (or a prologue), emitted as one commented block."""

    title: str
    ops: tuple[Op, ...]


@dataclass(frozen=True)
class Routine:
    """A straight-line function: ``results = name(*params)``.

    ``time_axis`` says whether its tensors carry a time axis (the levelwise routine does; the
    per-step routines work on one time step).
    """

    name: str
    doc: str
    params: tuple[Value, ...]
    results: tuple[Value, ...]
    stages: tuple[Stage, ...]
    time_axis: bool = False
    unit: str = "per path per time step"

    @property
    def ops(self) -> tuple[Op, ...]:
        return tuple(op for stage in self.stages for op in stage.ops)

    def macs(self, dim: int) -> int:
        """Multiply-adds per path (per time step when ``time_axis``)."""
        return sum(op.macs(dim) for op in self.ops)

    def text(self, dim: int) -> str:
        """The routine as ``sigcodegen plan`` lists it: every op with its shape for ``dim`` and
        its multiply-adds per path."""
        axis = "(T, " if self.time_axis else "("
        lines = [
            f"routine {self.name}({', '.join(v.name for v in self.params)}) "
            f"-> ({', '.join(v.name for v in self.results)})",
            f"  {self.doc}",
        ]
        for stage in self.stages:
            lines.append(f"  # {stage.title}")
            for op in stage.ops:
                shape = f"{axis}{dim ** op.out.degree}, paths)"
                lines.append(f"    {str(op):<28} {shape:<22} {op.macs(dim):>9,} {op.kind}")
        macs = self.macs(dim)
        lines.append(f"  total {macs:,} multiply-adds = {2 * macs:,} FLOP {self.unit}")
        return "\n".join(lines)


#: A parameter: (name, value). Values are ints, floats or strings (all printable literals).
Param = tuple[str, "int | float | str"]


def _params_text(params) -> str:
    return ", ".join(f"{k}={v}" for k, v in params)


@dataclass(frozen=True)
class Schedule:
    """How one strategy drives the routines over a path of T = L-1 increments.

    ``params`` are the constants the emitted drivers use (chunk and block rules), the defaults
    every target shares; ``overrides`` replace some of them for one target,
    ``((target, ((name, value), ...)), ...)``, a value None meaning the target does not use
    that parameter. ``summary`` says in one line what runs.
    """

    strategy: str
    summary: str
    routines: tuple[str, ...]
    params: tuple[Param, ...] = ()
    overrides: tuple[tuple[str, tuple[Param, ...]], ...] = ()

    def params_for(self, target: str | None = None) -> tuple[Param, ...]:
        """The parameters in force for ``target`` (None: the defaults)."""
        merged = dict(self.params)
        for name, value in dict(self.overrides).get(target, ()):
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = value
        return tuple(merged.items())

    def param(self, name: str, target: str | None = None):
        """One parameter in force for ``target`` (None: the default)."""
        return dict(self.params_for(target))[name]

    def text(self, target: str | None = None, width: int = 96) -> str:
        """One entry of the plan's strategy list: the summary and the parameters, the defaults
        and every target's overrides (``target`` None) or those in force for ``target``."""
        params = _params_text(self.params_for(target))
        text = self.summary + (f" [{params}]" if params else "")
        lines = textwrap.wrap(text, width, initial_indent=f"  {self.strategy:<10} ",
                              subsequent_indent=" " * 13)
        if target is None and self.overrides:
            parts = []
            for name, changes in self.overrides:
                unused = [k for k, v in changes if v is None]
                used = [(k, v) for k, v in changes if v is not None]
                parts.append(f"{name}: " + ", ".join(
                    ([_params_text(used)] if used else []) + [f"{k} not used" for k in unused]))
            lines += textwrap.wrap("overrides: " + "; ".join(parts), width,
                                   initial_indent=" " * 13, subsequent_indent=" " * 13)
        return "\n".join(lines)


@dataclass(frozen=True)
class TargetParams:
    """What one target's module runs and the plan-wide constants it is emitted with (for
    instance the reversal tolerance of the backward pass, a register budget): every constant
    that decides what runs, besides the schedules' parameters."""

    target: str
    strategies: tuple[str, ...]
    params: tuple[Param, ...] = ()

    def __post_init__(self):
        names = [name for name, _ in self.params]
        assert len(names) == len(set(names)), f"{self.target}: a parameter named twice: {names}"

    def param(self, name: str):
        return dict(self.params)[name]

    def text(self, width: int = 96) -> str:
        params = _params_text(self.params)
        text = f"runs {', '.join(self.strategies)}" + (f"; {params}" if params else "")
        return "\n".join(textwrap.wrap(text, width, initial_indent=f"  {self.target:<10} ",
                                       subsequent_indent=" " * 13))


@dataclass(frozen=True)
class DenseBlock:
    """Rows of a projection taken as one small dense lower-unitriangular matrix-vector product:
    output ``rows[i]`` = log[columns[i]] + sum_{j < i} lower[i (i - 1) / 2 + j] log[columns[j]]
    (the bracket map's rows of one letter content, whose words only rearrange each other)."""

    rows: tuple[int, ...]
    columns: tuple[int, ...]
    #: the strictly lower triangle, row by row, zeros included (integers)
    lower: tuple[int, ...]


@dataclass(frozen=True)
class ProjectionSegment:
    """Output rows ``first .. first + rows - 1`` of a projection (one level of the basis) and
    how the c target applies them: ``code`` (straight-line, one term per nonzero: ``terms``
    per row, (column of the logarithm, integer coefficient) pairs), ``dense`` (``blocks``) or
    ``table`` (the run-time tables' compressed rows)."""

    level: int
    first: int
    rows: int
    nonzeros: int
    how: str
    terms: tuple[tuple[tuple[int, int], ...], ...] = ()
    blocks: tuple[DenseBlock, ...] = ()

    def __post_init__(self):
        assert self.how in ("code", "dense", "table"), self.how
        assert (len(self.terms) == self.rows) == (self.how == "code")
        assert bool(self.blocks) == (self.how == "dense")

    @property
    def coefficients(self) -> int:
        """Multiply-adds per path the segment runs: its nonzeros, or its blocks' triangles."""
        if self.how != "dense":
            return self.nonzeros
        return sum(len(b.rows) + len(b.lower) for b in self.blocks)

    def text(self) -> str:
        rows = f"rows {self.first:,}..{self.first + self.rows - 1:,}"
        what = {"code": f"straight-line code, {self.nonzeros:,} terms",
                "table": f"the run-time tables, {self.nonzeros:,} nonzeros"}.get(self.how)
        if what is None:
            largest = max(len(b.rows) for b in self.blocks)
            what = (f"{len(self.blocks):,} dense blocks (up to {largest} x {largest}), "
                    f"{self.coefficients:,} multiply-adds for {self.nonzeros:,} nonzeros")
        return f"level {self.level:<3} {rows:<20} {what}"


@dataclass(frozen=True)
class Projection:
    """How the c target applies one log-signature basis (``mode`` words or brackets) to the
    tensor logarithm: ``outputs`` values per path, level by level in ``segments``. ``code`` is
    the basis number its entry points take (``basis`` argument)."""

    mode: str
    code: int
    outputs: int
    segments: tuple[ProjectionSegment, ...]

    def text(self) -> str:
        lines = [f"  {self.mode:<9} {self.outputs:,} values (basis {self.code})"]
        return "\n".join(lines + [f"    {s.text()}" for s in self.segments])


@dataclass(frozen=True)
class Plan:
    """Everything an emitter needs for one (kind, dim, depth).

    ``targets`` hold each target's strategies and constants (:class:`TargetParams`);
    ``glossary`` says in one line what each parameter means, ``(name, text)`` with names
    ``strategy.param`` for the schedules' and plain for the targets' (printed with the plan).
    """

    kind: str
    dim: int
    depth: int
    level_sizes: tuple[int, ...]
    routines: tuple[Routine, ...]
    schedules: tuple[Schedule, ...]
    targets: tuple[TargetParams, ...] = ()
    glossary: tuple[tuple[str, str], ...] = ()
    #: lines the kind adds to the printed plan (the log-signature's projections)
    notes: tuple[str, ...] = ()
    #: the log-signature's bases as the c target applies them (:class:`Projection`)
    projections: tuple[Projection, ...] = ()

    @property
    def siglen(self) -> int:
        return sum(self.level_sizes)

    @property
    def strategies(self) -> tuple[str, ...]:
        return tuple(s.strategy for s in self.schedules)

    def routine(self, name: str) -> Routine:
        for routine in self.routines:
            if routine.name == name:
                return routine
        raise KeyError(name)

    def schedule(self, strategy: str) -> Schedule:
        for schedule in self.schedules:
            if schedule.strategy == strategy:
                return schedule
        raise KeyError(strategy)

    def projection(self, mode: str) -> Projection:
        """The c target's :class:`Projection` of log-signature basis ``mode``."""
        for projection in self.projections:
            if projection.mode == mode:
                return projection
        raise KeyError(mode)

    def target_params(self, target: str) -> TargetParams:
        """The strategies and constants of ``target``'s module."""
        for params in self.targets:
            if params.target == target:
                return params
        raise KeyError(target)

    def schedules_for(self, target: str | None = None) -> tuple[Schedule, ...]:
        """The schedules ``target`` runs (None: every schedule)."""
        if target is None:
            return self.schedules
        return tuple(self.schedule(s) for s in self.target_params(target).strategies)

    def summary(self) -> str:
        """One line for provenance headers."""
        sizes = " + ".join(str(s) for s in self.level_sizes)
        costs = ", ".join(f"{r.name} {r.macs(self.dim):,}" for r in self.routines)
        return f"siglen {self.siglen} ({sizes}); multiply-adds per path: {costs}"

    def text(self, target: str | None = None) -> str:
        """The whole plan: sizes, every routine op by op, the strategies and the targets with
        their parameters (``target`` None: the defaults and each target's overrides; else the
        parameters in force for ``target``). ``sigcodegen plan`` prints this."""
        sizes = "  ".join(f"{k}:{s}" for k, s in enumerate(self.level_sizes, 1))
        lines = [
            f"{self.kind} plan: dim={self.dim}, depth={self.depth}",
            f"levels {sizes}   siglen {self.siglen}",
            "shapes are (coefficients, paths) per time step; (T, ...) over a block of T steps",
            "",
        ]
        for routine in self.routines:
            lines += [routine.text(self.dim), ""]
        if target is None:
            lines.append("strategies [default parameters], then each target's overrides")
        else:
            lines.append(f"strategies of target {target} [the parameters in force]")
        lines += [schedule.text(target) for schedule in self.schedules_for(target)]
        targets = self.targets if target is None else (self.target_params(target),)
        if targets:
            lines += ["", "targets: the strategies each runs, and its constants" if target is None
                      else f"target {target}: the strategies it runs, and its constants"]
            lines += [t.text() for t in targets]
        if self.notes:
            lines += ["", *self.notes]
        if self.projections and target in (None, "c"):
            lines += ["", "the c target's projections, level by level"]
            lines += [p.text() for p in self.projections]
        names = {f"{s.strategy}.{k}" for s in self.schedules_for(target)
                 for k, _ in s.params_for(target)}
        names |= {f"{s.strategy}.{k}" for s in self.schedules_for(target) if target is None
                  for _, changes in s.overrides for k, _ in changes}
        names |= {k for t in targets for k, _ in t.params}
        glossary = [(k, doc) for k, doc in self.glossary if k in names]
        if glossary:
            lines += ["", "parameters"]
            width = max(len(k) for k, _ in glossary)
            for k, doc in glossary:
                lines += textwrap.wrap(doc, 96, initial_indent=f"  {k:<{width}}  ",
                                       subsequent_indent=" " * (width + 4))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()
