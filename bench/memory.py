"""Peak memory of forward + backward (gradient of sum(signature)), each candidate in its own
subprocess, float32.

    python bench/memory.py                      # (256, 10000, 8, 3) for every candidate
    python bench/memory.py --sweep              # ours at L = 1e3, 1e4, 1e5 (batch 16, d 8, m 3)

Each child builds its input, runs forward + backward once, and reports its peak resident set
(ru_maxrss) and its resident set just before the call (after imports and input). The parent
watches the child's resident set every 20 ms and kills it above --limit (default 6 GiB), so a
candidate that would exhaust the machine is reported as "killed above the limit" instead.

Targets (gradients issue): ours < 2 GB at (256, 10000, 8, 3), and flat as L grows: the
"overhead" column (peak minus what the input and its gradient occupy, 2 * B * L * d * 4 bytes)
must not grow with L.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time

CHILD = textwrap.dedent(
    """
    import json, os, resource, sys
    os.environ.setdefault("KERAS_BACKEND", "jax")
    name, batch, length, dim, depth = sys.argv[1], *map(int, sys.argv[2:6])
    import numpy as np

    def rss():
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) * 1024

    rng = np.random.default_rng(0)
    x = (np.cumsum(rng.standard_normal((batch, length, dim), dtype=np.float32), axis=1)
         / np.float32(np.sqrt(length)))
    if name not in ("ours-c", "pysiglib"):  # the others take a jax array
        import jax, jax.numpy as jnp
        xj = jnp.asarray(x)
    if name == "ours-c":
        import sigcodegen as sc
        from sigcodegen.runtime.dispatch import load_module
        module = load_module(sc.KernelSpec(dim=dim, depth=depth, target="c"))
        module.lib(32)
        def run():
            y = module.forward(x)
            return module.backward(x, y, np.ones_like(y))
    elif name == "pysiglib":
        import pysiglib
        def run():
            s = pysiglib.sig(x, degree=depth, n_jobs=-1)
            return pysiglib.sig_backprop(x, s, np.ones_like(s), depth, n_jobs=-1)
    else:
        import sigcodegen as sc
        if name == "ours-c-jax":
            f = lambda p: sc.signature(p, depth, target="c").sum()
        elif name.startswith("ours-jax-"):
            strategy = name.split("-")[-1]
            f = lambda p: sc.signature(p, depth, target="jax", strategy=strategy).sum()
        elif name == "signax":
            import signax
            f = lambda p: signax.signature(p, depth).sum()
        elif name == "keras-sig-gpu":
            import keras_sig
            f = lambda p: keras_sig.jax_gpu_signature(p, depth, False).sum()
        elif name == "keras-sig":
            import keras_sig
            f = lambda p: keras_sig.signature(p, depth, False, gpu_optimized=False).sum()
        else:
            raise SystemExit(f"unknown candidate {name}")
        g = jax.jit(jax.grad(f))
        def run():
            return g(xj).block_until_ready()
    before = rss()
    out = run()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"before": before, "peak": peak, "finite": bool(np.isfinite(np.asarray(out)).all())}))
    """
)

CANDIDATES = ("ours-c", "ours-c-jax", "ours-jax-horner", "ours-jax-chunked", "ours-jax-levelwise",
              "pysiglib", "signax", "keras-sig", "keras-sig-gpu")


def measure(name, batch, length, dim, depth, limit, timeout):
    proc = subprocess.Popen([sys.executable, "-c", CHILD, name, str(batch), str(length), str(dim),
                             str(depth)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watched, start = 0, time.time()
    while proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/status") as f:
                rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) * 1024
            watched = max(watched, rss)
        except (OSError, StopIteration):
            pass
        if watched > limit:
            proc.kill()
            proc.wait()
            return {"status": f"killed above the limit ({limit / 2**30:.1f} GiB)", "peak": watched}
        if time.time() - start > timeout:
            proc.kill()
            proc.wait()
            return {"status": f"timeout ({timeout:.0f} s)", "peak": watched}
        time.sleep(0.02)
    out, err = proc.communicate()
    if proc.returncode != 0:
        last = (err.strip().splitlines() or ["?"])[-1]
        return {"status": f"failed: {last[:100]}", "peak": watched}
    result = json.loads(out.strip().splitlines()[-1])
    result["status"] = "ok" if result.pop("finite") else "ok (non-finite gradient)"
    return result


def gib(value):
    return f"{value / 2**30:.2f}" if value else "-"


def table(rows, batch, dim):
    head = f"{'candidate':<20} {'L':>7} {'before GiB':>10} {'peak GiB':>9} {'overhead GiB':>12}  status"
    print(head)
    print("-" * len(head))
    for name, length, r in rows:
        own = 2 * batch * length * dim * 4  # input + its gradient, float32
        overhead = r["peak"] - own if r.get("peak") else 0
        print(f"{name:<20} {length:>7} {gib(r.get('before', 0)):>10} {gib(r.get('peak', 0)):>9} "
              f"{gib(overhead):>12}  {r['status']}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="ours at L = 1e3, 1e4, 1e5")
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    parser.add_argument("--limit", type=float, default=6.0, help="GiB before a child is killed")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args(argv)
    limit = args.limit * 2**30
    dim, depth = 8, 3
    if args.sweep:
        batch, rows = 16, []
        for name in ("ours-c", "ours-c-jax", "ours-jax-horner", "ours-jax-levelwise"):
            for length in (1_000, 10_000, 100_000):
                rows.append((name, length, measure(name, batch, length, dim, depth, limit, args.timeout)))
                print(f"  {name} L={length}: {rows[-1][2]['status']}", flush=True)
        print(f"\n=== peak memory of forward + backward, float32, B={batch}, d={dim}, m={depth}")
        table(rows, batch, dim)
        return 0
    batch, length, rows = 256, 10_000, []
    for name in args.candidates.split(","):
        rows.append((name, length, measure(name, batch, length, dim, depth, limit, args.timeout)))
        print(f"  {name}: {rows[-1][2]['status']}", flush=True)
    print(f"\n=== peak memory of forward + backward, float32, (B, L, d, m) = ({batch}, {length}, "
          f"{dim}, {depth}); target for ours: < 2 GiB")
    table(rows, batch, dim)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
