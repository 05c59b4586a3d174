"""What the emitters of Python modules (jax, keras, triton) share: the plan routines a module
holds, rendered by ``templates/common/routines.j2`` with a shape comment per op in the target's
layout, the layout paragraph of the module docstring, the strategies and their constants for
the target (from the plan), and the source of the rules those strategies size their work with,
copied verbatim from ``sigcodegen/plan/rules.py``."""

from __future__ import annotations

import inspect

from ..plan import Plan, Value, rules
from .base import Emitter, Provenance

__all__ = ["PythonEmitter", "RULES", "BUCKET_RULE"]

#: The rules each strategy's driver calls (copied into the module when the target runs it).
RULES = {"chunked": (rules.num_chunks,), "levelwise": (rules.levelwise_block_steps,)}
#: The rule of the shape buckets, copied into modules whose target has bucket parameters.
BUCKET_RULE = rules.bucket


class PythonEmitter(Emitter):
    """Subclasses set ``target``, ``routines`` (the plan routines the module holds),
    ``layout_doc`` and :meth:`shape`. Templates see, besides what :class:`Emitter` gives:
    ``routines``, ``shape``, ``layout_doc``; ``strategies`` (those the target runs);
    ``strategy_constants``, ``(NAME, value)`` for every parameter in force, named
    ``<STRATEGY>_<PARAM>`` (``CHUNKED_LANES``); ``rule_sources``, function name -> its source
    (from :data:`RULES`)."""

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

        schedules = plan.schedules_for(self.target)
        constants = [(f"{s.strategy}_{name}".upper(), value)
                     for s in schedules for name, value in s.params_for(self.target)]
        sources = {fn.__name__: inspect.getsource(fn).rstrip()
                   for s in schedules for fn in RULES.get(s.strategy, ())}
        if "bucket_min_steps" in dict(plan.target_params(self.target).params):
            sources[BUCKET_RULE.__name__] = inspect.getsource(BUCKET_RULE).rstrip()
        kind_option = "" if plan.kind == "signature" else f"--kind {plan.kind} "
        return {
            **super().context(plan, prov),
            "kind_option": kind_option,
            "refresh": f"sigcodegen build {kind_option}--dim {plan.dim} --depth {plan.depth} "
                       f"--target {self.target}",
            "strategies": plan.target_params(self.target).strategies,
            "strategy_constants": constants,
            "rule_sources": sources,
            "shape": shape,
            "layout_doc": self.layout_doc,
            "routines": [r for r in plan.routines if r.name in self.routines],
        }
