"""signature(), signature_vjp() and jax_gpu_signature(): validate -> prepare the options ->
dispatch -> finish.

Inputs and outputs (the convention of iisignature, signax, signatory, pysiglib and keras_sig):
a path is ``(..., L, d)``, L points; the signature is ``(..., siglen)`` with levels 1..depth
concatenated, each row-major, no scalar term; ``stream=True`` gives ``(..., L-1, siglen)``, the
signature of every prefix of two or more points. The output is an array of the input's framework
(numpy in, numpy out; jax, torch and tensorflow likewise) and keeps its float dtype.
"""

from __future__ import annotations

import os
from typing import Callable

import numpy as np

from ..algebra import signature_channels
from ..config import max_bytes
from ..runtime.dispatch import run_signature, run_signature_vjp
from ..runtime.frameworks import Framework, check_path_shape, framework_of
from ..spec import check_allocation, check_choice
from .options import PathOptions

__all__ = ["signature", "signature_vjp", "jax_gpu_signature", "symbolic_layer", "check_size",
           "validate", "prepare_path"]

#: What a Keras symbolic tensor becomes: a function (path, depth, stream, strategy) -> the
#: output of a SigLayer applied to it. The layers sit above ops (they import it), so ops may not
#: import them; ``sigcodegen/__init__.py`` installs the SigLayer factory here.
symbolic_layer: Callable | None = None


def _validate(path, depth, stream, target, strategy) -> tuple[object, Framework]:
    framework = framework_of(path)
    path = framework.adopt(path)
    if not isinstance(stream, bool):
        raise TypeError(f"signature: stream must be True or False, got {stream!r}")
    if target is not None:
        check_choice("target", target)
    if strategy is not None:
        check_choice("strategy", strategy)
    return path, framework


def _as_path(path, framework: Framework, depth) -> tuple[object, int, str]:
    """(path in its compute dtype, its dimension d, that dtype), the shape checked."""
    _, dim = check_path_shape(framework.shape(path), depth)
    path, dtype = framework.as_float(path)
    return path, dim, dtype


#: Workspace the kernels need per coefficient and worker thread, in bytes: the c target keeps a
#: block of paths on the SIMD lanes (one 64-byte vector per coefficient) for its state and its
#: scratch (at most one more signature); the jit targets' padded batch is of the same order.
WORKSPACE_BYTES_PER_COEFFICIENT = 2 * 64
#: Paths of one lane block (float32 with AVX-512; fewer lanes only make the estimate safer).
_LANES = 16
#: The bound on worker threads in that estimate: every CPU of the machine (the thread setting
#: itself, get_num_threads, reads cgroup files: too slow for every call; a larger bound only
#: makes the estimate safer).
_CPUS = os.cpu_count() or 1


