"""Log-signatures on the CPU: ``sigcodegen.logsignature`` (the c target's log-signature kernels)
against pysiglib's ``log_sig(method=2)`` and iisignature's ``logsig``, run by
``python bench/cpu.py --modes logsig`` (or ``python bench/cpu_logsig.py``).

Workloads: float32 Brownian paths (B, L, d) = A-F of bench/README.md and G (32, 200, 20, 2),
log-signature depth m, modes ``brackets`` (pysiglib's method 2, iisignature's logsig) and
``words`` (pysiglib's method 1 projects onto the Lyndon words too, but method 2 is the one the
issue names; both are compared with method 2).

- forward: ours ``logsignature(x, m, mode)`` on numpy; pysiglib ``log_sig(x, m, method=2)``
  (after ``prepare_log_sig``); iisignature ``logsig`` on the float64 path (its only precision).
- forward + backward: ours through torch autograd (``logsignature`` of a leaf tensor, then
  ``backward`` of the sum: the native backward); pysiglib ``sig`` + ``sig_to_log_sig``, then
  ``sig_to_log_sig_backprop`` + ``sig_backprop`` (its log_sig has no autograd).
- two settings: one thread each (ours under ``sigcodegen.num_threads(1)``, pysiglib n_jobs=1)
  and all threads each (ours by default against the faster of pysiglib's n_jobs=1 and -1).
- the candidates of a row timed in ``--rounds`` interleaved rounds (bench/rounds.py: this
  machine's speed moves in phases), each after a pause and warm-up calls, each figure the median
  of its best round of ``--calls`` calls; values checked against iisignature (brackets, float64
  path) or the float64 log-signature of the same path (words), as max|out - ref| / max|ref|.

Targets (issue 15): ours <= 0.33 x pysiglib in every row, forward and forward + backward.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cpu_load  # noqa: E402
from rounds import interleaved  # noqa: E402

CONFIGS = {**cpu_load.CONFIGS, "G": (32, 200, 20, 2)}
TARGET = 0.33
MODES = ("brackets", "words")


def _ours_grad(x, depth, mode):
    import torch

    import sigcodegen as sc

    t = torch.from_numpy(x)

    def run():
        leaf = t.detach().requires_grad_(True)
        sc.logsignature(leaf, depth, mode).sum().backward()
        return leaf.grad

    return run


def _pysiglib_grad(x, depth, n_jobs):
    import pysiglib

    dim = x.shape[-1]

    def run():
        s = pysiglib.sig(x, degree=depth, n_jobs=n_jobs)
        ls = pysiglib.sig_to_log_sig(s, dim, depth, method=2, n_jobs=n_jobs)
        gs = pysiglib.sig_to_log_sig_backprop(s, np.ones_like(ls), dim, depth, method=2,
                                              n_jobs=n_jobs)
        return pysiglib.sig_backprop(x, s, gs, depth, n_jobs=n_jobs)

    return run


def measure(configs, calls: int, rounds: int = 3) -> list[dict]:
    import iisignature
    import pysiglib

    import sigcodegen as sc

    rows = []
    for name in configs:
        batch, length, dim, depth = CONFIGS[name]
        x = cpu_load.paths(batch, length, dim)
        x64 = x.astype(np.float64)
        pysiglib.prepare_log_sig(dim, depth, 2)
        prepared = iisignature.prepare(dim, depth)
        for mode in MODES:
            ref = iisignature.logsig(x64, prepared) if mode == "brackets" else \
                sc.logsignature(x64, depth, mode)
            ours_out = sc.logsignature(x, depth, mode)
            error = float(np.abs(ours_out - ref).max() / np.abs(ref).max())
            peer = pysiglib.log_sig(x, depth, method=2, n_jobs=1)
            peer_ref = iisignature.logsig(x64, prepared)
            peer_error = float(np.abs(peer - peer_ref).max() / np.abs(peer_ref).max())
            row = {"config": name, "mode": mode, "error": error, "pysiglib_error": peer_error}
            fwd = lambda: sc.logsignature(x, depth, mode)  # noqa: E731
            grad = _ours_grad(x, depth, mode)
            one = lambda: sc.num_threads(1)  # noqa: E731
            candidates = {"ours": fwd, "ours_grad": grad, "ours-1": (fwd, one),
                          "ours-1_grad": (grad, one)}
            for n in (1, -1):
                tag = "pysiglib-1" if n == 1 else "pysiglib-all"
                candidates[tag] = lambda n=n: pysiglib.log_sig(x, depth, method=2, n_jobs=n)
                candidates[f"{tag}_grad"] = _pysiglib_grad(x, depth, n)
            got = interleaved(candidates, calls, rounds)
            row.update({k: v["ms"] / 1e3 for k, v in got.items()})
            if mode == "brackets":
                row["iisignature"] = interleaved({0: lambda: iisignature.logsig(x64, prepared)},
                                                 max(5, calls // 10), 1)[0]["ms"] / 1e3
            rows.append(row)
    return rows


def report(rows: list[dict]) -> int:
    """Print the tables and the targets; the number of targets not met."""
    missed = 0
    for grad in (False, True):
        suffix = "_grad" if grad else ""
        what = "forward + backward" if grad else "forward"
        print(f"\nlog-signatures, {what}, float32, ms (ratio = ours / pysiglib; target <= "
              f"{TARGET})")
        print(f"{'cfg':<4}{'mode':<9}{'ours-1':>8}{'pysig-1':>9}{'ratio':>7}{'':>3}"
              f"{'ours':>8}{'pysig best':>11}{'ratio':>7}{'':>3}"
              f"{'' if grad else 'iisig f64':>10}{'' if grad else '  error':>9}")
        for row in rows:
            one = row[f"ours-1{suffix}"] / row[f"pysiglib-1{suffix}"]
            best_peer = min(row[f"pysiglib-1{suffix}"], row[f"pysiglib-all{suffix}"])
            every = row[f"ours{suffix}"] / best_peer
            marks = []
            for ratio in (one, every):
                ok = ratio <= TARGET
                missed += not ok
                marks.append("" if ok else " !")
            extra = ""
            if not grad:
                iis = row.get("iisignature")
                extra = (f"{iis * 1e3:>10.3f}" if iis else f"{'':>10}") + f"{row['error']:>9.1e}"
            print(f"{row['config']:<4}{row['mode']:<9}{row[f'ours-1{suffix}'] * 1e3:>8.3f}"
                  f"{row[f'pysiglib-1{suffix}'] * 1e3:>9.3f}{one:>7.2f}{marks[0]:<3}"
                  f"{row[f'ours{suffix}'] * 1e3:>8.3f}{best_peer * 1e3:>11.3f}{every:>7.2f}"
                  f"{marks[1]:<3}{extra}")
    total = 4 * len(rows)
    print(f"\ntargets met: {total - missed} of {total} (! = NOT met); pysiglib's own float32 "
          f"error vs iisignature: "
          + ", ".join(f"{r['config']} {r['pysiglib_error']:.1e}" for r in rows
                      if r["mode"] == "brackets"))
    return missed


#: --projections: A-G, and two sizes whose bracket map goes past the straight-line budget
PROJECTION_CONFIGS = {**CONFIGS, "H": (16, 200, 3, 8), "I": (16, 200, 4, 6)}


def projections(configs, calls: int, rounds: int) -> None:
    """One thread, float32: the kernel running the plan's own projection code (the binding's
    basis) against the same kernel given the tables alone (basis 0: every row from the tables,
    whose columns it then also checks for the pruned forward each call), through the module's
    C entry point, forward only; the two outputs compared."""
    import sigcodegen as sc
    from sigcodegen.plan.logsignature import logsignature_plan
    from sigcodegen.runtime import dispatch
    from sigcodegen.spec import LOGSIGNATURE_BASES

    print("\nprojections: the plan's own code against the run-time tables alone, one thread, "
          "float32, ms (median of the best round)")
    print(f"{'cfg':<4} {'(B, L, d, m)':<18} {'mode':<9} {'layout':<34} {'own':>8} {'tables':>8} "
          f"{'ratio':>6}")
    rng = np.random.default_rng(0)
    with sc.num_threads(1):
        for name in configs:
            batch, length, dim, depth = PROJECTION_CONFIGS[name]
            module = dispatch.load_module(sc.KernelSpec(dim=dim, depth=depth, kind="logsignature",
                                                        target="c"))
            lib = module.lib(32)
            x = (rng.standard_normal((batch, length, dim)).cumsum(1) / np.sqrt(length)).astype(
                np.float32)
            for mode in MODES:
                indptr, cols, vals = sc.algebra.log_projection(dim, depth, mode)
                vals = vals.astype(np.float32)
                outputs = indptr.size - 1
                outs = {basis: np.empty((batch, outputs), np.float32)
                        for basis in (LOGSIGNATURE_BASES[mode], 0)}

                def call(basis):
                    out = outs[basis]
                    return lambda: lib.log_forward(x.ctypes.data, batch, length, out.ctypes.data,
                                                   0, 0, outputs, indptr.ctypes.data,
                                                   cols.ctypes.data, vals.ctypes.data, basis,
                                                   None)

                times = interleaved({"own": call(LOGSIGNATURE_BASES[mode]), "tables": call(0)},
                                    calls, rounds)
                own, tables = outs.values()
                scale = np.abs(tables).max()
                assert np.abs(own - tables).max() <= 1e-5 * scale, (name, mode)
                layout = ", ".join(f"{seg.how} {seg.level}" if seg.how != "code" else "code"
                                   for seg in logsignature_plan(dim, depth).projection(mode).segments)
                layout = ", ".join(dict.fromkeys(layout.split(", ")))
                print(f"{name:<4} {str(PROJECTION_CONFIGS[name]):<18} {mode:<9} {layout:<34} "
                      f"{times['own']['ms']:8.4f} {times['tables']['ms']:8.4f} "
                      f"{times['own']['ms'] / times['tables']['ms']:6.3f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default=",".join(CONFIGS),
                        help=f"comma-separated subset of {','.join(CONFIGS)}")
    parser.add_argument("--calls", type=int, default=70, help="timed calls per candidate and round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--projections", action="store_true",
                        help="instead: the plan's projection code against the tables alone, "
                             f"at {','.join(PROJECTION_CONFIGS)}")
    args, _ = parser.parse_known_args(argv)
    import os

    import sigcodegen as sc

    model, flags = cpu_load.cpu_description()
    wanted = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl")
    print(f"CPU: {model}; {os.cpu_count()} CPUs; flags: "
          f"{' '.join(f for f in flags.split() if f in wanted)}; our threads "
          f"{sc.get_num_threads()}; load average {os.getloadavg()[0]:.2f}")
    known = PROJECTION_CONFIGS if args.projections else CONFIGS
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    if args.projections and args.configs == ",".join(CONFIGS):
        configs = list(PROJECTION_CONFIGS)
    unknown = [c for c in configs if c not in known]
    if unknown:
        parser.error(f"unknown configs {unknown}; use {','.join(known)}")
    if args.projections:
        projections(configs, args.calls, args.rounds)
        return 0
    report(measure(configs, args.calls, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
