"""The signature-kernel kind's compiled libraries (``kind="sigkernel"``), bound: numpy through
ctypes, torch through a ``torch.autograd.Function``, JAX through the XLA FFI inside a
``jax.custom_vjp`` (``jax.pure_callback`` where the library has no FFI headers).
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path

import numpy as np

from .. import threads
from ..frameworks import framework_named
from .base import BITS, PTR, Libraries, address, ffi_targets

__all__ = ["SigKernelModule", "SIGKERNEL_LAYOUTS"]


#: pair layouts of the sigkernel libraries: (x[p], y[p]); every (x[a], y[b]); (x[a], x[b]), a <= b
SIGKERNEL_LAYOUTS = {"pairs": 0, "gram": 1, "symmetric": 2}


class SigKernelModule(Libraries):
    """A compiled signature-kernel module (``kind="sigkernel"``) for one dim: the Goursat PDE
    solver for pairs of paths, Gram matrices and symmetric Gram matrices, float32 and float64,
    forward and backward. ``forward``/``backward`` take contiguous numpy arrays; ``torch_apply``
    and ``jax_apply`` wrap them with autograd (a ``torch.autograd.Function``, a
    ``jax.custom_vjp`` around the XLA FFI handlers, or ``jax.pure_callback`` where the library
    was compiled without the FFI headers: ``has_ffi``)."""

    def __init__(self, built):
        """``built``: a ``sigcodegen.jit.loader.NativeBuild`` of a sigkernel spec."""
        super().__init__(built)
        self._params: dict = {}  # the static kernels' (p0, p1, p2) as float64 arrays
        self.DIM = built.spec.dim
        self.has_ffi = built.has_ffi

    def _open(self, path: Path, bits: int) -> ctypes.CDLL:
        lib = self.open_kind(path, bits, 2)
        self.lanes = int(lib.sigcodegen_info(1))
        ptr, i64, i32 = PTR, ctypes.c_int64, ctypes.c_int32
        common = [ptr, ptr, i64, i64, i64, i64, i32, i32, ptr, i32, i32, i32]
        fwd = getattr(lib, f"sigcodegen_sigkernel_forward_f{bits}")
        fwd.restype, fwd.argtypes = ctypes.c_int, common + [ptr]
        bwd = getattr(lib, f"sigcodegen_sigkernel_backward_f{bits}")
        bwd.restype, bwd.argtypes = ctypes.c_int, common + [ptr, ptr, ptr]
        lib.forward, lib.backward = fwd, bwd
        threads.attach(lib)
        return lib

    def _params_array(self, params) -> tuple[np.ndarray, int]:
        """The static kernel's parameters as a float64 array and its address, kept per
        parameter tuple (256 at most; an array made per call costs ~2 us of the smallest
        calls). The caller holds the array while the address is in use."""
        key = tuple(params)
        found = self._params.get(key)
        if found is None:
            p = np.ascontiguousarray(key, dtype=np.float64)
            found = (p, address(p))
            if len(self._params) < 256:
                self._params[key] = found
        return found

    def linear_products(self, dtype="float32") -> str:
        """Where this build makes the linear kernel's increment products at orders (0, 0):
        "sweep" (in the sweep itself) or "pass" (in a pass before it); sigcodegen_info(7)."""
        return "sweep" if self.lib(BITS[np.dtype(dtype)]).sigcodegen_info(7) else "pass"

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
        p, p_address = self._params_array(params)
        status = self.lib(BITS[x.dtype]).forward(
            address(x), address(y), nx, ny, lx, ly, code, int(kernel), p_address, int(ip),
            int(orders[0]), int(orders[1]), address(out))
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
        status = self.lib(BITS[x.dtype]).backward(
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
        """forward on jax arrays (works under jit, grad, vmap): concrete arrays on one CPU
        device on their numpy view, traced ones through the XLA FFI (``jax.pure_callback``
        without it), gradients by a ``jax.custom_vjp`` calling the native backward."""
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


def _sigkernel_jax_ffi(module: SigKernelModule):
    """``apply(x, y, layout, kernel, params, ip, orders)`` through the XLA FFI (a custom call in
    the jitted program, no host round trip), with a custom VJP whose backward is the native
    backward's handler. jax.vmap broadcasts every argument's extra leading axes
    (``vmap_method="broadcast_all"``); the handlers run those as independent problems."""
    import jax

    target = ffi_targets(module)

    def attributes(layout, kernel, params, ip, orders):
        p0, p1, p2 = (tuple(params) + (0.0, 0.0, 0.0))[:3]
        return dict(layout=np.int32(SIGKERNEL_LAYOUTS[layout]), kernel=np.int32(kernel),
                    ip=np.int32(ip), lam1=np.int32(orders[0]), lam2=np.int32(orders[1]),
                    p0=np.float64(p0), p1=np.float64(p1), p2=np.float64(p2))

    @functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4, 5, 6))
    def core(x, y, layout, kernel, params, ip, orders):
        shape = (x.shape[0],) if layout == "pairs" else (x.shape[0], y.shape[0])
        call = jax.ffi.ffi_call(target("sigkernel_forward", x.dtype),
                                jax.ShapeDtypeStruct(shape, x.dtype), vmap_method="broadcast_all")
        return call(x, y, **attributes(layout, kernel, params, ip, orders))

    def core_fwd(x, y, layout, kernel, params, ip, orders):
        return core(x, y, layout, kernel, params, ip, orders), (x, y)

    def core_bwd(layout, kernel, params, ip, orders, residuals, g):
        x, y = residuals
        call = jax.ffi.ffi_call(target("sigkernel_backward", x.dtype),
                                (jax.ShapeDtypeStruct(x.shape, x.dtype),
                                 jax.ShapeDtypeStruct(y.shape, y.dtype)),
                                vmap_method="broadcast_all")
        gx, gy = call(x, y, g.astype(x.dtype), **attributes(layout, kernel, params, ip, orders))
        return gx, gy

    core.defvjp(core_fwd, core_bwd)
    return jax.jit(core, static_argnums=(2, 3, 4, 5, 6))


def _sigkernel_jax_callbacks(module: SigKernelModule):
    """``apply(x, y, layout, kernel, params, ip, orders)`` through ``jax.pure_callback`` (for a
    library compiled without the XLA FFI headers), with a custom VJP calling the native
    backward."""
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


def _sigkernel_jax_function(module: SigKernelModule):
    """``f(x, y, layout, kernel, params, ip, orders)`` for jax arrays: concrete arrays on one CPU
    device on their numpy views; traced ones through the XLA FFI (host callbacks without it)."""
    import jax

    apply = _sigkernel_jax_ffi(module) if module.has_ffi else _sigkernel_jax_callbacks(module)
    host = framework_named("jax").host_device

    def sigkernel(x, y, layout, kernel, params, ip, orders):
        device = host(x)
        if device is not None and host(y) is not None:
            out = module.forward(np.asarray(x), np.asarray(y), layout, kernel, params, ip, orders)
            return jax.device_put(out, device)
        return apply(x, y, layout, kernel, params, ip, orders)

    return sigkernel
