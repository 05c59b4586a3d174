"""The numeric case matrix every target is checked on (jax in-process, keras per backend in a
subprocess). Inputs are generated here and compared with tests/reference.py."""

from __future__ import annotations

import itertools

import numpy as np

from reference import brownian

STRATEGIES = ("horner", "chunked", "levelwise")
#: The strategies each in-process target runs (the c target has no levelwise strategy).
TARGET_STRATEGIES = {"jax": STRATEGIES, "c": ("horner", "chunked")}
DTYPES = ("float64", "float32")
#: (dim, depth) pairs: d=1 and depth=1 edges, the seed's (5, 4), a deep one.
DIM_DEPTHS = ((1, 1), (1, 3), (2, 1), (2, 3), (3, 4), (5, 4), (2, 6))
#: Tolerances on the per-level relative error (reference.relative_error).
TOLERANCE = {"float64": 1e-12, "float32": 1e-5}


def _noncontiguous(rng, dim):
    base = brownian(rng, (3, 2 * 9, dim + 1))
    return base[:, ::2, :dim]  # strided in time and channel: not C-contiguous


def shapes_for(dim: int, depth: int):
    """(name, path) pairs; edge shapes only on the (2, 3) pair to keep the suite fast."""
    rng = np.random.default_rng(1000 * dim + depth)
    cases = [("batch4_L9", brownian(rng, (4, 9, dim)))]
    if (dim, depth) == (2, 3):
        cases += [
            ("batch1_L2", brownian(rng, (1, 2, dim))),
            ("L1_zeros", brownian(rng, (3, 1, dim))),
            ("lead2x3_L7", brownian(rng, (2, 3, 7, dim))),
            ("single_L6", brownian(rng, (6, dim))),
            ("noncontiguous", _noncontiguous(rng, dim)),
            ("batch0", np.zeros((0, 5, dim))),
        ]
    return cases


def numeric_cases(strategies=STRATEGIES):
    """Every (name, dim, depth, strategy, stream, dtype, path) of the matrix."""
    out = []
    for (dim, depth), strategy, stream, dtype in itertools.product(
        DIM_DEPTHS, strategies, (False, True), DTYPES
    ):
        for shape_name, path in shapes_for(dim, depth):
            name = f"d{dim}m{depth}-{strategy}-{'stream' if stream else 'final'}-{dtype}-{shape_name}"
            out.append((name, dim, depth, strategy, stream, dtype, path.astype(dtype)))
    return out


def long_cases(strategies=STRATEGIES):
    """float32 on Brownian paths of L = 1000 (tolerance 1e-5), every strategy and stream mode;
    plus forced multi-chunk / multi-block runs through the module's overrides."""
    rng = np.random.default_rng(7)
    path = brownian(rng, (4, 1000, 3)).astype("float32")
    out = [(f"long-{s}-{'stream' if st else 'final'}", 3, 4, s, st, "float32", path, {})
           for s in strategies for st in (False, True)]
    small = brownian(rng, (3, 23, 2))
    for stream in (False, True):
        tag = "stream" if stream else "final"
        out += [
            (f"forced-chunks4-{tag}", 2, 3, "chunked", stream, "float64", small, {"chunks": 4}),
            (f"forced-blocks5-{tag}", 2, 3, "levelwise", stream, "float64", small, {"block_steps": 5}),
        ]
    return out

#: Path lengths of the bucket checks of the Keras worker: 7 lengths, 4 length buckets
BUCKET_LENGTHS = (5, 9, 17, 30, 33, 40, 70)
