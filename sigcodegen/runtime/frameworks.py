"""One small adapter per array framework: numpy, jax, torch, tensorflow and Keras symbolic
tensors.

:func:`framework_of` judges an array by its type's module (so that no framework is imported to
find out), once per type, and returns the adapter that owns everything framework-specific the
operations need: the dtype policy (which float a kernel runs in), casting, shape checks, whether
the array lives on a GPU, and the handful of array operations (constants, take, matmul,
concatenation) that the tensor-algebra functions use. "Framework" always means the array
library here; "library" means a compiled shared object (``sigcodegen.runtime.bindings``).
"""

from __future__ import annotations

import contextlib
import functools

import numpy as np

from ..spec import check_dim_depth

__all__ = ["Framework", "FRAMEWORKS", "framework_of", "framework_named", "check_path_shape",
           "x64", "keras_backend"]


def check_path_shape(shape, depth, owner: str = "signature") -> tuple[int | None, int]:
    """(L, d) of a path shape ``(..., L, d)``, validated with ``depth``; raises ValueError."""
    if len(shape) < 2:
        raise ValueError(
            f"{owner}: a path has shape (..., L, d) with L points of dimension d; got shape "
            f"{tuple(shape)}. A single path of scalars is path[:, None]"
        )
    length, dim = shape[-2], shape[-1]
    if dim is not None and dim < 1:
        raise ValueError(f"{owner}: the path's last axis (dimension d) is empty: {tuple(shape)}")
    if length is not None and length < 1:
        raise ValueError(
            f"{owner}: the path has no points (L = 0 in shape {tuple(shape)}); a signature "
            f"needs at least one point (L = 1 gives zeros)"
        )
    if dim is None:
        raise ValueError(f"{owner}: the path's last axis (d) must be known, got {tuple(shape)}")
    check_dim_depth(dim, depth, owner)
    return length, dim


@contextlib.contextmanager
def x64(enabled: bool):
    """JAX float64 for this block only (jax drops float64 to float32 without it)."""
    if not enabled:
        yield
        return
    import jax

    with jax.enable_x64(True):
        yield


def keras_backend() -> str:
    """The active Keras backend: 'jax', 'torch' or 'tensorflow' (imports keras)."""
    import keras

    return keras.backend.backend()


class Framework:
    """The operations of one array framework; subclasses fill in what differs."""

    name = ""
    #: Keras symbolic tensors: shapes only, no values (signature() adds a layer instead)
    symbolic = False

    @property
    def xp(self):
        """The framework's array namespace (numpy, jax.numpy, torch, keras.ops)."""
        raise NotImplementedError

    def adopt(self, x):
        """``x`` as an array of this framework (lists become numpy arrays)."""
        return x

    def shape(self, x) -> tuple:
        return tuple(x.shape)

    def dtype_name(self, x) -> str:
        return str(x.dtype)

    def default_float(self) -> str:
        return "float32"

    def _policy(self, name: str, owner: str) -> str:
        """The float dtype the kernels run in for an input dtype: float32 and float64 are kept,
        narrower floats run (and return) in float32, integers and bools in the framework's
        default float. Complex and non-numeric inputs are refused (TypeError)."""
        if name in ("float32", "float64"):
            return name
        if name in ("float16", "bfloat16"):
            return "float32"
        if name == "bool" or name.startswith(("int", "uint")):
            return self.default_float()
        if name.startswith("complex"):
            raise TypeError(
                f"{owner}: complex paths are not supported (got {name}); pass the real and "
                f"imaginary parts as separate channels, e.g. np.concatenate([x.real, x.imag], -1)"
            )
        raise TypeError(f"{owner}: expected a numeric path, got dtype {name}")

    def cast(self, x, dtype: str):
        return self.xp.cast(x, dtype)

    def as_float(self, x, owner: str = "signature"):
        """(x in the dtype the kernels run in, that dtype's name): see ``_policy``."""
        name = self.dtype_name(x)
        dtype = self._policy(name, owner)
        return (x if dtype == name else self.cast(x, dtype)), dtype

    def on_gpu(self, x=None) -> bool:
        """Whether ``x`` lives on a GPU; without ``x``, whether the framework's default device
        is one (what a Keras layer on this backend will run on)."""
        return False

    def to_numpy(self, x) -> np.ndarray:
        return np.asarray(x)

    # -- array operations of the tensor-algebra functions -------------------------------------

    def const(self, array: np.ndarray, like):
        """A numpy constant as an array of ``like``'s framework and dtype (and device)."""
        return self.xp.convert_to_tensor(array, like.dtype)

    def take(self, x, index: np.ndarray, axis: int = -1):
        return self.xp.take(x, index, axis=axis)

    def take_along_axis(self, x, index: np.ndarray, axis: int):
        return self.xp.take_along_axis(x, index, axis=axis)

    def matmul(self, x, matrix: np.ndarray):
        """x @ matrix for a constant numpy matrix."""
        return self.xp.matmul(x, self.const(matrix, x))

    def concat(self, parts, axis: int):
        return self.xp.concatenate(parts, axis=axis)

    def expand_dims(self, x, axis: int):
        return self.xp.expand_dims(x, axis)

    def zeros_like(self, x):
        return self.xp.zeros_like(x)

    def segment_sum(self, data, segments: np.ndarray, count: int):
        """``out[..., s] = sum of data[..., t] over t with segments[t] == s`` on the last axis
        (``count`` segments; ``segments`` sorted): a scatter-add, differentiable."""
        ops = self.xp
        moved = ops.moveaxis(data, -1, 0)
        # sorted=True with num_segments is refused on Keras' tensorflow backend
        summed = ops.segment_sum(moved, ops.convert_to_tensor(segments, "int32"), count)
        return ops.moveaxis(summed, 0, -1)

    def sparse_apply(self, x, sparse):
        """``sparse @ x`` on the last axis for a constant :class:`sigcodegen.algebra.SparseMap`:
        a gather of the nonzeros' columns, a product by their values and a segment sum."""
        gathered = self.take(x, sparse.cols, axis=-1) * self.const(sparse.values, x)
        return self.segment_sum(gathered, sparse.rows, sparse.shape[0])


