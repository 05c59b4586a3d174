"""Which kernel runs, and running it: the target and strategy rules, loading a spec's module
(memoised per process), the one torch <-> jax bridge, and running a signature or a
tensor-algebra routine of an emitted module on an array of any framework.

Everything here takes a framework adapter (``sigcodegen.runtime.frameworks``) and arrays already
validated and cast by the caller (``sigcodegen.ops``).
"""

from __future__ import annotations

import functools
import importlib.util
import threading
import warnings
from types import ModuleType

import numpy as np

from ..jit.loader import import_source, native_build
from ..jit.toolchain import CompileError, CompilerUnavailable
from ..spec import KernelSpec
from .bindings import NativeModule
from .frameworks import Framework, keras_backend, x64

__all__ = ["choose_target", "choose_strategy", "load_module", "loaded", "load", "clear_memo",
           "load_native", "torch_bridge", "run_signature", "run_signature_vjp", "run_routine"]

#: the strategies of the c and triton targets (the Python targets run every one)
NATIVE_STRATEGIES = NativeModule.STRATEGIES


# ---- the rules --------------------------------------------------------------------------------


def choose_target(framework: str, on_gpu: bool = False, strategy: str | None = None) -> str:
    """The target used when ``target=None``, for arrays of ``framework``:

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
        >>> from sigcodegen.runtime.dispatch import choose_target
        >>> choose_target("numpy"), choose_target("tensorflow")
        ('c', 'keras')
    """
    if framework in ("tensorflow", "keras"):
        return "keras"
    if not on_gpu and strategy != "levelwise":
        return "c"
    if (framework == "torch" and strategy != "levelwise"
            and importlib.util.find_spec("triton") is not None):
        return "triton"
    if framework == "torch" and importlib.util.find_spec("jax") is None:
        return "keras"
    return "jax"


def choose_strategy(on_gpu: bool = False, stream: bool = False, target: str | None = None) -> str:
    """The strategy used when ``strategy=None``: for the ``triton`` target ``chunked`` for final
    values (time chunks as extra lanes, joined by Chen) and ``horner`` for streams; otherwise
    ``levelwise`` on GPUs (whole-sequence per-degree work, time-blocked); on CPUs ``chunked``
    for final values (which is ``horner`` unless the batch is small and the path long: see
    ``sigcodegen plan``) and ``horner`` for streams (the chunked stream's second pass costs more
    than it saves on a CPU).

    Example:
        >>> from sigcodegen.runtime.dispatch import choose_strategy
        >>> choose_strategy(), choose_strategy(stream=True)   # on a CPU
        ('chunked', 'horner')
    """
    if on_gpu and target != "triton":
        return "levelwise"
    return "horner" if stream else "chunked"


def _check_target(target: str, strategy: str, framework: Framework) -> None:
    """Refuse a target that cannot take this framework's arrays or run this strategy."""
    if target in ("c", "triton") and strategy not in NATIVE_STRATEGIES:
        raise ValueError(f"signature: the {target} target runs the strategies "
                         f"{' and '.join(map(repr, NATIVE_STRATEGIES))}; use target='jax' or "
                         f"'keras' for {strategy!r}")
    if target == "triton" and framework.name != "torch":
        raise ValueError(f"signature: target='triton' takes torch tensors, not "
                         f"{framework.name} arrays; use target='c' or 'jax'")
    if target == "c" and framework.name not in ("numpy", "jax", "torch"):
        raise ValueError(f"signature: target='c' takes numpy, jax and torch arrays, not "
                         f"{framework.name} tensors; use target='keras'")


# ---- loading ----------------------------------------------------------------------------------

_memo: dict[tuple, object] = {}
_memo_lock = threading.RLock()


def _memo_key(kind: str, dim: int, depth: int, target: str) -> tuple:
    """The memo key of a module: the fields of KernelSpec.module_fields, which decide it."""
    return kind, dim, depth, target


