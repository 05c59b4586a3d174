"""The c target's compiled libraries, loaded and bound: numpy through ctypes, JAX through the
XLA FFI (inside ``jax.jit``, with a ``custom_vjp`` calling the native backward, batch-sharded
and vmappable), torch through a ``torch.library`` custom op with a registered autograd formula,
tensorflow through a custom op with a registered gradient (``runtime.tensorflow_op``).
Building the libraries is ``sigcodegen.jit``; this module only loads what it is handed.
"""

from __future__ import annotations

import ctypes
import functools
import math
import threading
from pathlib import Path

import numpy as np

from . import threads
from .frameworks import framework_named, framework_of

__all__ = ["NativeModule", "BACKWARD_MODES", "SigKernelModule", "SIGKERNEL_LAYOUTS",
           "CoefficientsModule", "LogSignatureModule"]


#: element dtype -> the library's bits (its functions end in _f32 / _f64)
_BITS = {np.dtype(np.float32): 32, np.dtype(np.float64): 64}
_PTR = ctypes.c_void_p  # arrays are passed as addresses (x.ctypes.data): no ctypes casts per call
#: strategy -> the forward kernel's chunk argument (0: its own rule, 1: no time chunks)
_CHUNKS = {"horner": 1, "chunked": 0}
#: backward modes: 0 picks reversal or checkpoints per block, 1 reversal, 2 checkpoints
BACKWARD_MODES = {"auto": 0, "reversible": 1, "checkpoint": 2}


class _Libraries:
    """What every compiled module shares: its shared libraries, one per precision, built (or
    loaded from the cache) on first use of each and opened once (``_open`` binds a kind's
    functions)."""

    def __init__(self, built):
        """``built``: a ``sigcodegen.jit.loader.NativeBuild`` (spec, source, name, has_ffi and
        ``library(bits)``, the path of the library of one precision, compiled on first call)."""
        self.__file__ = str(built.source)
        self.name = built.name
        self._library = built.library
        self._libs: dict[int, ctypes.CDLL] = {}
        self._paths: dict[int, Path] = {}
        self._lock = threading.RLock()
        self._jax = None
        self._torch = None
        self._tensorflow = None

    def lib(self, bits: int) -> ctypes.CDLL:
        """The loaded ``bits``-bit library (built on first use; raises CompileError)."""
        lib = self._libs.get(bits)
        if lib is not None:
            return lib
        with self._lock:
            if bits not in self._libs:
                path = self._library(bits)
                self._libs[bits] = self._open(path, bits)
                self._paths[bits] = path
        return self._libs[bits]

    def library_path(self, bits: int) -> Path:
        """The path of the loaded ``bits``-bit library (loading it first)."""
        path = self._paths.get(bits)
        if path is None:
            self.lib(bits)
            path = self._paths[bits]
        return path

    def _open(self, path: Path, bits: int) -> ctypes.CDLL:
        raise NotImplementedError

    def _open_kind(self, path: Path, bits: int, kind: int) -> ctypes.CDLL:
        """Open a per-dim library of kind code ``kind`` (sigcodegen_info(6): 2 sigkernel, 3
        coefficients), checking that it was built for this dim and precision."""
        lib = ctypes.CDLL(str(path))
        lib.sigcodegen_info.restype = ctypes.c_int64
        lib.sigcodegen_info.argtypes = [ctypes.c_int32]
        built = (lib.sigcodegen_info(0), lib.sigcodegen_info(5), lib.sigcodegen_info(6))
        if built != (self.DIM, bits, kind):
            raise ImportError(f"sigcodegen: {path} was built for (dim, bits, kind) = {built}, not "
                              f"{(self.DIM, bits, kind)}; run `sigcodegen cache clear`")
        return lib


