"""The c target beside pysiglib, quiet and under load: ``python bench/cpu.py --load``.

Forward signature, final value, float32, configs A-F; ours is ``sigcodegen.signature(x, m)`` on
numpy (the c target), pysiglib is ``pysiglib.sig(x, m, n_jobs=...)`` at n_jobs=1 and n_jobs=-1.
The four candidates of a config are timed in ``--rounds`` interleaved rounds of ``--calls`` calls
after warm-up, all in this process (bench/rounds.py: this virtual machine's speed moves up to
1.8x in phases of seconds, so one candidate timed after another compared phases, not code);
each median is that of the candidate's best round, each p90 that of every call of every round.
Each table prints the hypervisor's steal time while it ran.

1. Quiet, all threads: ours against pysiglib at its best setting (the faster of n_jobs=1 and -1).
2. Quiet, one thread each: ours under ``sigcodegen.num_threads(1)``, pysiglib n_jobs=1.
3. One core at A: our GFLOP/s (2·B·(L-1)·H(d, m), docs/architecture.md) against this machine's
   float32 FMA peak on one thread, measured here (bench/fma_peak.py) right after the kernel, at
   three moments of the run (before and after the quiet tables, and last): the best reported.
4. Under load: the same calls while a busy competitor runs (``while True: pass`` in another
   process, at nice 0 and at nice 19, started and ended by the bench, bounded in time).

Targets (issue: the c target keeps its speed on a busy machine): quiet all-threads ours /
pysiglib best <= 0.25; one thread each <= 0.33; one core at A >= 0.5 of the FMA peak; under load
ours median <= 0.5 x pysiglib's (best setting) median and ours p90 <= 3 x ours quiet median.
Output: tables on stdout and bench/results/cpu_load.csv.
"""

from __future__ import annotations

import contextlib
import csv
import os
import subprocess
import sys
import statistics
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from rounds import interleaved_samples, steal_ticks  # noqa: E402
CONFIGS = {"A": (128, 100, 5, 4), "B": (128, 20, 5, 4), "C": (32, 500, 5, 4),
           "D": (16, 1000, 3, 6), "E": (64, 100, 10, 3), "F": (8, 200, 2, 10)}
COMPETITOR_SECONDS = 600  # the competitor ends itself after this, whatever happens here


def cpu_description() -> tuple[str, str]:
    """(model name, flags) from lscpu."""
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    return fields.get("Model name", "?").strip(), fields.get("Flags", "").strip()


def horner_flops(batch, length, dim, depth) -> int:
    return 2 * batch * (length - 1) * sum((depth - j + 1) * dim**j for j in range(2, depth + 1))


def paths(batch, length, dim, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.standard_normal((batch, length, dim)), axis=1) / np.sqrt(length)
    return x.astype(np.float32)


