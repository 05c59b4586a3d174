"""kind="logsignature" on the jax, keras and triton targets: each module's ``logsignature``
(signature, tensor logarithm and projection in one function), run through
``runtime.dispatch.run_logsignature`` (and with forced time chunks and blocks on the module
itself), compared with a float64 reference written here: plain Chen products of explicit
increment exponentials, the log series with every power a full truncated product, the Lyndon
words found by Duval's algorithm and the bracket coordinates solved for against the expansions
of the standard bracketings (and iisignature's logsig where it is installed). Gradients are
compared with central differences of that reference.

The jax target runs in this process; the keras target runs in one subprocess per backend and
the triton target under TRITON_INTERPRET=1 in another (this file is also their worker:
``python test_logsignature_targets.py TARGET BACKEND OUT_DIR``), all started together.
"""

from __future__ import annotations

import functools
import json
import math
import os
import subprocess
import sys
import traceback
from pathlib import Path

import numpy as np

MODES = ("expand", "words", "brackets")
TOLERANCE = {"float64": 1e-12, "float32": 1e-5}
GRADIENT_TOLERANCE = 1e-6
#: (dim, depth) of the value cases and of the gradient cases
VALUE_SPECS = ((3, 3), (2, 4))  # (3, 3): the first whose bracket map is not the identity
GRADIENT_SPEC = (3, 3)
#: the strategies each target runs, and its options for forced time chunks / blocks
STRATEGIES = {"jax": ("horner", "chunked", "levelwise"), "keras": ("horner", "chunked", "levelwise"),
              "triton": ("horner", "chunked")}
FORCED = {"jax": ({"chunks": 4}, {"block_steps": 3}), "keras": ({"chunks": 4}, {"block_steps": 3}),
          "triton": ({"chunks": 4},)}
KERAS_BACKENDS = ("jax", "torch", "tensorflow")


# ---- the float64 reference ----------------------------------------------------------------------


def _levels_product(a, b, depth):
    """Truncated product of two elements given as lists of full tensors (level k has k axes),
    scalar terms a0, b0 passed as the first entry."""
    out = [a[0] * b[0]]
    for n in range(1, depth + 1):
        level = 0.0
        for i in range(0, n + 1):
            level = level + np.multiply.outer(a[i], b[n - i])
        out.append(level)
    return out


def _exp_increment(dx, depth):
    levels, power = [np.ones(())], np.ones(())
    for k in range(1, depth + 1):
        power = np.multiply.outer(power, dx)
        levels.append(power / math.factorial(k))
    return levels


def _log_levels(sig, depth):
    """log(sig) for a group-like element (scalar 1): sum_k (-1)^(k+1)/k (sig - 1)^k."""
    x = [np.zeros(())] + sig[1:]
    out = [np.zeros(())] + [np.zeros_like(level) for level in sig[1:]]
    power = x
    for k in range(1, depth + 1):
        out = [o + (-1) ** (k + 1) / k * p for o, p in zip(out, power)]
        power = _levels_product(power, x, depth)
    return out


def _flat(levels):
    return np.concatenate([level.reshape(-1) for level in levels[1:]])


def reference_expand(path, depth, stream):
    """The tensor logarithm of the signature of each path (B, L, d): (B, [L-1,] siglen)."""
    path = np.asarray(path, np.float64)
    out = []
    for p in path:
        dim = p.shape[-1]
        state = [np.ones(())] + [np.zeros((dim,) * k) for k in range(1, depth + 1)]
        rows = []
        for dx in np.diff(p, axis=0):
            state = _levels_product(state, _exp_increment(dx, depth), depth)
            rows.append(_flat(_log_levels(state, depth)))
        out.append(np.stack(rows) if stream else rows[-1])
    return np.stack(out)


def lyndon_words(dim, depth):
    """Lyndon words up to ``depth`` letters by Duval's algorithm, by length then lexicographic."""
    words, w = [], [-1]
    while w:
        w[-1] += 1
        words.append(tuple(w))
        m = len(w)
        while len(w) < depth:
            w.append(w[len(w) - m])
        while w and w[-1] == dim - 1:
            w.pop()
    return sorted(words, key=lambda word: (len(word), word))


def _position(word, dim):
    offset = sum(dim**k for k in range(1, len(word)))
    return offset + sum(letter * dim ** (len(word) - 1 - i) for i, letter in enumerate(word))


