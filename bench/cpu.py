"""Side-by-side CPU benchmark: sigcodegen's signature (forward, and forward + backward) against
the peer libraries.

Methodology (bench/README.md):

- Workloads are the configurations (B, L, d, m) of bench/README.md, A-F: a batch of B float32
  Brownian paths of L points in R^d (cumulative sums of standard normal increments divided by
  sqrt(L)), signature truncated at depth m. Three modes: ``final`` (forward, the signature of the
  whole path, ``(B, siglen)``), ``stream`` (forward, the signature of every prefix,
  ``(B, L-1, siglen)``) and ``grad`` (forward + backward: the gradient of sum(signature) of the
  whole path with respect to the path, ``(B, L, d)``).
- Every candidate runs in this one process, one after the other on the same input, so that they
  share the machine's state. Inputs are placed beforehand (numpy for numpy libraries, a jax array
  for jax libraries), so no conversion is timed. Each candidate is called once to warm up (this
  compiles the jitted ones), then timed ``--repeats`` times with ``time.perf_counter``; the table
  gives the median. JAX results are waited for with ``block_until_ready()``.
- A candidate whose warm-up call raises, or whose single call takes longer than ``--budget``
  seconds (3x that for the warm-up, which includes compilation), is reported as
  ``failed: <reason>`` and the run goes on. Calls cannot be interrupted in-process, so the budget
  is checked after each call returns and the candidate's remaining repeats are skipped.
- Correctness is checked once per configuration and mode: the warm-up output against a float64
  reference, as max|out - ref| / max|ref|. Forward modes: iisignature on the float64 path (or a
  numpy Chen-identity fallback), tolerance ``1e-3``. ``grad``: jax autodiff of our jax target
  (strategy horner) on the float64 path under ``jax.enable_x64(True)``, tolerance ``1e-2``.
  Above the tolerance the cell is flagged with ``!`` and named in the ``check`` column; flagged
  candidates are not eligible as "best ours".
- Reported: median time per candidate (ms); for the fastest "ours" entry (over every ``ours-*``
  row), its achieved GFLOP/s in the forward modes with the Horner-step FLOP count
  2*B*(L-1)*H(d, m), H(d, m) = sum_{j=2..m} (m-j+1) d^j (docs/architecture.md; the same count is used
  in stream mode, whose extra cost is writing the output), and the ratio best-ours / peer per
  peer (< 1: we are faster). Then the tracked ratio targets, each "met" / "NOT met":
  final best-ours/pysiglib best <= 0.25, grad best-ours/pysiglib best <= 0.25, stream (configs A and C)
  best-ours/best-peer <= 0.5; and for config A in final mode the achieved GFLOP/s against the
  FLOP floor, the float32 FMA peak of every usable core measured at the start of the run
  (bench/fma_peak.py), "within 4x" when time <= 4x the floor's. pysiglib runs at n_jobs=-1
  ("pysiglib") and n_jobs=1 ("pysiglib-1"); the targets compare with the faster of the two.

Output: a table per mode on stdout, ``<out>/cpu_<mode>.csv`` (one row per configuration and
candidate), ``<out>/cpu_targets.csv`` (one row per tracked target) and ``<out>/cpu.png``
(log-scale bar chart; needs matplotlib).

Run: ``python bench/cpu.py`` (all), ``--configs A,C``, ``--modes stream,grad``, ``--quick``
(smoke test: 3 repeats, configs A and B).

``--modes logsig``: log-signatures (brackets and words) against pysiglib's ``log_sig(method=2)``
at A-F and G (32, 200, 20, 2), forward and forward + backward, one thread and all threads each
(bench/cpu_logsig.py; ``--configs`` may name G there).

``--modes coef``: ``signature_coefficients`` of 100 random words of lengths 1..6 on float32
Brownian paths (64, 200, 20) and (64, 200, 5), beside pysiglib's ``sig_coef`` on the same words
(n_jobs 1 and -1; the target, ours <= 0.25 x the faster, is printed) and the full signature at
depth 6 where it runs; ``<out>/cpu_coef.csv``.

``python bench/cpu.py --load``: instead, the c target beside pysiglib quiet (all threads and one
thread each, against pysiglib's best of n_jobs=1 and -1), one core at A against the measured FMA
peak, and under a busy competitor process at nice 0 and 19 (bench/cpu_load.py).

``python bench/cpu.py --devices 2``: instead, the throughput of the forward signature at
(1024, 1000, 5, 4) on 1 device and on N CPU devices (XLA's forced host devices; the batch sharded
over them), for the c and jax targets, as a ratio. On a 2-core machine expect no gain: the point
is the measurement path a multi-GPU user runs unchanged.
"""

import os
import sys

os.environ["KERAS_BACKEND"] = "jax"  # before anything imports keras: keras.ops are jax ops
if "--devices" in sys.argv:  # must be set before jax starts
    _DEVICES = int(sys.argv[sys.argv.index("--devices") + 1])
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               f" --xla_force_host_platform_device_count={_DEVICES}").strip()

import argparse  # noqa: E402
import csv  # noqa: E402
import dataclasses  # noqa: E402
import functools  # noqa: E402
import gc  # noqa: E402
import importlib.metadata  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import sigcodegen  # noqa: E402

