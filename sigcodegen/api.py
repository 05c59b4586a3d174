"""The user API: signature(), jax_gpu_signature(), and the rules that pick target and strategy.

Inputs and outputs (the convention of iisignature, signax, signatory, pysiglib and keras_sig):
a path is ``(..., L, d)``, L points; the signature is ``(..., siglen)`` with levels 1..depth
concatenated, each row-major, no scalar term; ``stream=True`` gives ``(..., L-1, siglen)``, the
signature of every prefix of two or more points. The output is an array of the input's library
(numpy in, numpy out; jax, torch and tensorflow likewise) and keeps its float dtype.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import warnings

import numpy as np

from .algebra import signature_channels
from .spec import KernelSpec, check_choice, check_dim_depth

__all__ = ["signature", "signature_vjp", "jax_gpu_signature", "choose_target", "choose_strategy"]


# ---- what kind of array is this? ----------------------------------------------------------


def _library(x) -> str:
    """'numpy', 'jax', 'torch', 'tensorflow' or 'keras' (a symbolic KerasTensor), judged by the
    type's module so that no array library is imported to find out."""
    if isinstance(x, np.ndarray):
        return "numpy"
    module = type(x).__module__.split(".")[0]
    if module in ("jax", "jaxlib"):
        return "jax"
    if module == "torch":
        return "torch"
    if module == "tensorflow":
        return "tensorflow"
    if module == "keras":
        return "keras"
    return "numpy"  # lists, tuples, scalars, array-likes: converted with np.asarray


def _dtype_name(x, library: str) -> str:
    dtype = x.dtype
    if library == "torch":
        return str(dtype).removeprefix("torch.")
    if library in ("tensorflow", "keras"):
        return getattr(dtype, "name", str(dtype))
    return np.dtype(dtype).name if library == "numpy" else str(dtype)


def _compute_dtype(name: str, library: str) -> str:
    """The float dtype the kernels run in for an input dtype: float32 and float64 are kept,
    narrower floats run (and return) in float32, integers and bools in the library's default
    float. Complex and non-numeric inputs are refused."""
    if name in ("float32", "float64"):
        return name
    if name in ("float16", "bfloat16"):
        return "float32"
    if name == "bool" or name.startswith(("int", "uint")):
        return _default_float(library)
    if name.startswith("complex"):
        raise TypeError(
            f"signature: complex paths are not supported (got {name}); pass the real and "
            f"imaginary parts as separate channels, e.g. np.concatenate([x.real, x.imag], -1)"
        )
    raise TypeError(f"signature: expected a numeric path, got dtype {name}")


def _check_shape(shape, depth, stream) -> tuple[int, int]:
    if len(shape) < 2:
        raise ValueError(
            f"signature: a path has shape (..., L, d) with L points of dimension d; got shape "
            f"{tuple(shape)}. A single path of scalars is path[:, None]"
        )
    length, dim = shape[-2], shape[-1]
    if dim is not None and dim < 1:
        raise ValueError(f"signature: the path's last axis (dimension d) is empty: {tuple(shape)}")
    if length is not None and length < 1:
        raise ValueError(
            f"signature: the path has no points (L = 0 in shape {tuple(shape)}); a signature "
            f"needs at least one point (L = 1 gives zeros)"
        )
    if dim is None:
        raise ValueError(f"signature: the path's last axis (d) must be known, got {tuple(shape)}")
    check_dim_depth(dim, depth)
    return length, dim


# ---- choices ------------------------------------------------------------------------------


def choose_target(library: str, on_gpu: bool = False, strategy: str | None = None) -> str:
    """The target used when ``target=None``:

    - tensorflow tensors and Keras symbolic tensors: ``keras`` (Keras must run on tensorflow
      for tensorflow tensors);
    - on a CPU, numpy arrays, lists, jax arrays and torch tensors: ``c``, compiled C (jax arrays
      through the XLA FFI inside jit/grad/vmap, torch tensors through a custom op with
      autograd). When no C compiler works, one warning, then ``jax``;
    - torch tensors on a CUDA GPU: ``triton`` (generated Triton kernels with a native
      backward) when triton is installed and the strategy is not ``levelwise``;
    - otherwise on a GPU, and for the ``levelwise`` strategy (which only the Python targets
      run): ``jax`` (torch tensors through DLPack with autograd; ``keras`` on Keras' torch
      backend when jax is not installed).

    Example:
        >>> from sigcodegen.api import choose_target
        >>> choose_target("numpy"), choose_target("tensorflow")
        ('c', 'keras')
    """
    if library in ("tensorflow", "keras"):
        return "keras"
    if not on_gpu and strategy != "levelwise":
        return "c"
    if (library == "torch" and strategy != "levelwise"
            and importlib.util.find_spec("triton") is not None):
        return "triton"
    if library == "torch" and importlib.util.find_spec("jax") is None:
        return "keras"
    return "jax"


