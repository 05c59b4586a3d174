"""Shape buckets and a bounded store of compiled functions, for the jit targets (jax, keras).

XLA compiles a function once per input shape, and keeps what it compiled. A loop over series of
many lengths (or batch sizes) would compile again for each one and grow without limit. Two
facts bound that:

- Repeating a path's last point adds zero increments, which leave its signature unchanged (and
  its stream up to the real rows). So a call on a concrete array runs with its increments padded
  to a *bucket*, the next size of a geometric grid (``bucket`` in the emitted module, copied from
  ``sigcodegen/plan/rules.py``, with the module's ``BUCKET_*`` constants from the plan; see
  ``sigcodegen plan --target jax``), and the stream is sliced back. The batch is padded the same
  way with copies of its last path, whose results are dropped; the tensor-algebra routines
  (combine, log, exp) pad their batch likewise.
- :data:`COMPILED` keeps the compiled executables of those calls, the least recently used
  dropped past ``config.max_compiled()``.

The padding is a gather (``Framework.take``), so autodiff (torch's, or jax's) adds the padded
points' gradients into the last real point, as the chain rule says; :meth:`Padding.fold` does
the same for numpy gradients. Inside ``jax.jit`` or ``jax.grad`` (tracers) nothing is padded:
the caller's own trace fixes the shape. The ``c`` target compiles nothing per shape and is never
padded.
"""

from __future__ import annotations

import collections
import functools
import math
import threading

import numpy as np

from .. import config
from .frameworks import Framework, keras_backend

__all__ = ["helps", "repeat_last", "pad_paths", "pad_rows", "Padding", "CompiledFunctions",
           "COMPILED"]


def helps(framework: Framework, x, target: str) -> bool:
    """Whether a call of ``target`` on ``x`` compiles per shape, so that buckets bound it: the
    jax target on concrete numpy, jax or torch arrays; the keras target on Keras' jax backend
    (on tensorflow and torch it runs eagerly, op by op, and compiles nothing). False when
    ``SIGCODEGEN_BUCKETS=0``."""
    if not config.shape_buckets():
        return False
    if target == "keras" and keras_backend() != "jax":
        return False
    if framework.name == "jax":
        import jax

        return not isinstance(x, jax.core.Tracer)
    return framework.name in ("numpy", "torch") and target in ("jax", "keras")


def repeat_last(n: int, size: int) -> np.ndarray:
    """0, 1, ..., n-1, then n-1 up to ``size`` entries: the gather that pads by the last entry."""
    return np.minimum(np.arange(size), n - 1)


def _steps_bucket(module, steps: int) -> int:
    return module.bucket(steps, module.BUCKET_MIN_STEPS, module.BUCKET_STEPS_PER_OCTAVE)


def _paths_bucket(module, n: int) -> int:
    return module.bucket(n, module.BUCKET_MIN_PATHS, module.BUCKET_PATHS_PER_OCTAVE)


class Padding:
    """How one call was padded: ``lead`` (the caller's leading axes), ``n`` real rows of
    ``rows``, and for paths ``length`` real points of ``padded_length``."""

    def __init__(self, lead: tuple, n: int, rows: int, length: int | None = None,
                 padded_length: int | None = None):
        self.lead, self.n, self.rows = lead, n, rows
        self.length, self.padded_length = length, padded_length

    def undo(self, out, stream: bool = False):
        """The rows of the real inputs, their real stream rows, in the caller's shape."""
        if self.rows != self.n:
            out = out[:self.n]
        if stream and self.padded_length != self.length:
            out = out[:, :self.length - 1]
        return out.reshape(*self.lead, *out.shape[1:])

    def pad_cotangent(self, grad: np.ndarray, stream: bool) -> np.ndarray:
        """A numpy gradient with respect to the signature, zero at the padded rows and steps."""
        grad = grad.reshape(self.n, *grad.shape[len(self.lead):])
        widths = [(0, self.rows - self.n)] + [(0, 0)] * (grad.ndim - 1)
        if stream:
            widths[1] = (0, self.padded_length - self.length)
        return np.pad(grad, widths) if any(w != (0, 0) for w in widths) else grad

    def fold(self, grad: np.ndarray) -> np.ndarray:
        """A numpy gradient with respect to the padded paths as one with respect to the real
        ones: the padded points' gradients summed into the last real point."""
        grad = grad[:self.n]
        real = grad[:, :self.length].copy()
        real[:, -1] += grad[:, self.length:].sum(axis=1)
        return real.reshape(*self.lead, *real.shape[1:])