class NativeModule(_Libraries):
    """A compiled c-target module for one (dim, depth), with the interface of the Python
    targets' modules: ``signature(path, stream=False, strategy="chunked")``. Its shared
    libraries, one per precision, are built (or loaded from the cache) on first use of each:
    ``library(bits)`` returns the path of the ``bits``-bit library."""

    STRATEGIES = tuple(_CHUNKS)

    def __init__(self, built):
        super().__init__(built)
        spec = built.spec
        self.DIM, self.DEPTH, self.SIGLEN = spec.dim, spec.depth, spec.siglen
        self.has_ffi = built.has_ffi

    def _open(self, path: Path, bits: int) -> ctypes.CDLL:
        lib = ctypes.CDLL(str(path))
        lib.sigcodegen_info.restype = ctypes.c_int64
        lib.sigcodegen_info.argtypes = [ctypes.c_int32]
        built = tuple(lib.sigcodegen_info(i) for i in (0, 1, 2, 5))
        if built != (self.DIM, self.DEPTH, self.SIGLEN, bits):
            raise ImportError(f"sigcodegen: {path} was built for (dim, depth, siglen, bits) = "
                              f"{built}, not {(self.DIM, self.DEPTH, self.SIGLEN, bits)}; run "
                              f"`sigcodegen cache clear`")
        suffix, ptr = f"f{bits}", _PTR
        fwd = getattr(lib, f"sigcodegen_forward_{suffix}")
        fwd.restype = ctypes.c_int
        fwd.argtypes = [ptr, ctypes.c_int64, ctypes.c_int64, ptr, ctypes.c_int32, ctypes.c_int32]
        bwd = getattr(lib, f"sigcodegen_backward_{suffix}")
        bwd.restype = ctypes.c_int
        bwd.argtypes = [ptr, ctypes.c_int64, ctypes.c_int64, ptr, ptr, ctypes.c_int32,
                        ctypes.c_int32, ptr]
        lib.forward, lib.backward = fwd, bwd
        threads.attach(lib)  # the thread setting, and threadpoolctl's view of the pool
        return lib

    # -- numpy ------------------------------------------------------------------------------

    def _shapes(self, shape, stream):
        *lead, length, dim = shape
        if dim != self.DIM:
            raise ValueError(f"expected a path of shape (..., L, {self.DIM}), got {tuple(shape)}")
        batch = math.prod(lead)
        out = (*lead, max(length - 1, 0), self.SIGLEN) if stream else (*lead, self.SIGLEN)
        return batch, length, out

    def forward(self, x: np.ndarray, stream: bool = False, chunks: int = 0) -> np.ndarray:
        """(..., L, DIM) float32/float64 -> the signature, computed in place of a new array."""
        x = np.ascontiguousarray(x)
        bits = _BITS[x.dtype]
        batch, length, shape = self._shapes(x.shape, stream)
        out = np.empty(shape, x.dtype)
        status = self.lib(bits).forward(x.ctypes.data, batch, length, out.ctypes.data,
                                        int(stream), int(chunks))
        if status:
            raise MemoryError(f"sigcodegen: {self.name} forward ran out of memory for {x.shape}")
        return out

    def backward(self, x: np.ndarray, y: np.ndarray, gy: np.ndarray, stream: bool = False,
                 mode: str = "auto") -> np.ndarray:
        """Gradient of <gy, signature(x)> with respect to x; y is the forward output."""
        x, y = np.ascontiguousarray(x), np.ascontiguousarray(y, dtype=x.dtype)
        gy = np.ascontiguousarray(gy, dtype=x.dtype)
        bits = _BITS[x.dtype]
        batch, length, shape = self._shapes(x.shape, stream)
        if y.shape != shape or gy.shape != shape:
            raise ValueError(f"backward: output and its gradient must have shape {shape}, "
                             f"got {y.shape} and {gy.shape}")
        gx = np.empty_like(x)
        status = self.lib(bits).backward(x.ctypes.data, batch, length, y.ctypes.data,
                                         gy.ctypes.data, int(stream), BACKWARD_MODES[mode],
                                         gx.ctypes.data)
        if status:
            raise MemoryError(f"sigcodegen: {self.name} backward ran out of memory for {x.shape}")
        return gx

    # -- dispatch -----------------------------------------------------------------------------

    def signature(self, path, stream=False, strategy="chunked"):
        """numpy in -> numpy out; jax arrays through the XLA FFI (jit/grad/vmap); torch and
        tensorflow tensors through a custom op with autograd (a registered gradient)."""
        if strategy not in _CHUNKS:
            raise ValueError(f"the c target runs the strategies {self.STRATEGIES}, not {strategy!r}")
        framework = framework_of(path).name
        if framework == "jax":
            return self.jax_signature(path, stream, strategy)
        if framework == "torch":
            return self.torch_signature(path, stream, strategy)
        if framework == "tensorflow":
            return self.tensorflow_signature(path, stream, strategy)
        return self.forward(np.asarray(path), stream, _CHUNKS[strategy])

    # -- JAX ------------------------------------------------------------------------------------

    def bind(self, framework: str):
        """The JAX (``"jax"``), torch (``"torch"``) or tensorflow (``"tensorflow"``) binding,
        created once: registering a torch custom op or a jitted custom_vjp costs tens of ms,
        and the tensorflow op library is compiled on its first use, which SigLayer pays in
        build (the tensorflow one raises CompilerUnavailable / CompileError)."""
        with self._lock:
            if framework == "jax":
                self._jax = self._jax or _jax_binding(self)
                return self._jax
            if framework == "tensorflow":
                from .tensorflow_op import tensorflow_binding

                self._tensorflow = self._tensorflow or tensorflow_binding(self)
                return self._tensorflow
            self._torch = self._torch or _torch_binding(self)
            return self._torch

    def jax_signature(self, path, stream=False, strategy="chunked"):
        """Inside jit/grad/vmap (and for GPU or sharded arrays) through the XLA FFI; a concrete
        array on one CPU device runs on its numpy view, which compiles nothing per shape."""
        device = framework_named("jax").host_device(path)
        if device is not None:
            import jax

            out = self.forward(np.asarray(path), bool(stream), _CHUNKS[strategy])
            return jax.device_put(out, device)
        return (self._jax or self.bind("jax"))(path, bool(stream), _CHUNKS[strategy])

    # -- torch ----------------------------------------------------------------------------------

    def torch_signature(self, path, stream=False, strategy="chunked"):
        return (self._torch or self.bind("torch"))(path, bool(stream), _CHUNKS[strategy])

    # -- tensorflow -----------------------------------------------------------------------------

    def tensorflow_signature(self, path, stream=False, strategy="chunked"):
        """A tensorflow tensor (eager or in a tf.function without XLA) through the custom op."""
        if strategy not in _CHUNKS:
            raise ValueError(f"the c target runs the strategies {self.STRATEGIES}, not {strategy!r}")
        return (self._tensorflow or self.bind("tensorflow"))(path, bool(stream), _CHUNKS[strategy])


