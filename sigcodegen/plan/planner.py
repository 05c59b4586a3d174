"""The planner's front door: ``make_plan(spec)`` hands the spec to the planner of its kind.

One module per kind builds that kind's plan from the IR (``signature.py`` for the signature
kernels); a new kind (log-signature kernels, signature kernels) is a new module and one row of
:data:`BUILDERS`.
"""

from __future__ import annotations

from collections.abc import Callable

from ..spec import KernelSpec
from . import coefficients, logsignature, signature, sigkernel
from .ir import Plan

__all__ = ["make_plan", "BUILDERS"]

#: kind -> the function that plans one (dim, depth) of that kind.
BUILDERS: dict[str, Callable[[int, int], Plan]] = {
    "signature": signature.signature_plan,
    "logsignature": logsignature.logsignature_plan,
    "sigkernel": sigkernel.sigkernel_plan,
    "coefficients": coefficients.coefficient_kernel_plan,
}


def make_plan(spec: KernelSpec) -> Plan:
    """The plan for a spec's module (every strategy of every target; see
    :meth:`KernelSpec.module_fields`)."""
    try:
        build = BUILDERS[spec.kind]
    except KeyError:
        raise NotImplementedError(
            f"sigcodegen: no planner for kind {spec.kind!r} (kinds with a planner: "
            f"{', '.join(BUILDERS)})") from None
    return build(spec.dim, spec.depth)
