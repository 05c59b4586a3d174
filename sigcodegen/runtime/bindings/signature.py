"""The signature kind's compiled libraries (``kind="signature"``), bound: numpy through ctypes,
JAX through the XLA FFI (inside ``jax.jit``, with a ``custom_vjp`` calling the native backward,
batch-sharded and vmappable), torch through a ``torch.library`` custom op with a registered
autograd formula, tensorflow through a custom op with a registered gradient
(``runtime.tensorflow_op``).
"""

from __future__ import annotations

import ctypes
import functools
import math
from pathlib import Path

import numpy as np

from .. import threads
from ..frameworks import framework_named, framework_of
from .base import (BACKWARD_MODES, BITS, CHUNKS, PTR, Libraries, address, batch_parallel,
                   ffi_targets)

__all__ = ["NativeModule", "BACKWARD_MODES"]


class NativeModule(Libraries):
    """A compiled c-target module for one (dim, depth), with the interface of the Python
    targets' modules: ``signature(path, stream=False, strategy="chunked")``. Its shared
    libraries, one per precision, are built (or loaded from the cache) on first use of each:
    ``library(bits)`` returns the path of the ``bits``-bit library."""

    STRATEGIES = tuple(CHUNKS)

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
        suffix, ptr = f"f{bits}", PTR
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
        bits = BITS[x.dtype]
        batch, length, shape = self._shapes(x.shape, stream)
        out = np.empty(shape, x.dtype)
        status = self.lib(bits).forward(address(x), batch, length, address(out), int(stream),
                                        int(chunks))
        if status:
            raise MemoryError(f"sigcodegen: {self.name} forward ran out of memory for {x.shape}")
        return out

    def backward(self, x: np.ndarray, y: np.ndarray, gy: np.ndarray, stream: bool = False,
                 mode: str = "auto") -> np.ndarray:
        """Gradient of <gy, signature(x)> with respect to x; y is the forward output."""
        x, y = np.ascontiguousarray(x), np.ascontiguousarray(y, dtype=x.dtype)
        gy = np.ascontiguousarray(gy, dtype=x.dtype)
        bits = BITS[x.dtype]
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
        if strategy not in CHUNKS:
            raise ValueError(f"the c target runs the strategies {self.STRATEGIES}, not {strategy!r}")
        framework = framework_of(path).name
        if framework == "jax":
            return self.jax_signature(path, stream, strategy)
        if framework == "torch":
            return self.torch_signature(path, stream, strategy)
        if framework == "tensorflow":
            return self.tensorflow_signature(path, stream, strategy)
        return self.forward(np.asarray(path), stream, CHUNKS[strategy])

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
                from ..tensorflow_op import tensorflow_binding

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

            out = self.forward(np.asarray(path), bool(stream), CHUNKS[strategy])
            return jax.device_put(out, device)
        return (self._jax or self.bind("jax"))(path, bool(stream), CHUNKS[strategy])

    # -- torch ----------------------------------------------------------------------------------

    def torch_signature(self, path, stream=False, strategy="chunked"):
        return (self._torch or self.bind("torch"))(path, bool(stream), CHUNKS[strategy])

    # -- tensorflow -----------------------------------------------------------------------------

    def tensorflow_signature(self, path, stream=False, strategy="chunked"):
        """A tensorflow tensor (eager or in a tf.function without XLA) through the custom op."""
        if strategy not in CHUNKS:
            raise ValueError(f"the c target runs the strategies {self.STRATEGIES}, not {strategy!r}")
        return (self._tensorflow or self.bind("tensorflow"))(path, bool(stream), CHUNKS[strategy])


def _jax_binding(module: NativeModule):
    """``f(x, stream, chunks)``: the kernel inside jax.jit through the XLA FFI, with a custom VJP
    calling the native backward; batch-sharded inputs stay sharded, jax.vmap works."""
    import jax
    import jax.numpy as jnp

    if not module.has_ffi:
        raise RuntimeError(
            f"sigcodegen: {module.name} was compiled without the XLA FFI headers (jaxlib was not "
            f"found at build time); run `sigcodegen cache clear` with jax installed")
    target = ffi_targets(module)

    @functools.lru_cache(maxsize=None)
    def forward_op(stream, chunks):
        def kernel(x):  # (B, L, DIM)
            batch, length, _ = x.shape
            tail = (max(length - 1, 0), module.SIGLEN) if stream else (module.SIGLEN,)
            call = jax.ffi.ffi_call(target("forward", x.dtype),
                                    jax.ShapeDtypeStruct((batch, *tail), x.dtype))
            return call(x, stream=np.int32(stream), chunks=np.int32(chunks))

        return batch_parallel(kernel, "b l d -> b t s" if stream else "b l d -> b s")

    @functools.lru_cache(maxsize=None)
    def backward_op(stream):
        def kernel(x, y, gy):
            call = jax.ffi.ffi_call(target("backward", x.dtype), jax.ShapeDtypeStruct(x.shape, x.dtype))
            return call(x, y, gy, stream=np.int32(stream), mode=np.int32(0))

        out = "b t s" if stream else "b s"
        return batch_parallel(kernel, f"b l d, {out}, {out} -> b l d")

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
