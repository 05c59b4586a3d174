"""Plan IR, planner and explanation.

``ir`` (the IR, printable on its own) and ``rules`` (the rules that size a strategy's work,
plain functions the emitters copy into the modules) import nothing of the package;
``signature`` plans the signature kind from the IR; ``planner.make_plan`` dispatches on the
spec's kind; ``explain`` adds a target's parameters in force and the work for a batch and
length (``sigcodegen plan``).
"""

from .explain import block_steps, explain, num_chunks, strategy_cost
from .ir import (Add, Cumsum, OuterAdd, Plan, Routine, Scale, Schedule, Shift, Stage,
                 TargetParams, Value)
from .planner import make_plan
from .rules import top_tiles

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
    "top_tiles",
]
