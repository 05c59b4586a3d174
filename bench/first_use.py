"""First-use cost of the c target: building a new kernel, and loading it again from the cache.

Two measurements per spec (dim d, depth m) — (5, 4) of configurations A/B/C and the (d, m) of
D, E and F in bench/README.md — each in its own fresh Python process (``subprocess.run`` of
``sys.executable -c CHILD``; the child prints one JSON line):

1. **first use**: an empty cache (``SIGCODEGEN_CACHE_DIR`` set to a new temporary folder,
   ``SIGCODEGEN_PREBUILT=0`` so the committed kernels in ``generated/`` are not used). Timed: one
   ``sigcodegen.signature(x, m, target="c")`` call, from just before it until it returns (for a
   jax input, until ``block_until_ready()``), after ``import sigcodegen`` and after the input is
   made. It covers the toolchain probe, planning, emitting, compiling and loading the library,
   (for jax: registering the FFI targets and jitting) and the computation itself.
   Target: <= 2 s.
2. **later load**: a second fresh process on the same (now filled) cache folder: the same first
   call, timed the same way (Python, numpy, jax and sigcodegen imports excluded).
   Target: <= 50 ms.

Also reported: the second call in the same process (the steady state), how many files each child
added to the cache (a later load should add none), and any warning the call raised (a c-target
failure falls back to the jax target with a RuntimeWarning: reported as a failure here).

The input is the configuration's float32 Brownian batch (B, L, d). ``--inputs numpy,jax``
chooses numpy (ctypes) and/or jax arrays (XLA FFI) as input; each (spec, input) gets its own
fresh cache folder. ``--repeats N`` repeats each measurement in N new processes (median).

Output: a table on stdout and ``<out>/first_use.csv``.

Run: ``python bench/first_use.py`` (all specs), ``--specs 5x4`` (one), ``--inputs numpy``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
FIRST_USE_TARGET_S = 2.0
LATER_LOAD_TARGET_S = 0.050

# (d, m) -> the (B, L) of the first configuration of bench/README.md with that (d, m)
SPECS = {
    (5, 4): (128, 100),  # A (B and C share (5, 4))
    (3, 6): (16, 1000),  # D
    (10, 3): (64, 100),  # E
    (2, 10): (8, 200),  # F
}

CHILD = r"""
import json, sys, time, warnings
from pathlib import Path

d, m, batch, length, kind = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), \
    int(sys.argv[4]), sys.argv[5]
cache = Path(sys.argv[6])
t0 = time.perf_counter()
import numpy as np
if kind == "jax":
    import jax, jax.numpy as jnp
import sigcodegen
imports_s = time.perf_counter() - t0

rng = np.random.default_rng(0)
x = (np.cumsum(rng.standard_normal((batch, length, d)), axis=1) / np.sqrt(length)).astype(
    np.float32)
if kind == "jax":
    x = jnp.asarray(x)
    x.block_until_ready()

def files():
    return set(str(p) for p in cache.rglob("*") if p.is_file()) if cache.exists() else set()

before = files()

def call():
    y = sigcodegen.signature(x, m, target="c")
    if kind == "jax":
        y.block_until_ready()
    return y

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    t = time.perf_counter()
    y = call()
    first_s = time.perf_counter() - t
    t = time.perf_counter()
    call()
    second_s = time.perf_counter() - t

