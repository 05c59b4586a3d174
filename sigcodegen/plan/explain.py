"""A printable explanation of a plan: every op with its shape and cost, and per strategy the
work for a given batch and length (what ``sigcodegen plan`` prints)."""

from __future__ import annotations

from . import rules
from .ir import Plan, Schedule

__all__ = ["explain", "num_chunks", "block_steps", "strategy_cost"]


def num_chunks(schedule: Schedule, steps: int, paths: int) -> int:
    """Chunks P for the chunked strategy with the schedule's parameters (the rule is
    :func:`.rules.num_chunks`, which the emitted drivers hold a copy of)."""
    return rules.num_chunks(steps, paths, schedule.param("lanes"), schedule.param("min_steps"))


def block_steps(schedule: Schedule, steps: int, paths: int, siglen: int) -> int:
    """Time steps Tb per block for the levelwise strategy with the schedule's parameters (the
    rule is :func:`.rules.levelwise_block_steps`)."""
    return rules.levelwise_block_steps(steps, paths, siglen, schedule.param("block_elements"),
                                       schedule.param("min_steps"))


def strategy_cost(plan: Plan, strategy: str, paths: int, steps: int, stream: bool) -> dict:
    """Multiply-adds and the loop shape of one strategy for ``paths`` paths of ``steps``
    increments (L - 1)."""
    schedule = plan.schedule(strategy)
    exp = plan.routine("exp_step").macs(plan.dim)
    chen = plan.routine("chen").macs(plan.dim)
    if strategy == "horner":
        return {"macs": steps * paths * exp, "serial_steps": steps, "lanes": paths}
    if strategy == "chunked":
        p = num_chunks(schedule, steps, paths)
        chunk = -(-steps // p)
        passes = 2 if stream and p > 1 else 1
        macs = passes * p * chunk * paths * exp + (p - 1) * paths * chen
        serial = passes * chunk + (p - 1 if stream else (p - 1).bit_length())
        return {"macs": macs, "serial_steps": serial, "lanes": p * paths, "chunks": p}
    tb = block_steps(schedule, steps, paths, plan.siglen)
    blocks = -(-steps // tb) if steps else 0
    level = plan.routine("levelwise_block").macs(plan.dim)
    joins = (blocks * tb if stream else blocks) * paths * chen if blocks > 1 else 0
    return {
        "macs": blocks * tb * paths * level + joins,
        "serial_steps": blocks,
        "lanes": paths * tb,
        "block_steps": tb,
        "peak_block_elements": paths * tb * plan.siglen,
    }


def explain(plan: Plan, paths: int | None = None, length: int | None = None,
            stream: bool = False) -> str:
    """The plan as text; with ``paths`` and ``length`` also each strategy's total work."""
    lines = [plan.text()]
    if paths is not None and length is not None:
        steps = max(length - 1, 0)
        mode = "stream" if stream else "final value"
        lines += ["", f"work for {paths} paths of length {length} ({steps} increments, {mode})"]
        for schedule in plan.schedules:
            cost = strategy_cost(plan, schedule.strategy, paths, steps, stream)
            extra = ", ".join(f"{k}={v:,}" for k, v in cost.items() if k != "macs")
            lines.append(
                f"  {schedule.strategy:<10} {2 * cost['macs'] / 1e6:>10.3f} MFLOP   {extra}"
            )
    return "\n".join(lines)
