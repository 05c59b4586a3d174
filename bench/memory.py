"""Peak memory of forward + backward (gradient of sum(signature)), each candidate in its own
subprocess, float32.

    python bench/memory.py                      # (256, 10000, 8, 3) for every candidate
    python bench/memory.py --sweep              # ours at L = 1e3, 1e4, 1e5 (batch 16, d 8, m 3)
    python bench/memory.py --logsig             # log-signatures at the sizes of issue 15

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

LOGSIG_CHILD = textwrap.dedent(
    """
    import ctypes, json, sys, time
    mode, batch, length, dim, depth, backward = sys.argv[1], *map(int, sys.argv[2:7])
    import numpy as np, torch, iisignature
    import sigcodegen as sc

    def status(key):
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith(key)) * 1024

    def peak_of(run):  # the peak resident set of run() above the resident set before it
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM (Linux)
        before = status("VmRSS")
        run()
        return status("VmHWM") - before

    def best(run, n=3):
        run()
        times = []
        for _ in range(n):
            t = time.perf_counter()
            run()
            times.append(time.perf_counter() - t)
        return min(times)

    rng = np.random.default_rng(0)
    x = np.cumsum(rng.standard_normal((batch, length, dim)), axis=1) / np.sqrt(length)
    s = iisignature.prepare(dim, depth)
    maps = sc.lyndon_maps(dim, depth)
    g = rng.standard_normal((batch, maps.count))
    if backward:
        def ours():
            leaf = torch.tensor(x, requires_grad=True)
            (sc.logsignature(leaf, depth, mode) * torch.from_numpy(g)).sum().backward()
            return leaf.grad
        def signature_alone():
            leaf = torch.tensor(x, requires_grad=True)
            sc.signature(leaf, depth).sum().backward()
        def peer():
            iisignature.logsig(x, s)
            return iisignature.logsigbackprop(g, x, s)
    else:
        ours = lambda: sc.logsignature(x, depth, mode)
        signature_alone = lambda: sc.signature(x, depth)
        peer = lambda: iisignature.logsig(x, s)
    # peaks first, under the parent's fixed mmap threshold (MALLOC_MMAP_THRESHOLD_): glibc
    # returns every large block when it is freed, so the peak of the measured call is not
    # hidden by memory an earlier call left in the heap
    ours(), signature_alone()  # warm: libraries loaded, tables built (kept for later calls)
    peaks = {"peak_ours": peak_of(ours), "peak_sig": peak_of(signature_alone)}
    # then the times, with large blocks kept in the heap as glibc's own (dynamic) threshold
    # does after the first calls: under the fixed threshold every large buffer of every call
    # would be page-faulted afresh, which a user's process does not do
    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD, its largest value
    libc.mallopt(-1, 256 << 20)  # M_TRIM_THRESHOLD
    t_ours, t_peer = best(ours), best(peer)
    print(json.dumps({**peaks,
                      "map_bytes": maps.nbytes, "nnz": maps.inverse.nnz,
                      "sig_bytes": batch * sc.signature_channels(dim, depth) * 8,
                      "ours_ms": 1e3 * t_ours, "iisignature_ms": 1e3 * t_peer}))
    """
)

#: (dim, depth, batch) of issue 15's targets
LOGSIG_SIZES = ((5, 6, 4), (6, 6, 4), (7, 6, 4), (9, 5, 4), (1000, 2, 1))


def logsig_table(length, timeout):
    """words and brackets, forward and forward + backward, at LOGSIG_SIZES: peak memory (above
    the resident set before the call) ours vs the signature alone plus the maps, time vs
    iisignature's logsig (+ logsigbackprop) on the same input."""
    head = (f"{'mode':<9} {'pass':<8} {'(d, m) x B':<14} {'map MB':>7} {'nnz':>8} {'sig MB':>7} "
            f"{'peak MB':>8} {'sig peak':>8} {'ratio':>6} {'ours ms':>8} {'iisig ms':>8} "
            f"{'ratio':>6}")
    print(f"=== log-signatures, float64, L = {length}; ratio = ours / (signature alone + map), "
          f"ours / iisignature (targets: <= 2 each)")
    print(head)
    print("-" * len(head))
    for dim, depth, batch in LOGSIG_SIZES:
        for mode in ("words", "brackets"):
            for backward in (0, 1):
                args = [mode, batch, length, dim, depth, backward]
                env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536",
                       "MALLOC_TRIM_THRESHOLD_": "0", "KERAS_BACKEND": "jax"}
                proc = subprocess.run([sys.executable, "-c", LOGSIG_CHILD, *map(str, args)],
                                      capture_output=True, text=True, timeout=timeout, env=env)
                label = f"({dim}, {depth}) x {batch}"
                kind = "fwd+bwd" if backward else "fwd"
                if proc.returncode:
                    last = (proc.stderr.strip().splitlines() or ["?"])[-1]
                    print(f"{mode:<9} {kind:<8} {label:<14} failed: {last[:80]}")
                    continue
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                mb = lambda v: v / 2**20
                ratio = r["peak_ours"] / max(1, r["peak_sig"] + r["map_bytes"])
                print(f"{mode:<9} {kind:<8} {label:<14} {mb(r['map_bytes']):>7.2f} {r['nnz']:>8} "
                      f"{mb(r['sig_bytes']):>7.2f} {mb(r['peak_ours']):>8.1f} "
                      f"{mb(r['peak_sig']):>8.1f} {ratio:>6.2f} {r['ours_ms']:>8.2f} "
                      f"{r['iisignature_ms']:>8.2f} {r['ours_ms'] / r['iisignature_ms']:>6.2f}",
                      flush=True)


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
    parser.add_argument("--logsig", action="store_true",
                        help="log-signatures (words, brackets) at the sizes of issue 15")
    parser.add_argument("--length", type=int, default=5, help="path length for --logsig")
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    parser.add_argument("--limit", type=float, default=6.0, help="GiB before a child is killed")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args(argv)
    limit = args.limit * 2**30
    dim, depth = 8, 3
    if args.logsig:
        logsig_table(args.length, args.timeout)
        return 0
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
