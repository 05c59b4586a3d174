"""Path transforms: time augmentation, the lead-lag transform, and padding to a length bucket,
on any framework's arrays."""

from __future__ import annotations

import numpy as np

from ..runtime.buckets import repeat_last
from ..runtime.frameworks import check_path_shape
from .tensor_algebra import prepare

__all__ = ["time_augment", "lead_lag", "bucket_paths"]


def time_augment(path, times=None):
    """Append time as a last channel: ``(..., L, d) -> (..., L, d+1)``.

    Args:
        path: ``(..., L, d)`` array of any supported framework.
        times: None for ``linspace(0, 1, L)``, or the times of the points, ``(L,)`` (shared) or
            ``(..., L)`` (one row per path).

    Example:
        >>> import numpy as np, sigcodegen as sc
        >>> sc.time_augment(np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]))
        array([[0. , 1. , 0. ],
               [2. , 3. , 0.5],
               [4. , 5. , 1. ]])
    """
    path, framework = prepare(path, "time_augment")
    check_path_shape(tuple(path.shape), 1, "time_augment")
    length = path.shape[-2]
    if times is None:
        times = np.linspace(0.0, 1.0, length)
    if isinstance(times, (np.ndarray, list, tuple)):
        times = framework.const(np.asarray(times, dtype=np.float64), path)
    if tuple(times.shape)[-1:] != (length,):
        raise ValueError(f"time_augment: times must have L={length} values on the last axis, "
                         f"got shape {tuple(times.shape)}")
    column = framework.expand_dims(times, -1) + framework.zeros_like(path[..., :1])
    return framework.concat([path, column], -1)


def lead_lag(path):
    """The lead-lag transform: ``(..., L, d) -> (..., 2L-1, 2d)``, points
    (x0,x0), (x1,x0), (x1,x1), (x2,x1), ... (lead channels first).

    Example:
        >>> import numpy as np, sigcodegen as sc
        >>> sc.lead_lag(np.array([[1.0], [2.0], [3.0]]))
        array([[1., 1.],
               [2., 1.],
               [2., 2.],
               [3., 2.],
               [3., 3.]])
    """
    path, framework = prepare(path, "lead_lag")
    check_path_shape(tuple(path.shape), 1, "lead_lag")
    length = path.shape[-2]
    doubled = framework.take(path, np.repeat(np.arange(length), 2), axis=-2)
    return framework.concat([doubled[..., 1:, :], doubled[..., :-1, :]], -1)


def bucket_paths(path):
    """Pad paths ``(..., L, d)`` to the length bucket of the jit targets by repeating the last
    point: ``(..., L', d)`` with L' - 1 = the bucket of L - 1 increments (16, 24, 32, 48, 64, 96,
    ...; see ``sigcodegen plan --target jax``). The repeated points add zero increments, so the
    signature is unchanged, and a model fed bucketed batches traces once per bucket instead of
    once per length (Keras compiles its train step per input shape).

    Point-wise layers before a SigLayer (Dense, normalisation) keep this true; for others, mask
    the padding instead (``keras.layers.Masking``). Paths of one point are returned as they are.

    Example:
        >>> import numpy as np, sigcodegen as sc
        >>> x = np.cumsum(np.random.default_rng(0).standard_normal((4, 20, 3)), axis=1)
        >>> sc.bucket_paths(x).shape                      # 19 increments -> 24
        (4, 25, 3)
        >>> bool(np.allclose(sc.signature(sc.bucket_paths(x), 3), sc.signature(x, 3)))
        True
    """
    from ..plan.rules import bucket  # the planner is imported on first use, not by sigcodegen
    from ..plan.signature import BUCKET_MIN_STEPS, BUCKET_STEPS_PER_OCTAVE

    path, framework = prepare(path, "bucket_paths")
    check_path_shape(tuple(path.shape), 1, "bucket_paths")
    length = path.shape[-2]
    if length < 2:
        return path
    padded = bucket(length - 1, BUCKET_MIN_STEPS, BUCKET_STEPS_PER_OCTAVE) + 1
    if padded == length:
        return path
    return framework.take(path, repeat_last(length, padded), axis=-2)
