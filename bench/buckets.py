"""Compilations, memory and time of the jit targets over many shapes (issue 19's loops).

Each loop runs in a fresh subprocess and prints: XLA compilations (jax's backend-compile
events), peak RSS after the first call and at the end, and the loop's time.

- lengths: ``signature(x, 4, target="jax")`` on numpy paths (3, L, 3), L = 2..401;
- combine: ``signature_combine`` on torch tensors of 200 batch sizes (dim 3, depth 4);
- logsig: ``logsignature`` on numpy paths of 200 batch sizes (dim 3, depth 4, L = 20).

``--exact`` also runs each loop with ``SIGCODEGEN_BUCKETS=0`` (every shape compiled as it
comes: what the library did before buckets), on every ``--stride``-th size to keep it short;
its time is scaled up to the whole loop in the last column.

    python bench/buckets.py [--exact] [--stride 8]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

WORKER = r"""
import json, os, resource, sys, time
import numpy as np
import jax
count = [0]
def listen(event, duration, **kwargs):
    if event == "/jax/core/compile/backend_compile_duration":
        count[0] += 1
jax.monitoring.register_event_duration_secs_listener(listen)
import sigcodegen as sc
loop, stride = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
if loop == "lengths":
    sizes = list(range(2, 402, stride))
    def call(n):
        sc.signature(rng.standard_normal((3, n, 3)), 4, target="jax")
elif loop == "combine":
    import torch
    sizes = list(range(1, 201, stride))
    def call(n):
        a = torch.randn(n, sc.signature_channels(3, 4), dtype=torch.float64)
        sc.signature_combine(a, a, 3, 4)
else:
    sizes = list(range(1, 201, stride))
    def call(n):
        sc.logsignature(rng.standard_normal((n, 20, 3)), 4)
start = time.perf_counter()
call(sizes[0])
first = rss()
for n in sizes[1:]:
    call(n)
print(json.dumps({"sizes": len(sizes), "compiles": count[0], "first_rss": first,
                  "peak_rss": rss(), "seconds": time.perf_counter() - start}))
"""


def run(loop: str, stride: int, exact: bool) -> dict:
    env = dict(os.environ, SIGCODEGEN_BUCKETS="0" if exact else "1")
    out = subprocess.run([sys.executable, "-c", WORKER, loop, str(stride)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exact", action="store_true", help="also run without buckets")
    parser.add_argument("--stride", type=int, default=8, help="size stride of the exact runs")
    args = parser.parse_args()
    print(f"{'loop':<8} {'mode':<16} {'sizes':>5} {'compiles':>8} {'first RSS':>10} "
          f"{'peak RSS':>9} {'peak/first':>10} {'time s':>8} {'time, all sizes':>15}")
    full = {"lengths": 400, "combine": 200, "logsig": 200}
    for loop in ("lengths", "combine", "logsig"):
        modes = [("buckets", 1, False)] + ([(f"exact, every {args.stride}th", args.stride, True)]
                                           if args.exact else [])
        for name, stride, exact in modes:
            r = run(loop, stride, exact)
            scaled = r["seconds"] * full[loop] / r["sizes"]
            print(f"{loop:<8} {name:<16} {r['sizes']:>5} {r['compiles']:>8} "
                  f"{r['first_rss']:>8.0f} M {r['peak_rss']:>7.0f} M "
                  f"{r['peak_rss'] / r['first_rss']:>10.2f} {r['seconds']:>8.1f} "
                  f"{scaled:>15.1f}")


if __name__ == "__main__":
    main()