def _batch_parallel(kernel, rule: str, tables: int = 0):
    """``kernel`` on arrays whose rows (axis 0) are independent, made shardable and vmappable:
    under jit, XLA may split axis 0 over devices and run the kernel on each shard (a custom call
    is otherwise gathered onto one device); jax.vmap folds its axis into axis 0. ``rule`` names
    the axes in Shardy's notation, ``b`` for the rows. The last ``tables`` arguments are
    constants every shard needs whole (replicated; never vmapped)."""
    import jax.numpy as jnp
    from jax.custom_batching import custom_vmap
    from jax.experimental.custom_partitioning import custom_partitioning
    from jax.sharding import NamedSharding, PartitionSpec

    op = custom_partitioning(kernel)

    def rows(sharding):
        spec = getattr(sharding, "spec", ())
        return spec[0] if len(spec) else None

    def infer(mesh, arg_shapes, result_shape):
        return NamedSharding(mesh, PartitionSpec(rows(arg_shapes[0].sharding)))

    def partition(mesh, arg_shapes, result_shape):
        spec = PartitionSpec(rows(arg_shapes[0].sharding))
        count = len(arg_shapes) - tables
        return (mesh, kernel, NamedSharding(mesh, spec),
                tuple(NamedSharding(mesh, spec if i < count else PartitionSpec())
                      for i in range(len(arg_shapes))))

    names = rule.replace("->", " ").replace(",", " ").split()
    others = [f for i, f in enumerate(names) if f != "b" and f not in names[:i]]  # rule order
    op.def_partition(partition=partition, infer_sharding_from_operands=infer, sharding_rule=rule,
                     need_replication_factors=tuple(others))
    batched = custom_vmap(op)

    @batched.def_vmap
    def fold(axis_size, in_batched, *args):
        count = len(args) - tables
        if any(in_batched[count:]):
            raise NotImplementedError("sigcodegen: the projection's tables cannot be vmapped")
        paths = [a if b else jnp.broadcast_to(a, (axis_size, *a.shape))
                 for a, b in zip(args[:count], in_batched)]
        out = batched(*(a.reshape(-1, *a.shape[2:]) for a in paths), *args[count:])
        return out.reshape(axis_size, -1, *out.shape[1:]), True

    return batched


def _ffi_targets(module: NativeModule):
    """``target(kind, dtype)``: the name of the module's FFI handler ``sigcodegen_ffi_<kind>``
    for that dtype, registered with XLA when first traced (building its library)."""
    import jax
    import jax.numpy as jnp

    registered = set()

    def target(kind, dtype):
        suffix = "f64" if dtype == jnp.float64 else "f32"
        name = f"{module.name}_{kind}_{suffix}"
        if name not in registered:
            handler = getattr(module.lib(int(suffix[1:])), f"sigcodegen_ffi_{kind}_{suffix}")
            jax.ffi.register_ffi_target(name, jax.ffi.pycapsule(handler), platform="cpu")
            registered.add(name)
        return name

    return target


def _jax_binding(module: NativeModule):
    """``f(x, stream, chunks)``: the kernel inside jax.jit through the XLA FFI, with a custom VJP
    calling the native backward; batch-sharded inputs stay sharded, jax.vmap works."""
    import jax
    import jax.numpy as jnp

    if not module.has_ffi:
        raise RuntimeError(
            f"sigcodegen: {module.name} was compiled without the XLA FFI headers (jaxlib was not "
            f"found at build time); run `sigcodegen cache clear` with jax installed")
    target = _ffi_targets(module)

    @functools.lru_cache(maxsize=None)
    def forward_op(stream, chunks):
        def kernel(x):  # (B, L, DIM)
            batch, length, _ = x.shape
            tail = (max(length - 1, 0), module.SIGLEN) if stream else (module.SIGLEN,)
            call = jax.ffi.ffi_call(target("forward", x.dtype),
                                    jax.ShapeDtypeStruct((batch, *tail), x.dtype))
            return call(x, stream=np.int32(stream), chunks=np.int32(chunks))

        return _batch_parallel(kernel, "b l d -> b t s" if stream else "b l d -> b s")

    @functools.lru_cache(maxsize=None)
    def backward_op(stream):
        def kernel(x, y, gy):
            call = jax.ffi.ffi_call(target("backward", x.dtype), jax.ShapeDtypeStruct(x.shape, x.dtype))
            return call(x, y, gy, stream=np.int32(stream), mode=np.int32(0))

        out = "b t s" if stream else "b s"
        return _batch_parallel(kernel, f"b l d, {out}, {out} -> b l d")

    @functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2))
    def core(x, stream, chunks):
        return forward_op(stream, chunks)(x)

    def core_fwd(x, stream, chunks):
        y = forward_op(stream, chunks)(x)
        return y, (x, y)

    def core_bwd(stream, chunks, residuals, gy):
        x, y = residuals
        return (backward_op(stream)(x, y, gy.astype(x.dtype)),)

    core.defvjp(core_fwd, core_bwd)

    def signature(x, stream, chunks):
        *lead, length, dim = x.shape
        out = core(x.reshape(-1, length, dim), stream, chunks)
        return out.reshape(*lead, *out.shape[1:])

    return jax.jit(signature, static_argnums=(1, 2))


def _torch_binding(module: NativeModule):
    """``f(x, stream, chunks)``: a torch.library custom op (opaque to torch.compile) with a
    registered autograd formula calling the native backward."""
    import torch

    namespace = "sigcodegen"
    name = module.name

    # explicit schemas: this module's annotations are strings (from __future__ import annotations)
    @torch.library.custom_op(f"{namespace}::{name}_forward", mutates_args=(),
                             schema="(Tensor x, bool stream, int chunks) -> Tensor")
    def forward(x, stream, chunks):
        out = module.forward(x.detach().cpu().numpy(), stream, chunks)
        return torch.from_numpy(out).to(x.device)

    @forward.register_fake
    def _(x, stream, chunks):
        *lead, length, _ = x.shape
        tail = (max(length - 1, 0), module.SIGLEN) if stream else (module.SIGLEN,)
        return x.new_empty((*lead, *tail))

    @torch.library.custom_op(f"{namespace}::{name}_backward", mutates_args=(),
                             schema="(Tensor x, Tensor y, Tensor gy, bool stream) -> Tensor")
    def backward(x, y, gy, stream):
        gx = module.backward(x.detach().cpu().numpy(), y.detach().cpu().numpy(),
                             gy.detach().cpu().numpy(), stream)
        return torch.from_numpy(gx).to(x.device)

    @backward.register_fake
    def _(x, y, gy, stream):
        return torch.empty_like(x)

    def setup_context(ctx, inputs, output):
        x, stream, _ = inputs
        ctx.save_for_backward(x, output)
        ctx.stream = stream

    def backward_formula(ctx, grad):
        x, y = ctx.saved_tensors
        return backward(x, y, grad.contiguous(), ctx.stream), None, None

    forward.register_autograd(backward_formula, setup_context=setup_context)
    return forward