MODES = ("final", "stream", "grad", "coef", "logsig")
RTOL = {"final": 1e-3, "stream": 1e-3, "grad": 1e-2}  # max|out - ref| / max|ref|
#: FLOP floor (GFLOP/s): the float32 FMA peak of all usable cores, measured by main()
FLOOR_GFLOPS = float("nan")
TARGETS = {  # mode -> (ratio bound, configs it applies to or None for all, compared with)
    "final": (0.25, None, "pysiglib best"),
    "grad": (0.25, None, "pysiglib best"),
    "stream": (0.5, ("A", "C"), "best peer"),
}
DEFAULT_OUT = Path(__file__).resolve().parent / "results"


# ---- workloads ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Config:
    name: str
    batch: int
    length: int
    dim: int
    depth: int

    @property
    def siglen(self) -> int:
        return sum(self.dim**k for k in range(1, self.depth + 1))

    @property
    def flops(self) -> int:
        """2 * B * (L-1) * H(d, m): one multiply-add per Horner-step coefficient update."""
        d, m = self.dim, self.depth
        horner = sum((m - j + 1) * d**j for j in range(2, m + 1))
        return 2 * self.batch * (self.length - 1) * horner


CONFIGS = {
    c.name: c
    for c in [
        Config("A", 128, 100, 5, 4),
        Config("B", 128, 20, 5, 4),
        Config("C", 32, 500, 5, 4),
        Config("D", 16, 1000, 3, 6),
        Config("E", 64, 100, 10, 3),
        Config("F", 8, 200, 2, 10),
    ]
}


@dataclasses.dataclass
class Problem:
    """One (configuration, mode) workload, with its input in both array libraries."""

    config: Config
    mode: str  # "final", "stream" or "grad"
    x_np: np.ndarray  # float32 (B, L, d)
    x_jax: jax.Array  # the same values, already on the device

    @property
    def depth(self) -> int:
        return self.config.depth

    @property
    def stream(self) -> bool:
        return self.mode == "stream"