def _bracket(word, dim, lyndon):
    """The standard bracketing of a Lyndon word, expanded: a full tensor of len(word) axes."""
    if len(word) == 1:
        e = np.zeros(dim)
        e[word[0]] = 1.0
        return e
    split = next(i for i in range(1, len(word)) if word[i:] in lyndon)  # longest Lyndon suffix
    u, v = _bracket(word[:split], dim, lyndon), _bracket(word[split:], dim, lyndon)
    return np.multiply.outer(u, v) - np.multiply.outer(v, u)


@functools.lru_cache(maxsize=None)
def _bases(dim, depth):
    """(flat positions of the Lyndon words, the expanded brackets as columns (siglen, n))."""
    words = lyndon_words(dim, depth)
    lyndon = set(words)
    siglen = sum(dim**k for k in range(1, depth + 1))
    columns = np.zeros((siglen, len(words)))
    for j, word in enumerate(words):
        start = _position((0,) * len(word), dim)
        columns[start:start + dim ** len(word), j] = _bracket(word, dim, lyndon).reshape(-1)
    return np.array([_position(w, dim) for w in words]), columns


def reference(path, depth, stream, mode):
    """The reference log-signature of paths (B, L, d) in ``mode``."""
    log = reference_expand(path, depth, stream)
    if mode == "expand":
        return log
    positions, columns = _bases(np.shape(path)[-1], depth)
    if mode == "words":
        return log[..., positions]
    flat = log.reshape(-1, log.shape[-1])
    coords, *_ = np.linalg.lstsq(columns, flat.T, rcond=None)  # log is a Lie element: exact
    return coords.T.reshape(*log.shape[:-1], columns.shape[1])


def finite_differences(path, depth, stream, mode, weights, eps=1e-6):
    grad = np.zeros_like(path)
    for index in np.ndindex(path.shape):
        up, down = path.copy(), path.copy()
        up[index] += eps
        down[index] -= eps
        diff = reference(up, depth, stream, mode) - reference(down, depth, stream, mode)
        grad[index] = np.sum(diff * weights) / (2 * eps)
    return grad