# ---- signature kernels (kind="sigkernel") ----------------------------------------------------

#: pair layouts of the sigkernel libraries: (x[p], y[p]); every (x[a], y[b]); (x[a], x[b]), a <= b
SIGKERNEL_LAYOUTS = {"pairs": 0, "gram": 1, "symmetric": 2}


class SigKernelModule(_Libraries):
    """A compiled signature-kernel module (``kind="sigkernel"``) for one dim: the Goursat PDE
    solver for pairs of paths, Gram matrices and symmetric Gram matrices, float32 and float64,
    forward and backward. ``forward``/``backward`` take contiguous numpy arrays; ``torch_apply``
    and ``jax_apply`` wrap them with autograd (a ``torch.autograd.Function``, a
    ``jax.custom_vjp`` around ``jax.pure_callback``)."""

    def __init__(self, built):
        """``built``: a ``sigcodegen.jit.loader.NativeBuild`` of a sigkernel spec."""
        super().__init__(built)
        self.DIM = built.spec.dim

    def _open(self, path: Path, bits: int) -> ctypes.CDLL:
        lib = self._open_kind(path, bits, 2)
        self.lanes = int(lib.sigcodegen_info(1))
        ptr, i64, i32 = _PTR, ctypes.c_int64, ctypes.c_int32
        common = [ptr, ptr, i64, i64, i64, i64, i32, i32, ptr, i32, i32, i32]
        fwd = getattr(lib, f"sigcodegen_sigkernel_forward_f{bits}")
        fwd.restype, fwd.argtypes = ctypes.c_int, common + [ptr]
        bwd = getattr(lib, f"sigcodegen_sigkernel_backward_f{bits}")
        bwd.restype, bwd.argtypes = ctypes.c_int, common + [ptr, ptr, ptr]
        lib.forward, lib.backward = fwd, bwd
        threads.attach(lib)
        return lib

    @staticmethod
    def _args(x, y, layout):
        nx, lx, _ = x.shape
        ny, ly, _ = y.shape
        return nx, ny, lx, ly, SIGKERNEL_LAYOUTS[layout]

    def forward(self, x: np.ndarray, y: np.ndarray, layout: str, kernel: int, params, ip: int,
                orders: tuple[int, int]) -> np.ndarray:
        """x (nx, lx, DIM), y (ny, ly, DIM), same float dtype -> (nx,) for "pairs" (nx == ny),
        (nx, ny) for "gram" and "symmetric" (y is x)."""
        x, y = np.ascontiguousarray(x), np.ascontiguousarray(y, dtype=x.dtype)
        nx, ny, lx, ly, code = self._args(x, y, layout)
        out = np.empty((nx,) if layout == "pairs" else (nx, ny), x.dtype)
        p = np.ascontiguousarray(params, dtype=np.float64)
        status = self.lib(_BITS[x.dtype]).forward(
            x.ctypes.data, y.ctypes.data, nx, ny, lx, ly, code, int(kernel), p.ctypes.data,
            int(ip), int(orders[0]), int(orders[1]), out.ctypes.data)
        if status:
            raise MemoryError(f"sigcodegen: {self.name} forward ran out of memory for "
                              f"{x.shape} x {y.shape}")
        return out

    def backward(self, x: np.ndarray, y: np.ndarray, gout: np.ndarray, layout: str, kernel: int,
                 params, ip: int, orders: tuple[int, int]):
        """The gradients (gx, gy) of <gout, forward(x, y)>; for "symmetric" gy is None (y is x
        and gx holds both arguments' parts)."""
        x, y = np.ascontiguousarray(x), np.ascontiguousarray(y, dtype=x.dtype)
        gout = np.ascontiguousarray(gout, dtype=x.dtype)
        nx, ny, lx, ly, code = self._args(x, y, layout)
        shape = (nx,) if layout == "pairs" else (nx, ny)
        if gout.shape != shape:
            raise ValueError(f"sigkernel backward: the cotangent must have shape {shape}, got "
                             f"{gout.shape}")
        gx = np.empty_like(x)
        gy = None if layout == "symmetric" else np.empty_like(y)
        p = np.ascontiguousarray(params, dtype=np.float64)
        status = self.lib(_BITS[x.dtype]).backward(
            x.ctypes.data, y.ctypes.data, nx, ny, lx, ly, code, int(kernel), p.ctypes.data,
            int(ip), int(orders[0]), int(orders[1]), gout.ctypes.data, gx.ctypes.data,
            None if gy is None else gy.ctypes.data)
        if status:
            raise MemoryError(f"sigcodegen: {self.name} backward ran out of memory for "
                              f"{x.shape} x {y.shape}")
        return gx, gy

    # -- torch ----------------------------------------------------------------------------------

    def torch_apply(self, x, y, layout, kernel, params, ip, orders):
        """forward on torch tensors (CPU or moved through the CPU), with autograd."""
        with self._lock:
            self._torch = self._torch or _sigkernel_torch_function(self)
        return self._torch.apply(x, y, layout, kernel, tuple(params), ip, tuple(orders))

    # -- jax ------------------------------------------------------------------------------------

    def jax_apply(self, x, y, layout, kernel, params, ip, orders):
        """forward on jax arrays through ``jax.pure_callback`` (works under jit, grad, vmap),
        gradients by a ``jax.custom_vjp`` calling the native backward."""
        with self._lock:
            self._jax = self._jax or _sigkernel_jax_function(self)
        return self._jax(x, y, layout, int(kernel), tuple(float(v) for v in params), int(ip),
                         tuple(orders))


