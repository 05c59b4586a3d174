"""Keras training step of the seed's SigKAN-like model: sigcodegen.SigLayer against keras_sig.

Model (the same for both layers, same initial weights): ``Input((L, 5)) -> Dense(7) ->
SigLayer(depth 4) -> Flatten -> Dense(10, relu) -> Dense(1)``, MSE loss, Adam, batch 128, on
fixed random float32 data. Built once with ``sigcodegen.SigLayer(4)`` and once with
``keras_sig.SigLayer(4)`` (defaults of both: on a CPU keras_sig runs its scan/loop form, and on
tensorflow that may be a Python loop over time: that is what it is).

Backends jax, tensorflow, torch, each under two jit settings: Keras' default
(``model.compile`` without ``jit_compile``, i.e. ``"auto"``: XLA on jax, no XLA on tensorflow on
a CPU-only machine, eager on torch) and ``jit_compile=True`` (XLA on jax and tensorflow,
``torch.compile`` on torch). A model whose layers report ``supports_jit = False`` (our SigLayer
on tensorflow, whose custom op has no XLA kernel) runs without XLA under ``True``, as Keras
decides; the ``in force`` column shows ``model.jit_compile`` after ``compile``. Each (backend,
jit, L) runs in its own fresh process (``KERAS_BACKEND`` is set before the child imports keras;
switching backends in one process is unsafe). In the child: ``build`` time = constructing and
compiling the model (our layer loads or builds its kernels there: the first use on a machine
compiles the C, and on tensorflow the op shim, into the cache), ``compile`` time = the first
``model.train_on_batch(x, y)`` call (tracing, XLA compilation, the first step; the child first
trains a tiny Dense model under the same jit setting, so that the process's one-time compiler
start-up is paid by neither timed model), ``step`` time =
the median of ``--steps`` (10) further calls.
The child prints one JSON line per model as soon as it is done, so a child that overruns
``--timeout`` (300 s) still reports the models it finished; the rest read ``timeout``, and a
model that raises reads ``failed: <reason>``.

Also checked per child: the two layers' outputs on the same input agree (max abs difference /
max abs value, reported in the ``check`` column; both are float32), and which kernel our layer
runs (``c``: compiled C through the XLA FFI / a torch custom op, ``jax`` / ``keras``: emitted
Python).

Targets per (backend, L): step ours / keras-sig <= 0.5; compile ours / keras-sig <= 1 (no
worse). Output: a table per backend on stdout and ``<out>/keras_train.csv``.

Run: ``python bench/keras_train.py`` (L = 20, 100, 500 on all three backends, both jit
settings), ``--lengths 20 --backends jax --steps 2`` (smoke test), ``--jit default`` or
``--jit true`` (one setting), ``--steps 20``, ``--timeout 600``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
BACKENDS = ("jax", "tensorflow", "torch")
JITS = ("default", "true")
IMPLS = ("ours", "keras-sig")
STEP_TARGET = 0.5
COMPILE_TARGET = 1.0
BATCH, DIM, DEPTH, HIDDEN = 128, 5, 4, 7

CHILD = r"""
import json, os, statistics, sys, time
backend, length, steps, batch, dim, depth, hidden = sys.argv[1], *map(int, sys.argv[2:8])
jit_mode = sys.argv[9]
os.environ["KERAS_BACKEND"] = backend
import numpy as np
import keras
assert keras.backend.backend() == backend, keras.backend.backend()
import sigcodegen
import keras_sig

def emit(**kw):
    print(json.dumps(kw), flush=True)

rng = np.random.default_rng(0)
x = (np.cumsum(rng.standard_normal((batch, length, dim)), axis=1) / np.sqrt(length)).astype(
    np.float32)
y = rng.standard_normal((batch, 1)).astype(np.float32)

