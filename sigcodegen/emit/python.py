"""What the emitters of Python modules (jax, keras, triton) share: the plan routines a module
holds, rendered by ``templates/common/routines.j2`` with a shape comment per op in the target's
layout, and the layout paragraph of the module docstring."""

from __future__ import annotations

from ..plan import Plan, Value
from .base import Emitter, Provenance

__all__ = ["PythonEmitter"]


class PythonEmitter(Emitter):
    """Subclasses set ``target``, ``routines`` (the plan routines the module holds),
    ``layout_doc`` and :meth:`shape`; templates see ``routines``, ``shape`` and ``layout_doc``
    besides what :class:`Emitter` gives."""

    #: The plan routines this target's module holds, in the plan's order.
    routines: tuple[str, ...] = ()
    #: The module docstring's paragraph on where the batch lives.
    layout_doc: str = ""

    @staticmethod
    def shape(size: int, time_axis: bool) -> str:
        """The shape comment of a value of ``size`` coefficients per path."""
        raise NotImplementedError

    def context(self, plan: Plan, prov: Provenance) -> dict:
        def shape(value: Value, time_axis: bool) -> str:
            return self.shape(plan.dim**value.degree, time_axis)

        return {
            **super().context(plan, prov),
            "shape": shape,
            "layout_doc": self.layout_doc,
            "routines": [r for r in plan.routines if r.name in self.routines],
        }