def _sigkernel_torch_function(module: SigKernelModule):
    import torch

    class SigKernel(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, y, layout, kernel, params, ip, orders):
            ctx.save_for_backward(x, y)
            ctx.options = (layout, kernel, params, ip, orders)
            out = module.forward(x.detach().cpu().numpy(), y.detach().cpu().numpy(), layout,
                                 kernel, params, ip, orders)
            return torch.from_numpy(out).to(x.device)

        @staticmethod
        def backward(ctx, grad):
            x, y = ctx.saved_tensors
            gx, gy = module.backward(x.detach().cpu().numpy(), y.detach().cpu().numpy(),
                                     grad.detach().cpu().numpy(), *ctx.options)
            gx = torch.from_numpy(gx).to(x.device)
            gy = None if gy is None else torch.from_numpy(gy).to(y.device)
            return gx, gy, None, None, None, None, None

    return SigKernel


def _sigkernel_jax_function(module: SigKernelModule):
    import jax

    @functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4, 5, 6))
    def apply(x, y, layout, kernel, params, ip, orders):
        shape = (x.shape[0],) if layout == "pairs" else (x.shape[0], y.shape[0])
        return jax.pure_callback(
            lambda a, b: module.forward(np.asarray(a), np.asarray(b), layout, kernel, params, ip,
                                        orders),
            jax.ShapeDtypeStruct(shape, x.dtype), x, y, vmap_method="sequential")

    def apply_fwd(x, y, layout, kernel, params, ip, orders):
        return apply(x, y, layout, kernel, params, ip, orders), (x, y)

    def apply_bwd(layout, kernel, params, ip, orders, residuals, g):
        x, y = residuals

        def grads(a, b, c):
            gx, gy = module.backward(np.asarray(a), np.asarray(b), np.asarray(c), layout, kernel,
                                     params, ip, orders)
            return gx, (np.zeros_like(np.asarray(b)) if gy is None else gy)

        gx, gy = jax.pure_callback(grads, (jax.ShapeDtypeStruct(x.shape, x.dtype),
                                           jax.ShapeDtypeStruct(y.shape, y.dtype)),
                                   x, y, g.astype(x.dtype), vmap_method="sequential")
        return gx, gy

    apply.defvjp(apply_fwd, apply_bwd)
    return apply


class CoefficientsModule(_Libraries):
    """A compiled chosen-coefficients module (``kind="coefficients"``) for one dim: a
    table-driven forward for any word set, float32 and float64, bound for numpy through ctypes.
    ``forward(path, tables, stream)`` takes the tables of ``CoefficientPlan.tables()``."""

    def __init__(self, built):
        """``built``: a ``sigcodegen.jit.loader.NativeBuild`` of a coefficients spec."""
        super().__init__(built)
        self.DIM = built.spec.dim

    def _open(self, path: Path, bits: int) -> ctypes.CDLL:
        lib = self._open_kind(path, bits, 3)
        ptr, i64, i32 = _PTR, ctypes.c_int64, ctypes.c_int32
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
        status = self.lib(_BITS[path.dtype]).forward(
            path.ctypes.data, batch, steps1, len(length), letter.shape[1], length.ctypes.data,
            letter.ctypes.data, chain.ctypes.data, scale.ctypes.data, nout, out_index.ctypes.data,
            int(stream), out.ctypes.data)
        if status:
            raise MemoryError(f"sigcodegen: {self.name} forward ran out of memory for "
                              f"{len(length)} prefix-tree nodes")
        return out


