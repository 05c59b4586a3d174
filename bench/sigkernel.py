"""Signature kernels on the CPU: sigcodegen's generated PDE solver (c target) against pysiglib
(its ``finite_difference`` scheme, the same one, at its faster of n_jobs=1 and -1), and
sigkerax when it is installed, at the configurations of issue 16:

    forward           (128, 100, 5) at dyadic orders 0 and 2; (32, 1000, 3) at order 0
    gram              32 x 32 at (1000, 3); symmetric 256 x 256 at (100, 5)
    mmd               128 vs 128 samples at (100, 5)
    forward+backward  the first three (pysiglib: sig_kernel + sig_kernel_backprop)

Targets: forward <= 0.05 x pysiglib, forward + backward <= 0.1 x pysiglib. Prints the CPU
(lscpu model and flags), the achieved grid cells per second and the fraction of the float32 FMA
peak (bench/fma_peak.py; a grid cell is 4 flops, plus the product <dx, dy>, 2 d, at order 0),
and the FMA-peak floor: the time those flops take at the peak, as a ratio to pysiglib's time
(a target below it cannot be met on this machine). Values are checked against
pysiglib before timing. Run on an otherwise idle machine:

    python bench/sigkernel.py [--repeat 7] [--rounds 3] [--out bench/results] [--sigkerax-python PATH]

Ours and pysiglib's two settings are timed in interleaved rounds (bench/rounds.py: this
machine's speed moves in phases), each figure the median of its best round; each line prints
the rounds' spread and the hypervisor's steal time during the case.

sigkerax pins jax < 0.5, so it is timed from an interpreter of its own. Its latest release
(0.2.1) fails under the newest jax it allows (0.4.38: its solver passes the traced loop index as a
static argument) and runs under jax 0.4.20, which needs numpy < 2:

    python -m venv /tmp/skx && /tmp/skx/bin/pip install sigkerax jax==0.4.20 jaxlib==0.4.20 \
        "numpy<2" "scipy<1.14" ml_dtypes==0.3.2
    python bench/sigkernel.py --sigkerax-python /tmp/skx/bin/python
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sigcodegen as sc  # noqa: E402
from rounds import interleaved, steal_ticks  # noqa: E402

CELL_FLOPS = 4  # sigcodegen.plan.sigkernel.CELL_FLOPS: 2 adds and 2 multiplies per grid cell


def cell_flops(dim: int, order: int) -> int:
    """Flops of one grid cell of the linear kernel: the scheme's 4, and at order 0, where every
    cell is its own coarse cell, the increments' product <dx, dy> (2 dim) too (at order 2 it is
    made once per 16 cells)."""
    return CELL_FLOPS + (2 * dim if order == 0 else 0)


def cpu_description() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "lscpu unavailable"
    keep = ("Model name", "Architecture", "CPU(s)", "Thread(s) per core", "L1d", "L2", "L3")
    lines = [line for line in out.splitlines() if line.split(":")[0].strip() in keep]
    flags = next((line.split(":", 1)[1].split() for line in out.splitlines()
                  if line.startswith("Flags")), [])
    simd = [f for f in flags if f.startswith(("avx", "fma", "sse4"))]
    return "\n".join(lines + [f"SIMD flags: {' '.join(simd)}"])


def load_average() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def brownian(seed: int, batch: int, length: int, dim: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    steps = rng.standard_normal((batch, length, dim)) / np.sqrt(length)
    steps[:, 0] = 0
    return np.cumsum(steps, axis=1).astype(np.float32)


def compare(ours, theirs, calls: int, rounds: int):
    """(ours ms, (pysiglib ms, n_jobs) of its faster setting or None, spread, steal ticks):
    ours and pysiglib at n_jobs=1 and -1 (``theirs(n_jobs)``) timed in interleaved rounds
    (bench/rounds.py)."""
    candidates = {"ours": ours}
    if theirs is not None:
        candidates.update({1: lambda: theirs(1), -1: lambda: theirs(-1)})
    before = steal_ticks()
    got = interleaved(candidates, calls, rounds)
    steal = steal_ticks() - before
    spread = max(v["spread"] for v in got.values())
    best = min(((got[j]["ms"], j) for j in (1, -1)), default=None) if theirs else None
    return got["ours"]["ms"], best, spread, steal


def sigkerax_table(args, python: Path) -> None:
    """sigkerax's Gram matrices (its own finite-difference grid, linear kernel, refinement 1)
    against ours on the same paths, in a subprocess of ``python``."""
    import json
    import tempfile
    cases = {"gram_32x32_1000_3": (brownian(2, 32, 1000, 3), brownian(3, 32, 1000, 3)),
             "gram_128x128_100_5": (brownian(5, 128, 100, 5), brownian(6, 128, 100, 5))}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "cases.npz"
        np.savez(data, **{f"{k}_{name}": v for name, (x, y) in cases.items()
                          for k, v in (("x", x), ("y", y))})
        worker = Path(__file__).with_name("sigkerax_worker.py")
        done = subprocess.run([str(python), str(worker), str(data), str(args.repeat)],
                              capture_output=True, text=True, timeout=1800)
    if done.returncode:
        print(f"sigkerax not timed: {python} {worker.name} failed:\n{done.stderr[-2000:]}")
        return
    theirs = json.loads(done.stdout.strip().splitlines()[-1])
    print("sigkerax (its own grid and interpolation: values differ from the scheme above)")
    for name, (x, y) in cases.items():
        ours = interleaved({0: lambda: sc.signature_kernel_gram(x, y)}, args.repeat, 1)[0]["ms"]
        value = float(sc.signature_kernel_gram(x[:1], y[:1])[0, 0])
        print(f"  {name:<22} ours {ours:9.2f} ms   sigkerax {theirs[name]['ms']:9.2f} ms   "
              f"ratio {ours / theirs[name]['ms']:6.3f}   k[0,0] ours {value:.5f} sigkerax "
              f"{theirs[name]['value']:.5f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed calls per round")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds (bench/rounds.py); each figure is its best round")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--sigkerax-python", type=Path, default=None,
                        help="an interpreter that has sigkerax (it pins jax < 0.5: give it a "
                             "virtual environment of its own); its Gram matrices are timed too")
    args = parser.parse_args()
    print(cpu_description())
    print(f"load average {load_average():.2f}" + ("  (above 0.5: timings are unreliable)"
                                                   if load_average() > 0.5 else ""))
    try:
        from fma_peak import measure
        peak = measure()
        peak_gflops = peak["all_threads_gflops"]
        print(f"float32 FMA peak: {peak['one_thread_gflops']:.0f} GFLOP/s on one thread, "
              f"{peak_gflops:.0f} on {peak['threads']}")
    except Exception as err:  # the peak is context, not a requirement
        peak_gflops = float("nan")
        print(f"FMA peak not measured: {err}")
    have_pysiglib = importlib.util.find_spec("pysiglib") is not None
    if have_pysiglib:
        import pysiglib
    have_sigkerax = importlib.util.find_spec("sigkerax") is not None
    print(f"sigcodegen {sc.__version__}; threads {sc.get_num_threads()}; pysiglib "
          f"{'yes' if have_pysiglib else 'not installed'}; sigkerax "
          f"{'yes' if have_sigkerax else 'not installed'}")

    rows = []

    def report(name, ours_fn, theirs_fn, cells, target, flops_per_cell, calls=None):
        """Time ours against pysiglib's two settings (theirs_fn(n_jobs), or None) and print."""
        ours_ms, theirs, spread, steal = compare(ours_fn, theirs_fn if have_pysiglib else None,
                                                 calls or args.repeat, args.rounds)
        theirs_ms, jobs = theirs if theirs else (float("nan"), 0)
        ratio = ours_ms / theirs_ms if theirs else float("nan")
        rate = cells / (ours_ms / 1e3)
        fraction = flops_per_cell * rate / 1e9 / peak_gflops
        floor_ms = cells * flops_per_cell / (peak_gflops * 1e9) * 1e3
        verdict = "met" if ratio <= target else "NOT met"
        print(f"{name:<34} ours {ours_ms:9.2f} ms   pysiglib {theirs_ms:9.2f} ms (n_jobs={jobs:>2})"
              f"   ratio {ratio:6.3f} (target <= {target}: {verdict})   "
              f"{rate / 1e9:6.2f} Gcells/s, {100 * fraction:5.1f}% of the FMA peak at "
              f"{flops_per_cell} flops/cell (floor {floor_ms:.3f} ms = ratio "
              f"{floor_ms / theirs_ms:.3f})   rounds spread {spread:4.2f}, steal {steal} ticks")
        rows.append({"case": name, "ours_ms": ours_ms, "pysiglib_ms": theirs_ms,
                     "pysiglib_n_jobs": jobs, "ratio": ratio, "target": target,
                     "gcells_per_s": rate / 1e9, "flops_per_cell": flops_per_cell,
                     "fma_fraction": fraction, "fma_floor_ms": floor_ms,
                     "rounds_spread": spread, "steal_ticks": steal})

    forward_cases = [((128, 100, 5), 0), ((128, 100, 5), 2), ((32, 1000, 3), 0)]
    for (batch, length, dim), order in forward_cases:
        x = brownian(0, batch, length, dim)
        y = brownian(1, batch, length, dim)
        cells = batch * ((length - 1) << order) ** 2
        ours = lambda: sc.signature_kernel(x, y, dyadic_order=order)  # noqa: E731
        if have_pysiglib:
            want = pysiglib.sig_kernel(x.astype(np.float64), y.astype(np.float64),
                                       dyadic_order=order)
            error = np.abs(ours() - want).max() / np.abs(want).max()
            print(f"check ({batch}, {length}, {dim}) order {order}: relative error vs "
                  f"pysiglib (float64) {error:.1e}")
        report(f"forward ({batch},{length},{dim}) λ={order}", ours,
               lambda j: pysiglib.sig_kernel(x, y, dyadic_order=order, n_jobs=j), cells, 0.05,
               cell_flops(dim, order))
        ones = np.ones(batch, np.float32)
        grad = lambda: sc.signature_kernel_vjp(x, y, ones, dyadic_order=order)  # noqa: E731

        def backprop(j):
            pysiglib.sig_kernel(x, y, dyadic_order=order, n_jobs=j)
            return pysiglib.sig_kernel_backprop(ones, x, y, dyadic_order=order,
                                                left_deriv=True, right_deriv=True, n_jobs=j)

        def forward_backward():
            sc.signature_kernel(x, y, dyadic_order=order)
            grad()
        report(f"fwd+bwd ({batch},{length},{dim}) λ={order}", forward_backward, backprop,
               4 * cells, 0.1, cell_flops(dim, order))

    x = brownian(2, 32, 1000, 3)
    y = brownian(3, 32, 1000, 3)
    report("gram 32x32 (1000,3)", lambda: sc.signature_kernel_gram(x, y),
           lambda j: pysiglib.sig_kernel_gram(x, y, dyadic_order=0, n_jobs=j),
           32 * 32 * 999 * 999, 0.05, cell_flops(3, 0), calls=max(1, args.repeat // 3))

    xs = brownian(4, 256, 100, 5)
    report("symmetric gram 256x256 (100,5)", lambda: sc.signature_kernel_gram(xs),
           lambda j: pysiglib.sig_kernel_gram(xs, xs, dyadic_order=0, n_jobs=j),
           256 * 257 // 2 * 99 * 99, 0.05, cell_flops(5, 0))

    xm, ym = brownian(5, 128, 100, 5), brownian(6, 128, 100, 5)
    report("mmd 128 vs 128 (100,5)", lambda: sc.signature_mmd(xm, ym),
           lambda j: pysiglib.sig_mmd(xm, ym, dyadic_order=0, n_jobs=j),
           (128 * 129 + 128 * 128) * 99 * 99, 0.05, cell_flops(5, 0))

    if args.sigkerax_python or have_sigkerax:
        sigkerax_table(args, args.sigkerax_python or Path(sys.executable))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "sigkernel.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