def summary(per_round: list[list[float]]) -> tuple[float, float]:
    """(median, p90) seconds: the median of the best round (this machine's speed moves in
    phases, bench/rounds.py) and the p90 of every call of every round."""
    median = min(statistics.median(t) for t in per_round)
    pooled = sorted(t for times in per_round for t in times)
    return median, pooled[min(len(pooled) - 1, (9 * len(pooled)) // 10)]


@contextlib.contextmanager
def competitor(nice: int):
    """A busy process (one core's worth of work) at ``nice``, ended on exit."""
    code = (f"import time\nend = time.time() + {COMPETITOR_SECONDS}\n"
            f"while time.time() < end: pass\n")
    proc = subprocess.Popen([sys.executable, "-c", code], preexec_fn=lambda: os.nice(nice))
    time.sleep(0.3)  # let it reach the CPU
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def measure(configs, calls: int, rounds: int = 3) -> dict:
    """{config: {candidate: (median, p90)}} for ours (all threads and one thread) and pysiglib
    (n_jobs 1 and -1), timed in ``rounds`` interleaved rounds of ``calls`` calls (summary)."""
    import pysiglib

    import sigcodegen as sc

    out = {}
    for name in configs:
        batch, length, dim, depth = CONFIGS[name]
        x = paths(batch, length, dim)

        got = interleaved_samples({
            "ours": lambda: sc.signature(x, depth),
            "pysiglib-1": lambda: pysiglib.sig(x, degree=depth, n_jobs=1),
            "pysiglib-all": lambda: pysiglib.sig(x, degree=depth, n_jobs=-1),
            "ours-1": (lambda: sc.signature(x, depth), lambda: sc.num_threads(1)),
        }, calls, rounds)
        row = {candidate: summary(per_round) for candidate, per_round in got.items()}
        out[name] = row
    return out


def one_core_at_a(fma_peak, rounds: int = 3) -> tuple[float, float]:
    """(best seconds of 200 one-thread calls at A, the best one-thread FMA peak), over
    ``rounds`` rounds of the two measured back to back (both at their best phase)."""
    import sigcodegen as sc

    batch, length, dim, depth = CONFIGS["A"]
    x = paths(batch, length, dim)
    best, peak = float("inf"), 0.0
    for _ in range(rounds):
        with sc.num_threads(1):
            for _ in range(5):
                sc.signature(x, depth)
            for _ in range(200):
                start = time.perf_counter()
                sc.signature(x, depth)
                best = min(best, time.perf_counter() - start)
        peak = max(peak, fma_peak.measure(threads=1)["one_thread_gflops"])
    return best, peak


def check_correct(configs) -> list[str]:
    import iisignature

    import sigcodegen as sc

    bad = []
    for name in configs:
        batch, length, dim, depth = CONFIGS[name]
        x = paths(batch, length, dim)
        want = iisignature.sig(x.astype(np.float64), depth)
        got = sc.signature(x, depth)
        err = np.abs(got - want).max() / np.abs(want).max()
        if not err <= 1e-4:
            bad.append(f"{name}: relative error {err:.2e}")
    return bad


def main(argv) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="bench/cpu.py --load", description=__doc__.splitlines()[0])
    parser.add_argument("--load", action="store_true")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--calls", type=int, default=41, help="timed calls per round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    configs = args.configs.split(",")
    sys.path.insert(0, str(HERE))
    import fma_peak

    import sigcodegen as sc

    model, flags = cpu_description()
    print(f"CPU: {model}; {os.cpu_count()} CPUs, {len(os.sched_getaffinity(0))} usable; "
          f"our threads {sc.get_num_threads()}; load average {os.getloadavg()[0]:.2f}")
    print(f"flags: {flags}")
    bad = check_correct(configs)
    print("correctness against iisignature (float64): " + ("ok" if not bad else "; ".join(bad)))
    peak = fma_peak.measure()
    print(f"float32 FMA peak measured here: {peak['one_thread_gflops']:.1f} GFLOP/s on one thread, "
          f"{peak['all_threads_gflops']:.1f} on {peak['threads']} ({8 * peak['vector_bytes']}-bit)")

    # section 3 at three moments (first, between the quiet and the loaded tables, last): this
    # VM's phases move the kernel's best call (memory-bound: its caches are shared with the
    # host) by up to 20 % while the FMA loop in registers moves 3 % (A, one thread, the Xeon of
    # 2026-12-04: 0.224-0.273 ms against a peak of 183-198 GFLOP/s, minutes apart, no other
    # process running), and the phases last seconds: the best of three moments is reported
    one_core = []
    if "A" in configs:
        one_core.append(one_core_at_a(fma_peak, args.rounds))
    steal = {}
    before = steal_ticks()
    quiet = measure(configs, args.calls, args.rounds)
    steal["quiet"] = steal_ticks() - before
    if "A" in configs:
        one_core.append(one_core_at_a(fma_peak, args.rounds))
    loaded = {}
    for nice in (0, 19):
        with competitor(nice):
            before = steal_ticks()
            loaded[nice] = measure(configs, args.calls, args.rounds)
            steal[nice] = steal_ticks() - before
    if "A" in configs:
        time.sleep(1.0)  # the competitor gone
        one_core.append(one_core_at_a(fma_peak, args.rounds))

    rows, verdicts = [], []

    def verdict(ok: bool) -> str:
        verdicts.append(ok)
        return "met" if ok else "NOT met"

    print(f"\n1. quiet, all threads (ms, best round's median / p90 of {args.rounds} rounds of "
          f"{args.calls}; steal {steal['quiet']} ticks in the quiet tables)")
    print(f"{'cfg':<4}{'ours':>16}{'pysiglib n=1':>16}{'pysiglib n=-1':>16}{'ours/best':>11}  "
          f"target <= 0.25")
    for name in configs:
        q = quiet[name]
        best = min(q["pysiglib-1"][0], q["pysiglib-all"][0])
        r = q["ours"][0] / best
        print(f"{name:<4}{_mp(q['ours']):>16}{_mp(q['pysiglib-1']):>16}{_mp(q['pysiglib-all']):>16}"
              f"{r:>11.2f}  {verdict(r <= 0.25)}")
        rows.append({"table": "quiet", "config": name, "ratio": r, **_flat(q)})

    print(f"\n2. quiet, one thread each (ms, median / p90)")
    print(f"{'cfg':<4}{'ours 1 thread':>16}{'pysiglib n=1':>16}{'ratio':>9}  target <= 0.33")
    for name in configs:
        q = quiet[name]
        r = q["ours-1"][0] / q["pysiglib-1"][0]
        print(f"{name:<4}{_mp(q['ours-1']):>16}{_mp(q['pysiglib-1']):>16}{r:>9.2f}  {verdict(r <= 0.33)}")
        rows.append({"table": "one-thread", "config": name, "ratio": r, **_flat(q)})

    if "A" in configs:
        # the kernel and the peak measured back to back, each at its best of many calls, so
        # that both see the same machine (a virtual machine's host load moves both), at three
        # moments of the run
        flops = horner_flops(*CONFIGS["A"])
        fracs = [flops / kernel / 1e9 / peak for kernel, peak in one_core]
        best_kernel, best_peak = one_core[max(range(len(fracs)), key=fracs.__getitem__)]
        gflops = flops / best_kernel / 1e9
        frac = gflops / best_peak
        median_gflops = flops / quiet["A"]["ours-1"][0] / 1e9
        print(f"\n3. one core at A (best of {args.rounds} x 200 calls, each round's peak measured "
              f"right after, at three moments: {', '.join(f'{f:.2f}' for f in fracs)}; the best "
              f"taken): {gflops:.1f} "
              f"GFLOP/s = {frac:.2f} of the one-thread FMA peak {best_peak:.1f}  (target >= 0.5: "
              f"{verdict(frac >= 0.5)}); at the median of table 2: {median_gflops:.1f} GFLOP/s")
        rows.append({"table": "one-core", "config": "A", "ratio": frac, "gflops": gflops,
                     "peak_gflops": best_peak, "median_gflops": median_gflops})

    for nice in (0, 19):
        print(f"\n4. one busy competitor at nice {nice} (ms, median / p90; steal {steal[nice]} ticks)")
        print(f"{'cfg':<4}{'ours':>16}{'pysiglib n=1':>16}{'pysiglib n=-1':>16}"
              f"{'ours/pysiglib':>14}{'p90/quiet':>10}  targets <= 0.5, <= 3")
        for name in configs:
            got, q = loaded[nice][name], quiet[name]
            best = min(got["pysiglib-1"][0], got["pysiglib-all"][0])
            r, tail = got["ours"][0] / best, got["ours"][1] / q["ours"][0]
            ok = verdict(r <= 0.5) + " / " + verdict(tail <= 3)
            print(f"{name:<4}{_mp(got['ours']):>16}{_mp(got['pysiglib-1']):>16}"
                  f"{_mp(got['pysiglib-all']):>16}{r:>14.2f}{tail:>10.2f}  {ok}")
            rows.append({"table": f"load-nice{nice}", "config": name, "ratio": r,
                         "p90_over_quiet": tail, **_flat(got)})

    print(f"\ntargets: {sum(verdicts)} of {len(verdicts)} met")
    args.out.mkdir(parents=True, exist_ok=True)
    fields = sorted({k for row in rows for k in row}, key=lambda k: (k != "table", k != "config", k))
    with open(args.out / "cpu_load.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {args.out / 'cpu_load.csv'}")
    return 0


def _mp(pair) -> str:
    return f"{pair[0] * 1e3:.3f} / {pair[1] * 1e3:.3f}"


def _flat(row: dict) -> dict:
    return {f"{k}_{s}_ms": round(v[i] * 1e3, 4) for k, v in row.items()
            for i, s in enumerate(("median", "p90"))}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