def brownian_paths(config: Config, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    increments = rng.standard_normal((config.batch, config.length, config.dim))
    return (np.cumsum(increments, axis=1) / math.sqrt(config.length)).astype(np.float32)


def make_problem(config: Config, mode: str, x_np: np.ndarray) -> Problem:
    x_jax = jnp.asarray(x_np)
    x_jax.block_until_ready()
    return Problem(config, mode, x_np, x_jax)


# ---- reference ----------------------------------------------------------------------------


def numpy_signature(x: np.ndarray, depth: int, stream: bool) -> np.ndarray:
    """Float64 signature by Chen's identity, one step at a time (fallback reference)."""
    x = np.asarray(x, dtype=np.float64)
    batch, length, dim = x.shape
    dx = np.diff(x, axis=1)
    state = [np.zeros((batch, dim**k)) for k in range(1, depth + 1)]  # flat levels 1..m
    rows = []
    for t in range(length - 1):
        delta = dx[:, t]
        exp = [delta]  # exp(delta) levels: delta^{(x)k} / k!
        for k in range(2, depth + 1):
            exp.append((exp[-1][:, :, None] * delta[:, None, :]).reshape(batch, -1) / k)
        new = []
        for n in range(1, depth + 1):
            level = state[n - 1] + exp[n - 1]
            for i in range(1, n):
                level = level + (state[i - 1][:, :, None] * exp[n - i - 1][:, None, :]).reshape(
                    batch, -1)
            new.append(level)
        state = new
        if stream:
            rows.append(np.concatenate(state, axis=1))
    if stream:
        return np.stack(rows, axis=1)
    return np.concatenate(state, axis=1)


def reference(x_np: np.ndarray, depth: int, stream: bool) -> np.ndarray:
    x64 = x_np.astype(np.float64)
    try:
        import iisignature
    except ImportError:
        return numpy_signature(x64, depth, stream)
    return iisignature.sig(x64, depth, 2 if stream else 0)


def grad_reference(x_np: np.ndarray, depth: int) -> np.ndarray:
    """Float64 gradient of sum(signature(x)) w.r.t. x: jax autodiff of our jax target (horner)
    on a float64 copy of the path."""
    with jax.enable_x64(True):
        x64 = jnp.asarray(x_np.astype(np.float64))
        fn = jax.jit(jax.grad(lambda x: sigcodegen.signature(
            x, depth, target="jax", strategy="horner").sum()))
        out = np.asarray(fn(x64))
    assert out.dtype == np.float64, out.dtype
    return out


def problem_reference(p: Problem) -> np.ndarray:
    if p.mode == "grad":
        return grad_reference(p.x_np, p.depth)
    return reference(p.x_np, p.depth, p.stream)


def relative_error(out, ref: np.ndarray) -> float:
    out = np.asarray(out, dtype=np.float64)
    if out.shape != ref.shape:
        return math.inf
    scale = max(float(np.abs(ref).max()), 1e-30)
    return float(np.abs(out - ref).max()) / scale


# ---- candidates ---------------------------------------------------------------------------


# A factory takes a Problem and returns a zero-argument callable computing the (synchronised)
# output: the signature in the forward modes, the gradient of sum(signature) w.r.t. the path in
# grad mode.
Factory = Callable[[Problem], Callable[[], object]]


@dataclasses.dataclass(frozen=True)
class Candidate:
    name: str
    ours: bool
    make: Factory


def _jax_thunk(fn, x):
    return lambda: fn(x).block_until_ready()


def _jax_grad_thunk(scalar_fn, x):
    """jit(grad(scalar_fn)) on the jax input: forward + backward in one XLA program."""
    return _jax_thunk(jax.jit(jax.grad(scalar_fn)), x)


# -- ours, forward --


def make_ours_jax(p: Problem, strategy):
    def fn(x):
        return sigcodegen.signature(x, p.depth, p.stream, target="jax", strategy=strategy)

    return _jax_thunk(fn, p.x_jax)


def make_ours_keras(p: Problem):
    fn = jax.jit(lambda x: sigcodegen.signature(
        x, p.depth, p.stream, target="keras", strategy="horner"))
    return _jax_thunk(fn, p.x_jax)


def make_ours_c(p: Problem, strategy):
    # numpy in, numpy out: the conversion-free path (ctypes into the compiled library)
    return lambda: sigcodegen.signature(p.x_np, p.depth, p.stream, target="c", strategy=strategy)


def make_ours_c_jax(p: Problem):
    # the compiled kernel inside jax.jit through the XLA FFI (default strategy)
    fn = jax.jit(lambda x: sigcodegen.signature(x, p.depth, p.stream, target="c"))
    return _jax_thunk(fn, p.x_jax)


# -- ours, grad --


def _c_module(p: Problem):
    from sigcodegen.runtime.dispatch import load_module

    return load_module(sigcodegen.KernelSpec(dim=p.config.dim, depth=p.depth, target="c"))


def make_ours_c_grad(p: Problem):
    mod = _c_module(p)
    x = p.x_np

    def run():
        y = mod.forward(x)
        return mod.backward(x, y, np.ones_like(y))

    return run


def make_ours_c_jax_grad(p: Problem):
    m = p.depth
    return _jax_grad_thunk(lambda x: sigcodegen.signature(x, m, target="c").sum(), p.x_jax)


def make_ours_jax_grad(p: Problem):
    m = p.depth
    return _jax_grad_thunk(
        lambda x: sigcodegen.signature(x, m, target="jax", strategy="horner").sum(), p.x_jax)


def _keras_ok() -> str | None:
    try:
        import keras  # noqa: F401
    except Exception as exc:  # noqa: BLE001
        return _short(exc)
    return None


def ours_candidates(mode: str) -> tuple[list[Candidate], list[str]]:
    if mode == "grad":
        return [
            Candidate("ours-c", True, make_ours_c_grad),
            Candidate("ours-c-jax", True, make_ours_c_jax_grad),
            Candidate("ours-jax", True, make_ours_jax_grad),
        ], []
    cands = [
        Candidate(f"ours-c-{s}", True, functools.partial(make_ours_c, strategy=s))
        for s in ("horner", "chunked")
    ]
    cands.append(Candidate("ours-c-jax", True, make_ours_c_jax))
    cands += [
        Candidate(f"ours-jax-{s}", True, functools.partial(make_ours_jax, strategy=s))
        for s in ("horner", "chunked", "levelwise")
    ]
    cands.append(Candidate("ours-jax-auto", True, functools.partial(make_ours_jax, strategy=None)))
    failure = _keras_ok()
    if failure:
        return cands, [f"ours-keras-horner: skipped, keras import failed ({failure})"]
    cands.append(Candidate("ours-keras-horner", True, make_ours_keras))
    return cands, []


# -- peers, forward --


def make_pysiglib(p: Problem, n_jobs: int = -1):
    import pysiglib

    m = p.depth
    if not p.stream:
        return lambda: pysiglib.sig(p.x_np, degree=m, n_jobs=n_jobs)
    # pysiglib.sig has no stream output: extend the signature one segment at a time with
    # sig_join (its cheapest per-step API), batched over paths.
    batch, length, dim = p.x_np.shape

    def stream():
        x = p.x_np
        dx = np.ascontiguousarray(np.moveaxis(np.diff(x, axis=1), 1, 0))  # (L-1, B, d)
        out = np.empty((batch, length - 1, p.config.siglen), dtype=x.dtype)
        s = pysiglib.sig(np.ascontiguousarray(x[:, :2]), degree=m, n_jobs=n_jobs)
        out[:, 0] = s
        for t in range(1, length - 1):
            s = pysiglib.sig_join(s, dx[t].copy(), dim, m, n_jobs=n_jobs)  # it wants owned arrays
            out[:, t] = s
        return out

    return stream


def make_signax(p: Problem):
    import signax

    fn = jax.jit(lambda x: signax.signature(x, p.depth, stream=p.stream))
    return _jax_thunk(fn, p.x_jax)


def make_keras_sig_gpu(p: Problem):
    import keras_sig

    # keras_sig.jax_gpu_signature is quick_sig.batch_signature_pure_jax, jitted with static
    # depth and stream.
    return lambda: keras_sig.jax_gpu_signature(p.x_jax, p.depth, p.stream).block_until_ready()


def make_keras_sig(p: Problem):
    import keras_sig

    fn = jax.jit(lambda x: keras_sig.signature(x, p.depth, p.stream, gpu_optimized=False))
    return _jax_thunk(fn, p.x_jax)


def make_iisignature(p: Problem):
    import iisignature

    fmt = 2 if p.stream else 0
    return lambda: iisignature.sig(p.x_np, p.depth, fmt)


# -- peers, grad (forward + backward of sum(signature)) --


def make_pysiglib_grad(p: Problem, n_jobs: int = -1):
    import pysiglib

    m, x = p.depth, p.x_np

    def run():
        s = pysiglib.sig(x, degree=m, n_jobs=n_jobs)
        return pysiglib.sig_backprop(x, s, np.ones_like(s), m, n_jobs=n_jobs)

    return run


def make_signax_grad(p: Problem):
    import signax

    m = p.depth
    return _jax_grad_thunk(lambda x: signax.signature(x, m).sum(), p.x_jax)


def make_keras_sig_grad(p: Problem):
    import keras_sig

    m = p.depth
    return _jax_grad_thunk(
        lambda x: keras_sig.signature(x, m, False, gpu_optimized=False).sum(), p.x_jax)


def make_keras_sig_gpu_grad(p: Problem):
    import keras_sig

    m = p.depth
    return _jax_grad_thunk(lambda x: keras_sig.jax_gpu_signature(x, m, False).sum(), p.x_jax)


def make_iisignature_grad(p: Problem):
    import iisignature

    m, x = p.depth, p.x_np

    def run():
        s = iisignature.sig(x, m)
        return iisignature.sigbackprop(np.ones_like(s), x, m)

    return run


PEERS = {  # mode kind -> [(candidate name, module to import, factory)]
    "forward": [
        ("pysiglib", "pysiglib", make_pysiglib),  # n_jobs=-1
        ("pysiglib-1", "pysiglib", functools.partial(make_pysiglib, n_jobs=1)),
        ("signax", "signax", make_signax),
        ("keras-sig-gpu", "keras_sig", make_keras_sig_gpu),
        ("keras-sig", "keras_sig", make_keras_sig),
        ("iisignature", "iisignature", make_iisignature),
    ],
    "grad": [
        ("pysiglib", "pysiglib", make_pysiglib_grad),  # n_jobs=-1
        ("pysiglib-1", "pysiglib", functools.partial(make_pysiglib_grad, n_jobs=1)),
        ("signax", "signax", make_signax_grad),
        ("keras-sig-gpu", "keras_sig", make_keras_sig_gpu_grad),
        ("keras-sig", "keras_sig", make_keras_sig_grad),
        ("iisignature", "iisignature", make_iisignature_grad),
    ],
}


def peer_candidates(mode: str) -> tuple[list[Candidate], list[str]]:
    cands, skipped = [], []
    for name, module, factory in PEERS["grad" if mode == "grad" else "forward"]:
        try:
            __import__(module)
        except Exception as exc:  # noqa: BLE001  (an import can fail in many ways)
            skipped.append(f"{name}: skipped, `import {module}` failed ({_short(exc)})")
            continue
        cands.append(Candidate(name, False, factory))
    return cands, skipped


# ---- timing -------------------------------------------------------------------------------


@dataclasses.dataclass
class Result:
    config: Config
    mode: str
    candidate: Candidate
    status: str  # "ok" or "failed: <reason>"
    median_s: float | None = None
    repeats: int = 0
    error: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def rtol(self) -> float:
        return RTOL[self.mode]

    @property
    def correct(self) -> bool:
        return self.error is not None and self.error <= self.rtol


class TooSlow(Exception):
    pass


def _short(exc: BaseException, limit: int = 60) -> str:
    text = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _timed(thunk) -> tuple[object, float]:
    start = time.perf_counter()
    out = thunk()
    return out, time.perf_counter() - start


def measure(thunk, repeats: int, budget_s: float) -> tuple[object, list[float]]:
    """Warm up once (returns that output, for the correctness check), then time `repeats`
    calls. Raises TooSlow when a call exceeds the budget."""
    out, warm = _timed(thunk)
    if warm > 3 * budget_s:
        raise TooSlow(f"warm-up took {warm:.3g} s > {3 * budget_s:.3g} s")
    times = []
    for _ in range(repeats):
        _, elapsed = _timed(thunk)
        if elapsed > budget_s:
            raise TooSlow(f"one call took {elapsed:.3g} s > {budget_s:.3g} s")
        times.append(elapsed)
    return out, times


def run_candidate(cand: Candidate, problem: Problem, ref: np.ndarray, repeats: int,
                  budget_s: float) -> Result:
    result = Result(problem.config, problem.mode, cand, status="ok")
    gc.collect()
    try:
        thunk = cand.make(problem)
        out, times = measure(thunk, repeats, budget_s)
    except TooSlow as exc:
        result.status = f"failed: {exc}"
        return result
    except Exception as exc:  # noqa: BLE001  (out of memory, shape errors, ...)
        result.status = f"failed: {_short(exc)}"
        return result
    result.median_s = statistics.median(times)
    result.repeats = len(times)
    result.error = relative_error(out, ref)
    return result


def run_problem(cands: list[Candidate], problem: Problem, repeats: int,
                budget_s: float) -> list[Result]:
    try:
        ref = problem_reference(problem)
    except Exception as exc:  # noqa: BLE001  (every candidate is then flagged, not lost)
        print(f"  {problem.config.name} {problem.mode}: reference failed ({_short(exc)})")
        ref = np.full((), np.nan)
    results = []
    for cand in cands:
        res = run_candidate(cand, problem, ref, repeats, budget_s)
        print(f"  {problem.config.name} {res.mode:6s} {cand.name:20s} {_cell(res):>10s}"
              + ("" if res.ok else f"  {res.status}"), flush=True)
        results.append(res)
    return results


# ---- summaries ----------------------------------------------------------------------------


def best_ours(results: list[Result]) -> Result | None:
    ours = [r for r in results if r.candidate.ours and r.ok and r.correct]
    return min(ours, key=lambda r: r.median_s, default=None)


def ratio(best: Result | None, peer: Result) -> float | None:
    if best is None or not peer.ok:
        return None
    return best.median_s / peer.median_s


def gflops(res: Result | None) -> float | None:
    """Forward-mode GFLOP/s with the Horner-step count (none for grad, whose count differs)."""
    if res is None or not res.ok or res.mode == "grad":
        return None
    return res.config.flops / res.median_s / 1e9


def best_peer(results: list[Result], library: str | None = None) -> Result | None:
    """The fastest correct peer row (of one library's rows, e.g. pysiglib at each n_jobs)."""
    peers = [r for r in results if not r.candidate.ours and r.ok and r.correct
             and (library is None or r.candidate.name.split("-")[0] == library)]
    return min(peers, key=lambda r: r.median_s, default=None)


def _cell(res: Result) -> str:
    if res.ok:
        return f"{res.median_s * 1e3:.2f}" + ("" if res.correct else "!")
    return "failed"


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]
    line = lambda cells: "  ".join(str(c).rjust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def print_mode_tables(mode: str, by_config: dict[str, list[Result]]) -> None:
    names = [r.candidate.name for r in next(iter(by_config.values()))]
    peers = [r.candidate.name for r in next(iter(by_config.values())) if not r.candidate.ours]

    what = MODE_TITLES[mode]
    print(f"\n=== {mode} ({what}): median time (ms); '!' = off the float64 reference by > "
          f"{RTOL[mode]:g}")
    rows = []
    for cfg_name, results in by_config.items():
        cfg = results[0].config
        off = [f"{r.candidate.name}({r.error:.1e})" for r in results if r.ok and not r.correct]
        rows.append([cfg_name, f"({cfg.batch},{cfg.length},{cfg.dim},{cfg.depth})"]
                    + [_cell(r) for r in results] + [" ".join(off) or "ok"])
    print(format_table(["cfg", "(B,L,d,m)"] + names + ["check"], rows))

    print(f"\n=== {mode}: best ours vs peers, ratio = ours/peer time (< 1: ours faster)")
    rows = []
    for cfg_name, results in by_config.items():
        best = best_ours(results)
        peer_results = [r for r in results if not r.candidate.ours]
        rows.append([cfg_name, best.candidate.name if best else "-",
                     _fmt(best.median_s * 1e3 if best else None, ".2f"),
                     _fmt(gflops(best), ".2f")]
                    + [_fmt(ratio(best, r), ".2f") for r in peer_results])
    print(format_table(["cfg", "best ours", "ms", "GFLOP/s"] + [f"/{p}" for p in peers], rows))

    notes = sorted({f"{r.candidate.name}: {r.status}" for rs in by_config.values() for r in rs
                    if not r.ok})
    for note in notes:
        print(f"  note: {note}")


MODE_TITLES = {
    "final": "forward, final signature",
    "stream": "forward, stream of prefix signatures",
    "grad": "forward + backward of sum(signature)",
}


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "met" if ok else "NOT met"


def evaluate_targets(all_results: dict[str, dict[str, list[Result]]]) -> list[dict]:
    """One row per tracked target and configuration (see TARGETS and FLOOR_GFLOPS)."""
    rows = []
    for mode, by_config in all_results.items():
        bound, configs, versus = TARGETS[mode]
        for cfg_name, results in by_config.items():
            if configs is not None and cfg_name not in configs:
                continue
            best = best_ours(results)
            if versus == "best peer":
                other = best_peer(results)
            elif versus == "pysiglib best":  # its faster setting, n_jobs=1 or -1
                other = best_peer(results, "pysiglib")
            else:
                other = next((r for r in results if r.candidate.name == versus and r.ok), None)
            value = ratio(best, other) if other is not None else None
            why = ("no correct ours entry" if best is None
                   else f"no {versus} result" if other is None else "")
            rows.append({
                "mode": mode, "config": cfg_name,
                "target": f"best-ours/{versus} <= {bound:g}",
                "ours": best.candidate.name if best else "",
                "ours_ms": _fmt(best.median_s * 1e3 if best else None, ".4f"),
                "versus": other.candidate.name if other else versus,
                "versus_ms": _fmt(other.median_s * 1e3 if other else None, ".4f"),
                "value": _fmt(value, ".4f"),
                "status": _verdict(None if value is None else value <= bound) + (
                    f" ({why})" if why else ""),
            })
        if mode == "final" and "A" in by_config:
            best = best_ours(by_config["A"])
            achieved = gflops(best)
            frac = None if achieved is None else achieved / FLOOR_GFLOPS
            rows.append({
                "mode": mode, "config": "A",
                "target": f"time <= 4x the FLOP floor ({FLOOR_GFLOPS:.1f} GFLOP/s)",
                "ours": best.candidate.name if best else "",
                "ours_ms": _fmt(best.median_s * 1e3 if best else None, ".4f"),
                "versus": "floor",
                "versus_ms": _fmt(by_config["A"][0].config.flops / FLOOR_GFLOPS / 1e6, ".4f"),
                "value": _fmt(achieved, ".3f"),
                "fraction_of_floor": _fmt(frac, ".4f"),
                "status": _verdict(None if frac is None else frac >= 0.25),
            })
    return rows


def print_targets(rows: list[dict]) -> None:
    if not rows:
        return
    print("\n=== tracked targets (ratio = best-ours time / other time)")
    table = []
    for r in rows:
        if r["versus"] == "floor":
            continue
        table.append([r["mode"], r["config"], r["target"], r["ours"] or "-", r["ours_ms"],
                      r["versus"], r["versus_ms"], r["value"], r["status"]])
    if table:
        print(format_table(["mode", "cfg", "target", "best ours", "ms", "vs", "vs ms", "ratio",
                            "status"], table))
    for r in rows:
        if r["versus"] != "floor":
            continue
        if r["value"] == "-":
            print("final A: no correct ours entry, FLOP-floor target n/a")
            continue
        achieved, frac = float(r["value"]), float(r["fraction_of_floor"])
        print(f"final A FLOP floor: {r['ours']} {r['ours_ms']} ms = {achieved:.1f} GFLOP/s = "
              f"{frac:.3f} of the {FLOOR_GFLOPS:.1f} GFLOP/s floor (floor time {r['versus_ms']} ms;"
              f" {1 / frac:.1f}x the floor): within 4x {r['status']}")


# ---- output files -------------------------------------------------------------------------

CSV_FIELDS = ["mode", "config", "B", "L", "d", "m", "candidate", "status", "median_ms",
              "repeats", "rel_error", "correct", "gflops", "best_ours", "ratio_best_ours_over"]


def csv_rows(results: list[Result]):
    best = best_ours(results)
    for r in results:
        cfg = r.config
        yield {
            "mode": r.mode, "config": cfg.name, "B": cfg.batch, "L": cfg.length, "d": cfg.dim,
            "m": cfg.depth, "candidate": r.candidate.name, "status": r.status,
            "median_ms": _fmt(r.median_s * 1e3 if r.ok else None, ".4f"),
            "repeats": r.repeats, "rel_error": _fmt(r.error, ".3e"),
            "correct": r.correct if r.ok else "",
            "gflops": _fmt(gflops(r), ".3f"),
            "best_ours": best.candidate.name if best else "",
            "ratio_best_ours_over": _fmt(ratio(best, r), ".4f"),
        }


TARGET_FIELDS = ["mode", "config", "target", "ours", "ours_ms", "versus", "versus_ms", "value",
                 "fraction_of_floor", "status"]


def write_targets_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=TARGET_FIELDS, restval="")
        writer.writeheader()
        writer.writerows(rows)


