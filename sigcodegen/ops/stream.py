"""Signatures of many windows of one long path, each in a few Chen products: ``SignatureStream``.

Two stores, chosen per path:

- **prefix**: the signature S(t) of every prefix ``path[..., :t+1, :]`` (one stream pass). A
  window ``path[..., s:e, :]`` is ``S(s)^-1 ⊗ S(e-1)`` (Chen's identity): one inverse (a signed
  permutation) and one product per window. Its coefficients are differences of products of
  prefix coefficients, so rounding in the prefixes, about ``L · eps · N`` with N the largest
  prefix coefficient, is multiplied by up to N again: the absolute error of a window coefficient
  is bounded by about ``(depth + 1) · L · eps · N²``, whatever the window's own size.
- **dyadic**: the signatures of the blocks of 2^j increments starting at multiples of 2^j, for
  every j (about 2L signatures). A window is the Chen product of at most ``2 · log2(L)``
  blocks, taken left to right; nothing cancels that a direct computation would not, so a
  window's error is that of computing it directly up to a factor of about log2(L): a relative
  error of order ``depth · log2(L) · eps`` on the terms the direct computation sums.

Rule (``method="auto"``): prefix when ``L · eps · N² <= tolerance`` (default 1e-6; eps of the
path's dtype), else dyadic. Long float32 paths and large unnormalised paths therefore take the
dyadic store.
"""

from __future__ import annotations

import numpy as np

from ..runtime.frameworks import check_path_shape
from .logsignature import check_mode, signature_to_logsignature
from .signature import signature
from .tensor_algebra import combine, prepare, signature_inverse

__all__ = ["SignatureStream", "STREAM_METHODS"]

STREAM_METHODS = ("auto", "prefix", "dyadic")


