"""The signature algebra beyond signature(): log-signatures and their bases, the exp map,
Chen products, inverses, path transforms and windows.

Every function keeps the input's library (numpy, jax, torch, tensorflow) and float dtype, and
runs the tensor-algebra steps (logarithm, exponential, Chen product) as routines of the emitted
modules: the jax target's for numpy, jax and torch arrays (torch through DLPack with autograd),
the keras target's for tensorflow tensors. Basis changes are constant matrices (one matmul).
"""

from __future__ import annotations

import functools
import importlib.util

import numpy as np

from . import algebra
from .api import _check_shape, _compute_dtype, _dtype_name, _library, _load, _x64, signature
from .spec import check_dim_depth

__all__ = [
    "LOGSIGNATURE_MODES",
    "logsignature",
    "signature_to_logsignature",
    "logsignature_to_signature",
    "signature_combine",
    "multi_signature_combine",
    "signature_inverse",
    "time_augment",
    "lead_lag",
    "windowed_signature",
]

#: expand: the tensor logarithm (siglen values); words: its coefficients at the Lyndon words;
#: brackets: coordinates in the Lyndon bracket basis (iisignature's logsig).
LOGSIGNATURE_MODES = ("expand", "words", "brackets")


def _check_mode(mode: str) -> str:
    if mode not in LOGSIGNATURE_MODES:
        raise ValueError(f"unknown log-signature mode {mode!r}; use one of "
                         f"{', '.join(LOGSIGNATURE_MODES)}")
    return mode


# ---- arrays of any library ---------------------------------------------------------------------


class _Arrays:
    """The few array operations these functions need, for one library."""

    def __init__(self, library: str):
        self.library = library
        if library == "numpy":
            self.xp = np
        elif library == "jax":
            import jax.numpy as jnp

            self.xp = jnp
        elif library == "torch":
            import torch

            self.xp = torch
        else:
            from keras import ops

            self.xp = ops

    def const(self, array: np.ndarray, like):
        """A numpy constant as an array of ``like``'s library, dtype (and torch device)."""
        if self.library == "numpy":
            return array.astype(like.dtype)
        if self.library == "torch":
            return self.xp.as_tensor(array, dtype=like.dtype, device=like.device)
        if self.library == "jax":
            return self.xp.asarray(array, like.dtype)
        return self.xp.convert_to_tensor(array, like.dtype)

    def take(self, x, index: np.ndarray, axis: int = -1):
        if self.library == "torch":
            import torch

            return torch.index_select(x, axis % x.ndim, torch.as_tensor(index, device=x.device))
        return self.xp.take(x, self.xp.asarray(index) if self.library == "jax" else index, axis=axis)

    def matmul(self, x, matrix: np.ndarray):
        """x @ matrix for a constant numpy matrix."""
        return self.xp.matmul(x, self.const(matrix, x))

    def concat(self, parts, axis):
        if self.library == "torch":
            return self.xp.cat(parts, dim=axis)
        return self.xp.concatenate(parts, axis=axis)

    def expand_dims(self, x, axis):
        if self.library == "torch":
            return x.unsqueeze(axis)
        return self.xp.expand_dims(x, axis)

    def zeros_like(self, x):
        return self.xp.zeros_like(x)


def _prepare(x, name: str):
    """(array, library, ops) with lists turned into numpy and non-float dtypes converted."""
    library = _library(x)
    if library == "numpy" and not isinstance(x, np.ndarray):
        x = np.asarray(x)
    if library == "keras":
        raise TypeError(f"{name}: takes arrays, not Keras symbolic tensors; use LogSigLayer or "
                        f"SigLayer in a functional model")
    arrays = _Arrays(library)
    dtype = _compute_dtype(_dtype_name(x, library), library)
    if _dtype_name(x, library) != dtype:
        from .api import _cast

        x = _cast(x, library, dtype)
    return x, library, arrays