def check_size(shape, dim: int, depth: int, dtype: str, stream: bool,
               owner: str = "signature") -> int:
    """Refuse (``SizeLimitError``, a ValueError) a call on paths of ``shape`` whose output, batch
    × siglen × itemsize (× L-1 in stream mode), plus the kernels' workspace, would exceed
    ``sigcodegen.config.max_bytes()``; return the bytes it will allocate. Unknown (traced)
    leading sizes count as 1."""
    siglen = signature_channels(dim, depth)
    rows = 1
    for size in shape[:-2]:
        rows *= size if isinstance(size, int) else 1
    if stream and isinstance(shape[-2], int):
        rows *= max(shape[-2] - 1, 0)
    workers = max(1, min(_CPUS, -(-rows // _LANES)))
    scratch = workers * siglen * WORKSPACE_BYTES_PER_COEFFICIENT
    itemsize = 8 if dtype == "float64" else 4
    return check_allocation(owner, lambda: f"the signature of paths {tuple(shape)} at depth "
                            f"{depth} ({dtype}{', stream' if stream else ''})", rows, siglen,
                            itemsize, scratch, max_bytes())


def validate(path, depth, stream, target, strategy) -> tuple[object, Framework]:
    """(path adopted by its framework, that framework), the options checked (for the ops that
    run a signature kernel: signature, logsignature)."""
    return _validate(path, depth, stream, target, strategy)


def prepare_path(path, framework: Framework, depth: int, stream: bool,
                 options: PathOptions, owner: str = "signature") -> tuple[object, int, str]:
    """(the path a kernel runs on, its dimension d, its compute dtype): the shape checked, the
    dtype policy applied, the options' basepoint and lengths applied and the size judged."""
    path, dim, dtype = _as_path(path, framework, depth)
    path = options.prepare(path, framework)
    check_size(framework.shape(path), dim, depth, dtype, stream, owner)
    return path, dim, dtype


def _symbolic(path, depth, stream, strategy, target, options: PathOptions):
    if target is not None or options.active:
        raise ValueError(
            "signature: a Keras symbolic tensor becomes a SigLayer, which picks its target per "
            "backend and takes no basepoint, inverse, initial or lengths; drop those arguments "
            "(mask padded points with keras.layers.Masking instead of lengths), or call "
            "signature() on arrays")
    if symbolic_layer is None:
        raise TypeError("signature: Keras symbolic tensors need sigcodegen.SigLayer; import "
                        "sigcodegen (not only sigcodegen.ops) or use SigLayer in the model")
    return symbolic_layer(path, depth, stream, strategy)


def signature(path, depth, stream=False, *, target=None, strategy=None, basepoint=None,
              inverse=False, initial=None, lengths=None):
    """Truncated signature of one path or a batch of paths.

    Args:
        path: array of shape ``(..., L, d)`` (L points in R^d): numpy, jax, torch or tensorflow,
            a Keras symbolic tensor, or a nested list. ``(L, d)`` is one path.
        depth: truncation depth m >= 1.
        stream: if True, return the signature of every prefix ``path[..., :k+1, :]`` for
            k = 1..L-1, shape ``(..., L-1, siglen)``.
        target: ``"c"``, ``"jax"``, ``"keras"`` or ``"triton"`` (torch tensors on a CUDA GPU,
            or on the CPU through Triton's interpreter when ``TRITON_INTERPRET=1`` was set
            before triton was imported); None picks one from the input (see
            :func:`sigcodegen.runtime.dispatch.choose_target`).
        strategy: ``"horner"``, ``"chunked"`` or ``"levelwise"``; None picks one (see
            :func:`sigcodegen.runtime.dispatch.choose_strategy`). All give the same values.
        basepoint: None, True (prepend the origin) or a point ``(d,)`` / ``(..., d)`` to prepend:
            the path then starts there.
        inverse: return the inverse, the signature of the reversed path (of each prefix when
            ``stream``).
        initial: a signature ``(..., siglen)`` to continue from: the result is
            ``initial ⊗ S`` (Chen), or ``S^-1 ⊗ initial`` with ``inverse`` (give the previous
            piece's inverse then).
        lengths: integers ``(...)`` in 1..L: path b uses only its first ``lengths[b]`` points
            (ragged batches; stream rows past a length repeat its final signature).

    Returns:
        ``(..., siglen)`` (or ``(..., L-1, siglen)`` when ``stream``) with
        ``siglen = d + d**2 + ... + d**depth``, levels concatenated, each level row-major
        (word i1..ik at index i1*d**(k-1) + ... + ik). Same framework and float dtype as the
        input; float16/bfloat16 compute and return float32, integer and bool inputs the
        framework's default float. L = 1 gives zeros (the signature of a constant path).

    Traceable: with jax arrays it works inside ``jax.jit``, ``jax.grad`` and ``jax.vmap``; with
    torch tensors gradients flow through autograd; with tensorflow tensors (Keras on the
    tensorflow backend) inside ``tf.function``; with Keras symbolic tensors it adds a
    :class:`SigLayer` to the functional model.

    Example:
        >>> import numpy as np, sigcodegen as sc
        >>> sc.signature(np.array([[0.0, 0.0], [1.0, 2.0]]), depth=2)   # exp of (1, 2)
        array([1. , 2. , 0.5, 1. , 1. , 2. ])
    """
    path, framework = _validate(path, depth, stream, target, strategy)
    options = PathOptions.of(basepoint, inverse, initial, lengths)
    if framework.symbolic:  # building a functional Keras model: the signature is a SigLayer
        return _symbolic(path, depth, stream, strategy, target, options)
    path, dim, dtype = prepare_path(path, framework, depth, stream, options)
    sig = run_signature(path, framework, dim, depth, dtype, stream, target, strategy)
    return options.finish(sig, framework, dim, depth, stream, target)


def signature_vjp(path, grad, depth, stream=False, *, target=None, strategy=None):
    """Gradient of ``sum(grad * signature(path, depth, stream))`` with respect to ``path``, for
    callers without autodiff (like iisignature's ``sigbackprop``, pysiglib's ``sig_backprop``).

    Args:
        path: ``(..., L, d)`` numpy array, nested list, jax array or torch tensor.
        grad: the gradient with respect to the signature, shaped like ``signature(path, ...)``.
        depth, stream, target, strategy: as for :func:`signature`.

    Returns:
        An array shaped like ``path``, of its framework and float dtype. The ``c`` target runs its
        native backward (reversible, checkpointed when reversal would lose accuracy); the
        ``jax`` target differentiates its kernel with ``jax.vjp``; jax and torch inputs use their
        own autodiff through :func:`signature`.

    Example:
        >>> import numpy as np, sigcodegen as sc
        >>> path = np.array([[0.0, 0.0], [1.0, 2.0]])
        >>> sc.signature_vjp(path, np.array([1.0, 0, 0, 0, 0, 0]), 2)  # d S^1_1 / d path
        array([[-1.,  0.],
               [ 1.,  0.]])
    """
    framework = framework_of(path)
    path = framework.adopt(path)
    if framework.name in ("jax", "torch"):
        return _autodiff_vjp(path, grad, depth, stream, target, strategy, framework)
    if framework.name != "numpy":
        raise TypeError(f"signature_vjp: takes numpy, jax and torch arrays, not {framework.name} "
                        f"tensors; use tf.GradientTape around signature() instead")
    _, dim = check_path_shape(path.shape, depth)
    path, dtype = framework.as_float(path, "signature_vjp")
    check_size(path.shape, dim, depth, dtype, stream, "signature_vjp")
    siglen = signature_channels(dim, depth)
    expected = (*path.shape[:-2], max(path.shape[-2] - 1, 0), siglen) if stream \
        else (*path.shape[:-2], siglen)
    grad = np.asarray(grad, dtype=dtype)
    if grad.shape != expected:
        raise ValueError(f"signature_vjp: grad has shape {grad.shape}; the signature of a path "
                         f"{path.shape} at depth {depth} has shape {expected}")
    return run_signature_vjp(path, grad, dim, depth, stream, target, strategy)


def _autodiff_vjp(path, grad, depth, stream, target, strategy, framework: Framework):
    """signature_vjp for jax and torch arrays: their own autodiff through signature()."""
    def check(out):
        if tuple(grad.shape) != tuple(out.shape):
            raise ValueError(f"signature_vjp: grad has shape {tuple(grad.shape)}, the signature "
                             f"{tuple(out.shape)}")

    if framework.name == "jax":
        import jax

        out, pullback = jax.vjp(
            lambda p: signature(p, depth, stream, target=target, strategy=strategy), path)
        check(out)
        return pullback(jax.numpy.asarray(grad, out.dtype))[0]
    import torch

    leaf = path.detach().requires_grad_(True)
    out = signature(leaf, depth, stream, target=target, strategy=strategy)
    check(out)
    (result,) = torch.autograd.grad(out, leaf, torch.as_tensor(grad, dtype=out.dtype))
    return result


def jax_gpu_signature(paths, depth, stream=False):
    """The seed's pure-JAX entry point (keras_sig's ``jax_gpu_signature``): the levelwise
    (gpu_optimized) strategy on the jax target, now in bounded-memory time blocks.

    Args:
        paths: jax or numpy array ``(batch, L, d)`` or ``(L, d)``.
        depth: truncation depth.
        stream: return every prefix's signature, ``(..., L-1, siglen)``.

    Returns:
        A jax array ``(batch, siglen)`` (``(batch, L-1, siglen)`` when ``stream``), siglen =
        d + d**2 + ... + d**depth: the values of :func:`signature`, up to rounding.

    Example:
        >>> import jax.numpy as jnp, sigcodegen as sc
        >>> sc.jax_gpu_signature(jnp.zeros((4, 10, 3)), 2).shape
        (4, 12)
    """
    return signature(paths, depth, stream, target="jax", strategy="levelwise")