def loaded(kind: str, dim: int, depth: int, target: str):
    """The module already loaded in this process for these fields, or None (no spec is built:
    the fast path of every call after the first)."""
    return _memo.get(_memo_key(kind, dim, depth, target))


def load_module(spec: KernelSpec) -> ModuleType | NativeModule:
    """The loaded module for ``spec``: an imported Python module, or for the c target a
    :class:`NativeModule` (memoised per process: later calls touch no disk)."""
    fields = _memo_key(**spec.module_fields())
    module = _memo.get(fields)
    if module is not None:
        return module
    with _memo_lock:
        module = _memo.get(fields)
        if module is None:
            module = NativeModule(native_build(spec)) if spec.target == "c" else import_source(spec)
            _memo[fields] = module
    return module


def load(dim: int, depth: int, target: str, kind: str = "signature"):
    """:func:`load_module` by fields, without building a spec when the module is loaded."""
    module = loaded(kind, dim, depth, target)
    if module is not None:
        return module
    return load_module(KernelSpec(dim=dim, depth=depth, kind=kind, target=target))


def clear_memo() -> None:
    """Forget the modules loaded in this process (tests; after `sigcodegen cache clear`)."""
    with _memo_lock:
        _memo.clear()


_native_failures: dict[tuple, str] = {}


def load_native(dim: int, depth: int, framework: str, dtype: str = "float32"):
    """The c target's module with its ``dtype`` library built, for arrays of ``framework``; or
    None (with one warning per spec) when no compiler works or the build fails, or when jax
    arrays need the XLA FFI and the toolchain has no headers for it. The caller then uses the
    jax target."""
    key = (dim, depth)
    if key in _native_failures:
        return None
    try:
        module = load(dim, depth, "c")
        module.lib(64 if dtype == "float64" else 32)
    except (CompilerUnavailable, CompileError) as err:
        _native_failures[key] = str(err)
        warnings.warn(f"{err}. Using the jax target instead for dim={dim}, depth={depth}.",
                      RuntimeWarning, stacklevel=3)
        return None
    if framework == "jax" and not module.has_ffi:  # no jaxlib headers when probed
        return None
    return module


# ---- running a module's function on any framework's arrays ------------------------------------


@functools.lru_cache(maxsize=None)
def torch_bridge(function):
    """A ``torch.autograd.Function`` running the jax function ``function`` of arrays on torch
    tensors (through DLPack, on the CPU), with gradients by a jitted ``jax.vjp``; results go
    back to the inputs' device. The one bridge between the two frameworks."""
    import jax
    import torch

    pullback = jax.jit(lambda inputs, grad: jax.vjp(function, *inputs)[1](grad))

    def to_jax(t):
        return jax.dlpack.from_dlpack(t.detach().contiguous().cpu())

    class JaxFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *inputs):
            ctx.save_for_backward(*inputs)
            with x64(inputs[0].dtype == torch.float64):
                return torch.from_dlpack(function(*map(to_jax, inputs))).to(inputs[0].device)

        @staticmethod
        def backward(ctx, grad):
            inputs = ctx.saved_tensors
            with x64(inputs[0].dtype == torch.float64):
                grads = pullback(tuple(map(to_jax, inputs)), to_jax(grad))
            return tuple(torch.from_dlpack(g).to(inputs[0].device) for g in grads)

    return JaxFunction


def _on_jax(function, framework: Framework, *arrays):
    """A jax module's ``function`` on numpy, jax or torch arrays (torch with autograd)."""
    if framework.name == "jax":
        return function(*arrays)
    if framework.name == "torch":
        return torch_bridge(function).apply(*arrays)
    if framework.name != "numpy":
        raise ValueError(
            f"signature: target='jax' cannot take {framework.name} tensors; pass target='keras' "
            f"(Keras on the {framework.name} backend) or convert the input to numpy")
    import jax.numpy as jnp

    with x64(arrays[0].dtype == np.float64):
        return np.array(function(*map(jnp.asarray, arrays)))  # a writable copy, input's dtype