@functools.lru_cache(maxsize=None)
def _torch_bridge(function):
    """A torch.autograd.Function running a jax function of arrays, gradients by jax.vjp."""
    import jax
    import torch

    def to_jax(t):
        return jax.dlpack.from_dlpack(t.detach().contiguous().cpu())

    class Bridge(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *inputs):
            ctx.save_for_backward(*inputs)
            with _x64(inputs[0].dtype == torch.float64):
                return torch.from_dlpack(function(*map(to_jax, inputs))).to(inputs[0].device)

        @staticmethod
        def backward(ctx, grad):
            inputs = ctx.saved_tensors
            with _x64(inputs[0].dtype == torch.float64):
                _, pullback = jax.vjp(function, *map(to_jax, inputs))
                grads = pullback(to_jax(grad))
            return tuple(torch.from_dlpack(g).to(inputs[0].device) for g in grads)

    return Bridge


def _algebra(name: str, dim: int, depth: int, library: str, *arrays, target=None):
    """Run the emitted routine ``name`` (tensor_log, tensor_exp, combine) on flat elements:
    with the keras target's module for tensorflow tensors or ``target="keras"``, with the triton
    module's torch routines for torch tensors on a GPU or ``target="triton"``, else with the
    jax target's (the c target emits no algebra routines)."""
    if library in ("tensorflow", "keras") or target == "keras":
        module = _load(dim, depth, "keras")
        if library == "numpy":
            from keras import ops

            with _x64(arrays[0].dtype == np.float64 and _keras_on_jax()):
                return ops.convert_to_numpy(getattr(module, name)(*map(ops.convert_to_tensor, arrays)))
        return getattr(module, name)(*arrays)
    if library == "torch" and (target == "triton" or (target is None and arrays[0].is_cuda and
                                                      importlib.util.find_spec("triton"))):
        # torch tensors on a GPU: the triton module's torch form of the routine (autograd)
        return getattr(_load(dim, depth, "triton"), name)(*arrays)
    function = getattr(_load(dim, depth, "jax"), name)
    if library == "jax":
        return function(*arrays)
    if library == "torch":
        return _torch_bridge(function).apply(*arrays)
    import jax.numpy as jnp

    with _x64(arrays[0].dtype == np.float64):
        return np.array(function(*(jnp.asarray(a) for a in arrays)))


def _keras_on_jax() -> bool:
    import keras

    return keras.backend.backend() == "jax"


def _check_flat(x, dim: int, depth: int, name: str, what: str = "signature") -> None:
    siglen = algebra.signature_channels(dim, depth)
    if len(x.shape) < 1 or x.shape[-1] != siglen:
        raise ValueError(f"{name}: a {what} of dim={dim}, depth={depth} has {siglen} values on "
                         f"its last axis; got shape {tuple(x.shape)}")


# ---- log-signatures -----------------------------------------------------------------------------


def _project(log, dim: int, depth: int, mode: str, arrays: _Arrays):
    if mode == "expand":
        return log
    maps = algebra.basis_maps(dim, depth)
    if mode == "words":
        return arrays.take(log, maps["words_index"], axis=-1)
    return arrays.matmul(log, maps["to_brackets"].T)


def signature_to_logsignature(sig, dim, depth, mode="words", *, target=None):
    """Log-signature from a signature ``(..., siglen)`` (as returned by :func:`signature`).

    Args:
        sig: ``(..., siglen)``, siglen = :func:`signature_channels` ``(dim, depth)``.
        dim, depth: the path dimension and truncation depth of ``sig``.
        target: as for :func:`signature` (runs the tensor logarithm).
        mode: ``"expand"`` (the tensor logarithm, siglen values), ``"words"`` (its coefficients
            at the Lyndon words) or ``"brackets"`` (coordinates in the Lyndon bracket basis,
            iisignature's ``logsig``); the last two have :func:`logsignature_channels` values.

    Returns:
        ``(..., siglen)`` for ``expand``, ``(..., logsignature_channels(dim, depth))`` otherwise.

    Example:
        >>> import numpy as np, sigcodegen as sc
        >>> sig = sc.signature(np.array([[0.0, 0.0], [1.0, 2.0]]), 2)
        >>> sc.signature_to_logsignature(sig, 2, 2, "brackets")  # the increment, no area
        array([1., 2., 0.])
    """
    dim, depth = check_dim_depth(dim, depth, "signature_to_logsignature")
    _check_mode(mode)
    sig, library, arrays = _prepare(sig, "signature_to_logsignature")
    _check_flat(sig, dim, depth, "signature_to_logsignature")
    log = _algebra("tensor_log", dim, depth, library, sig, target=target)
    return _project(log, dim, depth, mode, arrays)


