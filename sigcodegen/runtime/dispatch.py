"""Which kernel runs, and running it: the target and strategy rules, loading a spec's module
(memoised per process, the least recently used dropped past :data:`MAX_MODULES`), the one
torch <-> jax bridge, and running a signature or a tensor-algebra routine of an emitted module
on an array of any framework: the jit targets at shape buckets, compiled once per bucket
(``sigcodegen.runtime.buckets``).

Everything here takes a framework adapter (``sigcodegen.runtime.frameworks``) and arrays already
validated and cast by the caller (``sigcodegen.ops``).
"""

from __future__ import annotations

import collections
import functools
import importlib.util
import threading
import warnings
from types import ModuleType

import numpy as np

from ..jit.loader import import_source, native_build
from ..jit.toolchain import CompileError, CompilerUnavailable
from ..spec import KernelSpec
from . import buckets
from .bindings.coefficients import CoefficientsModule
from .bindings.logsignature import LogSignatureModule
from .bindings.signature import NativeModule
from .bindings.sigkernel import SigKernelModule
from .buckets import COMPILED
from .frameworks import Framework, framework_named, keras_backend, x64

__all__ = ["choose_target", "choose_strategy", "load_module", "loaded", "load", "clear_memo",
           "load_coefficients",
           "clear_caches", "load_native", "torch_bridge", "run_signature", "run_logsignature", "run_module_logsignature",
           "run_module_signature",
           "run_signature_vjp", "run_routine", "MAX_MODULES"]

_NUMPY = framework_named("numpy")

#: the strategies of the c and triton targets (the Python targets run every one)
NATIVE_STRATEGIES = NativeModule.STRATEGIES


# ---- the rules --------------------------------------------------------------------------------


def choose_target(framework: str, on_gpu: bool = False, strategy: str | None = None) -> str:
    """The target used when ``target=None``, for arrays of ``framework``:

    - Keras symbolic tensors: ``keras``;
    - on a CPU, numpy arrays, lists, jax arrays, torch and tensorflow tensors: ``c``, compiled
      C (jax arrays through the XLA FFI inside jit/grad/vmap, torch tensors through a custom op
      with autograd, tensorflow tensors through a TensorFlow custom op with a registered
      gradient, eagerly and in ``tf.function``; inside ``tf.function(jit_compile=True)``, which
      the op cannot join, ``keras``). When no C compiler works, one warning, then ``jax``
      (``keras`` for tensorflow tensors);
    - tensorflow tensors where tensorflow sees a GPU: ``keras`` (Keras must run on tensorflow);
    - torch tensors on a CUDA GPU: ``triton`` (generated Triton kernels with a native
      backward) when triton is installed and the strategy is not ``levelwise``;
    - otherwise on a GPU, and for the ``levelwise`` strategy (which only the Python targets
      run): ``jax`` (torch tensors through DLPack with autograd; ``keras`` on Keras' torch
      backend when jax is not installed).

    Example:
        >>> from sigcodegen.runtime.dispatch import choose_target
        >>> choose_target("numpy"), choose_target("tensorflow"), choose_target("keras")
        ('c', 'c', 'keras')
    """
    if framework == "keras" or (framework == "tensorflow" and (on_gpu or strategy == "levelwise")):
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
    if target == "c" and framework.name not in ("numpy", "jax", "torch", "tensorflow"):
        raise ValueError(f"signature: target='c' takes numpy, jax, torch and tensorflow arrays, "
                         f"not {framework.name} tensors; use target='keras'")


# ---- loading ----------------------------------------------------------------------------------

#: Loaded modules kept per process (one per kind, dim, depth and target); past it the least
#: recently loaded or used one is forgotten (layers keep their own reference).
MAX_MODULES = 64

_memo: collections.OrderedDict[tuple, object] = collections.OrderedDict()
_memo_lock = threading.RLock()


def _memo_key(kind: str, dim: int, target: str, depth: int | None = None) -> tuple:
    """The memo key of a module: the fields of KernelSpec.module_fields, which decide it."""
    return kind, dim, depth, target