def pad_paths(path, framework: Framework, module) -> tuple[object, Padding | None]:
    """(paths ``(rows, padded_length, d)`` at the module's buckets, the :class:`Padding`), or
    (``path``, None) when there is nothing to pad from (no paths, or one point each)."""
    *lead, length, dim = framework.shape(path)
    n = math.prod(lead)
    if n == 0 or length < 2:
        return path, None
    rows = _paths_bucket(module, n)
    padded_length = _steps_bucket(module, length - 1) + 1
    x = path.reshape(n, length, dim)
    if rows != n:
        x = framework.take(x, repeat_last(n, rows), axis=0)
    if padded_length != length:
        x = framework.take(x, repeat_last(length, padded_length), axis=1)
    return x, Padding(tuple(lead), n, rows, length, padded_length)


#: Padding a batch of flat elements to its bucket copies (rows - n) x width values; above this
#: many bytes of copies (large signatures, e.g. d = 1000 at depth 2: 8 MB per row) the routine
#: runs at the exact shape instead (one compile per batch size; the work is then the larger
#: cost), so that the log step holds no more than the caller's rows.
MAX_PADDING_BYTES = 8 * 2**20


def rows_worth_padding(arrays, framework: Framework, module) -> bool:
    """Whether :func:`pad_rows` should pad these flat elements: False when the copies it would
    add exceed ``MAX_PADDING_BYTES``."""
    lead = tuple(np.broadcast_shapes(*(framework.shape(a)[:-1] for a in arrays)))
    n = math.prod(lead)
    if n == 0:
        return True
    extra = _paths_bucket(module, n) - n
    width = framework.shape(arrays[0])[-1]
    return extra * width * 8 * len(arrays) <= MAX_PADDING_BYTES


def pad_rows(arrays, framework: Framework, module) -> tuple[list, Padding | None]:
    """(flat elements ``(rows, width)`` at the module's batch bucket, leading axes broadcast
    together, the :class:`Padding`), or (the arrays, None) for an empty batch."""
    lead = tuple(np.broadcast_shapes(*(framework.shape(a)[:-1] for a in arrays)))
    n = math.prod(lead)
    if n == 0:
        return list(arrays), None
    rows = _paths_bucket(module, n)
    out = []
    for a in arrays:
        width = framework.shape(a)[-1]
        if framework.shape(a)[:-1] != lead:
            a = framework.xp.broadcast_to(a, (*lead, width))
        a = a.reshape(n, width)
        if rows != n:
            a = framework.take(a, repeat_last(n, rows), axis=0)
        out.append(a)
    return out, Padding(lead, n, rows)


class CompiledFunctions:
    """Compiled executables of jax functions, one per (function, static options, argument
    shapes, dtypes and shardings, x64), the least recently used dropped past
    ``config.max_compiled()`` (which frees it). ``compilations`` counts the compiles."""

    def __init__(self):
        self._entries: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()
        self.compilations = 0

    def __call__(self, function, *args, **static):
        """``function(*args, **static)``, compiled for these arguments once."""
        import jax

        leaves, tree = jax.tree_util.tree_flatten(args)
        key = (function, tuple(sorted(static.items())), tree, jax.config.jax_enable_x64,
               tuple((tuple(x.shape), str(x.dtype), getattr(x, "sharding", None))
                     for x in leaves))
        with self._lock:
            executable = self._entries.get(key)
            if executable is not None:
                self._entries.move_to_end(key)
        if executable is None:
            executable = jax.jit(functools.partial(function, **static)).lower(*args).compile()
            with self._lock:
                self.compilations += 1
                self._entries[key] = executable
                while len(self._entries) > config.max_compiled():
                    self._entries.popitem(last=False)
        return executable(*args)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


#: The process's store (``sigcodegen.clear_caches()`` empties it).
COMPILED = CompiledFunctions()