def logsignature_to_signature(logsig, dim, depth, mode="words", *, target=None):
    """The signature ``(..., siglen)`` whose log-signature (in ``mode``) is ``logsig``: the
    exponential map, the inverse of :func:`signature_to_logsignature`.

    Args:
        logsig: ``(..., n)`` in ``mode``: n = :func:`logsignature_channels` ``(dim, depth)`` for
            ``words`` and ``brackets``, siglen for ``expand``.
        dim, depth, mode, target: as for :func:`signature_to_logsignature`.

    Example:
        >>> import numpy as np, sigcodegen as sc
        >>> sc.logsignature_to_signature(np.array([1.0, 2.0, 0.0]), 2, 2, "brackets")
        array([1. , 2. , 0.5, 1. , 1. , 2. ])
    """
    dim, depth = check_dim_depth(dim, depth, "logsignature_to_signature")
    _check_mode(mode)
    logsig, library, arrays = _prepare(logsig, "logsignature_to_signature")
    if mode == "expand":
        _check_flat(logsig, dim, depth, "logsignature_to_signature", "expanded log-signature")
        expanded = logsig
    else:
        count = algebra.logsignature_channels(dim, depth)
        if len(logsig.shape) < 1 or logsig.shape[-1] != count:
            raise ValueError(f"logsignature_to_signature: a {mode} log-signature of dim={dim}, "
                             f"depth={depth} has {count} values on its last axis; got shape "
                             f"{tuple(logsig.shape)}")
        maps = algebra.basis_maps(dim, depth)
        expanded = arrays.matmul(logsig, maps["from_brackets" if mode == "brackets" else "from_words"].T)
    return _algebra("tensor_exp", dim, depth, library, expanded, target=target)


def logsignature(path, depth, mode="words", stream=False, *, target=None, strategy=None, **options):
    """Log-signature of paths ``(..., L, d)``: the signature's tensor logarithm, in ``mode``.

    Args:
        path, depth, stream, target, strategy, **options: as for :func:`signature`
            (``basepoint``, ``inverse``, ``initial``, ``lengths``).
        mode: ``"words"`` (default), ``"brackets"`` or ``"expand"``; see
            :func:`signature_to_logsignature`.

    Returns:
        ``(..., n)`` (``(..., L-1, n)`` when ``stream``) with ``n = logsignature_channels(d,
        depth)`` for words and brackets, ``signature_channels(d, depth)`` for expand.

    Example:
        >>> import numpy as np, sigcodegen as sc
        >>> square = np.array([[0.0, 0], [1, 0], [1, 1], [0, 1], [0, 0]])
        >>> sc.logsignature(square, 2, mode="brackets")  # a closed loop: only the area [1,2]
        array([0., 0., 1.])
    """
    _check_mode(mode)
    sig = signature(path, depth, stream, target=target, strategy=strategy, **options)
    dim = np.shape(path)[-1] if _library(path) == "numpy" else path.shape[-1]
    return signature_to_logsignature(sig, dim, depth, mode, target=target)


# ---- Chen products and inverses -----------------------------------------------------------------


def signature_combine(a, b, dim, depth, *, target=None):
    """Chen's identity: the signature of path a followed by path b, from their signatures
    ``(..., siglen)`` (leading axes broadcast; the keras target wants equal shapes).

    Args:
        a, b: ``(..., siglen)`` signatures of one library; b's path starts where a's ends.
        dim, depth: the path dimension and truncation depth of both.
        target: as for :func:`signature` (runs the product).

    Example:
        >>> import numpy as np, sigcodegen as sc
        >>> x = np.cumsum(np.random.default_rng(0).standard_normal((9, 2)), axis=0)
        >>> ab = sc.signature_combine(sc.signature(x[:5], 3), sc.signature(x[4:], 3), 2, 3)
        >>> bool(np.allclose(ab, sc.signature(x, 3)))
        True
    """
    dim, depth = check_dim_depth(dim, depth, "signature_combine")
    a, library, _ = _prepare(a, "signature_combine")
    b, library_b, _ = _prepare(b, "signature_combine")
    if library_b != library:
        raise TypeError(f"signature_combine: a is a {library} array and b a {library_b} array; "
                        f"pass two arrays of one library")
    _check_flat(a, dim, depth, "signature_combine")
    _check_flat(b, dim, depth, "signature_combine")
    return _algebra("combine", dim, depth, library, a, b, target=target)