class LogSignatureModule(NativeModule):
    """A compiled c-target log-signature module (``kind="logsignature"``) for one (dim, depth):
    the signature's kernels with the tensor logarithm and the projection onto a basis fused
    after them, and the backward through all three. ``logsignature(path, stream, strategy,
    mode)`` takes numpy arrays and jax arrays (concrete ones on their numpy view; inside jit/grad/vmap through the XLA FFI, or
    ``jax.pure_callback`` where the library has no FFI headers, with a ``jax.custom_vjp``),
    torch tensors through a ``torch.library`` custom op with a registered autograd formula. The
    projections are ``algebra.log_projection``'s tables, passed at run time."""

    def __init__(self, built):
        super().__init__(built)
        self._tables: dict = {}
        self._logsig_torch = None
        self._logsig_jax = None
        self._series_torch = None

    def _open(self, path: Path, bits: int) -> ctypes.CDLL:
        lib = super()._open(path, bits)
        if lib.sigcodegen_info(6) != 1:
            raise ImportError(f"sigcodegen: {path} is not a log-signature library; run "
                              f"`sigcodegen cache clear`")
        ptr, i32, i64 = _PTR, ctypes.c_int32, ctypes.c_int64
        fwd = getattr(lib, f"sigcodegen_logsig_forward_f{bits}")
        fwd.restype = ctypes.c_int
        fwd.argtypes = [ptr, i64, i64, ptr, i32, i32, i64, ptr, ptr, ptr, ptr]
        bwd = getattr(lib, f"sigcodegen_logsig_backward_f{bits}")
        bwd.restype = ctypes.c_int
        bwd.argtypes = [ptr, i64, i64, ptr, ptr, i32, i32, i64, ptr, ptr, ptr, ptr, ptr]
        lib.log_forward, lib.log_backward = fwd, bwd
        lib.series = {}
        for name in ("log", "exp"):
            series = getattr(lib, f"sigcodegen_{name}_f{bits}")
            series.restype = ctypes.c_int
            series.argtypes = [ptr, i64, ptr, i64, ptr, ptr, ptr]
            vjp = getattr(lib, f"sigcodegen_{name}_vjp_f{bits}")
            vjp.restype = ctypes.c_int
            vjp.argtypes = [ptr, i64, ptr, i64, ptr, ptr, ptr, ptr]
            lib.series[name], lib.series[f"{name}_vjp"] = series, vjp
        return lib

    def outputs(self, mode: str) -> int:
        """Values per path (per prefix in stream mode) of ``mode``."""
        return self.SIGLEN if mode == "expand" else self._projection(mode, np.float64)[0].size - 1

    def _projection(self, mode: str, dtype):
        """(indptr, cols, values in ``dtype``) of ``mode``'s projection, or None for expand."""
        key = (mode, np.dtype(dtype))
        tables = self._tables.get(key)
        if tables is None and mode != "expand":
            from ..algebra import log_projection

            indptr, cols, values = log_projection(self.DIM, self.DEPTH, mode)
            tables = self._tables[key] = (indptr, cols, values.astype(dtype))
        return tables

    def _table_args(self, mode: str, dtype):
        tables = self._projection(mode, dtype)
        if tables is None:
            return self.SIGLEN, None, None, None
        indptr, cols, values = tables
        return indptr.size - 1, indptr.ctypes.data, cols.ctypes.data, values.ctypes.data

    def log_forward(self, x: np.ndarray, stream: bool = False, chunks: int = 0,
                    mode: str = "words", keep_signature: bool = True):
        """(..., L, DIM) float32/float64 -> (the log-signature in ``mode``, the signature the
        backward needs, or None without ``keep_signature``: then the logarithm is taken on the
        forward's lanes and no signature is stored, unless chunks are joined)."""
        x = np.ascontiguousarray(x)
        bits = _BITS[x.dtype]
        batch, length, shape = self._shapes(x.shape, stream)
        outputs, *tables = self._table_args(mode, x.dtype)
        sig = np.empty(shape, x.dtype) if keep_signature else None
        out = np.empty((*shape[:-1], outputs), x.dtype)
        status = self.lib(bits).log_forward(x.ctypes.data, batch, length, out.ctypes.data,
                                            int(stream), int(chunks), outputs, *tables,
                                            None if sig is None else sig.ctypes.data)
        if status:
            raise MemoryError(f"sigcodegen: {self.name} log-signature forward ran out of "
                              f"memory for {x.shape}")
        return out, (sig if keep_signature else None)

    def log_backward(self, x: np.ndarray, sig: np.ndarray, gout: np.ndarray,
                     stream: bool = False, mode: str = "words",
                     backward_mode: str = "auto") -> np.ndarray:
        """Gradient of <gout, logsignature(x)> with respect to x; ``sig`` is the signature the
        forward returned beside its output."""
        x = np.ascontiguousarray(x)
        sig = np.ascontiguousarray(sig, dtype=x.dtype)
        gout = np.ascontiguousarray(gout, dtype=x.dtype)
        batch, length, shape = self._shapes(x.shape, stream)
        outputs, *tables = self._table_args(mode, x.dtype)
        if sig.shape != shape or gout.shape != (*shape[:-1], outputs):
            raise ValueError(f"log-signature backward: the signature and the output's gradient "
                             f"must have shapes {shape} and {(*shape[:-1], outputs)}, got "
                             f"{sig.shape} and {gout.shape}")
        gsig = np.empty(shape, x.dtype)
        gx = np.empty_like(x)
        status = self.lib(_BITS[x.dtype]).log_backward(
            x.ctypes.data, batch, length, sig.ctypes.data, gout.ctypes.data, int(stream),
            BACKWARD_MODES[backward_mode], outputs, *tables, gsig.ctypes.data, gx.ctypes.data)
        if status:
            raise MemoryError(f"sigcodegen: {self.name} log-signature backward ran out of "
                              f"memory for {x.shape}")
        return gx

    def _rows(self, x: np.ndarray, what: str) -> int:
        if x.ndim < 1 or x.shape[-1] != self.SIGLEN:
            raise ValueError(f"{what}: expected (..., {self.SIGLEN}) for dim={self.DIM}, "
                             f"depth={self.DEPTH}, got shape {x.shape}")
        return math.prod(x.shape[:-1])

    def series(self, name: str, x: np.ndarray, mode: str = "expand") -> np.ndarray:
        """``name`` "log": the tensor logarithm of signatures x (..., SIGLEN), projected onto
        ``mode``'s basis; "exp": the tensor exponential of expanded Lie elements (..., SIGLEN)
        (mode expand only)."""
        x = np.ascontiguousarray(x)
        rows = self._rows(x, f"tensor {name}")
        outputs, *tables = self._table_args(mode, x.dtype)
        out = np.empty((*x.shape[:-1], outputs), x.dtype)
        if self.lib(_BITS[x.dtype]).series[name](x.ctypes.data, rows, out.ctypes.data, outputs,
                                                 *tables):
            raise MemoryError(f"sigcodegen: {self.name} tensor {name} ran out of memory for "
                              f"{x.shape}")
        return out

    def series_vjp(self, name: str, x: np.ndarray, gout: np.ndarray,
                   mode: str = "expand") -> np.ndarray:
        """Gradient of <gout, series(name, x, mode)> with respect to x."""
        x = np.ascontiguousarray(x)
        gout = np.ascontiguousarray(gout, dtype=x.dtype)
        rows = self._rows(x, f"tensor {name} backward")
        outputs, *tables = self._table_args(mode, x.dtype)
        if gout.shape != (*x.shape[:-1], outputs):
            raise ValueError(f"tensor {name} backward: the gradient must have shape "
                             f"{(*x.shape[:-1], outputs)}, got {gout.shape}")
        gx = np.empty_like(x)
        if self.lib(_BITS[x.dtype]).series[f"{name}_vjp"](x.ctypes.data, rows, gout.ctypes.data,
                                                          outputs, *tables, gx.ctypes.data):
            raise MemoryError(f"sigcodegen: {self.name} tensor {name} backward ran out of "
                              f"memory for {x.shape}")
        return gx

    def convert(self, name: str, x, mode: str = "expand"):
        """:meth:`series` on numpy arrays, or on torch tensors with autograd (the native
        adjoint)."""
        if framework_of(x).name != "torch":
            return self.series(name, np.asarray(x), mode)
        with self._lock:
            self._series_torch = self._series_torch or _series_torch_function(self)
        return self._series_torch.apply(x, name, mode)

    def logsignature(self, path, stream=False, strategy="chunked", mode="words"):
        """numpy in -> numpy out; torch tensors with autograd; jax arrays (jit, grad, vmap)."""
        if strategy not in _CHUNKS:
            raise ValueError(f"the c target runs the strategies {self.STRATEGIES}, not {strategy!r}")
        chunks = _CHUNKS[strategy]
        framework = framework_of(path).name
        if framework == "torch":
            with self._lock:
                self._logsig_torch = self._logsig_torch or _logsig_torch_function(self)
            return self._logsig_torch(path, bool(stream), chunks, mode)
        if framework == "jax":
            with self._lock:
                self._logsig_jax = self._logsig_jax or _logsig_jax_function(self)
            return self._logsig_jax(path, bool(stream), chunks, mode)
        return self.log_forward(np.asarray(path), stream, chunks, mode, keep_signature=False)[0]


