"""Emitter for the ``keras`` target: ``keras.ops`` only, batch-first, any Keras 3 backend."""

from __future__ import annotations

from .python import PythonEmitter

__all__ = ["KerasEmitter"]


class KerasEmitter(PythonEmitter):
    target = "keras"
    routines = ("exp_step", "chen", "levelwise_block", "log_series", "exp_series")
    layout_doc = """Layout: batch first, as Keras layers see tensors. A degree-k level for N paths is
(N, DIM**k); with a time axis, (N, T, DIM**k). Only keras.ops is used, so the module runs on
the active backend (jax, torch or tensorflow), traces in graphs and keeps autodiff."""

    @staticmethod
    def shape(size: int, time_axis: bool) -> str:
        return f"(N, T, {size})" if time_axis else f"(N, {size})"