def loaded(kind: str, dim: int, depth: int, target: str):
    """The module already loaded in this process for these fields, or None (no spec is built:
    the fast path of every call after the first)."""
    key = _memo_key(kind, dim, target, depth)
    module = _memo.get(key)
    if module is not None and len(_memo) > MAX_MODULES // 2:  # recency matters near the bound
        with _memo_lock:
            if key in _memo:
                _memo.move_to_end(key)
    return module


def load_module(spec: KernelSpec) -> ModuleType | NativeModule | SigKernelModule:
    """The loaded module for ``spec``: an imported Python module, or for the c target a
    :class:`NativeModule` (a :class:`SigKernelModule` for ``kind="sigkernel"``), memoised per
    process: later calls touch no disk."""
    fields = _memo_key(**spec.module_fields())
    module = _memo.get(fields)
    if module is not None:
        return module
    with _memo_lock:
        module = _memo.get(fields)
        if module is None:
            if spec.target != "c":
                module = import_source(spec)
            elif spec.kind == "sigkernel":
                module = SigKernelModule(native_build(spec))
            elif spec.kind == "coefficients":
                module = CoefficientsModule(native_build(spec))
            elif spec.kind == "logsignature":
                module = LogSignatureModule(native_build(spec))
            else:
                module = NativeModule(native_build(spec))
            _memo[fields] = module
            while len(_memo) > MAX_MODULES:
                _memo.popitem(last=False)
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


def clear_caches() -> None:
    """Forget everything this process keeps between calls: the loaded modules, the compiled
    executables of the jit targets (:data:`.buckets.COMPILED`) and what the loaded jax modules'
    jitted functions compiled, and the torch bridges. The next call loads and compiles again."""
    with _memo_lock:
        for module in _memo.values():
            for value in vars(module).values() if isinstance(module, ModuleType) else ():
                clear = getattr(value, "clear_cache", None)
                if callable(clear) and hasattr(value, "lower"):  # a jitted function
                    clear()
        _memo.clear()
    COMPILED.clear()
    _logsignature_of.cache_clear()
    _torch_projection.cache_clear()
    torch_bridge.cache_clear()
    _pullback.cache_clear()
    _signature_of.cache_clear()


_native_failures: dict[tuple, str] = {}
#: why the tensorflow op could not be built in this process (warned once; empty: no failure)
_tensorflow_failure: list[str] = []


def tensorflow_native_available() -> bool:
    """False once the tensorflow custom op failed to build or load in this process (then
    tensorflow tensors run the keras target)."""
    return not _tensorflow_failure


def load_native(dim: int, depth: int, framework: str, dtype: str = "float32",
                kind: str = "signature"):
    """The c target's module with its ``dtype`` library built, for arrays of ``framework`` (for
    tensorflow also bound to the custom op, built on first use); or None (with one warning per
    spec, and one per process for the tensorflow op) when no compiler works or the build fails,
    or when jax arrays need the XLA FFI and the toolchain has no headers for it. The caller
    then uses the jax target (the keras target for tensorflow)."""
    key = (dim, depth) if kind == "signature" else (kind, dim, depth)
    if key in _native_failures or (framework == "tensorflow" and _tensorflow_failure):
        return None
    fallback = "keras" if framework == "tensorflow" else "jax"
    try:
        module = load(dim, depth, "c", kind)
        module.lib(64 if dtype == "float64" else 32)
    except (CompilerUnavailable, CompileError) as err:
        _native_failures[key] = str(err)
        warnings.warn(f"{err}. Using the {fallback} target instead for {kind} dim={dim}, "
                      f"depth={depth}.", RuntimeWarning, stacklevel=3)
        return None
    if kind == "logsignature":  # bound by its own torch and jax functions, no FFI or op
        return module
    if framework == "jax" and not module.has_ffi:  # no jaxlib headers when probed
        return None
    if framework == "tensorflow" and not _bind_tensorflow(module):
        return None
    return module


