"""The chosen-coefficients kind's compiled libraries (``kind="coefficients"``), bound for numpy
through ctypes.
"""

from __future__ import annotations

import ctypes
import math
from pathlib import Path

import numpy as np

from .. import threads
from .base import BITS, PTR, Libraries

__all__ = ["CoefficientsModule"]


class CoefficientsModule(Libraries):
    """A compiled chosen-coefficients module (``kind="coefficients"``) for one dim: a
    table-driven forward for any word set, float32 and float64, bound for numpy through ctypes.
    ``forward(path, tables, stream)`` takes the tables of ``CoefficientPlan.tables()``."""

    def __init__(self, built):
        """``built``: a ``sigcodegen.jit.loader.NativeBuild`` of a coefficients spec."""
        super().__init__(built)
        self.DIM = built.spec.dim

    def _open(self, path: Path, bits: int) -> ctypes.CDLL:
        lib = self.open_kind(path, bits, 3)
        ptr, i64, i32 = PTR, ctypes.c_int64, ctypes.c_int32
        fwd = getattr(lib, f"sigcodegen_coefficients_forward_f{bits}")
        fwd.restype = ctypes.c_int
        fwd.argtypes = [ptr, i64, i64, i32, i32, ptr, ptr, ptr, ptr, i32, ptr, i32, ptr]
        lib.forward = fwd
        threads.attach(lib)
        return lib

    def forward(self, path: np.ndarray, tables, stream: bool) -> np.ndarray:
        """path (..., L, DIM) float32/float64 numpy, L >= 2 -> (..., n_words) or
        (..., L-1, n_words)."""
        length, letter, chain, scale, out_index = tables
        path = np.ascontiguousarray(path)
        *lead, steps1, _ = path.shape
        batch = math.prod(lead)
        nout = len(out_index)
        out = np.empty((*lead, steps1 - 1, nout) if stream else (*lead, nout), path.dtype)
        scale = np.ascontiguousarray(scale, dtype=path.dtype)
        status = self.lib(BITS[path.dtype]).forward(
            path.ctypes.data, batch, steps1, len(length), letter.shape[1], length.ctypes.data,
            letter.ctypes.data, chain.ctypes.data, scale.ctypes.data, nout, out_index.ctypes.data,
            int(stream), out.ctypes.data)
        if status:
            raise MemoryError(f"sigcodegen: {self.name} forward ran out of memory for "
                              f"{len(length)} prefix-tree nodes")
        return out