def write_csv(path: Path, by_config: dict[str, list[Result]]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for results in by_config.values():
            writer.writerows(csv_rows(results))


def write_plot(path: Path, all_results: dict[str, dict[str, list[Result]]]) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(len(all_results), 1, figsize=(12, 4.5 * len(all_results)),
                             squeeze=False)
    for ax, (mode, by_config) in zip(axes[:, 0], all_results.items()):
        configs = list(by_config)
        names = [r.candidate.name for r in by_config[configs[0]]]
        width = 0.8 / len(names)
        for i, name in enumerate(names):
            xs, ys = [], []
            for j, cfg in enumerate(configs):
                res = by_config[cfg][i]
                if res.ok:
                    xs.append(j + (i - (len(names) - 1) / 2) * width)
                    ys.append(res.median_s * 1e3)
            hatch = None if name.startswith("ours") else "//"
            ax.bar(xs, ys, width, label=name, hatch=hatch)
        ax.set_yscale("log")
        ax.set_xticks(range(len(configs)))
        ax.set_xticklabels([f"{c}\n{_shape(by_config[c][0].config)}" for c in configs])
        ax.set_ylabel("median time (ms, log)")
        ax.set_title(f"CPU signature, {mode} mode: {MODE_TITLES[mode]} (float32)")
        ax.grid(axis="y", which="both", alpha=0.3)
        ax.legend(fontsize=8, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def _shape(cfg: Config) -> str:
    return f"({cfg.batch},{cfg.length},{cfg.dim},{cfg.depth})"


# ---- main ---------------------------------------------------------------------------------


def _choices(text: str, allowed, what: str) -> list[str]:
    items = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in items if s not in allowed]
    if bad or not items:
        raise argparse.ArgumentTypeError(
            f"unknown {what} {bad or text!r}; choose from {','.join(allowed)}")
    return items


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", type=lambda s: _choices(s, list(CONFIGS), "config"),
                        help="comma-separated subset of " + ",".join(CONFIGS) + " (default all)")
    parser.add_argument("--modes", type=lambda s: _choices(s, MODES, "mode"),
                        default=[m for m in MODES if m not in ("coef", "logsig")],
                        help="final,stream,grad,coef (default final,stream,grad; coef times "
                             "signature_coefficients on its own workloads)")
    parser.add_argument("--repeats", type=int, help="timed calls per candidate (default 7)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 3 repeats, configs A,B (unless given explicitly)")
    parser.add_argument("--budget", type=float, default=20.0,
                        help="seconds one call may take before the candidate is failed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder")
    args = parser.parse_args(argv)
    args.defaults = {k for k in ("configs", "repeats") if getattr(args, k) is None}
    if args.configs is None:
        args.configs = ["A", "B"] if args.quick else list(CONFIGS)
    if args.repeats is None:
        args.repeats = 3 if args.quick else 7
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    return args