def choose_strategy(on_gpu: bool = False, stream: bool = False, target: str | None = None) -> str:
    """The strategy used when ``strategy=None``: for the ``triton`` target ``chunked`` for final
    values (time chunks as extra lanes, joined by Chen) and ``horner`` for streams; otherwise
    ``levelwise`` on GPUs (whole-sequence per-degree work, time-blocked); on CPUs ``chunked`` for final values (which is ``horner`` unless the batch
    is small and the path long: see ``sigcodegen plan``) and ``horner`` for streams (the chunked
    stream's second pass costs more than it saves on a CPU).

    Example:
        >>> from sigcodegen.api import choose_strategy
        >>> choose_strategy(), choose_strategy(stream=True)   # on a CPU
        ('chunked', 'horner')
    """
    if on_gpu and target != "triton":
        return "levelwise"
    return "horner" if stream else "chunked"


# ---- running the targets ------------------------------------------------------------------


@contextlib.contextmanager
def _x64(enabled: bool):
    """JAX float64 for this call only (jax drops float64 to float32 without it)."""
    if not enabled:
        yield
        return
    import jax

    with jax.enable_x64(True):
        yield


def _load(dim, depth, target, kind="signature"):
    from .loader import load_module, loaded

    module = loaded(kind, dim, depth, target)
    if module is not None:
        return module
    return load_module(KernelSpec(dim=dim, depth=depth, kind=kind, target=target))


_native_failures: dict[tuple, str] = {}


def load_native(dim: int, depth: int, library: str, dtype: str = "float32"):
    """The c target's module with its ``dtype`` library built, or None (with one warning per
    spec) when no compiler works or the build fails; the caller then uses the jax target."""
    from .native import CompileError, CompilerUnavailable

    key = (dim, depth)
    if key in _native_failures:
        return None
    try:
        module = _load(dim, depth, "c")
        module.lib(64 if dtype == "float64" else 32)
    except (CompilerUnavailable, CompileError) as err:
        _native_failures[key] = str(err)
        warnings.warn(f"{err}. Using the jax target instead for dim={dim}, depth={depth}.",
                      RuntimeWarning, stacklevel=3)
        return None
    if library == "jax" and not module.has_ffi:  # no jaxlib headers when the toolchain was probed
        return None
    return module


def _run_jax_on_numpy(module, x: np.ndarray, stream: bool, strategy: str) -> np.ndarray:
    import jax.numpy as jnp

    with _x64(x.dtype == np.float64):
        out = module.signature(jnp.asarray(x), stream=stream, strategy=strategy)
        return np.array(out)  # a writable copy in the input's dtype


