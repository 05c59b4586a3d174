"""The path options of ``signature()`` — basepoint, lengths, inverse, initial — as one
prepare / finish pair around the kernel call: ``prepare`` changes the path before it (ragged
lengths, a prepended basepoint), ``finish`` changes the signature after it (the inverse, a
signature to continue from)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..runtime.frameworks import Framework, framework_of
from .tensor_algebra import check_flat, combine, signature_inverse

__all__ = ["PathOptions", "NO_OPTIONS"]


@dataclass(frozen=True)
class PathOptions:
    """``basepoint``: None, True (the origin) or a point ``(d,)`` / ``(..., d)`` to prepend;
    ``lengths``: integers ``(...)`` in 1..L, the points each path uses; ``inverse``: return the
    reversed path's signature; ``initial``: a signature ``(..., siglen)`` to continue from."""

    basepoint: object = None
    inverse: bool = False
    initial: object = None
    lengths: object = None

    @classmethod
    def of(cls, basepoint=None, inverse=False, initial=None, lengths=None) -> "PathOptions":
        """The options of one call (the shared :data:`NO_OPTIONS` when it gives none)."""
        if basepoint is None and not inverse and initial is None and lengths is None:
            return NO_OPTIONS
        return cls(basepoint, inverse, initial, lengths)

    @property
    def active(self) -> bool:
        """Whether any option changes the path or the signature."""
        return (self.basepoint is not None or self.lengths is not None or bool(self.inverse)
                or self.initial is not None)

    def prepare(self, path, framework: Framework):
        """The path the kernel runs on: points past a path's length repeat its last point
        (zero increments, exactly), then the basepoint in front."""
        if self.lengths is not None:
            path = self._cut(path, framework)
        if self.basepoint is not None:
            if self.basepoint is True:
                start = framework.zeros_like(path[..., :1, :])
            else:
                point = self.basepoint if framework_of(self.basepoint) is framework else \
                    framework.const(np.asarray(self.basepoint, dtype=np.float64), path)
                if tuple(point.shape)[-1:] != (path.shape[-1],):
                    raise ValueError(f"signature: basepoint must be True or a point of dimension "
                                     f"{path.shape[-1]}, got shape {tuple(point.shape)}")
                start = framework.expand_dims(point, -2) + framework.zeros_like(path[..., :1, :])
            path = framework.concat([start, path], -2)
        return path

    def _cut(self, path, framework: Framework):
        length = path.shape[-2]
        given = framework_of(self.lengths).to_numpy(self.lengths)
        if given.dtype.kind not in "iu" or given.shape != tuple(path.shape[:-2]):
            raise ValueError(f"signature: lengths must be integers of shape "
                             f"{tuple(path.shape[:-2])} (one per path), got {given.dtype} "
                             f"{given.shape}")
        if given.size and (given.min() < 1 or given.max() > length):
            raise ValueError(f"signature: lengths must lie in 1..L={length}, got values from "
                             f"{given.min()} to {given.max()}")
        index = np.minimum(np.arange(length), (given[..., None] - 1)).astype(np.int64)
        gather = index[..., None] + np.zeros(path.shape[-1], dtype=np.int64)
        return framework.take_along_axis(path, gather, axis=-2)

    def finish(self, sig, framework: Framework, dim: int, depth: int, stream: bool, target=None):
        """The signature asked for: inverted, then continued from ``initial`` (Chen)."""
        if self.inverse:
            sig = signature_inverse(sig, dim, depth)
        if self.initial is not None:
            start = self.initial if framework_of(self.initial) is framework else \
                framework.const(np.asarray(self.initial, dtype=np.float64), sig)
            check_flat(start, dim, depth, "signature", "initial signature")
            if stream:
                start = framework.expand_dims(start, -2)
            start = start + framework.zeros_like(sig)
            pair = (sig, start) if self.inverse else (start, sig)
            sig = combine(*pair, dim, depth, framework, target)
        return sig


#: The options of a call that gives none (the common case: no object built per call).
NO_OPTIONS = PathOptions()