def _bind_tensorflow(module) -> bool:
    """Bind ``module`` to tensorflow (building the op library on first use); False, with one
    warning per process, when it cannot be built or loaded."""
    import tensorflow as tf

    try:
        module.bind("tensorflow")
        return True
    except (CompilerUnavailable, CompileError, OSError, tf.errors.OpError) as err:
        _tensorflow_failure.append(str(err))
        warnings.warn(f"{err}. Tensorflow tensors (and SigLayer on tensorflow) run the keras "
                      f"target instead (slower, XLA-compilable).", RuntimeWarning, stacklevel=4)
        return False


def load_coefficients(dim: int, dtype: str):
    """The c target's chosen-coefficients module for ``dim`` with its ``dtype`` library built;
    or None (with one warning per dim) when no compiler works or the build fails: the caller
    then runs the plan as numpy array code."""
    key = ("coefficients", dim)
    if key in _native_failures:
        return None
    try:
        module = loaded("coefficients", dim, None, "c") or \
            load_module(KernelSpec(dim=dim, kind="coefficients", target="c"))
        module.lib(64 if dtype == "float64" else 32)
    except (CompilerUnavailable, CompileError) as err:
        _native_failures[key] = str(err)
        warnings.warn(f"{err}. signature_coefficients runs as numpy array code for dim={dim}.",
                      RuntimeWarning, stacklevel=3)
        return None
    return module


# ---- running a module's function on any framework's arrays ------------------------------------


@functools.lru_cache(maxsize=256)
def _pullback(function):
    """``(inputs, grad) -> the gradients of <grad, function(*inputs)>`` (one object per
    function, so that :data:`COMPILED` keeps its executables)."""
    import jax

    def pullback(inputs, grad):
        return jax.vjp(function, *inputs)[1](grad)

    return pullback


@functools.lru_cache(maxsize=256)
def torch_bridge(function):
    """A ``torch.autograd.Function`` running the jax function ``function`` of arrays on torch
    tensors (through DLPack, on the CPU), with gradients by ``jax.vjp``, both compiled once per
    shape in :data:`COMPILED`; results go back to the inputs' device. The one bridge between
    the two frameworks."""
    import jax
    import torch

    pullback = _pullback(function)

    def to_jax(t):
        return jax.dlpack.from_dlpack(t.detach().contiguous().cpu())

    class JaxFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *inputs):
            ctx.save_for_backward(*inputs)
            with x64(inputs[0].dtype == torch.float64):
                out = COMPILED(function, *map(to_jax, inputs))
                return torch.from_dlpack(out).to(inputs[0].device)

        @staticmethod
        def backward(ctx, grad):
            inputs = ctx.saved_tensors
            with x64(inputs[0].dtype == torch.float64):
                grads = COMPILED(pullback, tuple(map(to_jax, inputs)), to_jax(grad))
            return tuple(torch.from_dlpack(g).to(inputs[0].device) for g in grads)

    return JaxFunction


def _on_jax(function, framework: Framework, *arrays):
    """A jax module's ``function`` on numpy, jax or torch arrays (torch with autograd); concrete
    arrays run the executable :data:`COMPILED` keeps for their shapes."""
    if framework.name == "jax":
        import jax

        if any(isinstance(a, jax.core.Tracer) for a in arrays):
            return function(*arrays)  # inside the caller's jit/grad/vmap: its trace decides
        return COMPILED(function, *arrays)
    if framework.name == "torch":
        return torch_bridge(function).apply(*arrays)
    if framework.name != "numpy":
        raise ValueError(
            f"signature: target='jax' cannot take {framework.name} tensors; pass target='keras' "
            f"(Keras on the {framework.name} backend) or convert the input to numpy")
    with x64(arrays[0].dtype == np.float64):
        return np.array(COMPILED(function, *arrays))  # a writable copy, input's dtype


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


@functools.lru_cache(maxsize=256)
def _signature_of(module, stream: bool, strategy: str):
    """``module.signature`` with its options bound: one function object per (module, options),
    so the torch bridge is built once for it."""
    def signature(x):
        return module.signature(x, stream=stream, strategy=strategy)

    return signature


def _host_device(framework: Framework, x):
    """The CPU device of a concrete jax array on one CPU device (else None)."""
    return framework.host_device(x) if framework.name == "jax" else None


