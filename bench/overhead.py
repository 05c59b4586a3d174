"""Per-call overhead of ``signature()`` on numpy: small problems where the Python around the
kernel is a large part of the time.

    python bench/overhead.py                        # this checkout
    python bench/overhead.py --trees OLD NEW        # two source trees, interleaved, one run

Cases: config B (128, 20, 5, 4) float32, and one (2, 3) path of 10 points (float64). Each case
is timed as the median (and p10) of ``--calls`` calls after warm-up, in a child process per
tree and round; rounds alternate between the trees so that both see the same machine. Output:
one table, and ``bench/results/overhead.csv``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = {"B (128,20,5,4) f32": (128, 20, 5, 4, "float32"),
         "one (10,2) path, m=3 f64": (None, 10, 2, 3, "float64")}

CHILD = r"""
import json, sys, time
import numpy as np
import sigcodegen as sc
cases, calls = json.loads(sys.argv[1]), int(sys.argv[2])
out = {}
for name, (batch, length, dim, depth, dtype) in cases.items():
    rng = np.random.default_rng(0)
    shape = (length, dim) if batch is None else (batch, length, dim)
    x = rng.standard_normal(shape).astype(dtype)
    for _ in range(200):
        sc.signature(x, depth)
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        sc.signature(x, depth)
        times.append(time.perf_counter() - t)
    times.sort()
    out[name] = {"median_us": 1e6 * times[len(times) // 2], "p10_us": 1e6 * times[len(times) // 10]}
out["source"] = sc.__file__
print(json.dumps(out))
"""


def run_tree(tree: Path | None, calls: int) -> dict:
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    result = subprocess.run([sys.executable, "-c", CHILD, json.dumps(CASES), str(calls)],
                            env=env, capture_output=True, text=True, timeout=600,
                            cwd=str(tree) if tree is not None else None)
    if result.returncode:
        raise SystemExit(f"child failed for {tree}:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", nargs="+", type=Path, help="source trees to compare")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    trees = [t.resolve() for t in args.trees] if args.trees else [None]
    best: dict = {}
    for _ in range(args.rounds):
        for tree in trees:
            got = run_tree(tree, args.calls)
            for case in CASES:
                key = (str(tree or "this checkout"), case)
                prev = best.get(key)
                if prev is None or got[case]["median_us"] < prev["median_us"]:
                    best[key] = {**got[case], "source": got["source"]}
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((line.split(":", 1)[1].strip() for line in cpu.splitlines()
                  if line.startswith("Model name")), platform.processor())
    print(f"signature() per call on numpy, best of {args.rounds} rounds of the median of "
          f"{args.calls} calls; CPU: {model}, load average {os.getloadavg()[0]:.2f}")
    print(f"{'tree':<40} {'case':<26} {'median us':>10} {'p10 us':>8}")
    rows = []
    for (tree, case), value in best.items():
        print(f"{tree[-40:]:<40} {case:<26} {value['median_us']:>10.1f} {value['p10_us']:>8.1f}")
        rows.append({"tree": tree, "case": case, "median_us": round(value["median_us"], 2),
                     "p10_us": round(value["p10_us"], 2), "source": value["source"]})
    (HERE / "results").mkdir(exist_ok=True)
    with open(HERE / "results" / "overhead.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