@functools.lru_cache(maxsize=None)
def _torch_function(module, stream: bool, strategy: str):
    """A torch.autograd.Function running the jax module; gradients by jax.vjp."""
    import jax
    import torch

    def forward_fn(x):
        return module.signature(x, stream=stream, strategy=strategy)

    vjp = jax.jit(lambda x, g: jax.vjp(forward_fn, x)[1](g)[0])

    def to_jax(t):
        return jax.dlpack.from_dlpack(t.detach().contiguous().cpu())

    def to_torch(a, like):
        return torch.from_dlpack(a).to(like.device)

    class JaxSignature(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            with _x64(x.dtype == torch.float64):
                return to_torch(forward_fn(to_jax(x)), x)

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            with _x64(x.dtype == torch.float64):
                return to_torch(vjp(to_jax(x), to_jax(grad)), x)

    return JaxSignature


def _keras_backend() -> str:
    import keras

    return keras.backend.backend()


def _run_keras(module, x, library: str, stream: bool, strategy: str):
    from keras import ops

    backend = _keras_backend()
    native = {"jax": "jax", "torch": "torch", "tensorflow": "tensorflow"}
    if library in native and native[library] != backend:
        raise ValueError(
            f"signature: target='keras' runs on the active Keras backend ({backend!r}), which "
            f"cannot take {library} tensors; set KERAS_BACKEND={native[library]} before "
            f"importing keras, or pass target='jax'"
        )
    if library == "numpy":
        with _x64(backend == "jax" and x.dtype == np.float64):
            return ops.convert_to_numpy(
                module.signature(ops.convert_to_tensor(x), stream=stream, strategy=strategy))
    return module.signature(x, stream=stream, strategy=strategy)


def _cast(x, library: str, dtype: str):
    if library == "numpy":
        return x.astype(dtype, copy=False)
    if library == "torch":
        import torch

        return x.to(getattr(torch, dtype))
    if library == "jax":
        import jax.numpy as jnp

        return x.astype(jnp.dtype(dtype))
    from keras import ops

    return ops.cast(x, dtype)


def _default_float(library: str) -> str:
    if library == "torch":
        import torch

        return str(torch.get_default_dtype()).removeprefix("torch.")
    if library == "jax":
        import jax

        return "float64" if jax.config.jax_enable_x64 else "float32"
    if library in ("tensorflow", "keras"):
        import keras

        return keras.config.floatx()
    return "float64"


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
            :func:`choose_target`).
        strategy: ``"horner"``, ``"chunked"`` or ``"levelwise"``; None picks one (see
            :func:`choose_strategy`). All give the same values.
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
        (word i1..ik at index i1*d**(k-1) + ... + ik). Same library and float dtype as the
        input; float16/bfloat16 compute and return float32, integer and bool inputs the
        library's default float. L = 1 gives zeros (the signature of a constant path).

    Traceable: with jax arrays it works inside ``jax.jit``, ``jax.grad`` and ``jax.vmap``; with
    torch tensors gradients flow through autograd; with tensorflow tensors (Keras on the
    tensorflow backend) inside ``tf.function``; with Keras symbolic tensors it adds a
    :class:`SigLayer` to the functional model.

    Example:
        >>> import numpy as np, sigcodegen as sc
        >>> sc.signature(np.array([[0.0, 0.0], [1.0, 2.0]]), depth=2)   # exp of (1, 2)
        array([1. , 2. , 0.5, 1. , 1. , 2. ])
    """
    library = _library(path)
    if library == "numpy" and not isinstance(path, np.ndarray):
        path = np.asarray(path)
    if not isinstance(stream, bool):
        raise TypeError(f"signature: stream must be True or False, got {stream!r}")
    if target is not None:
        check_choice("target", target)
    if strategy is not None:
        check_choice("strategy", strategy)
    if library == "keras":
        from .layers import SigLayer

        return SigLayer(depth, stream=stream, strategy=strategy)(path)

    shape = tuple(path.shape)
    if library == "tensorflow":
        shape = tuple(path.shape.as_list()) if path.shape.rank is not None else ()
    _, dim = _check_shape(shape, depth, stream)
    name = _dtype_name(path, library)
    dtype = _compute_dtype(name, library)
    if dtype != name:
        path = _cast(path, library, dtype)
    if basepoint is not None or lengths is not None or inverse or initial is not None:
        from .operations import _adjust_path, _finish

        path = _adjust_path(path, library, basepoint, lengths)
        sig = signature(path, depth, stream, target=target, strategy=strategy)
        return _finish(sig, dim, depth, library, inverse, initial, stream, target)

    on_gpu = _on_gpu(path, library)
    target = target or choose_target(library, on_gpu, strategy)
    strategy = strategy or choose_strategy(on_gpu, stream, target)
    if target == "triton":
        if library != "torch":
            raise ValueError(f"signature: target='triton' takes torch tensors, not {library} "
                             f"arrays; use target='c' or 'jax'")
        if strategy == "levelwise":
            raise ValueError("signature: the triton target runs the strategies 'horner' and "
                             "'chunked'; use target='jax' or 'keras' for 'levelwise'")
        return _load(dim, depth, "triton").signature(path, stream=stream, strategy=strategy)
    if target == "c":
        if strategy == "levelwise":
            raise ValueError("signature: the c target runs the strategies 'horner' and "
                             "'chunked'; use target='jax' or 'keras' for 'levelwise'")
        if library not in ("numpy", "jax", "torch"):
            raise ValueError(f"signature: target='c' takes numpy, jax and torch arrays, not "
                             f"{library} tensors; use target='keras'")
        native = load_native(dim, depth, library, dtype)
        if native is not None:
            return native.signature(path, stream=stream, strategy=strategy)
        target = "jax"
    module = _load(dim, depth, target)
    if target == "keras":
        return _run_keras(module, path, library, stream, strategy)
    if library == "numpy":
        return _run_jax_on_numpy(module, path, stream, strategy)
    if library == "torch":
        return _torch_function(module, stream, strategy).apply(path)
    if library == "jax":
        return module.signature(path, stream=stream, strategy=strategy)
    raise ValueError(
        f"signature: target='jax' cannot take {library} tensors; pass target='keras' (Keras on "
        f"the {library} backend) or convert the input to numpy"
    )


def _on_gpu(path, library: str) -> bool:
    if library == "torch":
        return path.is_cuda
    if library == "jax":
        try:
            return any(d.platform == "gpu" for d in path.devices())
        except Exception:  # tracers have no devices; follow the default backend
            import jax

            return jax.default_backend() == "gpu"
    return False


def signature_vjp(path, grad, depth, stream=False, *, target=None, strategy=None):
    """Gradient of ``sum(grad * signature(path, depth, stream))`` with respect to ``path``, for
    callers without autodiff (like iisignature's ``sigbackprop``, pysiglib's ``sig_backprop``).

    Args:
        path: ``(..., L, d)`` numpy array, nested list, jax array or torch tensor.
        grad: the gradient with respect to the signature, shaped like ``signature(path, ...)``.
        depth, stream, target, strategy: as for :func:`signature`.

    Returns:
        An array shaped like ``path``, of its library and float dtype. The ``c`` target runs its
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
    library = _library(path)
    if library == "numpy" and not isinstance(path, np.ndarray):
        path = np.asarray(path)
    if library == "jax":
        import jax

        out, pullback = jax.vjp(
            lambda p: signature(p, depth, stream, target=target, strategy=strategy), path)
        if tuple(grad.shape) != tuple(out.shape):
            raise ValueError(f"signature_vjp: grad has shape {tuple(grad.shape)}, the signature "
                             f"{tuple(out.shape)}")
        return pullback(jax.numpy.asarray(grad, out.dtype))[0]
    if library == "torch":
        import torch

        leaf = path.detach().requires_grad_(True)
        out = signature(leaf, depth, stream, target=target, strategy=strategy)
        if tuple(grad.shape) != tuple(out.shape):
            raise ValueError(f"signature_vjp: grad has shape {tuple(grad.shape)}, the signature "
                             f"{tuple(out.shape)}")
        (result,) = torch.autograd.grad(out, leaf, torch.as_tensor(grad, dtype=out.dtype))
        return result
    if library != "numpy":
        raise TypeError(f"signature_vjp: takes numpy, jax and torch arrays, not {library} "
                        f"tensors; use tf.GradientTape around signature() instead")
    _, dim = _check_shape(path.shape, depth, stream)
    dtype = _compute_dtype(_dtype_name(path, library), library)
    path = path.astype(dtype, copy=False)
    siglen = signature_channels(dim, depth)
    expected = (*path.shape[:-2], max(path.shape[-2] - 1, 0), siglen) if stream \
        else (*path.shape[:-2], siglen)
    grad = np.asarray(grad, dtype=dtype)
    if grad.shape != expected:
        raise ValueError(f"signature_vjp: grad has shape {grad.shape}; the signature of a path "
                         f"{path.shape} at depth {depth} has shape {expected}")
    target = target or choose_target(library, False, strategy)
    if target not in ("c", "jax"):
        raise ValueError(f"signature_vjp: runs the c and jax targets, not {target!r}")
    if target == "c":
        native = load_native(dim, depth, library, dtype)
        if native is not None:
            return native.backward(path, native.forward(path, stream), grad, stream)
    import jax
    import jax.numpy as jnp

    module = _load(dim, depth, "jax")
    strategy = strategy or choose_strategy(False, stream)
    with _x64(path.dtype == np.float64):
        _, pullback = jax.vjp(lambda p: module.signature(p, stream, strategy), jnp.asarray(path))
        return np.array(pullback(jnp.asarray(grad))[0])


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