def error(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    return float(np.max(np.abs(got - want)) / np.max(np.abs(want)))


# ---- the cases (the same list in the test and in the workers) -----------------------------------


def _brownian(seed, shape):
    rng = np.random.default_rng(seed)
    *lead, length, dim = shape
    steps = rng.standard_normal((*lead, length - 1, dim)) / np.sqrt(length - 1)
    return np.concatenate([np.zeros((*lead, 1, dim)), np.cumsum(steps, axis=-2)], axis=-2)


def value_cases(target):
    """(name, dim, depth, strategy, stream, dtype, mode, options, path): on the first spec
    every mode and stream mode on the first strategy, brackets on the others and with forced
    chunks / blocks, float32 on words and brackets; on the second a few of those."""
    cases = []
    first, *others = STRATEGIES[target]
    for dim, depth in VALUE_SPECS:
        path = _brownian(10 * dim + depth, (3, 12, dim))
        if (dim, depth) != VALUE_SPECS[0]:
            combos = [(first, False, "brackets", "float64", {}),
                      (first, True, "expand", "float64", {}),
                      (others[0], False, "brackets", "float32", {})]
        else:
            combos = [(first, s, m, "float64", {}) for s in (False, True) for m in MODES]
            combos += [(o, s, "brackets", "float64", {}) for o in others for s in (False, True)]
            combos += [("chunked" if "chunks" in f else "levelwise", False, "brackets",
                        "float64", f) for f in FORCED[target]]
            combos += [(first, True, "words", "float32", {}),
                       (first, False, "brackets", "float32", {})]
        for strategy, stream, mode, dtype, options in combos:
            extra = "-".join(f"{k}{v}" for k, v in options.items())
            name = f"d{dim}m{depth}-{strategy}-{'stream' if stream else 'final'}-{mode}-{dtype}"
            cases.append((name + (f"-{extra}" if extra else ""), dim, depth, strategy, stream,
                          dtype, mode, options, path.astype(dtype)))
    return cases


def gradient_cases(target):
    """(name, dim, depth, strategy, stream, mode, path, weights): float64, B=2, L=6."""
    dim, depth = GRADIENT_SPEC
    path = _brownian(7, (2, 6, dim))
    cases = []
    for stream, mode in ((False, "brackets"), (True, "words"), (False, "expand")):
        width = reference(path, depth, stream, mode).shape
        weights = np.random.default_rng(len(cases)).standard_normal(width)
        cases.append((f"grad-{'stream' if stream else 'final'}-{mode}", dim, depth,
                      STRATEGIES[target][0], stream, mode, path, weights))
    return cases


# ---- the worker: one target (and Keras backend) in its own process ------------------------------


def _worker(target, backend, out):
    from sigcodegen import algebra
    from sigcodegen.runtime.dispatch import load, run_logsignature
    from sigcodegen.runtime.frameworks import framework_of

    outputs, report = {}, {}

    def record(name, fn):
        try:
            outputs[name] = np.asarray(fn(), np.float64)
            report[name] = {"ok": True}
        except Exception as err:  # judged by the test
            report[name] = {"ok": False, "error": f"{type(err).__name__}: {err}",
                            "trace": traceback.format_exc()[-3000:]}

    if target == "triton":
        import torch

        def tensor(a):
            return torch.as_tensor(np.asarray(a))

        def numpy(t):
            return t.detach().cpu().numpy()

        def gradient(fn, x, weights):
            x = x.clone().requires_grad_(True)
            (g,) = torch.autograd.grad((fn(x) * torch.as_tensor(weights)).sum(), x)
            return g
    else:
        import keras
        from keras import ops

        assert keras.backend.backend() == backend

        def tensor(a):
            return ops.convert_to_tensor(np.asarray(a), str(np.asarray(a).dtype))

        def numpy(t):
            return ops.convert_to_numpy(t)

        def gradient(fn, x, weights):
            w = tensor(weights)
            if backend == "jax":
                import jax

                return jax.grad(lambda p: ops.sum(fn(p) * w))(x)
            if backend == "torch":
                import torch

                x = x.clone().requires_grad_(True)
                (g,) = torch.autograd.grad(ops.sum(fn(x) * w), x)
                return g
            import tensorflow as tf

            with tf.GradientTape() as tape:
                tape.watch(x)
                value = ops.sum(fn(x) * w)
            return tape.gradient(value, x)

    def dispatched(x, dim, depth, stream, strategy, mode, target=target):
        return run_logsignature(x, framework_of(x), dim, depth, str(x.dtype).split(".")[-1],
                                stream, target, strategy, mode)

    for name, dim, depth, strategy, stream, dtype, mode, options, path in value_cases(target):
        if options:  # forced chunks / blocks: the module's own function
            module = load(dim, depth, target, "logsignature")
            tables = algebra.log_projection(dim, depth, mode)
            record(name, lambda: numpy(module.logsignature(
                tensor(path), stream, strategy, tables, **options)))
        else:
            record(name, lambda: numpy(dispatched(tensor(path), dim, depth, stream, strategy,
                                                  mode)))
    for name, dim, depth, strategy, stream, mode, path, weights in gradient_cases(target):
        record(name, lambda: numpy(gradient(
            lambda x: dispatched(x, dim, depth, stream, strategy, mode), tensor(path), weights)))
    if target == "keras" and backend == "tensorflow":  # tensorflow tensors, target=None
        import tensorflow as tf

        name, dim, depth, strategy, stream, dtype, mode, _, path = value_cases(target)[0]
        x = tf.constant(path)
        report["tf-eager-default"] = {"ok": True, "none": dispatched(
            x, dim, depth, stream, None, mode, target=None) is None}
        xla = tf.function(lambda p: dispatched(p, dim, depth, stream, None, mode, target=None),
                          jit_compile=True)
        record("tf-xla-default", lambda: xla(x).numpy())
    np.savez(Path(out) / "outputs.npz", **outputs)
    (Path(out) / "report.json").write_text(json.dumps(report))


def _start_workers(tmp_root):
    """Popen every subprocess worker at once: (label -> (process, out folder))."""
    import importlib.util

    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    jobs = [("keras", b, {"KERAS_BACKEND": b}) for b in KERAS_BACKENDS
            if importlib.util.find_spec(b) is not None and importlib.util.find_spec("keras")]
    if importlib.util.find_spec("triton") is not None:
        jobs.append(("triton", "torch", {"TRITON_INTERPRET": "1", "KERAS_BACKEND": "torch"}))
    started = {}
    for target, backend, extra in jobs:
        out = Path(tmp_root) / f"{target}-{backend}"
        out.mkdir()
        process = subprocess.Popen([sys.executable, __file__, target, backend, str(out)],
                                   env={**env, **extra}, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        started[f"{target}-{backend}"] = (process, out)
    if importlib.util.find_spec("jax") is not None:  # the emitted module's own self-check
        from sigcodegen.jit.loader import build
        from sigcodegen.spec import KernelSpec

        module, _ = build(KernelSpec(dim=2, depth=3, kind="logsignature", target="jax"))
        started["selfcheck-jax"] = (subprocess.Popen(
            [sys.executable, str(module)], env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True), None)
    return started


if __name__ == "__main__":
    TARGET, BACKEND, OUT = sys.argv[1:4]
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    if TARGET == "keras" and BACKEND == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)  # float64 cases; this process only
    _worker(TARGET, BACKEND, OUT)
    sys.exit(0)


# ---- the tests ----------------------------------------------------------------------------------

import pytest  # noqa: E402

WORKER_LABELS = [f"keras-{b}" for b in KERAS_BACKENDS] + ["triton-torch"]


@pytest.fixture(scope="module")
def started(request, tmp_path_factory):
    """The subprocess workers, started once, as soon as the module's first test runs."""
    return _start_workers(tmp_path_factory.mktemp("logsignature-workers"))


@pytest.fixture(scope="module", autouse=True)
def _start_early(request):
    """Start the workers before the in-process jax tests when any selected test needs them,
    so that both run at once."""
    if any("workers" in item.fixturenames for item in request.session.items
           if item.module is request.module):
        request.getfixturevalue("started")


@pytest.fixture(scope="module")
def workers(started):
    results = {}
    for label, (process, out) in started.items():
        stdout, stderr = process.communicate(timeout=900)
        if out is None:  # a self-check: its exit status and report
            results[label] = (process.returncode, stdout + stderr)
            continue
        if process.returncode != 0:
            results[label] = RuntimeError(f"{label} worker failed:\n{stderr[-4000:]}")
            continue
        results[label] = (json.loads((out / "report.json").read_text()),
                          dict(np.load(out / "outputs.npz")))
    return results


def _worker_output(workers, label, name):
    if label not in workers:
        pytest.skip(f"{label}: not installed")
    result = workers[label]
    if isinstance(result, Exception):
        raise result
    report, outputs = result
    entry = report.get(name)
    assert entry is not None, f"{label}: {name} was not run"
    assert entry["ok"], f"{label}: {name}: {entry['error']}\n{entry['trace']}"
    return outputs[name]


def _check_value(got, case):
    name, dim, depth, strategy, stream, dtype, mode, options, path = case
    want = reference(path.astype(np.float64), depth, stream, mode)
    assert error(got, want) <= TOLERANCE[dtype], (name, error(got, want))


_FINITE_DIFFERENCES: dict[str, np.ndarray] = {}  # by case name: the same case on every target


def _check_gradient(got, case):
    name, dim, depth, strategy, stream, mode, path, weights = case
    if name not in _FINITE_DIFFERENCES:
        _FINITE_DIFFERENCES[name] = finite_differences(path, depth, stream, mode, weights)
    want = _FINITE_DIFFERENCES[name]
    assert error(got, want) <= GRADIENT_TOLERANCE, (name, error(got, want))


def test_reference_is_iisignature_logsig():
    """The test's bracket coordinates are iisignature's logsig (where it is installed)."""
    iisignature = pytest.importorskip("iisignature")
    for dim, depth in VALUE_SPECS + (GRADIENT_SPEC,):
        path = _brownian(3, (2, 9, dim))
        want = np.stack([iisignature.logsig(p, iisignature.prepare(dim, depth)) for p in path])
        assert error(reference(path, depth, False, "brackets"), want) <= 1e-12


def test_reference_words_are_the_lyndon_words():
    assert lyndon_words(2, 3) == [(0,), (1,), (0, 1), (0, 0, 1), (0, 1, 1)]
    assert [len(lyndon_words(3, m)) for m in (1, 2, 3, 4)] == [3, 6, 14, 32]  # Witt's formula


# -- jax, in this process


@pytest.fixture(scope="module")
def jax_tools():
    jax = pytest.importorskip("jax")
    from sigcodegen import algebra
    from sigcodegen.runtime.dispatch import load, run_logsignature
    from sigcodegen.runtime.frameworks import framework_of

    def dispatched(x, dim, depth, stream, strategy, mode):
        return run_logsignature(x, framework_of(x), dim, depth, str(x.dtype), stream, "jax",
                                strategy, mode)

    return jax, algebra, load, dispatched


@pytest.mark.parametrize("case", value_cases("jax"), ids=lambda c: c[0])
def test_jax_values(jax_tools, case):
    jax, algebra, load, dispatched = jax_tools
    name, dim, depth, strategy, stream, dtype, mode, options, path = case
    if options:
        module = load(dim, depth, "jax", "logsignature")
        with jax.enable_x64(dtype == "float64"):
            got = np.asarray(module.logsignature(
                path, stream, strategy, algebra.log_projection(dim, depth, mode), **options))
    else:
        got = dispatched(path, dim, depth, stream, strategy, mode)  # numpy: shape buckets
        assert isinstance(got, np.ndarray) and got.dtype == np.dtype(dtype)
    _check_value(got, case)


@pytest.mark.parametrize("case", gradient_cases("jax"), ids=lambda c: c[0])
def test_jax_gradients(jax_tools, case):
    """jax.grad with jax arrays (traced: no buckets)."""
    jax, _, _, dispatched = jax_tools
    name, dim, depth, strategy, stream, mode, path, weights = case
    with jax.enable_x64(True):
        x, w = jax.numpy.asarray(path), jax.numpy.asarray(weights)
        got = jax.grad(lambda p: (dispatched(p, dim, depth, stream, strategy, mode) * w).sum())(x)
        _check_gradient(np.asarray(got), case)


def test_jax_on_torch_tensors(jax_tools):
    """torch tensors through the torch bridge: values and autograd gradients."""
    torch = pytest.importorskip("torch")
    _, _, _, dispatched = jax_tools
    name, dim, depth, strategy, stream, mode, path, weights = gradient_cases("jax")[0]
    x = torch.tensor(path, requires_grad=True)
    out = dispatched(x, dim, depth, stream, strategy, mode)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64
    assert error(out.detach().numpy(), reference(path, depth, stream, mode)) <= 1e-12
    (out * torch.as_tensor(weights)).sum().backward()
    _check_gradient(x.grad.numpy(), gradient_cases("jax")[0])


# -- keras (one subprocess per backend) and triton (TRITON_INTERPRET=1)


@pytest.mark.parametrize("backend", KERAS_BACKENDS)
@pytest.mark.parametrize("case", value_cases("keras"), ids=lambda c: c[0])
def test_keras_values(workers, backend, case):
    _check_value(_worker_output(workers, f"keras-{backend}", case[0]), case)


@pytest.mark.parametrize("backend", KERAS_BACKENDS)
@pytest.mark.parametrize("case", gradient_cases("keras"), ids=lambda c: c[0])
def test_keras_gradients(workers, backend, case):
    _check_gradient(_worker_output(workers, f"keras-{backend}", case[0]), case)


def test_keras_takes_tensorflow_tensors(workers):
    """Eagerly the c target's TensorFlow op runs the signature (run_logsignature: None);
    inside tf.function(jit_compile=True) the keras module runs it all."""
    case = value_cases("keras")[0]
    _check_value(_worker_output(workers, "keras-tensorflow", "tf-xla-default"), case)
    assert workers["keras-tensorflow"][0]["tf-eager-default"]["none"]


@pytest.mark.parametrize("case", value_cases("triton"), ids=lambda c: c[0])
def test_triton_values(workers, case):
    _check_value(_worker_output(workers, "triton-torch", case[0]), case)


@pytest.mark.parametrize("case", gradient_cases("triton"), ids=lambda c: c[0])
def test_triton_gradients(workers, case):
    _check_gradient(_worker_output(workers, "triton-torch", case[0]), case)


# -- the emitted modules


def test_emitted_self_check_covers_logsignature(workers):
    if "selfcheck-jax" not in workers:
        pytest.skip("jax is not installed")
    status, text = workers["selfcheck-jax"]
    assert status == 0, text[-4000:]
    assert "log projected levelwise  stream=True" in text and "ok: dim=2 depth=3" in text


@pytest.mark.parametrize("target", ("jax", "keras", "triton"))
def test_module_names_its_kind(target):
    from sigcodegen.jit.loader import render
    from sigcodegen.spec import KernelSpec

    source, _ = render(KernelSpec(dim=2, depth=3, kind="logsignature", target=target))
    header = source.split('"""')[1]
    assert f"sigcodegen build --kind logsignature --dim 2 --depth 3 --target {target}" in header
    assert "def logsignature(path, stream=False, strategy=" in source
    assert "def signature(path, stream=False" in source
    plain, _ = render(KernelSpec(dim=2, depth=3, target=target))
    assert "--kind" not in plain.split('"""')[1] and "def logsignature(" not in plain
