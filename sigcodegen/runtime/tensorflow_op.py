"""The c target's kernels as TensorFlow ops: ``SigcodegenSignature`` (the forward) and
``SigcodegenSignatureGrad`` (the native backward, registered as its gradient), from a C++ shim
compiled once against the installed tensorflow (``sigcodegen.jit.loader.build_tensorflow_op``)
and loaded with ``tf.load_op_library``. One op library serves every (dim, depth): each op names
the c-target library it calls.

The ops run eagerly and inside ``tf.function`` (Keras' train step with ``jit_compile=False``,
which is what ``jit_compile="auto"`` resolves to on a CPU); they have no XLA kernel, so the
Keras layers that use them report ``supports_jit = False``. The gradient op has no gradient of
its own: second derivatives raise ``NotImplementedError``.
"""

from __future__ import annotations

import threading

__all__ = ["op_library", "tensorflow_binding"]

_lock = threading.Lock()
_ops = None


def op_library():
    """The loaded op library (built into the cache on first use; the gradients registered once
    per process). Raises CompilerUnavailable / CompileError when it cannot be built."""
    global _ops
    with _lock:
        if _ops is None:
            import tensorflow as tf

            from ..jit.loader import build_tensorflow_op

            ops = tf.load_op_library(str(build_tensorflow_op()))

            @tf.RegisterGradient("SigcodegenSignature")
            def _signature_grad(op, gy):
                return ops.sigcodegen_signature_grad(
                    op.inputs[0], op.outputs[0], gy, library=op.get_attr("library"),
                    dim=op.get_attr("dim"), siglen=op.get_attr("siglen"),
                    stream=op.get_attr("stream"))

            @tf.RegisterGradient("SigcodegenSignatureGrad")
            def _no_second_derivative(op, gx):
                raise NotImplementedError(
                    "sigcodegen: second derivatives of the signature are not implemented for the "
                    "tensorflow op (SigcodegenSignatureGrad has no gradient); for them run the "
                    "keras target: SigLayer(..., gpu_optimized=True) or signature(..., "
                    "target='keras')")

            _ops = ops
    return _ops


def tensorflow_binding(module):
    """``f(x, stream, chunks)`` for a c-target ``NativeModule``: the signature of a tensorflow
    tensor ``(..., L, DIM)`` by the op library, differentiable through the native backward.
    float32 and float64 run at their precision; other dtypes are computed in float32."""
    import tensorflow as tf

    ops = op_library()

    def signature(x, stream, chunks):
        x = tf.convert_to_tensor(x)
        if x.dtype not in (tf.float32, tf.float64):
            x = tf.cast(x, tf.float32)
        library = str(module.library_path(64 if x.dtype == tf.float64 else 32))
        return ops.sigcodegen_signature(x, library=library, dim=module.DIM,
                                        siglen=module.SIGLEN, stream=bool(stream),
                                        chunks=int(chunks))

    return signature