def multi_signature_combine(sigs, dim, depth, *, target=None):
    """The signature of paths joined end to end, from their signatures stacked on axis -2,
    ``(..., n, siglen) -> (..., siglen)``: a tree of pairwise Chen products (log2(n) rounds).

    Args:
        sigs: ``(..., n, siglen)``, n >= 1 signatures in path order (each piece starts where
            the one before it ends).
        dim, depth: the path dimension and truncation depth the signatures were computed with.
        target: as for :func:`signature`.

    Example:
        >>> import numpy as np, sigcodegen as sc
        >>> x = np.cumsum(np.random.default_rng(0).standard_normal((9, 2)), axis=0)
        >>> pieces = np.stack([sc.signature(x[i:i + 3], 3) for i in (0, 2, 4, 6)])  # (4, 14)
        >>> bool(np.allclose(sc.multi_signature_combine(pieces, 2, 3), sc.signature(x, 3)))
        True
    """
    dim, depth = check_dim_depth(dim, depth, "multi_signature_combine")
    sigs, library, arrays = _prepare(sigs, "multi_signature_combine")
    _check_flat(sigs, dim, depth, "multi_signature_combine")
    if len(sigs.shape) < 2 or sigs.shape[-2] < 1:
        raise ValueError(f"multi_signature_combine: expects (..., n, siglen) with n >= 1 "
                         f"signatures on axis -2; got shape {tuple(sigs.shape)}")
    level = [sigs[..., i, :] for i in range(sigs.shape[-2])]
    while len(level) > 1:  # one round of the tree: neighbours in order, an odd last one waits
        pairs = [_algebra("combine", dim, depth, library, level[i], level[i + 1], target=target)
                 for i in range(0, len(level) - 1, 2)]
        level = pairs + ([level[-1]] if len(level) % 2 else [])
    return level[0]


def signature_inverse(sig, dim, depth):
    """The inverse of signatures ``(..., siglen) -> (..., siglen)`` in the tensor algebra: the
    signature of the reversed path (words reversed, odd levels negated).

    Example:
        >>> import numpy as np, sigcodegen as sc
        >>> x = np.cumsum(np.random.default_rng(0).standard_normal((9, 2)), axis=0)
        >>> inverse = sc.signature_inverse(sc.signature(x, 3), 2, 3)
        >>> bool(np.allclose(inverse, sc.signature(x[::-1], 3)))
        True
    """
    dim, depth = check_dim_depth(dim, depth, "signature_inverse")
    sig, library, arrays = _prepare(sig, "signature_inverse")
    _check_flat(sig, dim, depth, "signature_inverse")
    perm, signs = algebra.antipode(dim, depth)
    return arrays.take(sig, perm, axis=-1) * arrays.const(signs, sig)


# ---- signature() options: basepoint, lengths, inverse, initial -----------------------------------