def build(layer):
    keras.utils.set_random_seed(0)
    inp = keras.Input((length, dim))
    h = keras.layers.Dense(hidden)(inp)
    h = layer(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(10, activation="relu")(h)
    out = keras.layers.Dense(1)(h)
    model = keras.Model(inp, out)
    kwargs = {"jit_compile": True} if jit_mode == "true" else {}
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", **kwargs)
    return model

def kernel_of(layer):
    module = getattr(layer, "_module", None)
    if module is None:
        return "?"
    if type(module).__name__ == "NativeModule":
        return "c"
    name = os.path.basename(getattr(module, "__file__", "") or "")
    for target in ("jax", "keras", "c"):
        if f"_{target}_" in name:
            return target
    return name or "?"

def warm_up():
    # the process's one-time compiler start-up (importing and initialising XLA, torch's
    # inductor), paid on a tiny model under the same jit setting, so that neither timed
    # model's compile time includes it (whichever ran first would otherwise pay it alone)
    keras.utils.set_random_seed(0)
    tiny = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    kwargs = {"jit_compile": True} if jit_mode == "true" else {}
    tiny.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", **kwargs)
    tiny.train_on_batch(np.zeros((4, 3), np.float32), np.zeros((4, 1), np.float32))

warm_up()
outputs = {}
for impl in sys.argv[8].split(","):
    try:
        t = time.perf_counter()
        layer = sigcodegen.SigLayer(depth) if impl == "ours" else keras_sig.SigLayer(depth)
        model = build(layer)
        build_s = time.perf_counter() - t
        t = time.perf_counter()
        loss0 = float(model.train_on_batch(x, y))
        compile_s = time.perf_counter() - t
        times = []
        for _ in range(steps):
            t = time.perf_counter()
            loss = float(model.train_on_batch(x, y))
            times.append(time.perf_counter() - t)
        sig_model = keras.Model(model.inputs, layer.output)
        outputs[impl] = np.asarray(keras.ops.convert_to_numpy(sig_model(x[:8])))
        emit(impl=impl, status="ok", build_s=build_s, compile_s=compile_s,
             step_s=statistics.median(times), steps=len(times), loss0=loss0, loss=loss,
             jit_in_force=bool(model.jit_compile),
             kernel=kernel_of(layer) if impl == "ours" else "keras_sig")
    except Exception as exc:
        text = f"{type(exc).__name__}: {exc}".splitlines()[0][:160]
        emit(impl=impl, status=f"failed: {text}")
if len(outputs) == 2:
    a, b = outputs["ours"], outputs["keras-sig"]
    diff = float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)) if a.shape == b.shape \
        else float("inf")
    emit(check=diff)
"""


def run_child(backend: str, length: int, jit: str,
              args) -> tuple[dict[str, dict], float | None, str]:
    """Results per implementation, the layers' output difference, and a note."""
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
    cmd = [sys.executable, "-c", CHILD, backend, str(length), str(args.steps), str(BATCH),
           str(DIM), str(DEPTH), str(HIDDEN), ",".join(IMPLS), jit]
    note = ""
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                              timeout=args.timeout)
        stdout, code = proc.stdout, proc.returncode
        if code != 0:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            note = f"exit {code}: {tail[:200]}"
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout or ""
        if isinstance(stdout, bytes):
            stdout = stdout.decode(errors="replace")
        note = f"timeout after {args.timeout:g} s"
    results, check = {}, None
    for line in stdout.splitlines():
        if not line.startswith("{"):
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "impl" in item:
            results[item["impl"]] = item
        elif "check" in item:
            check = item["check"]
    for impl in IMPLS:
        if impl not in results:
            status = ("timeout" if note.startswith("timeout")
                      else f"failed: {note or 'no result'}")
            results[impl] = {"impl": impl, "status": status}
    return results, check, note


def _ratio(a: dict, b: dict, key: str) -> float | None:
    if a.get("status") != "ok" or b.get("status") != "ok":
        return None
    return a[key] / b[key]


def _verdict(value: float | None, bound: float) -> str:
    return "-" if value is None else "met" if value <= bound else "NOT met"


def _in_force(ours: dict, theirs: dict) -> str:
    """model.jit_compile after compile, for our model and keras_sig's (XLA / torch.compile)."""
    word = {True: "jit", False: "no-jit"}
    return f"{word.get(ours.get('jit_in_force'), '-')}/{word.get(theirs.get('jit_in_force'), '-')}"


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _cell(res: dict, key: str, scale: float, spec: str) -> str:
    if res.get("status") != "ok":
        return "timeout" if res.get("status") == "timeout" else "failed"
    return format(res[key] * scale, spec)


def format_table(headers, rows) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]
    line = lambda cells: "  ".join(str(c).rjust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _list(text: str, cast, allowed=None, what="value"):
    items = [cast(s.strip()) for s in text.split(",") if s.strip()]
    if not items or (allowed and any(i not in allowed for i in items)):
        raise argparse.ArgumentTypeError(
            f"bad {what} list {text!r}" + (f"; choose from {','.join(allowed)}" if allowed
                                           else ""))
    return items


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=lambda s: _list(s, int, what="length"),
                        default=[20, 100, 500], help="path lengths L (default 20,100,500)")
    parser.add_argument("--backends", type=lambda s: _list(s, str, BACKENDS, "backend"),
                        default=list(BACKENDS), help="jax,tensorflow,torch (default all)")
    parser.add_argument("--jit", type=lambda s: _list(s, str, JITS, "jit setting"),
                        default=list(JITS), help="default,true (default both): Keras' default "
                        "jit_compile and jit_compile=True")
    parser.add_argument("--steps", type=int, default=10,
                        help="timed train_on_batch calls after the first (median; default 10)")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds per child process (one backend and length)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be >= 1")
    return args


