"""Timing candidates against each other in interleaved rounds.

The machines these benches run on are virtual: on the 2-vCPU AMD EPYC (Zen 3) of December 2026
the same kernel, with nothing else running in the guest, alternated between two speeds 1.8x
apart in phases of a fraction of a second to seconds (another tenant on the host's sibling
hyperthreads; a busy process on the guest's other vCPU did not change it). Timing one candidate
after the other then compares a fast phase of one with a slow phase of the other. Here every
candidate is timed once per round, the rounds alternating them, and each candidate's figure is
its best round: the median of that round's calls. ``spread`` (slowest round / best round) says
how much the phases moved during the run; ``steal`` the CPU time the hypervisor took from this
guest meanwhile (from /proc/stat), which a busy host shows as well.
"""

from __future__ import annotations

import statistics
import time

#: pause before each candidate: the previous one's idle worker threads (OpenMP's spin-wait in
#: pysiglib, our pool's bounded spin) go to sleep instead of taking a core from this one
SETTLE_SECONDS = 0.3
#: then calls for at least this long before timing (at least one): the cores' clocks, idle
#: after the pause, come back up
WARM_SECONDS = 0.2
#: timed calls of one candidate in one round stop after this long (at least one call)
ROUND_SECONDS = 2.0


def steal_ticks() -> int:
    """The guest's stolen CPU time so far (USER_HZ ticks, all CPUs; 0 where unknown)."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return int(fields[8]) if fields[0] == "cpu" and len(fields) > 8 else 0
    except (OSError, ValueError):
        return 0


def one_round(fn, calls: int) -> list[float]:
    """Seconds of up to ``calls`` calls (ROUND_SECONDS at most, one at least) after a pause and
    warm-up calls."""
    time.sleep(SETTLE_SECONDS)
    end = time.perf_counter() + WARM_SECONDS
    fn()
    while time.perf_counter() < end:
        fn()
    times = []
    stop = time.perf_counter() + ROUND_SECONDS
    while len(times) < calls and (not times or time.perf_counter() < stop):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def interleaved_samples(candidates: dict, calls: int = 7, rounds: int = 3) -> dict:
    """{name: [each round's call times (s)]} for the ``candidates`` ({name: a zero-argument
    callable, or (callable, context manager factory entered around each of its rounds)}), timed in ``rounds`` rounds that alternate them (the order reversed every other
    round)."""
    names = list(candidates)
    samples = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else reversed(names):
            fn = candidates[name]
            if isinstance(fn, tuple):  # (callable, context manager factory) around the round
                with fn[1]():
                    samples[name].append(one_round(fn[0], calls))
            else:
                samples[name].append(one_round(fn, calls))
    return samples


def interleaved(candidates: dict, calls: int = 7, rounds: int = 3) -> dict:
    """{name: {"ms": best round's median, "spread": slowest / best round's median}}."""
    out = {}
    for name, per_round in interleaved_samples(candidates, calls, rounds).items():
        medians = [statistics.median(t) for t in per_round]
        out[name] = {"ms": min(medians) * 1e3, "spread": max(medians) / min(medians)}
    return out