def _adjust_path(path, library, basepoint, lengths):
    arrays = _Arrays(library)
    length = path.shape[-2]
    if lengths is not None:
        given = np.asarray(lengths.detach().cpu() if _library(lengths) == "torch" else lengths)
        if given.dtype.kind not in "iu" or given.shape != tuple(path.shape[:-2]):
            raise ValueError(f"signature: lengths must be integers of shape {tuple(path.shape[:-2])} "
                             f"(one per path), got {given.dtype} {given.shape}")
        if given.size and (given.min() < 1 or given.max() > length):
            raise ValueError(f"signature: lengths must lie in 1..L={length}, got values from "
                             f"{given.min()} to {given.max()}")
        # points past a path's length repeat its last point: zero increments, exactly
        index = np.minimum(np.arange(length), (given[..., None] - 1)).astype(np.int64)
        gather = index[..., None] + np.zeros(path.shape[-1], dtype=np.int64)
        if library == "torch":
            import torch

            path = torch.gather(path, -2, torch.as_tensor(gather, device=path.device))
        elif library == "numpy":
            path = np.take_along_axis(path, gather, axis=-2)
        else:
            path = arrays.xp.take_along_axis(path, arrays.xp.asarray(gather) if library == "jax"
                                             else gather, axis=-2)
    if basepoint is not None:
        if basepoint is True:
            start = arrays.zeros_like(path[..., :1, :])
        else:
            point = basepoint if _library(basepoint) == library else arrays.const(
                np.asarray(basepoint, dtype=np.float64), path)
            if tuple(point.shape)[-1:] != (path.shape[-1],):
                raise ValueError(f"signature: basepoint must be True or a point of dimension "
                                 f"{path.shape[-1]}, got shape {tuple(point.shape)}")
            start = arrays.expand_dims(point, -2) + arrays.zeros_like(path[..., :1, :])
        path = arrays.concat([start, path], -2)
    return path


def _finish(sig, dim, depth, library, inverse, initial, stream, target=None):
    arrays = _Arrays(library)
    if inverse:
        sig = signature_inverse(sig, dim, depth)
    if initial is not None:
        start = initial if _library(initial) == library else arrays.const(
            np.asarray(initial, dtype=np.float64), sig)
        _check_flat(start, dim, depth, "signature", "initial signature")
        if stream:
            start = arrays.expand_dims(start, -2)
        start = start + arrays.zeros_like(sig)
        pair = (sig, start) if inverse else (start, sig)
        sig = _algebra("combine", dim, depth, library, *pair, target=target)
    return sig


# ---- path transforms and windows ----------------------------------------------------------------


def time_augment(path, times=None):
    """Append time as a last channel: ``(..., L, d) -> (..., L, d+1)``.

    Args:
        path: ``(..., L, d)`` array of any supported library.
        times: None for ``linspace(0, 1, L)``, or the times of the points, ``(L,)`` (shared) or
            ``(..., L)`` (one row per path).

    Example:
        >>> import numpy as np, sigcodegen as sc
        >>> sc.time_augment(np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]))
        array([[0. , 1. , 0. ],
               [2. , 3. , 0.5],
               [4. , 5. , 1. ]])
    """
    path, library, arrays = _prepare(path, "time_augment")
    _check_shape(tuple(path.shape), 1, False)
    length = path.shape[-2]
    if times is None:
        times = np.linspace(0.0, 1.0, length)
    if isinstance(times, np.ndarray) or isinstance(times, (list, tuple)):
        times = arrays.const(np.asarray(times, dtype=np.float64), path)
    if tuple(times.shape)[-1:] != (length,):
        raise ValueError(f"time_augment: times must have L={length} values on the last axis, "
                         f"got shape {tuple(times.shape)}")
    column = arrays.expand_dims(times, -1) + arrays.zeros_like(path[..., :1])
    return arrays.concat([path, column], -1)


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
    path, library, arrays = _prepare(path, "lead_lag")
    _check_shape(tuple(path.shape), 1, False)
    length = path.shape[-2]
    doubled = arrays.take(path, np.repeat(np.arange(length), 2), axis=-2)
    return arrays.concat([doubled[..., 1:, :], doubled[..., :-1, :]], -1)


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
    path, library, arrays = _prepare(path, "windowed_signature")
    length, dim = _check_shape(tuple(path.shape), depth, True)
    for name, value, low in (("window", window, 2), ("stride", stride, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"windowed_signature: {name} must be an integer >= {low}, got {value!r}")
    if window > length:
        raise ValueError(f"windowed_signature: window={window} points is longer than the path "
                         f"(L={length}); use window <= L")
    prefix = signature(path, depth, stream=True, target=target, strategy=strategy)
    identity = arrays.zeros_like(prefix[..., :1, :])
    states = arrays.concat([identity, prefix], -2)  # states[t]: the first t+1 points
    starts = np.arange(0, length - window + 1, stride)
    first = signature_inverse(arrays.take(states, starts, axis=-2), dim, depth)
    last = arrays.take(states, starts + window - 1, axis=-2)
    return _algebra("combine", dim, depth, library, first, last, target=target)