def _logsig_torch_function(module: LogSignatureModule):
    """``f(x, stream, chunks, mode)``: a torch.library custom op (opaque to torch.compile) with a
    registered autograd formula calling the native backward. The op also returns the signature
    (empty unless ``keep``: only when a gradient will be asked for), which the formula saves."""
    import torch

    name = f"sigcodegen::{module.name}_logsig"

    def shapes(x, stream, mode, keep):
        *lead, length, _ = x.shape
        rows = (*lead, max(length - 1, 0)) if stream else tuple(lead)
        return (*rows, module.outputs(mode)), ((*rows, module.SIGLEN) if keep else (0,))

    @torch.library.custom_op(f"{name}_forward", mutates_args=(),
                             schema="(Tensor x, bool stream, int chunks, str mode, bool keep) -> "
                                    "(Tensor, Tensor)")
    def forward(x, stream, chunks, mode, keep):
        out, sig = module.log_forward(x.detach().cpu().numpy(), stream, chunks, mode,
                                      keep_signature=keep)
        sig = torch.from_numpy(sig) if keep else x.new_empty((0,))
        return torch.from_numpy(out).to(x.device), sig.to(x.device)

    @forward.register_fake
    def _(x, stream, chunks, mode, keep):
        out, sig = shapes(x, stream, mode, keep)
        return x.new_empty(out), x.new_empty(sig)

    @torch.library.custom_op(f"{name}_backward", mutates_args=(),
                             schema="(Tensor x, Tensor sig, Tensor gout, bool stream, str mode) "
                                    "-> Tensor")
    def backward(x, sig, gout, stream, mode):
        gx = module.log_backward(x.detach().cpu().numpy(), sig.detach().cpu().numpy(),
                                 gout.detach().cpu().numpy(), stream, mode)
        return torch.from_numpy(gx).to(x.device)

    @backward.register_fake
    def _(x, sig, gout, stream, mode):
        return torch.empty_like(x)

    def setup_context(ctx, inputs, output):
        x, stream, _, mode, keep = inputs
        ctx.save_for_backward(x, output[1])
        ctx.options = (stream, mode, keep)

    def backward_formula(ctx, gout, _):
        x, sig = ctx.saved_tensors
        stream, mode, keep = ctx.options
        if not keep:
            raise RuntimeError("sigcodegen: this log-signature was computed without a gradient "
                               "(its input did not require one, or grad mode was off)")
        return backward(x, sig, gout.contiguous(), stream, mode), None, None, None, None

    forward.register_autograd(backward_formula, setup_context=setup_context)

    class Eager(torch.autograd.Function):
        """The same kernels outside torch.compile, without the custom op's dispatch (0.1-0.2 ms
        a forward + backward at G (32, 200, 20, 2), half of our time there)."""

        @staticmethod
        def forward(ctx, x, stream, chunks, mode):
            out, sig = module.log_forward(x.detach().cpu().numpy(), stream, chunks, mode)
            ctx.save_for_backward(x, torch.from_numpy(sig))
            ctx.options = (stream, mode)
            return torch.from_numpy(out).to(x.device)

        @staticmethod
        def backward(ctx, gout):
            x, sig = ctx.saved_tensors
            gx = module.log_backward(x.detach().cpu().numpy(), sig.numpy(),
                                     gout.detach().cpu().numpy(), *ctx.options)
            return torch.from_numpy(gx).to(x.device), None, None, None

    def apply(x, stream, chunks, mode):
        keep = torch.is_grad_enabled() and x.requires_grad
        if keep and not torch.compiler.is_compiling():
            return Eager.apply(x, stream, chunks, mode)
        return forward(x, stream, chunks, mode, keep)[0]

    return apply


def _series_torch_function(module: LogSignatureModule):
    import torch

    class Series(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, name, mode):
            ctx.save_for_backward(x)
            ctx.options = (name, mode)
            return torch.from_numpy(module.series(name, x.detach().cpu().numpy(), mode)).to(x.device)

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            name, mode = ctx.options
            gx = module.series_vjp(name, x.detach().cpu().numpy(), grad.detach().cpu().numpy(),
                                   mode)
            return torch.from_numpy(gx).to(x.device), None, None

    return Series


