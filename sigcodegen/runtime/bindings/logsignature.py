"""The log-signature kind's compiled libraries (``kind="logsignature"``), bound: numpy through
ctypes, torch through a custom op with autograd, JAX through the XLA FFI (``jax.pure_callback``
where the library has no FFI headers). A log-signature library also holds the signature's entry
points, so ``LogSignatureModule`` builds on ``signature.NativeModule``.
"""

from __future__ import annotations

import ctypes
import functools
import math
from pathlib import Path

import numpy as np

from ...spec import LOGSIGNATURE_BASES
from ..frameworks import framework_named, framework_of
from .base import BACKWARD_MODES, BITS, CHUNKS, PTR, address, batch_parallel, ffi_targets
from .signature import NativeModule

__all__ = ["LogSignatureModule"]


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
        ptr, i32, i64 = PTR, ctypes.c_int32, ctypes.c_int64
        fwd = getattr(lib, f"sigcodegen_logsig_forward_f{bits}")
        fwd.restype = ctypes.c_int
        fwd.argtypes = [ptr, i64, i64, ptr, i32, i32, i64, ptr, ptr, ptr, i32, ptr]
        bwd = getattr(lib, f"sigcodegen_logsig_backward_f{bits}")
        bwd.restype = ctypes.c_int
        bwd.argtypes = [ptr, i64, i64, ptr, ptr, i32, i32, i64, ptr, ptr, ptr, i32, ptr, ptr]
        lib.log_forward, lib.log_backward = fwd, bwd
        lib.series = {}
        for name in ("log", "exp"):
            series = getattr(lib, f"sigcodegen_{name}_f{bits}")
            series.restype = ctypes.c_int
            series.argtypes = [ptr, i64, ptr, i64, ptr, ptr, ptr, i32]
            vjp = getattr(lib, f"sigcodegen_{name}_vjp_f{bits}")
            vjp.restype = ctypes.c_int
            vjp.argtypes = [ptr, i64, ptr, i64, ptr, ptr, ptr, i32, ptr]
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
            from ...algebra import log_projection

            indptr, cols, values = log_projection(self.DIM, self.DEPTH, mode)
            tables = self._tables[key] = (indptr, cols, values.astype(dtype))
        return tables

    def _table_args(self, mode: str, dtype):
        """(outputs, the tables' addresses, the basis) of ``mode``'s projection, kept beside
        the tables (reading three addresses costs ~4 us a call). The basis
        (``spec.LOGSIGNATURE_BASES``) tells the library which tables these are, so that
        it runs its own code for them (the plan's projections) and reads the tables only for
        the rows the plan left to them."""
        key = ("args", mode, np.dtype(dtype))
        args = self._tables.get(key)
        if args is None:
            tables = self._projection(mode, dtype)
            if tables is None:
                args = (self.SIGLEN, None, None, None, 0)
            else:
                indptr, cols, values = tables
                args = (indptr.size - 1, indptr.ctypes.data, cols.ctypes.data,
                        values.ctypes.data, LOGSIGNATURE_BASES[mode])
            self._tables[key] = args
        return args

    def _check(self, status: int, what: str, shape) -> None:
        """Raise for a nonzero status of the library's entry points (1: out of memory, 2: a
        basis the library does not know, or tables of the wrong size)."""
        if status == 2:
            raise ValueError(f"sigcodegen: {self.name} {what}: the library does not know this "
                             f"basis or its tables' size; run `sigcodegen cache clear` to rebuild "
                             f"it")
        if status:
            raise MemoryError(f"sigcodegen: {self.name} {what} ran out of memory for {shape}")

    def log_forward(self, x: np.ndarray, stream: bool = False, chunks: int = 0,
                    mode: str = "words", keep_signature: bool = True):
        """(..., L, DIM) float32/float64 -> (the log-signature in ``mode``, the signature the
        backward needs, or None without ``keep_signature``: then the logarithm is taken on the
        forward's lanes and no signature is stored, unless chunks are joined)."""
        x = np.ascontiguousarray(x)
        bits = BITS[x.dtype]
        batch, length, shape = self._shapes(x.shape, stream)
        outputs, *tables = self._table_args(mode, x.dtype)
        sig = np.empty(shape, x.dtype) if keep_signature else None
        out = np.empty((*shape[:-1], outputs), x.dtype)
        status = self.lib(bits).log_forward(address(x), batch, length, address(out),
                                            int(stream), int(chunks), outputs, *tables,
                                            None if sig is None else sig.ctypes.data)
        if status:
            self._check(status, "log-signature forward", x.shape)
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
        status = self.lib(BITS[x.dtype]).log_backward(
            x.ctypes.data, batch, length, sig.ctypes.data, gout.ctypes.data, int(stream),
            BACKWARD_MODES[backward_mode], outputs, *tables, gsig.ctypes.data, gx.ctypes.data)
        self._check(status, "log-signature backward", x.shape)
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
        self._check(self.lib(BITS[x.dtype]).series[name](x.ctypes.data, rows, out.ctypes.data,
                                                          outputs, *tables),
                    f"tensor {name}", x.shape)
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
        self._check(self.lib(BITS[x.dtype]).series[f"{name}_vjp"](
            x.ctypes.data, rows, gout.ctypes.data, outputs, *tables, gx.ctypes.data),
            f"tensor {name} backward", x.shape)
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
        if strategy not in CHUNKS:
            raise ValueError(f"the c target runs the strategies {self.STRATEGIES}, not {strategy!r}")
        chunks = CHUNKS[strategy]
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

    target = ffi_targets(module)

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
            return call(x, *projection, stream=np.int32(stream), chunks=np.int32(chunks),
                        basis=np.int32(LOGSIGNATURE_BASES.get(mode, 0)))

        out = "b t o" if stream else "b o"
        return batch_parallel(kernel, f"b l d{table_rule(mode)} -> {out}",
                               tables=0 if mode == "expand" else 3)

    @functools.lru_cache(maxsize=None)
    def signature_op(stream):
        def kernel(x):
            shape = (*rows(x, stream), module.SIGLEN)
            call = jax.ffi.ffi_call(target("forward", x.dtype), jax.ShapeDtypeStruct(shape, x.dtype))
            return call(x, stream=np.int32(stream), chunks=np.int32(0))

        return batch_parallel(kernel, "b l d -> b t s" if stream else "b l d -> b s")

    @functools.lru_cache(maxsize=None)
    def backward_op(stream, mode):
        def kernel(x, sig, gout, *projection):
            call = jax.ffi.ffi_call(target("logsig_backward", x.dtype),
                                    jax.ShapeDtypeStruct(x.shape, x.dtype))
            return call(x, sig, gout, *projection, stream=np.int32(stream), mode=np.int32(0),
                        basis=np.int32(LOGSIGNATURE_BASES.get(mode, 0)))

        out, sig = ("b t o", "b t s") if stream else ("b o", "b s")
        return batch_parallel(kernel, f"b l d, {sig}, {out}{table_rule(mode)} -> b l d",
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
