"""The c target's compiled libraries, loaded and bound, one module per kind: ``signature``
(``NativeModule``), ``logsignature`` (``LogSignatureModule``, built on the signature's),
``sigkernel`` (``SigKernelModule``) and ``coefficients`` (``CoefficientsModule``), over ``base``
(library loading, the XLA FFI target registration and the batch-parallel custom call). Building
the libraries is ``sigcodegen.jit``; these modules only load what they are handed.
"""

from .coefficients import CoefficientsModule
from .logsignature import LogSignatureModule
from .signature import BACKWARD_MODES, NativeModule
from .sigkernel import SIGKERNEL_LAYOUTS, SigKernelModule

__all__ = ["NativeModule", "BACKWARD_MODES", "SigKernelModule", "SIGKERNEL_LAYOUTS",
           "CoefficientsModule", "LogSignatureModule"]