def _logsig_jax_ffi(module: LogSignatureModule):
    """``apply(x, stream, chunks, mode)`` inside jax.jit through the XLA FFI: the fused forward,
    and a custom VJP whose backward takes the signature from the signature's FFI forward and
    runs the native log-signature backward; batch-shardable and vmappable. The projection's
    tables are constants of the traced program."""
    import jax
    import jax.numpy as jnp

    target = _ffi_targets(module)

    def tables(mode, dtype):
        found = module._projection(mode, np.dtype(dtype))
        return () if found is None else tuple(jnp.asarray(t) for t in found)

    def rows(x, stream):
        batch, length, _ = x.shape
        return (batch, max(length - 1, 0)) if stream else (batch,)

    def table_rule(mode):
        return "" if mode == "expand" else ", n, k, k"

    @functools.lru_cache(maxsize=None)
    def forward_op(stream, chunks, mode):
        def kernel(x, *projection):
            shape = (*rows(x, stream), module.outputs(mode))
            call = jax.ffi.ffi_call(target("logsig_forward", x.dtype),
                                    jax.ShapeDtypeStruct(shape, x.dtype))
            return call(x, *projection, stream=np.int32(stream), chunks=np.int32(chunks))

        out = "b t o" if stream else "b o"
        return _batch_parallel(kernel, f"b l d{table_rule(mode)} -> {out}",
                               tables=0 if mode == "expand" else 3)

    @functools.lru_cache(maxsize=None)
    def signature_op(stream):
        def kernel(x):
            shape = (*rows(x, stream), module.SIGLEN)
            call = jax.ffi.ffi_call(target("forward", x.dtype), jax.ShapeDtypeStruct(shape, x.dtype))
            return call(x, stream=np.int32(stream), chunks=np.int32(0))

        return _batch_parallel(kernel, "b l d -> b t s" if stream else "b l d -> b s")

    @functools.lru_cache(maxsize=None)
    def backward_op(stream, mode):
        def kernel(x, sig, gout, *projection):
            call = jax.ffi.ffi_call(target("logsig_backward", x.dtype),
                                    jax.ShapeDtypeStruct(x.shape, x.dtype))
            return call(x, sig, gout, *projection, stream=np.int32(stream), mode=np.int32(0))

        out, sig = ("b t o", "b t s") if stream else ("b o", "b s")
        return _batch_parallel(kernel, f"b l d, {sig}, {out}{table_rule(mode)} -> b l d",
                               tables=0 if mode == "expand" else 3)

    @functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3))
    def core(x, stream, chunks, mode):
        return forward_op(stream, chunks, mode)(x, *tables(mode, x.dtype))

    def core_fwd(x, stream, chunks, mode):
        return core(x, stream, chunks, mode), x

    def core_bwd(stream, chunks, mode, x, g):
        sig = signature_op(stream)(x)
        return (backward_op(stream, mode)(x, sig, g.astype(x.dtype), *tables(mode, x.dtype)),)

    core.defvjp(core_fwd, core_bwd)

    def apply(x, stream, chunks, mode):
        *lead, length, dim = x.shape
        out = core(x.reshape(-1, length, dim), stream, chunks, mode)
        return out.reshape(*lead, *out.shape[1:])

    return jax.jit(apply, static_argnums=(1, 2, 3))


def _logsig_jax_callbacks(module: LogSignatureModule):
    """``apply(x, stream, chunks, mode)`` inside jax.jit through ``jax.pure_callback`` (for a
    library compiled without the XLA FFI headers), with a custom VJP calling the native
    backward on the signature the forward returned."""
    import jax

    def shapes(x, stream, mode):
        lead, length = x.shape[:-2], x.shape[-2]
        rows = (*lead, max(length - 1, 0)) if stream else tuple(lead)
        return ((*rows, module.outputs(mode)), (*rows, module.SIGLEN))

    def forward(x, stream, chunks, mode):
        out_shape, sig_shape = shapes(x, stream, mode)
        return jax.pure_callback(
            lambda a: module.log_forward(np.asarray(a), stream, chunks, mode),
            (jax.ShapeDtypeStruct(out_shape, x.dtype), jax.ShapeDtypeStruct(sig_shape, x.dtype)),
            x, vmap_method="expand_dims")

    @functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3))
    def apply(x, stream, chunks, mode):
        return forward(x, stream, chunks, mode)[0]

    def apply_fwd(x, stream, chunks, mode):
        out, sig = forward(x, stream, chunks, mode)
        return out, (x, sig)

    def apply_bwd(stream, chunks, mode, residuals, g):
        x, sig = residuals
        gx = jax.pure_callback(
            lambda a, s, c: module.log_backward(np.asarray(a), np.asarray(s), np.asarray(c),
                                                stream, mode),
            jax.ShapeDtypeStruct(x.shape, x.dtype), x, sig, g.astype(x.dtype),
            vmap_method="expand_dims")
        return (gx,)

    apply.defvjp(apply_fwd, apply_bwd)
    return apply


def _logsig_jax_function(module: LogSignatureModule):
    """``logsignature(x, stream, chunks, mode)`` for jax arrays: a concrete array on one CPU
    device on its numpy view; traced ones through the XLA FFI (host callbacks without it)."""
    import jax

    apply = _logsig_jax_ffi(module) if module.has_ffi else _logsig_jax_callbacks(module)
    host = framework_named("jax").host_device

    def logsignature(x, stream, chunks, mode):
        device = host(x)
        if device is not None:  # a concrete array on one CPU device: its numpy view
            out, _ = module.log_forward(np.asarray(x), stream, chunks, mode, keep_signature=False)
            return jax.device_put(out, device)
        return apply(x, stream, chunks, mode)

    return logsignature
