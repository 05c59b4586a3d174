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

from .algebra import (  # noqa: E402
    level_sizes,
    logsignature_channels,
    lyndon_brackets,
    lyndon_words,
    signature_channels,
    words,
)
from .api import jax_gpu_signature, signature, signature_vjp  # noqa: E402
from .operations import (  # noqa: E402
    lead_lag,
    logsignature,
    logsignature_to_signature,
    multi_signature_combine,
    signature_combine,
    signature_inverse,
    signature_to_logsignature,
    time_augment,
    windowed_signature,
)
from .spec import KernelSpec  # noqa: E402

__all__ = [
    "KernelSpec",
    "LogSigLayer",
    "SigLayer",
    "lead_lag",
    "logsignature",
    "logsignature_channels",
    "logsignature_to_signature",
    "lyndon_brackets",
    "lyndon_words",
    "multi_signature_combine",
    "signature_combine",
    "signature_inverse",
    "signature_to_logsignature",
    "time_augment",
    "windowed_signature",
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
    if name in ("SigLayer", "LogSigLayer"):
        from . import layers

        return getattr(layers, name)
    raise AttributeError(f"module 'sigcodegen' has no attribute {name!r}")