class SignatureStream:
    """Built once per path (any leading batch axes), answers window queries.

    Args:
        path: ``(..., L, d)`` array of any supported framework (jax, torch with autograd, ...).
        depth: truncation depth.
        method: ``"auto"`` (the rule in the module docstring), ``"prefix"`` or ``"dyadic"``.
            ``"auto"`` reads the prefix signatures' size, so inside ``jax.jit`` pass one of the
            other two.
        tolerance: the bound of the rule for ``"auto"``.
        target: as for :func:`signature` (runs the stream pass and the products).

    Example:
        >>> import numpy as np, sigcodegen as sc
        >>> x = np.cumsum(np.random.default_rng(0).standard_normal((2, 50, 3)), axis=1)
        >>> stream = sc.SignatureStream(x, 3)
        >>> bool(np.allclose(stream.signature(10, 30), sc.signature(x[:, 10:30], 3)))
        True
        >>> stream.signature(np.array([0, 5, 7]), np.array([20, 45, 8])).shape  # three windows
        (2, 3, 39)
        >>> stream.logsignature(0, 50, mode="brackets").shape
        (2, 14)
    """

    def __init__(self, path, depth, *, method="auto", tolerance=1e-6, target=None):
        path, framework = prepare(path, "SignatureStream")
        self.length, self.dim = check_path_shape(tuple(path.shape), depth, "SignatureStream")
        if method not in STREAM_METHODS:
            raise ValueError(f"SignatureStream: method must be one of {list(STREAM_METHODS)}, "
                             f"got {method!r}")
        self.depth, self.target, self._framework = int(depth), target, framework
        self._batch = tuple(path.shape[:-2])
        self._states = None
        if method in ("auto", "prefix"):
            prefix = signature(path, depth, stream=True, target=target)
            identity = framework.zeros_like(signature(path[..., :1, :], depth,
                                                      target=target))[..., None, :]
            self._states = framework.concat([identity, prefix], -2)  # [t]: points 0..t
        #: ``L · eps · N²`` of the rule (None when the dyadic store was asked for directly)
        self.prefix_bound = self._prefix_bound() if method == "auto" else None
        if method == "auto":
            method = "prefix" if self.prefix_bound <= tolerance else "dyadic"
        self.method = method
        if method == "dyadic":
            self._states = None
            self._build_dyadic(path)

    def _prefix_bound(self) -> float:
        """``L · eps · N²``, N the largest prefix coefficient (or 1): the rule's quantity."""
        try:
            values = self._framework.to_numpy(self._states)
        except Exception as error:  # a tracer: values are not known yet
            raise ValueError("SignatureStream: method='auto' reads the prefix signatures; inside "
                             "a traced function pass method='prefix' or 'dyadic'") from error
        largest = max(1.0, float(np.nanmax(np.abs(values), initial=0.0)))
        if not np.isfinite(values).all():
            largest = float("inf")
        return self.length * float(np.finfo(values.dtype).eps) * largest**2

    # ---------------------------------------------------------------- dyadic store

    def _build_dyadic(self, path) -> None:
        framework, steps = self._framework, self.length - 1
        pieces, self._offsets = [], []
        if steps > 0:
            pairs = framework.concat([framework.expand_dims(path[..., :-1, :], -2),
                                      framework.expand_dims(path[..., 1:, :], -2)], -2)
            level = signature(pairs, self.depth, target=self.target)  # (..., steps, siglen)
        identity = framework.zeros_like(signature(path[..., :1, :], self.depth,
                                                  target=self.target))[..., None, :]
        pieces.append(identity)
        offset = 1
        while steps > 0:
            self._offsets.append(offset)
            pieces.append(level)
            offset += steps
            half = steps // 2
            if half == 0:
                break
            left = framework.take(level, np.arange(0, 2 * half, 2), axis=-2)
            right = framework.take(level, np.arange(1, 2 * half, 2), axis=-2)
            level = combine(left, right, self.dim, self.depth, framework, self.target)
            steps = half
        self._cache = framework.concat(pieces, -2)

    def _blocks(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """(windows, K) cache rows whose product is each window (0 = the identity): greedy
        largest aligned blocks over the increments starts..ends-2."""
        position, stop = starts.astype(np.int64), (ends - 1).astype(np.int64)
        top = len(self._offsets) - 1
        offsets = np.asarray(self._offsets, dtype=np.int64)
        rows = []
        while (position < stop).any():
            active = position < stop
            span = np.maximum(stop - position, 1)
            fits = np.floor(np.log2(span)).astype(np.int64)
            lowest_bit = np.maximum(position & -position, 1)
            aligned = np.where(position == 0, top, np.log2(lowest_bit).astype(np.int64))
            j = np.minimum(np.minimum(fits, aligned), top)
            rows.append(np.where(active, offsets[j] + (position >> j), 0))
            position = np.where(active, position + (1 << j), position)
        if not rows:
            return np.zeros((len(starts), 1), dtype=np.int64)
        return np.stack(rows, axis=-1)

    # ---------------------------------------------------------------- queries

    def _windows(self, start, end):
        scalar = np.ndim(start) == 0 and np.ndim(end) == 0
        length = self.length
        if scalar:
            start, end, _ = slice(start, end).indices(length)
        start = np.atleast_1d(np.asarray(start if start is not None else 0))
        end = np.atleast_1d(np.asarray(end if end is not None else length))
        if start.dtype.kind not in "iu" or end.dtype.kind not in "iu":
            raise ValueError(f"SignatureStream: start and end must be integers, got "
                             f"{start.dtype} and {end.dtype}")
        start, end = np.broadcast_arrays(start, end)
        if start.ndim != 1:
            raise ValueError("SignatureStream: start and end are integers or 1-D arrays")
        bad = (start < 0) | (end > length) | (end - start < 1)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"SignatureStream: window [{start[i]}, {end[i]}) must hold at "
                             f"least one of the path's {length} points (0 <= start < end <= L)")
        return start, end, scalar

    def signature(self, start=None, end=None):
        """The signature of ``path[..., start:end, :]``: ``(..., siglen)`` for integers (slice
        rules, negatives included), ``(..., W, siglen)`` for 1-D integer arrays of W windows."""
        start, end, scalar = self._windows(start, end)
        framework = self._framework
        if self.method == "prefix":
            first = signature_inverse(framework.take(self._states, start, axis=-2), self.dim,
                                      self.depth)
            last = framework.take(self._states, end - 1, axis=-2)
            out = combine(first, last, self.dim, self.depth, framework, self.target)
        else:
            rows = self._blocks(start, end)
            out = framework.take(self._cache, rows[:, 0], axis=-2)
            for k in range(1, rows.shape[1]):
                out = combine(out, framework.take(self._cache, rows[:, k], axis=-2), self.dim,
                              self.depth, framework, self.target)
        return out[..., 0, :] if scalar else out

    def logsignature(self, start=None, end=None, mode="words"):
        """The log-signature of ``path[..., start:end, :]`` in ``mode`` (see
        :func:`logsignature`); shapes as :meth:`signature`."""
        check_mode(mode)
        return signature_to_logsignature(self.signature(start, end), self.dim, self.depth, mode,
                                         target=self.target)