def _to_device(out: np.ndarray, device):
    import jax

    with x64(out.dtype == np.float64):
        return jax.device_put(out, device)


def run_signature(path, framework: Framework, dim: int, depth: int, dtype: str, stream: bool,
                  target: str | None, strategy: str | None):
    """The signature of ``path`` (validated, in its compute ``dtype``) on the chosen target."""
    on_gpu = framework.on_gpu(path)
    target = target or choose_target(framework.name, on_gpu, strategy)
    strategy = strategy or choose_strategy(on_gpu, stream, target)
    _check_target(target, strategy, framework)
    if target == "c":
        if framework.name == "tensorflow" and framework.tracing_for_xla():
            target = "keras"  # the custom op has no XLA kernel; XLA compiles keras ops
        else:
            native = load_native(dim, depth, framework.name, dtype)
            if native is not None:
                return native.signature(path, stream=stream, strategy=strategy)
            target = "keras" if framework.name == "tensorflow" else "jax"
    module = load(dim, depth, target)
    if target == "triton":
        return module.signature(path, stream=stream, strategy=strategy)
    return run_module_signature(module, target, path, framework, stream, strategy)


def run_logsignature(path, framework: Framework, dim: int, depth: int, dtype: str,
                     stream: bool, target: str | None, strategy: str | None, mode: str):
    """The log-signature of ``path`` (validated, in its compute ``dtype``) in ``mode`` by one
    fused kernel module of kind ``logsignature``: the c target's kernels (numpy, torch and jax
    arrays on the CPU), the jax module (numpy, jax and torch arrays, at shape buckets), the
    keras module (numpy arrays and tensors of the active backend, tensorflow tensors included)
    or the triton module (torch tensors). None where no such module runs: tensorflow tensors
    that the c target takes (its signature runs as a TensorFlow op), Keras symbolic tensors, no
    working compiler; the caller then takes the tensor logarithm of :func:`run_signature`'s
    result."""
    if framework.name not in ("numpy", "torch", "jax", "tensorflow"):
        return None
    on_gpu = framework.on_gpu(path)
    target = target or choose_target(framework.name, on_gpu, strategy)
    if framework.name == "tensorflow" and target == "c":
        if not framework.tracing_for_xla():
            return None  # the c signature as a TensorFlow op, then the keras logarithm
        target = "keras"  # the op has no XLA kernel; XLA compiles keras ops (as run_signature)
    strategy = strategy or choose_strategy(on_gpu, stream, target)
    _check_target(target, strategy, framework)
    if target == "c":
        native = load_native(dim, depth, framework.name, dtype, kind="logsignature")
        if native is None:
            return None
        return native.logsignature(path, stream=stream, strategy=strategy, mode=mode)
    module = load(dim, depth, target, "logsignature")
    if target == "triton":
        projection = _torch_projection(dim, depth, mode, path.device)
        return module.logsignature(path, stream=stream, strategy=strategy, projection=projection)
    return run_module_logsignature(module, target, path, framework, stream, strategy, mode)


def _projection(dim: int, depth: int, mode: str):
    """``algebra.log_projection``'s tables for ``mode`` (None for expand)."""
    from ..algebra import log_projection

    return log_projection(dim, depth, mode)


@functools.lru_cache(maxsize=64)
def _torch_projection(dim: int, depth: int, mode: str, device):
    """The projection tables as torch tensors on ``device`` (copied there once)."""
    import torch

    tables = _projection(dim, depth, mode)
    return None if tables is None else tuple(torch.as_tensor(t, device=device) for t in tables)


@functools.lru_cache(maxsize=256)
def _logsignature_of(module, stream: bool, strategy: str, mode: str):
    """``module.logsignature`` with its options and ``mode``'s projection tables bound (as
    constants of the compiled function): one function object per (module, options), so the
    torch bridge and the compiled executables are built once for it."""
    projection = _projection(module.DIM, module.DEPTH, mode)
    if projection is not None and projection[0][-1] < 2**31:  # int32 indices: the same
        # constants with and without jax's x64 (a function traced under one and called under
        # the other would otherwise see int64 against int32)
        projection = (*(t.astype(np.int32) for t in projection[:2]), projection[2])

    def logsignature(x):
        return module.logsignature(x, stream=stream, strategy=strategy, projection=projection)

    return logsignature