CSV_FIELDS = ["backend", "jit", "L", "impl", "status", "kernel", "jit_in_force", "build_s",
              "compile_s", "step_ms", "steps",
              "loss0", "loss", "step_ratio", "step_status", "compile_ratio", "compile_status",
              "check", "note"]


def main(argv=None) -> int:
    args = parse_args(argv)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load:.2f}; "
          f"batch {BATCH}, Input((L, {DIM})) -> Dense({HIDDEN}) -> SigLayer({DEPTH}) -> Flatten "
          f"-> Dense(10, relu) -> Dense(1), MSE, Adam; median of {args.steps} steps after the "
          f"first; timeout {args.timeout:g} s per child")
    if load > 0.5:
        print(f"warning: load average {load:.2f}: other processes compete for the CPUs")
    csv_rows = []
    tables: dict[tuple[str, str], list[list[str]]] = {(b, j): [] for b in args.backends
                                                      for j in args.jit}
    notes = []
    for backend in args.backends:
        for jit in args.jit:
            for length in args.lengths:
                print(f"  {backend} jit={jit} L={length} ...", flush=True)
                results, check, note = run_child(backend, length, jit, args)
                ours, theirs = results["ours"], results["keras-sig"]
                step_ratio = _ratio(ours, theirs, "step_s")
                compile_ratio = _ratio(ours, theirs, "compile_s")
                for impl in IMPLS:
                    r = results[impl]
                    if r["status"] != "ok":
                        notes.append(f"{backend} jit={jit} L={length} {impl}: {r['status']}")
                    csv_rows.append({
                        "backend": backend, "jit": jit, "L": length, "impl": impl,
                        "status": r["status"], "kernel": r.get("kernel", ""),
                        "jit_in_force": r.get("jit_in_force", ""),
                        "build_s": _fmt(r.get("build_s"), ".4f"),
                        "compile_s": _fmt(r.get("compile_s"), ".4f"),
                        "step_ms": _fmt(r["step_s"] * 1e3 if "step_s" in r else None, ".4f"),
                        "steps": r.get("steps", ""), "loss0": _fmt(r.get("loss0"), ".6g"),
                        "loss": _fmt(r.get("loss"), ".6g"),
                        "step_ratio": _fmt(step_ratio, ".4f"),
                        "step_status": _verdict(step_ratio, STEP_TARGET),
                        "compile_ratio": _fmt(compile_ratio, ".4f"),
                        "compile_status": _verdict(compile_ratio, COMPILE_TARGET),
                        "check": _fmt(check, ".2e"), "note": note,
                    })
                tables[backend, jit].append([
                    str(length), ours.get("kernel", "-"), _in_force(ours, theirs),
                    _cell(ours, "step_s", 1e3, ".2f"), _cell(theirs, "step_s", 1e3, ".2f"),
                    _fmt(step_ratio, ".2f"), _verdict(step_ratio, STEP_TARGET),
                    _cell(ours, "build_s", 1, ".2f"), _cell(theirs, "build_s", 1, ".2f"),
                    _cell(ours, "compile_s", 1, ".2f"), _cell(theirs, "compile_s", 1, ".2f"),
                    _fmt(compile_ratio, ".2f"), _verdict(compile_ratio, COMPILE_TARGET),
                    _fmt(check, ".1e"),
                ])
    for (backend, jit), rows in tables.items():
        setting = "jit_compile=True" if jit == "true" else "Keras' default jit_compile"
        print(f"\n=== {backend} ({setting}): train step ms (median), build s (model "
              f"construction), compile s (first train_on_batch); ratio = ours / keras-sig")
        print(format_table(
            ["L", "ours kernel", "in force ours/theirs", "ours step ms", "keras-sig step ms",
             "step ratio", f"<= {STEP_TARGET:g}", "ours build s", "keras-sig build s",
             "ours compile s", "keras-sig compile s", "compile ratio",
             f"<= {COMPILE_TARGET:g}", "check"], rows))
    for note in notes:
        print(f"  note: {note}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "keras_train.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(csv_rows)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