print(json.dumps({
    "first_s": first_s,
    "second_s": second_s,
    "imports_s": imports_s,
    "shape": list(y.shape),
    "dtype": str(y.dtype),
    "new_files": len(files() - before),
    "warnings": [str(w.message)[:200] for w in caught],
    "native_failed": any("Using the jax target instead" in str(w.message) for w in caught),
}))
"""


#: extra environment of every child (set by main: the bytecode cache)
CHILD_ENV: dict[str, str] = {}
CHILD_UNSET: list[str] = []


def run_child(spec: tuple[int, int], kind: str, cache: Path, timeout: float,
              shape: tuple[int, int] | None = None) -> dict:
    d, m = spec
    batch, length = shape or SPECS[spec]
    env = dict(os.environ, SIGCODEGEN_CACHE_DIR=str(cache), SIGCODEGEN_PREBUILT="0",
               **CHILD_ENV)
    for name in CHILD_UNSET:
        env.pop(name, None)
    cmd = [sys.executable, "-c", CHILD, str(d), str(m), str(batch), str(length), kind, str(cache)]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:g} s"}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {proc.returncode}: {tail[:200]}"}
    result = json.loads(lines[-1])
    if result["warnings"] or result["native_failed"]:
        result["error"] = "c target fell back: " + "; ".join(result["warnings"])[:200]
    return result


def measure(spec, kind: str, repeats: int, timeout: float, keep: bool) -> dict:
    """``repeats`` first uses (each with its own new cache folder), then ``repeats`` later
    loads from the first of those folders."""
    firsts, laters, notes = [], [], []
    folders = []
    try:
        for _ in range(repeats):
            folder = Path(tempfile.mkdtemp(prefix="sigcodegen-first-use-"))
            folders.append(folder)
            cache = folder / "cache"  # not created yet: the child's cache starts empty
            res = run_child(spec, kind, cache, timeout)
            if "error" in res:
                notes.append("first use " + res["error"])
                continue
            firsts.append(res)
        if firsts:
            cache = folders[0] / "cache"  # filled by the first first-use child
            for _ in range(repeats):
                res = run_child(spec, kind, cache, timeout)
                if "error" in res:
                    notes.append("later load " + res["error"])
                    continue
                laters.append(res)
    finally:
        if not keep:
            for folder in folders:
                _rmtree(folder)
    return {
        "first_s": statistics.median(r["first_s"] for r in firsts) if firsts else None,
        "first_second_call_s": (statistics.median(r["second_s"] for r in firsts)
                                if firsts else None),
        "first_new_files": firsts[0]["new_files"] if firsts else None,
        "later_s": statistics.median(r["first_s"] for r in laters) if laters else None,
        "later_second_call_s": (statistics.median(r["second_s"] for r in laters)
                                if laters else None),
        "later_new_files": max((r["new_files"] for r in laters), default=None),
        "imports_s": statistics.median(r["imports_s"] for r in firsts + laters)
        if firsts + laters else None,
        "n_first": len(firsts),
        "n_later": len(laters),
        "notes": "; ".join(dict.fromkeys(notes)),
    }


def _rmtree(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def _verdict(value, bound) -> str:
    return "-" if value is None else "met" if value <= bound else "NOT met"


def _fmt(value, spec) -> str:
    return "-" if value is None else format(value, spec)


def format_table(headers, rows) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]
    line = lambda cells: "  ".join(str(c).rjust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _spec(text: str) -> tuple[int, int]:
    try:
        d, m = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a spec is DxM, e.g. 5x4; got {text!r}") from None
    if (d, m) not in SPECS:
        raise argparse.ArgumentTypeError(
            f"unknown spec {text!r}; choose from {','.join(f'{a}x{b}' for a, b in SPECS)}")
    return d, m


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--specs", default=",".join(f"{d}x{m}" for d, m in SPECS),
                        help="comma-separated DxM (default all: 5x4,3x6,10x3,2x10)")
    parser.add_argument("--inputs", default="numpy,jax",
                        help="numpy and/or jax (default both)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="processes per measurement (median; default 3)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per child")
    parser.add_argument("--keep", action="store_true", help="keep the temporary cache folders")
    parser.add_argument("--no-pyc", action="store_true",
                        help="children inherit the bytecode settings as they are (by default "
                             "they cache bytecode in a private folder, warmed up first, as an "
                             "installed package would have it)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder")
    args = parser.parse_args(argv)
    args.specs = [_spec(s.strip()) for s in args.specs.split(",") if s.strip()]
    args.inputs = [s.strip() for s in args.inputs.split(",") if s.strip()]
    bad = [s for s in args.inputs if s not in ("numpy", "jax")]
    if bad or not args.inputs:
        parser.error(f"--inputs takes numpy and/or jax, got {args.inputs}")
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    return args


CSV_FIELDS = ["d", "m", "B", "L", "input", "first_s", "first_status", "later_s",
              "later_status", "first_second_call_s", "later_second_call_s", "first_new_files",
              "later_new_files", "imports_s", "n_first", "n_later", "notes"]


def main(argv=None) -> int:
    args = parse_args(argv)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load:.2f}; "
          f"{args.repeats} process(es) per measurement, SIGCODEGEN_PREBUILT=0, fresh cache "
          f"folders")
    if load > 0.5:
        print(f"warning: load average {load:.2f}: other processes compete for the CPUs "
              f"(compile times and OpenMP kernels slow down)")
    pyc_folder = None
    if args.no_pyc:
        how = "inherited"
        if os.environ.get("PYTHONDONTWRITEBYTECODE"):
            how += (" (PYTHONDONTWRITEBYTECODE is set: modules without a .pyc, such as an "
                    "editable sigcodegen's, are compiled from source at every import)")
        print(f"bytecode: {how}")
    else:
        pyc_folder = Path(tempfile.mkdtemp(prefix="sigcodegen-first-use-pyc-"))
        CHILD_ENV["PYTHONPYCACHEPREFIX"] = str(pyc_folder)
        CHILD_UNSET.append("PYTHONDONTWRITEBYTECODE")
        print(f"bytecode: cached in a private folder (PYTHONPYCACHEPREFIX), warmed up by one "
              f"untimed (2,3) first use per input kind")
        for kind in args.inputs:
            warm = Path(tempfile.mkdtemp(prefix="sigcodegen-first-use-warm-"))
            res = run_child((2, 3), kind, warm / "cache", args.timeout, shape=(2, 3))
            _rmtree(warm)
            if "error" in res:
                print(f"  warm-up ({kind}) failed: {res['error']}")
    try:
        return _run(args)
    finally:
        if pyc_folder is not None:
            _rmtree(pyc_folder)


def _run(args) -> int:
    rows, table = [], []
    for spec in args.specs:
        for kind in args.inputs:
            print(f"  {spec[0]}x{spec[1]} {kind} ...", flush=True)
            res = measure(spec, kind, args.repeats, args.timeout, args.keep)
            batch, length = SPECS[spec]
            row = {"d": spec[0], "m": spec[1], "B": batch, "L": length, "input": kind,
                   **{k: res[k] for k in ("first_new_files", "later_new_files", "n_first",
                                          "n_later", "notes")},
                   "first_s": _fmt(res["first_s"], ".4f"),
                   "later_s": _fmt(res["later_s"], ".5f"),
                   "first_second_call_s": _fmt(res["first_second_call_s"], ".5f"),
                   "later_second_call_s": _fmt(res["later_second_call_s"], ".5f"),
                   "imports_s": _fmt(res["imports_s"], ".3f"),
                   "first_status": _verdict(res["first_s"], FIRST_USE_TARGET_S),
                   "later_status": _verdict(res["later_s"], LATER_LOAD_TARGET_S)}
            if res["later_new_files"]:
                row["later_status"] += " (rebuilt: it added files to the cache)"
            rows.append(row)
            table.append([f"({spec[0]},{spec[1]})", f"({batch},{length})", kind,
                          _fmt(res["first_s"], ".3f"), row["first_status"],
                          _fmt(None if res["later_s"] is None else res["later_s"] * 1e3, ".1f"),
                          row["later_status"],
                          _fmt(None if res["later_second_call_s"] is None
                               else res["later_second_call_s"] * 1e3, ".2f"),
                          row["imports_s"]])
    print(f"\n=== c target first use (empty cache, target <= {FIRST_USE_TARGET_S:g} s) and later "
          f"load (new process, filled cache, target <= {LATER_LOAD_TARGET_S * 1e3:g} ms)")
    print(format_table(["(d,m)", "(B,L)", "input", "first use s", "<= 2 s", "later load ms",
                        "<= 50 ms", "2nd call ms", "imports s"], table))
    for row in rows:
        if row["notes"]:
            print(f"  note ({row['d']},{row['m']}) {row['input']}: {row['notes']}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "first_use.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
