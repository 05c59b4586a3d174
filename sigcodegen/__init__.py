"""sigcodegen: a compiler for truncated path signatures.

A planner unrolls the truncated tensor algebra of one (dim, depth) into straight-line
per-degree code; emitters render it for a target (``jax``, ``keras``); modules are cached on
disk and imported on first use. Importing sigcodegen imports no array library and does not
choose a Keras backend.

    >>> import numpy as np, sigcodegen as sc
    >>> path = np.random.default_rng(0).standard_normal((32, 100, 5))   # (batch, L, dim)
    >>> sc.signature(path, depth=4).shape
    (32, 780)
"""

__version__ = "0.1.0"

from .algebra import level_sizes, signature_channels, words  # noqa: E402
from .api import jax_gpu_signature, signature, signature_vjp  # noqa: E402
from .spec import KernelSpec  # noqa: E402

__all__ = [
    "KernelSpec",
    "SigLayer",
    "jax_gpu_signature",
    "level_sizes",
    "signature",
    "signature_channels",
    "signature_vjp",
    "words",
    "__version__",
]


def __getattr__(name):
    # Keras layers load on first use: importing keras picks its backend, which a user may
    # still be about to set.
    if name == "SigLayer":
        from .layers import SigLayer

        return SigLayer
    raise AttributeError(f"module 'sigcodegen' has no attribute {name!r}")