def run_module_logsignature(module, target: str, path, framework: Framework, stream: bool,
                            strategy: str, mode: str):
    """The log-signature by a loaded jax or keras module of kind ``logsignature``, at the
    module's shape buckets when the call would compile per shape (zero increments leave the
    log-signature unchanged), sliced back to ``path``'s: as :func:`run_module_signature`."""
    run = _on_keras if target == "keras" else _on_jax
    function = _logsignature_of(module, stream, strategy, mode)
    if not buckets.helps(framework, path, target):
        return run(function, framework, path)
    device = _host_device(framework, path)
    if device is not None:  # pad the numpy view: eager jax ops would compile per shape
        out = run_module_logsignature(module, target, np.asarray(path), _NUMPY, stream,
                                      strategy, mode)
        return _to_device(out, device)
    padded, padding = buckets.pad_paths(path, framework, module)
    if padding is None:
        return run(function, framework, path)
    return padding.undo(run(function, framework, padded), stream)


def run_module_signature(module, target: str, path, framework: Framework, stream: bool,
                         strategy: str):
    """The signature by a loaded jax or keras module: at the module's shape buckets when the
    call would compile per shape (:func:`.buckets.helps`), sliced back to ``path``'s."""
    run = _on_keras if target == "keras" else _on_jax
    function = _signature_of(module, stream, strategy)
    if not buckets.helps(framework, path, target):
        return run(function, framework, path)
    device = _host_device(framework, path)
    if device is not None:  # pad the numpy view: eager jax ops would compile per shape
        out = run_module_signature(module, target, np.asarray(path), _NUMPY, stream, strategy)
        return _to_device(out, device)
    padded, padding = buckets.pad_paths(path, framework, module)
    if padding is None:
        return run(function, framework, path)
    return padding.undo(run(function, framework, padded), stream)


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
    module = load(dim, depth, "jax")
    strategy = strategy or choose_strategy(False, stream)
    function = _signature_of(module, stream, strategy)
    padding = None
    if buckets.helps(_NUMPY, path, "jax"):
        path, padding = buckets.pad_paths(path, _NUMPY, module)
        if padding is not None:
            grad = padding.pad_cotangent(grad, stream)
    with x64(path.dtype == np.float64):
        (result,) = COMPILED(_pullback(function), (path,), grad)
    result = np.array(result)  # a writable copy
    return result if padding is None else padding.fold(result)


def run_routine(name: str, dim: int, depth: int, framework: Framework, *arrays, target=None):
    """Run the emitted routine ``name`` (tensor_log, tensor_exp, combine) on flat elements:
    with the keras target's module for tensorflow tensors or ``target="keras"``, with the
    triton module's torch routines for torch tensors on a GPU or ``target="triton"``, else with
    the jax target's (the c target emits no algebra routines)."""
    if framework.name in ("tensorflow", "keras") or target == "keras":
        target = "keras"
    elif framework.name == "torch" and (target == "triton" or (
            target is None and framework.on_gpu(arrays[0])
            and importlib.util.find_spec("triton") is not None)):
        return getattr(load(dim, depth, "triton"), name)(*arrays)  # torch ops, autograd
    else:
        target = "jax"
    module = load(dim, depth, target)
    run = _on_keras if target == "keras" else _on_jax
    function = getattr(module, name)
    if not buckets.helps(framework, arrays[0], target) or not buckets.rows_worth_padding(
            arrays, framework, module):
        return run(function, framework, *arrays)
    devices = {_host_device(framework, a) for a in arrays}
    if len(devices) == 1 and None not in devices:  # numpy views, as in run_module_signature
        out = run_routine(name, dim, depth, _NUMPY, *map(np.asarray, arrays), target=target)
        return _to_device(out, devices.pop())
    padded, padding = buckets.pad_rows(arrays, framework, module)
    if padding is None:
        return run(function, framework, *arrays)
    return padding.undo(run(function, framework, *padded))

