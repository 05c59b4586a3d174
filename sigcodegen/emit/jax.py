"""Emitter for the ``jax`` target: jitted JAX with the batch on the last (vector) axis."""

from __future__ import annotations

from .python import PythonEmitter

__all__ = ["JaxEmitter"]


class JaxEmitter(PythonEmitter):
    target = "jax"
    routines = ("exp_step", "chen", "levelwise_block", "exp_step_vjp", "exp_step_lower",
                "log_series", "exp_series")
    layout_doc = """Layout: paths on the last (vector) axis, which is 4-10x faster on XLA CPU than batch-first.
A degree-k level for N paths is (DIM**k, N); with a time axis in front, (T, DIM**k, N)."""

    def render(self, plan, prov) -> str:
        if plan.kind == "sigkernel":  # the Goursat PDE solver: templates/jax/sigkernel.py.j2
            context = {"plan": plan, "prov": prov, "target": self.target,
                       "refresh": f"sigcodegen build --kind sigkernel --dim {plan.dim} --target jax"}
            return self.env.get_template("sigkernel.py.j2").render(**context).rstrip() + "\n"
        return super().render(plan, prov)

    @staticmethod
    def shape(size: int, time_axis: bool) -> str:
        return f"(T, {size}, N)" if time_axis else f"({size}, N)"