def print_environment(skipped: list[str]) -> None:
    versions = []
    for dist in ("sigcodegen", "jax", "keras", "pysiglib", "signax", "keras-sig",
                 "iisignature"):
        try:
            versions.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"jax backend {jax.default_backend()}, load average {load:.2f}")
    if load > 0.5:
        print(f"warning: load average {load:.2f}: other processes compete for the CPUs; "
              f"multi-threaded kernels (ours-c, pysiglib) then wait on descheduled threads "
              f"(~10 ms per call), so their times are unreliable")
    print("versions: " + ", ".join(versions))
    for line in skipped:
        print(line)


def devices_benchmark(devices: int, repeats: int = 7) -> int:
    """Forward throughput at (1024, 1000, 5, 4), float32: one device against ``devices``."""
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    batch, length, dim, depth = 1024, 1000, 5, 4
    x = brownian_paths(Config("devices", batch, length, dim, depth), 0)
    print(f"forward signature, (B, L, d, m) = ({batch}, {length}, {dim}, {depth}), float32, "
          f"median of {repeats}; {len(jax.devices())} CPU devices on {os.cpu_count()} cores")
    print(f"{'target':<8} {'1 device ms':>12} {f'{devices} devices ms':>14} {'paths/s (1)':>12} "
          f"{f'paths/s ({devices})':>13} {'ratio':>6}")
    mesh = Mesh(np.array(jax.devices()[:devices]), ("batch",))
    one = jax.device_put(jnp.asarray(x), jax.devices()[0])
    many = jax.device_put(jnp.asarray(x), NamedSharding(mesh, PartitionSpec("batch")))
    for target in ("c", "jax"):
        f = jax.jit(lambda p: sigcodegen.signature(p, depth, target=target))
        times = []
        for data in (one, many):
            f(data).block_until_ready()
            samples = []
            for _ in range(repeats):
                start = time.perf_counter()
                f(data).block_until_ready()
                samples.append(time.perf_counter() - start)
            times.append(statistics.median(samples))
        print(f"{target:<8} {times[0] * 1e3:>12.2f} {times[1] * 1e3:>14.2f} {batch / times[0]:>12.0f} "
              f"{batch / times[1]:>13.0f} {times[0] / times[1]:>6.2f}")
    print("ratio = throughput on the devices / on one device")
    return 0


