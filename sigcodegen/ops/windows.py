"""Signatures of sliding windows of one path, from a single stream pass (Chen's identity)."""

from __future__ import annotations

import numpy as np

from ..runtime.frameworks import check_path_shape
from .signature import signature
from .tensor_algebra import combine, prepare, signature_inverse

__all__ = ["windowed_signature"]


def windowed_signature(path, depth, window, stride=1, *, target=None, strategy=None):
    """Signatures of the windows ``path[..., s:s+window, :]`` for s = 0, stride, ... (windows
    of ``window`` points that fit), from one pass: with S(t) the signature of the first t+1
    points, a window's signature is S(s)^-1 ⊗ S(s+window-1) (Chen).

    Args:
        path: ``(..., L, d)``.
        depth: truncation depth.
        window: points per window, 2 <= window <= L.
        stride: points between the starts of neighbouring windows.
        target, strategy: as for :func:`signature` (they run its stream pass).

    Returns:
        ``(..., n_windows, siglen)``, ``n_windows = (L - window) // stride + 1``.

    Example:
        >>> import numpy as np, sigcodegen as sc
        >>> x = np.cumsum(np.random.default_rng(0).standard_normal((9, 2)), axis=0)
        >>> w = sc.windowed_signature(x, 3, window=4, stride=2)  # x[0:4], x[2:6], x[4:8]
        >>> w.shape
        (3, 14)
        >>> bool(np.allclose(w[1], sc.signature(x[2:6], 3)))
        True
    """
    path, framework = prepare(path, "windowed_signature")
    length, dim = check_path_shape(tuple(path.shape), depth, "windowed_signature")
    for name, value, low in (("window", window, 2), ("stride", stride, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"windowed_signature: {name} must be an integer >= {low}, got {value!r}")
    if window > length:
        raise ValueError(f"windowed_signature: window={window} points is longer than the path "
                         f"(L={length}); use window <= L")
    prefix = signature(path, depth, stream=True, target=target, strategy=strategy)
    identity = framework.zeros_like(prefix[..., :1, :])
    states = framework.concat([identity, prefix], -2)  # states[t]: the first t+1 points
    starts = np.arange(0, length - window + 1, stride)
    first = signature_inverse(framework.take(states, starts, axis=-2), dim, depth)
    last = framework.take(states, starts + window - 1, axis=-2)
    return combine(first, last, dim, depth, framework, target)
