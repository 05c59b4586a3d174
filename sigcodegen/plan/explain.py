"""A printable explanation of a plan: the plan's own text (every op with its shape and cost,
the strategies and targets with their parameters, :meth:`.ir.Plan.text`), the parameters in
force for one target, and per strategy the work for a given batch and length (what
``sigcodegen plan`` prints)."""

from __future__ import annotations

import textwrap

from .. import algebra
from . import rules
from .ir import Plan, Schedule

__all__ = ["explain", "num_chunks", "block_steps", "strategy_cost", "c_blocking"]

#: Targets whose chunked strategy runs streams unchunked (jax and keras rerun each chunk).
_STREAMS_UNCHUNKED = ("c", "triton")


def num_chunks(schedule: Schedule, steps: int, paths: int, target: str | None = None) -> int:
    """Chunks P for the chunked strategy with the schedule's parameters for ``target`` (None:
    the defaults). The rule is :func:`.rules.num_chunks`, which the emitted drivers hold a copy
    of."""
    return rules.num_chunks(steps, paths, schedule.param("lanes", target),
                            schedule.param("min_steps", target))


def block_steps(schedule: Schedule, steps: int, paths: int, siglen: int,
                target: str | None = None) -> int:
    """Time steps Tb per block for the levelwise strategy with the schedule's parameters for
    ``target`` (the rule is :func:`.rules.levelwise_block_steps`)."""
    return rules.levelwise_block_steps(steps, paths, siglen,
                                       schedule.param("block_elements", target),
                                       schedule.param("min_steps", target))


