"""sigcodegen: a compiler for truncated path signatures.

For one (dim, depth) a planner unrolls the truncated tensor algebra into per-degree tensor
products, and emitters render that plan as code for one target: ``c`` (C + OpenMP, compiled by
the system compiler), ``jax``, ``keras`` (``keras.ops``) or ``triton`` (GPU kernels for torch
CUDA tensors). Kernels are cached on disk and loaded on first use; ``signature()`` and the Keras
layers pick a target from the input. Importing sigcodegen imports no array library and does not
choose a Keras backend.

A path is an array ``(..., L, d)`` of L points in R^d (numpy, jax, torch or tensorflow); its
signature truncated at ``depth`` is ``(..., siglen)``, siglen = d + d**2 + ... + d**depth,
levels concatenated, each row-major, no scalar term: the layout of iisignature, signatory,
signax, pysiglib and keras_sig. Results keep the input's library and float dtype.

Signatures          signature, signature_vjp, windowed_signature, jax_gpu_signature
Chosen coefficients signature_coefficients, signature_coefficients_vjp (the prefix tree of
                    the words only; coefficients_plan prints it)
Window queries      SignatureStream (one long path, many windows)
Log-signatures      logsignature, signature_to_logsignature, logsignature_to_signature
Tensor algebra      signature_combine, multi_signature_combine, signature_inverse
Path transforms     time_augment, lead_lag, bucket_paths
Sizes and bases     signature_channels, logsignature_channels, level_sizes, words,
                    lyndon_words, lyndon_brackets, lyndon_index, lyndon_maps (the sparse maps)
Memory limit        max_bytes, set_max_bytes (SIGCODEGEN_MAX_BYTES), SizeLimitError
Keras 3 layers      SigLayer, LogSigLayer (in sigcodegen.layers, imported on first use)
Several devices     sigcodegen.distributed.time_sharded_signature
Threads             set_num_threads, get_num_threads, num_threads (a context manager)
Caches              clear_caches (loaded modules and compiled functions of this process)
Signature kernels   signature_kernel, signature_kernel_gram, signature_kernel_vjp,
                    signature_mmd, signature_score (aliases sig_kernel, sig_kernel_gram, sig_mmd,
                    sig_score); static kernels Linear, ScaledLinear, RBF, Polynomial, Matern32,
                    Matern52 (the Goursat PDE, generated for the c, jax and triton targets)
Kernels             KernelSpec; the command line ``sigcodegen build | show | plan | cache``

    >>> import numpy as np, sigcodegen as sc
    >>> path = np.random.default_rng(0).standard_normal((32, 100, 5))   # (batch, L, dim)
    >>> sc.signature(path, depth=4).shape
    (32, 780)
    >>> sc.logsignature(path, depth=4).shape
    (32, 205)
"""

from .algebra import (
    level_sizes,
    logsignature_channels,
    lyndon_brackets,
    lyndon_index,
    lyndon_maps,
    lyndon_words,
    signature_channels,
    words,
)
from .ops import signature as _signature_ops
from .ops.logsignature import logsignature, logsignature_to_signature, signature_to_logsignature
from .ops.signature import jax_gpu_signature, signature, signature_vjp
from .ops.tensor_algebra import multi_signature_combine, signature_combine, signature_inverse
from .ops.transforms import bucket_paths, lead_lag, time_augment
from .ops.windows import windowed_signature
from .ops.coefficients import (coefficients_plan, signature_coefficients,
                               signature_coefficients_vjp)
from .ops.stream import SignatureStream
from .runtime.dispatch import clear_caches
from .runtime.threads import get_num_threads, num_threads, set_num_threads
from .config import max_bytes, set_max_bytes
from .spec import KernelSpec, SizeLimitError
from .version import __version__
from .ops.sigkernel import (RBF, Linear, Matern32, Matern52, Polynomial, ScaledLinear,
                            StaticKernel, sig_kernel, sig_kernel_gram, sig_mmd, sig_score,
                            signature_kernel, signature_kernel_gram, signature_kernel_vjp,
                            signature_mmd, signature_score)

__all__ = [
    "KernelSpec",
    "SizeLimitError",
    "max_bytes",
    "set_max_bytes",
    "LogSigLayer",
    "SigLayer",
    "bucket_paths",
    "clear_caches",
    "lead_lag",
    "logsignature",
    "logsignature_channels",
    "logsignature_to_signature",
    "lyndon_brackets",
    "lyndon_index",
    "lyndon_maps",
    "lyndon_words",
    "multi_signature_combine",
    "signature_combine",
    "signature_inverse",
    "signature_to_logsignature",
    "time_augment",
    "windowed_signature",
    "get_num_threads",
    "num_threads",
    "set_num_threads",
    "jax_gpu_signature",
    "level_sizes",
    "signature",
    "signature_channels",
    "signature_vjp",
    "signature_coefficients",
    "signature_coefficients_vjp",
    "coefficients_plan",
    "words",
    "__version__",
    "SignatureStream",
]
__all__ += ["signature_kernel", "signature_kernel_gram", "signature_kernel_vjp", "signature_mmd",
            "signature_score", "sig_kernel", "sig_kernel_gram", "sig_mmd", "sig_score",
            "StaticKernel", "Linear", "ScaledLinear", "RBF", "Polynomial", "Matern32", "Matern52"]


def _symbolic_layer(path, depth, stream, strategy):
    """signature() of a Keras symbolic tensor: a SigLayer in the functional model."""
    from .layers import SigLayer

    return SigLayer(depth, stream=stream, strategy=strategy)(path)


_signature_ops.symbolic_layer = _symbolic_layer


def __getattr__(name):
    """SigLayer and LogSigLayer, imported from sigcodegen.layers on first use: importing keras
    picks its backend, which the caller may still be about to set."""
    if name in ("SigLayer", "LogSigLayer"):
        from . import layers

        return getattr(layers, name)
    raise AttributeError(f"module 'sigcodegen' has no attribute {name!r}")
