"""Emitter for the ``keras`` target: ``keras.ops`` only, batch-first, any Keras 3 backend."""

from __future__ import annotations

from ..plan import Plan, Value
from .base import Emitter, Provenance

__all__ = ["KerasEmitter"]

#: The plan routines this target's module holds.
ROUTINES = ("exp_step", "chen", "levelwise_block", "log_series", "exp_series")

LAYOUT = """Layout: batch first, as Keras layers see tensors. A degree-k level for N paths is
(N, DIM**k); with a time axis, (N, T, DIM**k). Only keras.ops is used, so the module runs on
the active backend (jax, torch or tensorflow), traces in graphs and keeps autodiff."""


class KerasEmitter(Emitter):
    target = "keras"

    def context(self, plan: Plan, prov: Provenance) -> dict:
        dim = plan.dim

        def shape(value: Value, time_axis: bool) -> str:
            size = dim**value.degree
            return f"(N, T, {size})" if time_axis else f"(N, {size})"

        routines = [r for r in plan.routines if r.name in ROUTINES]
        return {**super().context(plan, prov), "shape": shape, "layout_doc": LAYOUT,
                "routines": routines}