_NUMPY_NAMES: dict = {}


class Numpy(Framework):
    name = "numpy"
    xp = np

    def adopt(self, x):
        return x if isinstance(x, np.ndarray) else np.asarray(x)

    def dtype_name(self, x) -> str:
        dtype = x.dtype
        name = _NUMPY_NAMES.get(dtype)
        if name is None:  # numpy's dtype.name is slow (~5 us): remembered per dtype
            name = _NUMPY_NAMES[dtype] = np.dtype(dtype).name
        return name

    def default_float(self) -> str:
        return "float64"

    def cast(self, x, dtype: str):
        return x.astype(dtype, copy=False)

    def const(self, array, like):
        return array.astype(like.dtype)

    def segment_sum(self, data, segments, count):
        out = np.zeros((*data.shape[:-1], count), dtype=data.dtype)
        if segments.size:
            heads = np.flatnonzero(np.r_[True, segments[1:] != segments[:-1]])
            out[..., segments[heads]] = np.add.reduceat(data, heads, axis=-1)
        return out

    def sparse_apply(self, x, sparse):
        return sparse.apply(x).astype(x.dtype, copy=False)


class Jax(Framework):
    name = "jax"

    @property
    def xp(self):
        import jax.numpy as jnp

        return jnp

    def default_float(self) -> str:
        import jax

        return "float64" if jax.config.jax_enable_x64 else "float32"

    def cast(self, x, dtype: str):
        return x.astype(self.xp.dtype(dtype))

    def on_gpu(self, x=None) -> bool:
        import jax

        if x is not None:
            try:
                return any(d.platform == "gpu" for d in x.devices())
            except Exception:  # tracers have no devices; follow the default backend
                pass
        return jax.default_backend() == "gpu"

    def const(self, array, like):
        return self.xp.asarray(array, like.dtype)

    def host_device(self, x):
        """The CPU device of a concrete array that lives on one CPU device, else None (tracers,
        GPU arrays, arrays sharded over devices). Such an array's numpy view shares its memory,
        so work on it in numpy compiles nothing (each eager jax op on a new shape compiles)."""
        import jax

        if isinstance(x, jax.core.Tracer):
            return None
        devices = x.devices()
        if len(devices) != 1:
            return None
        (device,) = devices
        return device if device.platform == "cpu" else None

    def take(self, x, index, axis=-1):
        return self.xp.take(x, self.xp.asarray(index), axis=axis)

    def take_along_axis(self, x, index, axis):
        return self.xp.take_along_axis(x, self.xp.asarray(index), axis=axis)

    def segment_sum(self, data, segments, count):
        jnp = self.xp
        out = jnp.zeros((*data.shape[:-1], count), data.dtype)
        return out.at[..., jnp.asarray(segments)].add(data, indices_are_sorted=True)


