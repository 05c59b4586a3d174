"""Window queries over one long path: ``SignatureStream`` against ``windowed_signature`` and
against recomputing each window.

For one float64 (or float32) Brownian path batch (B, L, d) at depth m and W windows of
``--window`` points (random starts), times, median of ``--repeats`` runs after one warm-up:

1. **build**: ``SignatureStream(path, m)`` with ``method`` prefix and dyadic (the stream pass,
   and for dyadic the block cache).
2. **query**: ``stream.signature(starts, ends)`` for the W windows (one call, arrays).
3. **windowed**: ``windowed_signature(path, m, window, stride)`` for the regular windows it can
   express (stride = ``--window // 2``; its own window count W' is reported), which recomputes
   the stream on every call.
4. **recompute**: ``signature(stack of the W slices, m)``: each window computed from its points
   (one batched call; the windows' points are gathered first, which is counted).

Also reported: the max abs difference of each method's windows from the recomputed ones, so a
fast wrong answer shows. Output: a table on stdout and ``<out>/stream.csv``.

Run: ``python bench/stream.py`` (defaults: B=4, L=100000, d=3, m=4, W in 10, 100, 1000, 10000,
window 256), ``--windows 10,1000`` ``--length 20000`` ``--dtype float32``.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

import numpy as np

import sigcodegen as sc


def timed(function, repeats: int) -> tuple[float, object]:
    result = function()  # warm-up: kernels built and loaded
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--length", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=3)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--windows", default="10,100,1000,10000")
    parser.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="bench/results")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    steps = rng.standard_normal((args.batch, args.length - 1, args.dim)) / np.sqrt(args.length)
    path = np.concatenate([np.zeros((args.batch, 1, args.dim)), np.cumsum(steps, 1)], 1)
    path = path.astype(args.dtype)
    rows = []
    builds = {}
    for method in ("prefix", "dyadic"):
        seconds, stream = timed(lambda: sc.SignatureStream(path, args.depth, method=method),
                                args.repeats)
        builds[method] = (seconds, stream)
        rows.append({"what": f"build {method}", "windows": "", "seconds": seconds,
                     "max_abs_diff": ""})
    stride = max(args.window // 2, 1)
    seconds, windowed = timed(lambda: sc.windowed_signature(path, args.depth, args.window,
                                                            stride), args.repeats)
    rows.append({"what": f"windowed_signature (stride {stride})", "windows": windowed.shape[-2],
                 "seconds": seconds, "max_abs_diff": ""})
    for count in [int(w) for w in args.windows.split(",")]:
        starts = rng.integers(0, args.length - args.window + 1, count)
        ends = starts + args.window
        index = starts[:, None] + np.arange(args.window)

        def recompute():
            return sc.signature(path[:, index], args.depth)  # (B, W, window, d) -> (B, W, siglen)

        seconds, reference = timed(recompute, args.repeats)
        rows.append({"what": "recompute", "windows": count, "seconds": seconds,
                     "max_abs_diff": 0.0})
        for method, (_, stream) in builds.items():
            seconds, got = timed(lambda: stream.signature(starts, ends), args.repeats)
            rows.append({"what": f"query {method}", "windows": count, "seconds": seconds,
                         "max_abs_diff": float(np.abs(got - reference).max())})

    print(f"B={args.batch} L={args.length} d={args.dim} m={args.depth} {args.dtype}, windows "
          f"of {args.window} points")
    for row in rows:
        print(f"{row['what']:<36} {str(row['windows']):>8} {row['seconds'] * 1e3:10.2f} ms  "
              f"{row['max_abs_diff']}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "stream.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