# ---- chosen signature coefficients (--modes coef) ---------------------------------------

#: (name, B, L, d): 100 random words of lengths 1..6 each; at d = 20 the full signature at depth 6
#: (67,368,420 coefficients per path) does not run, at d = 5 it does and is timed beside.
COEF_CONFIGS = (("coef-d20", 64, 200, 20), ("coef-d5", 64, 200, 5))
COEF_WORDS, COEF_MAX_LENGTH = 100, 6
COEF_TARGET = 0.25  # ours / pysiglib sig_coef at its best n_jobs


def coef_words(dim: int, seed: int) -> list[tuple[int, ...]]:
    rng = np.random.default_rng(seed)
    return [tuple(int(a) for a in rng.integers(0, dim, size=rng.integers(1, COEF_MAX_LENGTH + 1)))
            for _ in range(COEF_WORDS)]


def coef_benchmark(args) -> list[dict]:
    """signature_coefficients of 100 random words (lengths 1..6) against pysiglib's sig_coef on
    the same words (n_jobs 1 and -1; the target compares with the faster) and, where it runs, the
    full signature at depth 6. float32 inputs; checked against pysiglib on the float64 path
    (or, without pysiglib, not checked)."""
    try:
        import pysiglib
    except ImportError:
        pysiglib = None
    rows = []
    print(f"\nmode coef: {COEF_WORDS} random words of lengths 1..{COEF_MAX_LENGTH}, float32, "
          f"median of {args.repeats} after 1 warm-up")
    for name, batch, length, dim in COEF_CONFIGS:
        cfg = Config(name, batch, length, dim, COEF_MAX_LENGTH)
        x = brownian_paths(cfg, args.seed)
        x_jax = jnp.asarray(x)
        words = coef_words(dim, args.seed)
        plan = sigcodegen.coefficients_plan(dim, words)
        ref = pysiglib.sig_coef(x.astype(np.float64), words) if pysiglib else None
        jitted = jax.jit(lambda p: sigcodegen.signature_coefficients(p, words))
        cands = [("ours-c", lambda: sigcodegen.signature_coefficients(x, words)),
                 ("ours-jax", lambda: jitted(x_jax).block_until_ready())]
        if pysiglib:
            cands += [(f"pysiglib{'' if n == -1 else '-1'}",
                       functools.partial(pysiglib.sig_coef, x, words, n_jobs=n))
                      for n in (-1, 1)]
        print(f"  {name} (B, L, d) = ({batch}, {length}, {dim}): {plan.nodes} prefix-tree nodes")
        full_bytes = batch * sigcodegen.signature_channels(dim, COEF_MAX_LENGTH) * x.itemsize
        if full_bytes <= 2**31:  # where it fits (d = 20: 17 GB, not attempted)
            cands.append(("ours-full-signature",
                          lambda: sigcodegen.signature(x, COEF_MAX_LENGTH)))
        else:
            print(f"    ours-full-signature    not run: its output alone is "
                  f"{full_bytes / 2**30:.1f} GiB")
        times = {}
        for label, thunk in cands:
            gc.collect()
            try:
                out, samples = measure(thunk, args.repeats, args.budget)
            except Exception as exc:  # noqa: BLE001  (the full signature's size guard, ...)
                print(f"    {label:22s} failed: {_short(exc)}")
                continue
            times[label] = statistics.median(samples)
            error = "" if ref is None or label == "ours-full-signature" else \
                f"  error {relative_error(out, ref):.1e}"
            print(f"    {label:22s} {times[label] * 1e3:10.2f} ms{error}")
        ours = min((times[k] for k in ("ours-c", "ours-jax") if k in times), default=None)
        peer = min((times[k] for k in ("pysiglib", "pysiglib-1") if k in times), default=None)
        full = times.get("ours-full-signature")
        row = {"config": name, "nodes": plan.nodes, "ours_ms": ours and ours * 1e3,
               "pysiglib_best_ms": peer and peer * 1e3, "full_signature_ms": full and full * 1e3,
               "ratio_vs_pysiglib": ours / peer if ours and peer else None}
        met = None if row["ratio_vs_pysiglib"] is None else row["ratio_vs_pysiglib"] <= COEF_TARGET
        faster = None if ours is None or full is None else ours < full
        print(f"    ours/pysiglib best = {_fmt(row['ratio_vs_pysiglib'], '.2f')} "
              f"(target <= {COEF_TARGET}: {_verdict(met)}); faster than the full signature: "
              f"{'n/a (it does not run)' if faster is None else _verdict(faster)}")
        rows.append(row)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "cpu_coef.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {args.out / 'cpu_coef.csv'}")
    return rows


