"""KernelSpec: what to compile, validated once with errors that say what to change."""

from __future__ import annotations

import dataclasses
import math
import operator
from dataclasses import dataclass

__all__ = [
    "KernelSpec",
    "KINDS",
    "LOGSIGNATURE_MODES",
    "TARGETS",
    "DTYPES",
    "STRATEGIES",
    "MAX_SIGLEN",
    "MAX_DEPTH",
    "check_dim_depth",
    "check_choice",
    "check_allocation",
    "SizeLimitError",
]

KINDS = ("signature", "logsignature", "sigkernel", "coefficients")
#: Kinds that are designed but not built yet: asking for one raises NotImplementedError.
PLANNED_KINDS: dict[str, str] = {}
#: Log-signature bases (kind="logsignature"): expand, the tensor logarithm (siglen values);
#: words, its coefficients at the Lyndon words; brackets, coordinates in the Lyndon bracket
#: basis (iisignature's logsig). One module holds every mode: the mode is a call argument.
LOGSIGNATURE_MODES = ("expand", "words", "brackets")
#: The basis numbers the c target's log-signature entry points take (their ``basis`` argument)
#: for the modes with a projection: 0 there means tables of no basis the module knows.
LOGSIGNATURE_BASES = {"words": 1, "brackets": 2}

TARGETS = ("jax", "keras", "c", "triton")
#: The file suffix of each target's emitted source.
SOURCE_SUFFIX = {"jax": ".py", "keras": ".py", "c": ".c", "triton": ".py"}
PLANNED_TARGETS: dict[str, str] = {}
#: The targets that emit signature-kernel modules (kind="sigkernel"); asking another target for
#: one raises NotImplementedError.
SIGKERNEL_TARGETS = ("c", "jax", "triton")
#: Signature kernels: the largest dyadic order per path (2**λ pieces per increment), and the most
#: grid steps per side ((L - 1)·2**λ: the solvers keep rows of that many values per pair).
SIGKERNEL_MAX_DYADIC_ORDER = 16
SIGKERNEL_MAX_GRID_ROW = 2**24

DTYPES = ("float32", "float64")

#: horner    -- scan over time, one fused multiply-exp (Horner) step per increment
#: chunked   -- time cut into chunks run side by side as extra batch, joined by a Chen tree
#: levelwise -- keras_sig's gpu_optimized method: per degree over the whole sequence (cumsum),
#:              in time blocks of bounded size joined by Chen's identity
STRATEGIES = ("horner", "chunked", "levelwise")

#: Largest signature (coefficients per path, no scalar term) a spec may describe: the emitted
#: code indexes a path's coefficients with 32-bit ints (C loop bounds, triton offsets). It is
#: not the memory limit: what a call allocates is judged by :func:`check_allocation` against
#: ``sigcodegen.config.max_bytes()`` (``SIGCODEGEN_MAX_BYTES``, ``sigcodegen.set_max_bytes``).
MAX_SIGLEN = 2**31 - 1
#: Largest depth: the emitted code grows as depth**2 statements.
MAX_DEPTH = 64