class Torch(Framework):
    name = "torch"

    @property
    def xp(self):
        import torch

        return torch

    def dtype_name(self, x) -> str:
        return str(x.dtype).removeprefix("torch.")

    def default_float(self) -> str:
        return str(self.xp.get_default_dtype()).removeprefix("torch.")

    def cast(self, x, dtype: str):
        return x.to(getattr(self.xp, dtype))

    def on_gpu(self, x=None) -> bool:
        return bool(x.is_cuda) if x is not None else self.xp.cuda.is_available()

    def to_numpy(self, x) -> np.ndarray:
        return x.detach().cpu().numpy()

    def const(self, array, like):
        return self.xp.as_tensor(array, dtype=like.dtype, device=like.device)

    def take(self, x, index, axis=-1):
        torch = self.xp
        return torch.index_select(x, axis % x.ndim, torch.as_tensor(index, device=x.device))

    def take_along_axis(self, x, index, axis):
        torch = self.xp
        return torch.gather(x, axis, torch.as_tensor(index, device=x.device))

    def concat(self, parts, axis):
        return self.xp.cat(parts, dim=axis)

    def expand_dims(self, x, axis):
        return x.unsqueeze(axis)

    def segment_sum(self, data, segments, count):
        torch = self.xp
        out = torch.zeros((*data.shape[:-1], count), dtype=data.dtype, device=data.device)
        return out.index_add(-1, torch.as_tensor(segments, device=data.device), data)


class Tensorflow(Framework):
    """tensorflow tensors, operated on through keras.ops (Keras on the tensorflow backend)."""

    name = "tensorflow"

    @property
    def xp(self):
        from keras import ops

        return ops

    def shape(self, x) -> tuple:
        return tuple(x.shape.as_list()) if x.shape.rank is not None else ()

    def dtype_name(self, x) -> str:
        return getattr(x.dtype, "name", str(x.dtype))

    def default_float(self) -> str:
        import keras

        return keras.config.floatx()

    def on_gpu(self, x=None) -> bool:
        """Whether tensorflow sees a GPU (the same answer for every tensor: inside a
        ``tf.function`` a tensor's device is not known yet, and tensorflow places ops itself)."""
        return _tensorflow_has_gpu()

    @staticmethod
    def tracing_for_xla() -> bool:
        """Whether tensorflow is tracing for XLA now (inside a ``tf.function(jit_compile=True)``),
        where the c kernels' custom op cannot run. TensorFlow has no public test for it: this is
        the one its own ``tf.function`` uses; False when that module moves."""
        try:
            from tensorflow.python.framework import ops as tf_ops
            from tensorflow.python.ops import control_flow_util
        except ImportError:
            return False
        return bool(control_flow_util.GraphOrParentsInXlaContext(tf_ops.get_default_graph()))


@functools.lru_cache(maxsize=1)
def _tensorflow_has_gpu() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


class KerasSymbolic(Tensorflow):
    """Keras symbolic tensors (functional-model inputs): shapes and dtypes, no values."""

    name = "keras"
    symbolic = True

    def shape(self, x) -> tuple:
        return tuple(x.shape)


FRAMEWORKS = {f.name: f for f in (Numpy(), Jax(), Torch(), Tensorflow(), KerasSymbolic())}
#: the first part of an array type's module -> framework name (anything else is numpy-like)
_MODULES = {"jax": "jax", "jaxlib": "jax", "torch": "torch", "tensorflow": "tensorflow",
            "keras": "keras"}


_BY_TYPE: dict[type, Framework] = {}


def framework_of(x) -> Framework:
    """The adapter for ``x``'s framework, judged by its type (once per type); lists, tuples,
    scalars and other array-likes are numpy (``adopt`` converts them)."""
    cls = type(x)
    found = _BY_TYPE.get(cls)
    if found is None:
        name = "numpy" if issubclass(cls, np.ndarray) else \
            _MODULES.get(cls.__module__.split(".")[0], "numpy")
        found = _BY_TYPE[cls] = FRAMEWORKS[name]
    return found


def framework_named(name: str) -> Framework:
    """The adapter of a framework (or a Keras backend) by name."""
    try:
        return FRAMEWORKS[name]
    except KeyError:
        raise ValueError(f"unknown array framework {name!r}; one of {', '.join(FRAMEWORKS)}") \
            from None
