"""Log-signatures: the tensor logarithm of the signature, in one of three bases.

For numpy arrays, torch tensors and jax arrays on the CPU they run the c target's
log-signature kernels (``KernelSpec(kind="logsignature")``): the signature, its logarithm and
the projection in one native call per batch, with a native backward
(``runtime.dispatch.run_logsignature``); the conversions run the same kernels' ``log`` and
``exp`` passes on numpy arrays and torch tensors. Elsewhere (tensorflow, GPUs, another target,
no compiler) the logarithm and exponential run as routines of an emitted module
(``runtime.dispatch.run_routine``) and the change to the Lyndon words or the Lyndon bracket
basis is a constant gather (``words``) or a gather and a sparse map (``brackets``): the
nonzeros of :func:`sigcodegen.algebra.lyndon_maps`, applied as a segment sum (never a dense
siglen × n matrix).
"""

from __future__ import annotations

from .. import algebra
from ..runtime.dispatch import load_native, run_logsignature, run_routine, run_signature
from ..runtime.frameworks import Framework
from ..spec import LOGSIGNATURE_MODES, check_dim_depth
from .options import PathOptions
from .signature import prepare_path, signature, validate
from .tensor_algebra import check_flat, prepare

__all__ = ["LOGSIGNATURE_MODES", "check_mode", "logsignature", "signature_to_logsignature",
           "logsignature_to_signature"]


def check_mode(mode: str) -> str:
    """``mode`` if it is a log-signature mode; otherwise ValueError naming the modes."""
    if mode not in LOGSIGNATURE_MODES:
        raise ValueError(f"unknown log-signature mode {mode!r}; use one of "
                         f"{', '.join(LOGSIGNATURE_MODES)}")
    return mode


def _project(log, dim: int, depth: int, mode: str, framework: Framework):
    if mode == "expand":
        return log
    words = framework.take(log, algebra.lyndon_index(dim, depth), axis=-1)
    if mode == "words":  # a gather: the sparse maps are not built
        return words
    return framework.sparse_apply(words, algebra.lyndon_maps(dim, depth).inverse)


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
    check_mode(mode)
    sig, framework = prepare(sig, "signature_to_logsignature")
    check_flat(sig, dim, depth, "signature_to_logsignature")
    native = _native_series(sig, framework, dim, depth, target)
    if native is not None:
        return native.convert("log", sig, mode)
    log = run_routine("tensor_log", dim, depth, framework, sig, target=target)
    return _project(log, dim, depth, mode, framework)


def _native_series(x, framework: Framework, dim: int, depth: int, target):
    """The c target's log-signature module for the conversions of numpy arrays and torch CPU
    tensors (None for other arrays, another target, or no working compiler)."""
    if target not in (None, "c") or framework.name not in ("numpy", "torch") or \
            framework.on_gpu(x):
        return None
    return load_native(dim, depth, framework.name, framework.dtype_name(x), kind="logsignature")


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
    check_mode(mode)
    logsig, framework = prepare(logsig, "logsignature_to_signature")
    if mode == "expand":
        check_flat(logsig, dim, depth, "logsignature_to_signature", "expanded log-signature")
        expanded = logsig
    else:
        count = algebra.logsignature_channels(dim, depth)
        if len(logsig.shape) < 1 or logsig.shape[-1] != count:
            raise ValueError(f"logsignature_to_signature: a {mode} log-signature of dim={dim}, "
                             f"depth={depth} has {count} values on its last axis; got shape "
                             f"{tuple(logsig.shape)}")
        maps = algebra.lyndon_maps(dim, depth)
        if mode == "words":  # the bracket coordinates of the Lie element first
            logsig = framework.sparse_apply(logsig, maps.inverse)
        expanded = framework.sparse_apply(logsig, maps.expand)
    native = _native_series(expanded, framework, dim, depth, target)
    if native is not None:
        return native.convert("exp", expanded)
    return run_routine("tensor_exp", dim, depth, framework, expanded, target=target)


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
    check_mode(mode)
    adopted, framework = validate(path, depth, stream, target, strategy)
    if framework.symbolic:  # a SigLayer, then the logarithm of its output
        sig = signature(adopted, depth, stream, target=target, strategy=strategy, **options)
        dim = framework.shape(adopted)[-1]
        return signature_to_logsignature(sig, dim, depth, mode, target=target)
    opts = PathOptions.of(**options)
    path, dim, dtype = prepare_path(adopted, framework, depth, stream, opts, "logsignature")
    if not opts.inverse and opts.initial is None:  # the fused kernels (c target)
        out = run_logsignature(path, framework, dim, depth, dtype, stream, target, strategy, mode)
        if out is not None:
            return out
    sig = run_signature(path, framework, dim, depth, dtype, stream, target, strategy)
    sig = opts.finish(sig, framework, dim, depth, stream, target)
    return signature_to_logsignature(sig, dim, depth, mode, target=target)