def _as_int(value, name: str, owner: str) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be an integer, got the bool {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(
            f"{owner}: {name} must be an integer, got {type(value).__name__} {value!r}"
        ) from None


def _siglen_or_none(dim: int, depth: int) -> int | None:
    """Exact siglen, or None once it is certainly above MAX_SIGLEN (never builds huge ints)."""
    total, power = 0, 1
    for _ in range(depth):
        power *= dim
        total += power
        if total > MAX_SIGLEN:
            return None
    return total


def _describe_size(dim: int, depth: int) -> str:
    """'about 1.2e+32 coefficients per path (4.9e+32 bytes in float32)' without huge ints."""
    log10 = depth * math.log10(dim) + math.log10(dim / (dim - 1))  # dim >= 2 here
    return (
        f"about {_sci(log10)} coefficients per path "
        f"({_sci(log10 + math.log10(4))} bytes per path in float32)"
    )


def _sci(log10: float) -> str:
    return f"{10 ** (log10 % 1):.1f}e+{int(log10 // 1):02d}"


def check_dim_depth(dim, depth, owner: str = "signature", limits: bool = True) -> tuple[int, int]:
    """Validate a (dim, depth) pair; return them as ints or raise TypeError/ValueError.
    ``limits=False`` checks only that both are integers >= 1 (for counting functions, which
    allocate nothing and never refuse a size)."""
    if type(dim) is int and type(depth) is int and (dim, depth) in _VALID:
        return dim, depth  # the common case: a valid pair of ints, checked before
    if not limits:
        return _check_positive(dim, depth, owner)
    checked = _check_dim_depth(dim, depth, owner)
    if len(_VALID) < 4096:
        _VALID.add(checked)
    return checked


#: (dim, depth) pairs of ints already found valid (a plain set: torch.compile traces through it)
_VALID: set[tuple[int, int]] = set()


class SizeLimitError(ValueError, MemoryError):
    """A call would allocate more than ``sigcodegen.config.max_bytes()``."""


def _mib(value: int) -> str:
    return f"{value / 2**20:,.1f} MiB"


def check_allocation(owner: str, what, rows: int, siglen: int, itemsize: int,
                     scratch: int = 0, limit: int | None = None) -> int:
    """Refuse a call whose output (``rows`` × ``siglen`` values of ``itemsize`` bytes) plus
    ``scratch`` bytes of workspace exceed the memory limit (``limit``, by default
    ``sigcodegen.config.max_bytes()``); return the bytes it will allocate. ``what`` names the
    spec in the message: a string, or a function that makes it (only a refusal formats it)."""
    if limit is None:
        from .config import max_bytes  # a sibling leaf: imported here (0.8 us a call)

        limit = max_bytes()
    total = rows * siglen * itemsize + scratch
    if total > limit:
        what = what() if callable(what) else what
        raise SizeLimitError(
            f"{owner}: {what} would allocate {_mib(total)} ({rows:,} rows x {siglen:,} "
            f"coefficients x {itemsize} bytes = {_mib(rows * siglen * itemsize)} of output, "
            f"plus {_mib(scratch)} of workspace), above the limit of {_mib(limit)} "
            f"(sigcodegen.config.max_bytes()); raise it with SIGCODEGEN_MAX_BYTES=<bytes> or "
            f"sigcodegen.set_max_bytes(<bytes>), or use a smaller batch, depth or dim")
    return total


def _check_positive(dim, depth, owner: str) -> tuple[int, int]:
    dim = _as_int(dim, "dim", owner)
    depth = _as_int(depth, "depth", owner)
    if dim < 1:
        raise ValueError(f"{owner}: dim must be >= 1 (the path's last axis), got {dim}")
    if depth < 1:
        raise ValueError(f"{owner}: depth must be >= 1, got {depth}")
    return dim, depth


def _check_dim_depth(dim, depth, owner: str) -> tuple[int, int]:
    dim, depth = _check_positive(dim, depth, owner)
    if _siglen_or_none(dim, depth) is None:
        raise ValueError(
            f"{owner}: dim={dim}, depth={depth} needs {_describe_size(dim, depth)}, above the "
            f"limit MAX_SIGLEN=2**31-1 coefficients per path that the emitted code can index "
            f"(sigcodegen.spec.MAX_SIGLEN); lower depth or dim"
        )
    if depth > MAX_DEPTH:
        raise ValueError(
            f"{owner}: depth={depth} is above the limit MAX_DEPTH={MAX_DEPTH} "
            f"(sigcodegen.spec.MAX_DEPTH); ask for a smaller depth"
        )
    return dim, depth


@dataclass(frozen=True)
class KernelSpec:
    """One kernel to compile.

    ``dim`` and ``depth`` fix the tensor algebra; ``target`` the code generator; ``kind``,
    ``stream``, ``dtype`` and ``strategy`` select what the emitted module computes. For the Python
    targets (jax, keras, triton) one module per (kind, dim, depth, target) holds every strategy,
    stream mode and dtype: see :meth:`module_fields`. Invalid fields raise at construction.

    Example:
        >>> from sigcodegen import KernelSpec
        >>> spec = KernelSpec(dim=5, depth=4, target="c")
        >>> spec.siglen, spec.module_fields()["target"]
        (780, 'c')
        >>> print(spec.replace(target="triton"))
        signature(dim=5, depth=4, target=triton, strategy=horner, stream=False, dtype=float32)
    """

    dim: int
    depth: int | None = None
    kind: str = "signature"
    stream: bool = False
    target: str = "jax"
    dtype: str = "float32"
    strategy: str = "horner"
    #: kind="logsignature" only: the basis (LOGSIGNATURE_MODES; default "words")
    mode: str | None = None

    def __post_init__(self):
        owner = f"KernelSpec(dim={self.dim!r}, depth={self.depth!r})"
        if self.kind == "logsignature":
            if self.mode is None:
                object.__setattr__(self, "mode", "words")
            if self.mode not in LOGSIGNATURE_MODES:
                raise ValueError(f"{owner}: unknown log-signature mode {self.mode!r}; use one "
                                 f"of {', '.join(LOGSIGNATURE_MODES)}")
        elif self.mode is not None:
            raise ValueError(f"{owner}: mode is a field of kind='logsignature' only (the "
                             f"log-signature basis); leave it unset for kind={self.kind!r}")
        if self.kind == "sigkernel":
            self._check_sigkernel()
            return
        if self.kind == "coefficients":
            self._check_coefficients()
            return
        if self.depth is None:
            raise TypeError(f"{owner}: kind={self.kind!r} needs a depth (the truncation level)")
        dim, depth = check_dim_depth(self.dim, self.depth, owner)
        object.__setattr__(self, "dim", dim)
        object.__setattr__(self, "depth", depth)
        for name in _CHOICES:
            check_choice(name, getattr(self, name), owner)
        if not isinstance(self.stream, bool):
            raise TypeError(f"{owner}: stream must be True or False, got {self.stream!r}")

    def _check_sigkernel(self) -> None:
        """kind="sigkernel": the PDE solver of the signature kernel for paths in R^dim. It has
        no depth (the signature is untruncated); the static kernel, its parameters and the
        dyadic orders are arguments of the emitted functions, not of the source."""
        owner = f"KernelSpec(kind='sigkernel', dim={self.dim!r})"
        dim = _as_int(self.dim, "dim", owner)
        if dim < 1:
            raise ValueError(f"{owner}: dim must be >= 1 (the path's last axis), got {dim}")
        object.__setattr__(self, "dim", dim)
        if self.depth is not None:
            raise ValueError(f"{owner}: signature kernels have no depth (the signature is "
                             f"untruncated); leave depth unset, got depth={self.depth!r}")
        for name in _CHOICES:
            check_choice(name, getattr(self, name), owner)
        if self.target not in SIGKERNEL_TARGETS:
            raise NotImplementedError(
                f"{owner}: target={self.target!r} emits no signature-kernel solver yet; use "
                f"target in {SIGKERNEL_TARGETS}")
        if self.stream is not False:
            raise ValueError(f"{owner}: stream must be False (one kernel value per pair)")

    def _check_coefficients(self) -> None:
        """kind="coefficients": the table-driven forward of chosen signature coefficients for
        paths in R^dim. The words (the prefix tree's tables) are arguments, not part of the
        source, so it has no depth; the c target only (jax, torch and numpy without a compiler
        run the same plan as array code in ops)."""
        owner = f"KernelSpec(kind='coefficients', dim={self.dim!r})"
        dim = _as_int(self.dim, "dim", owner)
        if dim < 1:
            raise ValueError(f"{owner}: dim must be >= 1 (the path's last axis), got {dim}")
        object.__setattr__(self, "dim", dim)
        if self.depth is not None:
            raise ValueError(f"{owner}: the words give the lengths; leave depth unset, got "
                             f"depth={self.depth!r}")
        for name in _CHOICES:
            check_choice(name, getattr(self, name), owner)
        if self.target != "c":
            raise NotImplementedError(
                f"{owner}: target={self.target!r} emits no coefficients kernel; use target='c' "
                f"(signature_coefficients runs jax and torch arrays as array code)")

    @property
    def siglen(self) -> int | None:
        """Coefficients per path: dim + dim**2 + ... + dim**depth (no scalar term); None for
        kind="sigkernel"."""
        if self.depth is None:
            return None
        return _siglen_or_none(self.dim, self.depth)

    def module_fields(self) -> dict:
        """The fields that decide the emitted source (and so the cache entry): (kind, dim,
        depth, target) for signatures, (kind, dim, target) for signature kernels (one module
        holds every static kernel, dyadic order, pair layout and both float dtypes)."""
        if self.kind in ("sigkernel", "coefficients"):
            return {"kind": self.kind, "dim": self.dim, "target": self.target}
        return {"kind": self.kind, "dim": self.dim, "depth": self.depth, "target": self.target}

    def replace(self, **changes) -> "KernelSpec":
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    def __str__(self) -> str:
        if self.kind in ("sigkernel", "coefficients"):
            return f"{self.kind}(dim={self.dim}, target={self.target})"
        mode = f"mode={self.mode}, " if self.mode is not None else ""
        return (
            f"{self.kind}(dim={self.dim}, depth={self.depth}, target={self.target}, {mode}"
            f"strategy={self.strategy}, stream={self.stream}, dtype={self.dtype})"
        )


_CHOICES = {
    "kind": (KINDS, PLANNED_KINDS),
    "target": (TARGETS, PLANNED_TARGETS),
    "dtype": (DTYPES, {}),
    "strategy": (STRATEGIES, {}),
}


def check_choice(name: str, value, owner: str = "signature") -> None:
    """Refuse an unknown kind/target/dtype/strategy (ValueError) or a planned but not yet
    built one (NotImplementedError), naming the allowed values."""
    allowed, planned = _CHOICES[name]
    if value in allowed:
        return
    if value in planned:
        raise NotImplementedError(
            f"{owner}: {name}={value!r}: {planned[value]}; use one of {', '.join(allowed)}"
        )
    raise ValueError(f"{owner}: unknown {name} {value!r}; use one of {', '.join(allowed)}")
