"""Keras 3 layers: SigLayer and LogSigLayer, registered for serialisation, on every Keras backend.

Importing this module imports keras, which fixes the Keras backend: set ``KERAS_BACKEND`` first.
``sigcodegen.SigLayer`` and ``sigcodegen.LogSigLayer`` import it on first use.
"""

from __future__ import annotations

import keras

from .algebra import level_offsets, logsignature_channels, lyndon_index, lyndon_maps
from .ops.logsignature import check_mode
from .runtime.dispatch import (choose_strategy, choose_target, load_module, load_native,
                               run_module_signature, tensorflow_native_available)
from .runtime.frameworks import framework_named, keras_backend
from .spec import KernelSpec, check_choice, check_dim_depth

__all__ = ["SigLayer", "LogSigLayer"]


def _skip_masked_points(x, mask):
    """Replace every masked point by the last unmasked one before it (the first unmasked one
    at the start): masked steps then add zero increments, so the signature is that of the
    unmasked points, as if the path had only those (ragged batches, Keras masking)."""
    from keras import ops

    positions = ops.expand_dims(ops.arange(ops.shape(x)[1], dtype="int32"), 0)
    mask = ops.cast(mask, "bool")
    latest = ops.associative_scan(ops.maximum, ops.where(mask, positions, -1), axis=1)
    first = ops.argmax(ops.cast(mask, "int32"), axis=1)
    index = ops.maximum(latest, ops.cast(ops.expand_dims(first, 1), "int32"))
    index = ops.broadcast_to(ops.expand_dims(index, -1), ops.shape(x))
    return ops.take_along_axis(x, index, axis=1)


def _native_on_tensorflow(backend: str, on_gpu: bool, strategy: str | None) -> bool:
    """Whether a SigLayer on this backend runs the c kernels through the tensorflow custom op:
    on the tensorflow backend on a CPU, for the strategies the c target runs, unless the op
    failed to build earlier in this process."""
    return (backend == "tensorflow" and not on_gpu and strategy != "levelwise"
            and tensorflow_native_available())


