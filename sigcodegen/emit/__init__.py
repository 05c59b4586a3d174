"""One emitter per target, all of the same shape (see :class:`Emitter`)."""

from __future__ import annotations

import functools

from ..spec import TARGETS
from .base import Emitter, Provenance
from .c import CEmitter
from .jax import JaxEmitter
from .keras import KerasEmitter
from .triton import TritonEmitter

__all__ = ["Emitter", "Provenance", "emitter_for"]

_EMITTERS = {"jax": JaxEmitter, "keras": KerasEmitter, "c": CEmitter, "triton": TritonEmitter}
assert set(_EMITTERS) == set(TARGETS)


@functools.lru_cache(maxsize=None)
def emitter_for(target: str) -> Emitter:
    return _EMITTERS[target]()