def strategy_cost(plan: Plan, strategy: str, paths: int, steps: int, stream: bool,
                  target: str | None = None, chunks: int | None = None) -> dict:
    """Multiply-adds and the loop shape of one strategy for ``paths`` paths of ``steps``
    increments (L - 1), with the parameters in force for ``target`` (None: the defaults).
    ``chunks`` fixes P for the chunked strategy (the c target picks it at run time from the
    thread count)."""
    schedule = plan.schedule(strategy)
    exp = plan.routine("exp_step").macs(plan.dim)
    chen = plan.routine("chen").macs(plan.dim)
    if strategy == "horner":
        return {"macs": steps * paths * exp, "serial_steps": steps, "lanes": paths}
    if strategy == "chunked":
        if stream and target in _STREAMS_UNCHUNKED:
            p = 1
        else:
            p = num_chunks(schedule, steps, paths, target) if chunks is None else chunks
        chunk = -(-steps // p)
        passes = 2 if stream and p > 1 else 1
        macs = passes * p * chunk * paths * exp + (p - 1) * paths * chen
        serial = passes * chunk + (p - 1 if stream else (p - 1).bit_length())
        return {"macs": macs, "serial_steps": serial, "lanes": p * paths, "chunks": p}
    tb = block_steps(schedule, steps, paths, plan.siglen, target)
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


#: Above this many Lyndon words the plan prints the count, without building the maps.
_MAPS_SHOWN_UP_TO = 2_000_000


def _logsignature_maps(dim: int, depth: int) -> str:
    """The sizes of the log-signature's sparse maps (``algebra.lyndon_maps``)."""
    count = algebra.logsignature_channels(dim, depth)
    if count > _MAPS_SHOWN_UP_TO:
        return (f"log-signature maps d={dim} m={depth}: {count:,} Lyndon words (maps not built "
                f"here; sigcodegen.lyndon_maps({dim}, {depth}).describe() gives their size)")
    return algebra.lyndon_maps(dim, depth).describe()


def explain(plan: Plan, paths: int | None = None, length: int | None = None,
            stream: bool = False, target: str | None = None) -> str:
    """The plan as text, with every target's parameters (``target`` None) or those in force for
    ``target``; with ``paths`` and ``length`` also each strategy's total work (the defaults'
    or ``target``'s)."""
    lines = [plan.text(target), "", _logsignature_maps(plan.dim, plan.depth)]
    if target == "c":
        lines += ["", c_blocking(plan)]
    if paths is not None and length is not None:
        steps = max(length - 1, 0)
        mode = "stream" if stream else "final value"
        who = f", target {target}" if target else ""
        lines += ["", f"work for {paths} paths of length {length} ({steps} increments, "
                      f"{mode}{who})"]
        params = dict(plan.target_params(target).params) if target else {}
        if "bucket_min_steps" in params and paths > 0 and steps > 0:
            paths = rules.bucket(paths, params["bucket_min_paths"],
                                 params["bucket_paths_per_octave"])
            steps = rules.bucket(steps, params["bucket_min_steps"],
                                 params["bucket_steps_per_octave"])
            lines.append(f"  at its shape buckets (rules.bucket): {paths} paths of {steps} "
                         f"increments, the padding dropped after")
        for schedule in plan.schedules_for(target):
            runtime = target == "c" and schedule.strategy == "chunked" and not stream
            cost = strategy_cost(plan, schedule.strategy, paths, steps, stream, target,
                                 chunks=1 if runtime else None)
            extra = ", ".join(f"{k}={v:,}" for k, v in cost.items() if k != "macs")
            if runtime:
                extra += " (c: P is chosen at run time from the thread count; shown for P = 1)"
            lines.append(
                f"  {schedule.strategy:<10} {2 * cost['macs'] / 1e6:>10.3f} MFLOP   {extra}"
            )
    return "\n".join(lines)


def c_blocking(plan: Plan) -> str:
    """How the c target blocks its fused forward step (``exp_steps``) for this (dim, depth): the
    increments per pass and the register tiles of the pass over the top levels, for each vector
    register file (the emitted C picks one from the compiler's vector width)."""
    routine = plan.routine("exp_steps")
    k = len(routine.params) - plan.depth
    names = {r.name for r in plan.routines}
    wide = len(plan.routine("exp_steps_wide").params) - plan.depth \
        if "exp_steps_wide" in names else k
    params = plan.target_params("c")
    passes = [op for op in routine.ops if op.kind in ("top_pass", "outer_add_sum")]
    lines = [f"c blocking of exp_steps: {k} increment(s) per call"
             + (f" ({wide} with 32 vector registers: exp_steps_wide)" if wide != k else "")]
    if not passes:
        return "\n".join(lines)
    op = passes[0]
    m = plan.depth
    if op.kind == "top_pass":
        lines[0] += (f"; levels {m - 1} and {m} in one pass over level {m - 1} (top_pass): per "
                     f"word of degree {m - 2}, its {2 * k} Horner values in registers; per tile "
                     f"of letters, tile x {k} values t in registers while the tile's rows of "
                     f"level {m} ({plan.dim} coefficients each) are loaded and stored once")
    else:
        lines[0] += (f"; level {m}'s {k} terms in one pass (outer_add_sum), tiles of rows of "
                     f"level {m}")
    for label, key, registers, k in (("AVX-512", "top_tile_rows_avx512", 32, wide),
                                     ("AVX2", "top_tile_rows", 16, k)):
        rows = params.param(key)
        if op.kind == "top_pass":
            tiles = rules.top_tiles(plan.dim, rows)
            widest = max(n for _, n in tiles)
            lines.append(f"  {label:<8} ({key}={rows}): {k} increments, tiles of "
                         f"{' + '.join(str(n) for _, n in tiles)} letters, "
                         f"{widest * k + 3 * k + 1} vectors live ({registers} registers)")
        else:
            lines.append(f"  {label:<8} ({key}={rows}): {k} increments, tiles of {rows} rows, "
                         f"{rows * k + k + 1} "
                         f"vectors live ({registers} registers)")
    q = params.param("subtree_depth")
    if q:
        size = sum(plan.dim**j for j in range(1, m - q + 1))
        text = (f"cut at prefix length {q} (subtree_depth): exp_steps_prefix steps levels 1..{q} "
                f"and keeps {m - q} roots per increment and prefix; then exp_steps_subtree (the "
                f"same blocking at depth {m - q}) runs each of the {plan.dim**q} subtrees of "
                f"{size} coefficients")
        lines += textwrap.wrap(text, 96, initial_indent="  ", subsequent_indent="    ")
    pruned = [r for r in plan.routines
              if r.name in ("exp_steps_lyndon", "exp_steps_subtree_lyndon")]
    if pruned:
        top = pruned[0].ops[-1]
        kept = sum(plan.dim - v for v in top.first_letters)
        text = (f"words and brackets (no signature kept): {pruned[0].name}, the same blocking "
                f"with level {m} updated at its {kept:,} Lyndon words of {plan.dim**m:,} (each "
                f"tile's loop over the last letter starts at its rows' least first letter); "
                f"{pruned[0].macs(plan.dim):,} multiply-adds per call against "
                f"{plan.routine(pruned[0].name[:-len('_lyndon')]).macs(plan.dim):,}"
                f"{' (per subtree, on average)' if top.trees > 1 else ''}")
        lines += textwrap.wrap(text, 96, initial_indent="  ", subsequent_indent="    ")
    return "\n".join(textwrap.wrap(lines[0], 96, subsequent_indent="  ") + lines[1:])
