"""What the c target's kinds share: their compiled libraries loaded (``Libraries``, one per
precision, built on first use), the element types and argument conventions of the C entry
points, and the JAX plumbing of the XLA FFI (``ffi_targets`` registers a library's handlers,
``batch_parallel`` makes a custom call batch-shardable and vmappable). Building the libraries is
``sigcodegen.jit``; this module only loads what it is handed. Each kind binds its own entry
points in its own module (``signature``, ``logsignature``, ``sigkernel``, ``coefficients``).
"""

from __future__ import annotations

import ctypes
import threading
from pathlib import Path

import numpy as np

__all__ = ["BITS", "PTR", "CHUNKS", "BACKWARD_MODES", "Libraries", "batch_parallel",
           "ffi_targets"]


#: element dtype -> the library's bits (its functions end in _f32 / _f64)
BITS = {np.dtype(np.float32): 32, np.dtype(np.float64): 64}
PTR = ctypes.c_void_p  # arrays are passed as addresses (x.ctypes.data): no ctypes casts per call

_view, _addressof = ctypes.c_char.from_buffer, ctypes.addressof


def address(array: np.ndarray) -> int:
    """The address of a C-contiguous array's data, for PTR arguments: through a ctypes view of
    its buffer (0.35 us) where it is writable and not empty, else ``array.ctypes.data`` (1.1 us,
    which every call of the small kernels paid twice)."""
    try:
        return _addressof(_view(array))
    except (TypeError, ValueError):  # read-only, or no bytes
        return array.ctypes.data
#: strategy -> the forward kernel's chunk argument (0: its own rule, 1: no time chunks)
CHUNKS = {"horner": 1, "chunked": 0}
#: backward modes: 0 picks reversal or checkpoints per block, 1 reversal, 2 checkpoints
BACKWARD_MODES = {"auto": 0, "reversible": 1, "checkpoint": 2}


class Libraries:
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

    def open_kind(self, path: Path, bits: int, kind: int) -> ctypes.CDLL:
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


def batch_parallel(kernel, rule: str, tables: int = 0):
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


def ffi_targets(module: Libraries):
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