@keras.saving.register_keras_serializable(package="sigcodegen")
class SigLayer(keras.layers.Layer):
    """Signature of paths as a Keras layer: ``(batch, L, d) -> (batch, siglen)``.

    Args:
        depth: truncation depth m >= 1.
        stream: return the signature of every prefix, ``(batch, L-1, siglen)``.
        gpu_optimized: as in keras_sig: True uses the per-degree whole-sequence (``levelwise``)
            strategy, False the scan (``horner``); None picks (levelwise on a GPU, chunked on a
            CPU, see :func:`sigcodegen.runtime.dispatch.choose_strategy`).
        strategy: name a strategy directly instead (``horner``, ``chunked``, ``levelwise``).

    On a CPU the layer runs the ``c`` target (compiled C with a native backward): through the
    XLA FFI on the JAX backend, a torch custom op on torch, and a TensorFlow custom op on
    tensorflow (built once against the installed tensorflow). Otherwise the ``jax`` target on
    the JAX backend and the ``keras`` target (keras.ops) on tensorflow and torch. The kernel
    module is loaded once, in ``build``.

    The TensorFlow op has no XLA kernel, so there the layer sets ``supports_jit = False``:
    Keras then trains it in a ``tf.function`` without XLA, for ``jit_compile="auto"`` (which
    is what "auto" gives on a CPU anyway) and for ``jit_compile=True`` (with Keras' warning
    "Model doesn't support jit_compile=True"). Traced inside a caller's own
    ``tf.function(jit_compile=True)`` it runs the keras target there. With
    ``gpu_optimized=True`` / ``strategy="levelwise"``, on a GPU, or when no C++ compiler can
    build the op, the layer runs the keras target, which XLA compiles.

    Input ``(batch, L, d)`` (L may be None), output ``(batch, siglen)`` with siglen = d + d**2
    + ... + d**depth, or ``(batch, L-1, siglen)`` when ``stream``. A Keras mask (e.g. from
    ``keras.layers.Masking``) is consumed: masked points are skipped, so a padded batch gives the
    signatures of the unpadded paths; in stream mode the mask passes on to the stream rows.

    Example:
        >>> import keras, numpy as np, sigcodegen as sc
        >>> model = keras.Sequential([keras.Input((100, 5)), sc.SigLayer(3), keras.layers.Dense(1)])
        >>> model.output_shape
        (None, 1)
        >>> padded = np.array([[[0.0, 0.0], [1.0, 2.0], [9.0, 9.0]]])   # 2 points, then padding
        >>> masked = keras.Sequential([keras.layers.Masking(9.0), sc.SigLayer(2)])
        >>> bool(np.allclose(masked(padded), sc.signature(padded[0, :2], 2)))
        True
    """

    def __init__(self, depth, stream=False, gpu_optimized=None, strategy=None, **kwargs):
        super().__init__(**kwargs)
        check_dim_depth(1, depth, owner="SigLayer")
        if strategy is not None:
            check_choice("strategy", strategy, owner="SigLayer")
        implied = {True: "levelwise", False: "horner"}.get(gpu_optimized)
        if strategy is not None and implied is not None and strategy != implied:
            raise ValueError(
                f"SigLayer: gpu_optimized={gpu_optimized} means strategy={implied!r}, which "
                f"contradicts strategy={strategy!r}; pass one of the two"
            )
        self.depth = int(depth)
        self.stream = bool(stream)
        self.gpu_optimized = gpu_optimized
        self.strategy = strategy
        self.supports_masking = True
        self._module = None
        self._strategy = None
        self._target = self._backend = None
        backend = keras_backend()
        if backend == "tensorflow":  # decided here: Keras reads it in compile, maybe before build
            self.supports_jit = not _native_on_tensorflow(
                backend, framework_named(backend).on_gpu(), self._implied_strategy())

    @property
    def target(self):
        """The target the built layer runs (``c``, ``triton``, ``jax`` or ``keras``); None before
        ``build``."""
        return self._target

    @property
    def strategy_in_force(self):
        """The strategy the built layer runs; None before ``build``."""
        return self._strategy

    def _implied_strategy(self):
        return self.strategy or {True: "levelwise", False: "horner"}.get(self.gpu_optimized)

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim is None:
            raise ValueError(
                f"SigLayer: the last axis (path dimension) must be known, got input shape "
                f"{input_shape}; give keras.Input a shape such as (None, {3})"
            )
        backend = keras_backend()
        on_gpu = framework_named(backend).on_gpu()
        implied = self._implied_strategy()
        target = None
        if backend in ("jax", "torch"):
            target = choose_target(backend, on_gpu, implied)
        elif _native_on_tensorflow(backend, on_gpu, implied):
            target = "c"
        self._strategy = implied or choose_strategy(on_gpu, self.stream, target)
        self._module = None
        if target == "triton":  # torch tensors on a CUDA GPU: the generated Triton kernels
            self._module = load_module(KernelSpec(dim=dim, depth=self.depth, target="triton"))
        if target == "c":
            self._module = load_native(dim, self.depth, backend, self.compute_dtype)  # None: warned
            if self._module is not None and backend != "tensorflow":  # tensorflow: bound there
                self._module.bind(backend)
        if self._module is None:
            target = "jax" if backend == "jax" else "keras"
            self._module = load_module(KernelSpec(dim=dim, depth=self.depth, target=target))
        self._target, self._backend = target, backend
        if backend == "tensorflow":
            self.supports_jit = target != "c"
        super().build(input_shape)

    def call(self, inputs, mask=None):
        if mask is not None:
            inputs = _skip_masked_points(inputs, mask)
        if self._target == "jax":  # called on arrays, it runs at shape buckets (traced: as is)
            return run_module_signature(self._module, "jax", inputs, framework_named("jax"),
                                        self.stream, self._strategy)
        if self._target == "c" and self._backend == "tensorflow":
            if not framework_named("tensorflow").tracing_for_xla():
                return self._module.tensorflow_signature(inputs, self.stream, self._strategy)
            # a caller's own tf.function(jit_compile=True): the keras module, which XLA compiles
            keras_module = load_module(KernelSpec(dim=self._module.DIM, depth=self.depth,
                                                  target="keras"))
            return keras_module.signature(inputs, stream=self.stream, strategy=self._strategy)
        return self._module.signature(inputs, stream=self.stream, strategy=self._strategy)

    def compute_mask(self, inputs, mask=None):
        if mask is None or not self.stream:
            return None
        return mask[:, 1:]  # stream row k belongs to point k + 1

    def compute_output_shape(self, input_shape):
        *lead, length, dim = input_shape
        if dim is None:
            raise ValueError(f"SigLayer: the last axis must be known, got {input_shape}")
        siglen = level_offsets(dim, self.depth)[-1]
        if self.stream:
            return (*lead, None if length is None else length - 1, siglen)
        return (*lead, siglen)

    def get_config(self):
        return {
            **super().get_config(),
            "depth": self.depth,
            "stream": self.stream,
            "gpu_optimized": self.gpu_optimized,
            "strategy": self.strategy,
        }


