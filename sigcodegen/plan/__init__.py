"""Plan IR, planner and explanation."""

from .explain import block_steps, explain, num_chunks, strategy_cost
from .ir import (Add, Cumsum, OuterAdd, Plan, Routine, Scale, Schedule, Shift, Stage,
                 TargetParams, Value)
from .planner import make_plan

__all__ = [
    "Add",
    "Cumsum",
    "OuterAdd",
    "Plan",
    "Routine",
    "Scale",
    "Schedule",
    "Shift",
    "Stage",
    "TargetParams",
    "Value",
    "block_steps",
    "explain",
    "make_plan",
    "num_chunks",
    "strategy_cost",
]