def main(argv=None) -> int:
    if "--devices" in (argv if argv is not None else sys.argv):
        return devices_benchmark(_DEVICES)
    if "--load" in (argv if argv is not None else sys.argv[1:]):  # quiet, one-thread, loaded
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import cpu_load

        return cpu_load.main(argv if argv is not None else sys.argv[1:])
    args = parse_args(argv)
    cands, skipped = {}, []
    if "coef" in args.modes:  # its own workloads (COEF_CONFIGS), its own table
        coef_benchmark(args)
        args.modes = [m for m in args.modes if m != "coef"]
        if not args.modes:
            return 0
    if "logsig" in args.modes:  # log-signatures against pysiglib (bench/cpu_logsig.py)
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import cpu_logsig

        configs = list(cpu_logsig.CONFIGS) if "configs" in args.defaults else args.configs
        calls = 70 if "repeats" in args.defaults else args.repeats
        cpu_logsig.main(["--configs", ",".join(configs), "--calls", str(calls)])
        args.modes = [m for m in args.modes if m != "logsig"]
        if not args.modes:
            return 0
    for mode in args.modes:
        ours, skipped_ours = ours_candidates(mode)
        peers, skipped_peers = peer_candidates(mode)
        cands[mode] = ours + peers
        skipped += [line for line in skipped_ours + skipped_peers if line not in skipped]
    global FLOOR_GFLOPS
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import fma_peak

    peak = fma_peak.measure()
    FLOOR_GFLOPS = peak["all_threads_gflops"]
    print_environment(skipped)
    print(f"FLOP floor: float32 FMA peak measured here {FLOOR_GFLOPS:.1f} GFLOP/s on "
          f"{peak['threads']} threads ({peak['one_thread_gflops']:.1f} on one)")
    print(f"configs {','.join(args.configs)}, modes {','.join(args.modes)}, "
          f"median of {args.repeats} after 1 warm-up, budget {args.budget:g} s per call\n")

    all_results: dict[str, dict[str, list[Result]]] = {mode: {} for mode in args.modes}
    for cfg_name in args.configs:
        cfg = CONFIGS[cfg_name]
        x_np = brownian_paths(cfg, args.seed)
        for mode in args.modes:
            problem = make_problem(cfg, mode, x_np)
            all_results[mode][cfg_name] = run_problem(cands[mode], problem, args.repeats,
                                                      args.budget)

    args.out.mkdir(parents=True, exist_ok=True)
    for mode, by_config in all_results.items():
        print_mode_tables(mode, by_config)
        write_csv(args.out / f"cpu_{mode}.csv", by_config)
    targets = evaluate_targets(all_results)
    print_targets(targets)
    write_targets_csv(args.out / "cpu_targets.csv", targets)
    written = [str(args.out / f"cpu_{mode}.csv") for mode in all_results]
    written.append(str(args.out / "cpu_targets.csv"))
    if write_plot(args.out / "cpu.png", all_results):
        written.append(str(args.out / "cpu.png"))
    else:
        print("\nmatplotlib not installed: no plot (pip install matplotlib)")
    print("\nwrote " + ", ".join(written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