@keras.saving.register_keras_serializable(package="sigcodegen")
class LogSigLayer(keras.layers.Layer):
    """Log-signature of paths as a Keras layer: ``(batch, L, d) -> (batch, n)``.

    Where :class:`SigLayer` runs the c target on the JAX or torch backend (a CPU), the layer
    runs the c target's log-signature kernels (``KernelSpec(kind="logsignature")``: the
    signature, its logarithm and the projection in one native call, with a native backward).
    Elsewhere it computes the signature (as :class:`SigLayer`) and its tensor logarithm, then
    selects the Lyndon-word coefficients (``words``, a gather) or changes to the Lyndon bracket
    basis (``brackets``, a gather and the sparse map of :func:`sigcodegen.algebra.lyndon_maps`
    as a segment sum).

    Args:
        depth: truncation depth.
        mode: ``"words"`` (default), ``"brackets"`` or ``"expand"``, as
            :func:`sigcodegen.logsignature`; n is :func:`sigcodegen.logsignature_channels`
            (words, brackets) or :func:`sigcodegen.signature_channels` (expand).
        stream: the log-signature of every prefix, ``(batch, L-1, n)``.
        gpu_optimized, strategy: as for :class:`SigLayer`, which computes the signature.

    Masks are consumed as by :class:`SigLayer` (masked points are skipped).

    Example:
        >>> import keras, numpy as np, sigcodegen as sc
        >>> layer = sc.LogSigLayer(3, mode="brackets")
        >>> layer.compute_output_shape((None, 50, 2))
        (None, 5)
        >>> square = np.array([[[0.0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]])  # a closed loop
        >>> keras.ops.convert_to_numpy(sc.LogSigLayer(2, mode="brackets")(square))  # its area
        array([[0., 0., 1.]], dtype=float32)
    """

    def __init__(self, depth, mode="words", stream=False, gpu_optimized=None, strategy=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.mode = check_mode(mode)
        self.signature_layer = SigLayer(depth, stream=stream, gpu_optimized=gpu_optimized,
                                        strategy=strategy, dtype=kwargs.get("dtype"))
        self.depth, self.stream = self.signature_layer.depth, self.signature_layer.stream
        self.supports_masking = True
        self._algebra = None
        self._project = None
        self._native = None

    def build(self, input_shape):
        from keras import ops

        self.signature_layer.build(input_shape)
        dim = input_shape[-1]
        self._native = None
        backend = keras_backend()
        if self.signature_layer.target == "c" and backend in ("jax", "torch"):
            # the c target's log-signature kernels: signature, logarithm and projection in one
            # native call, with the native backward (None: warned, the composition below)
            self._native = load_native(dim, self.depth, backend, self.compute_dtype,
                                       kind="logsignature")
        self._algebra = load_module(KernelSpec(dim=dim, depth=self.depth, target="keras"))
        index = lyndon_index(dim, self.depth)
        if self.mode == "words":
            self._project = lambda log: ops.take(log, index, axis=-1)
        elif self.mode == "brackets":  # the sparse map: gather, scale, segment sum
            inverse = lyndon_maps(dim, self.depth).inverse
            cols = ops.convert_to_tensor(inverse.cols.astype("int32"))
            rows = ops.convert_to_tensor(inverse.rows.astype("int32"))
            values = ops.convert_to_tensor(inverse.values, self.compute_dtype)

            def project(log):
                words = ops.take(log, index, axis=-1)
                gathered = ops.moveaxis(ops.take(words, cols, axis=-1) * values, -1, 0)
                summed = ops.segment_sum(gathered, rows, inverse.shape[0])  # sorted: refused on tf
                return ops.moveaxis(summed, 0, -1)

            self._project = project
        else:
            self._project = lambda log: log
        super().build(input_shape)

    def call(self, inputs, mask=None):
        if self._native is not None:
            if mask is not None:
                inputs = _skip_masked_points(inputs, mask)
            return self._native.logsignature(inputs, stream=self.stream,
                                             strategy=self.signature_layer.strategy_in_force,
                                             mode=self.mode)
        sig = self.signature_layer(inputs, mask=mask)
        return self._project(self._algebra.tensor_log(sig))

    def compute_mask(self, inputs, mask=None):
        return self.signature_layer.compute_mask(inputs, mask)

    def compute_output_shape(self, input_shape):
        shape = self.signature_layer.compute_output_shape(input_shape)
        if self.mode == "expand":
            return shape
        return (*shape[:-1], logsignature_channels(input_shape[-1], self.depth))

    def get_config(self):
        config = self.signature_layer.get_config()
        return {
            **super().get_config(),
            "depth": self.depth,
            "mode": self.mode,
            "stream": self.stream,
            "gpu_optimized": config["gpu_optimized"],
            "strategy": config["strategy"],
        }