def _on_keras(function, framework: Framework, *arrays):
    """A keras module's ``function`` on numpy arrays or on tensors of the active backend."""
    from keras import ops

    backend = keras_backend()
    if framework.name in ("jax", "torch", "tensorflow") and framework.name != backend:
        raise ValueError(
            f"signature: target='keras' runs on the active Keras backend ({backend!r}), which "
            f"cannot take {framework.name} tensors; set KERAS_BACKEND={framework.name} before "
            f"importing keras, or pass target='jax'")
    if framework.name != "numpy":
        return function(*arrays)
    with x64(backend == "jax" and arrays[0].dtype == np.float64):
        return ops.convert_to_numpy(function(*map(ops.convert_to_tensor, arrays)))


@functools.lru_cache(maxsize=None)
def _signature_of(module, stream: bool, strategy: str):
    """``module.signature`` with its options bound: one function object per (module, options),
    so the torch bridge is built once for it."""
    def signature(x):
        return module.signature(x, stream=stream, strategy=strategy)

    return signature


def run_signature(path, framework: Framework, dim: int, depth: int, dtype: str, stream: bool,
                  target: str | None, strategy: str | None):
    """The signature of ``path`` (validated, in its compute ``dtype``) on the chosen target."""
    on_gpu = framework.on_gpu(path)
    target = target or choose_target(framework.name, on_gpu, strategy)
    strategy = strategy or choose_strategy(on_gpu, stream, target)
    _check_target(target, strategy, framework)
    if target == "c":
        native = load_native(dim, depth, framework.name, dtype)
        if native is not None:
            return native.signature(path, stream=stream, strategy=strategy)
        target = "jax"
    module = load(dim, depth, target)
    if target == "triton":
        return module.signature(path, stream=stream, strategy=strategy)
    run = _on_keras if target == "keras" else _on_jax
    return run(_signature_of(module, stream, strategy), framework, path)


def run_signature_vjp(path: np.ndarray, grad: np.ndarray, dim: int, depth: int, stream: bool,
                      target: str | None, strategy: str | None) -> np.ndarray:
    """The gradient of <grad, signature(path)> for numpy arrays: the c target's native backward,
    or ``jax.vjp`` of the jax target's kernel."""
    target = target or choose_target("numpy", False, strategy)
    if target not in ("c", "jax"):
        raise ValueError(f"signature_vjp: runs the c and jax targets, not {target!r}")
    if target == "c":
        native = load_native(dim, depth, "numpy", path.dtype.name)
        if native is not None:
            return native.backward(path, native.forward(path, stream), grad, stream)
    import jax
    import jax.numpy as jnp

    module = load(dim, depth, "jax")
    strategy = strategy or choose_strategy(False, stream)
    with x64(path.dtype == np.float64):
        _, pullback = jax.vjp(lambda p: module.signature(p, stream, strategy), jnp.asarray(path))
        return np.array(pullback(jnp.asarray(grad))[0])


def run_routine(name: str, dim: int, depth: int, framework: Framework, *arrays, target=None):
    """Run the emitted routine ``name`` (tensor_log, tensor_exp, combine) on flat elements:
    with the keras target's module for tensorflow tensors or ``target="keras"``, with the
    triton module's torch routines for torch tensors on a GPU or ``target="triton"``, else with
    the jax target's (the c target emits no algebra routines)."""
    if framework.name in ("tensorflow", "keras") or target == "keras":
        return _on_keras(getattr(load(dim, depth, "keras"), name), framework, *arrays)
    if framework.name == "torch" and (target == "triton" or (
            target is None and framework.on_gpu(arrays[0])
            and importlib.util.find_spec("triton") is not None)):
        return getattr(load(dim, depth, "triton"), name)(*arrays)  # torch ops, autograd
    return _on_jax(getattr(load(dim, depth, "jax"), name), framework, *arrays)

