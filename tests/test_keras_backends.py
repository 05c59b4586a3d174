"""The keras target and SigLayer on each Keras backend (jax, torch, tensorflow), each backend in
its own subprocess (tests/keras_worker.py), compared here with the float64 reference: the same
case matrix as the jax target, gradients, training, saving and loading."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cases import BUCKET_LENGTHS, TOLERANCE, long_cases, numeric_cases
from reference import finite_difference_gradient, relative_error
from reference import logsignature as reference_logsignature
from reference import signature as reference_signature

BACKENDS = ("jax", "torch", "tensorflow")
WORKER = Path(__file__).resolve().parent / "keras_worker.py"


@pytest.fixture(scope="module", params=BACKENDS)
def worker(request, tmp_path_factory):
    backend = request.param
    pytest.importorskip({"jax": "jax", "torch": "torch", "tensorflow": "tensorflow"}[backend],
                        reason=f"the {backend} backend is not installed")
    out = tmp_path_factory.mktemp(f"keras-{backend}")
    env = {**os.environ, "KERAS_BACKEND": backend}
    result = subprocess.run([sys.executable, str(WORKER), str(out)], env=env,
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads((out / "report.json").read_text())
    outputs = dict(np.load(out / "outputs.npz"))
    broken = {k: v for k, v in report.items() if k.startswith("part-")}
    assert not broken, broken
    return backend, report, outputs


def _get(worker, name):
    _, report, outputs = worker
    entry = report.get(name)
    assert entry is not None, f"{name} was not run"
    assert entry["ok"], f"{name}: {entry['error']}\n{entry['trace']}"
    return outputs[name]


@pytest.mark.parametrize("case", numeric_cases(), ids=lambda c: c[0])
def test_keras_target_matches_reference(worker, case):
    name, dim, depth, strategy, stream, dtype, path = case
    got = _get(worker, name)
    want = reference_signature(path, depth, stream)
    assert got.shape == want.shape
    assert worker[1]["dtypes"][name] == dtype
    assert relative_error(got, want, dim, depth) <= TOLERANCE[dtype]


@pytest.mark.parametrize("case", long_cases(), ids=lambda c: c[0])
def test_keras_target_long_and_forced_splits(worker, case):
    name, dim, depth, strategy, stream, dtype, path, _ = case
    got = _get(worker, name)
    assert relative_error(got, reference_signature(path, depth, stream), dim, depth) <= TOLERANCE[dtype]


@pytest.mark.parametrize("shape", ["d2m3L8", "d1m1L2"])
@pytest.mark.parametrize("strategy", ["horner", "chunked", "levelwise"])
@pytest.mark.parametrize("stream", [False, True])
def test_keras_target_gradients(worker, shape, strategy, stream):
    got = _get(worker, f"grad-{shape}-{strategy}-{'stream' if stream else 'final'}")
    _, _, outputs = worker
    path, weights = outputs[f"grad-path-{shape}"], outputs[f"grad-weights-{shape}"]
    depth = {"d2m3L8": 3, "d1m1L2": 1}[shape]
    want = finite_difference_gradient(path, depth, weights, stream)
    assert np.max(np.abs(got - want)) <= 1e-6 * np.max(np.abs(want))


def test_siglayer_values(worker):
    x = worker[2]["layer-x"]
    for stream in (False, True):
        got = _get(worker, f"layer-{'stream' if stream else 'final'}")
        assert relative_error(got, reference_signature(x, 3, stream), 4, 3) <= 1e-5
    for gpu_optimized in (None, True, False):
        got = _get(worker, f"layer-gpu_optimized-{gpu_optimized}")
        assert relative_error(got, reference_signature(x, 2), 4, 2) <= 1e-5
    got = _get(worker, "functional")
    assert relative_error(got, reference_signature(x, 2, stream=True), 4, 2) <= 1e-5


@pytest.mark.parametrize("shape", ["d2m3L8", "d1m1L2"])
@pytest.mark.parametrize("stream", [False, True])
def test_siglayer_gradients_match_finite_differences(worker, shape, stream):
    """The layer's own target (on a CPU: the c kernels' native backward, through the XLA FFI,
    the torch custom op or the tensorflow custom op), float64, against central differences of
    the reference."""
    got = _get(worker, f"grad-layer-{shape}-{'stream' if stream else 'final'}")
    _, report, outputs = worker
    assert report["grad-layer-targets"][shape] == "c"
    path, weights = outputs[f"grad-path-{shape}"], outputs[f"grad-weights-{shape}"]
    depth = {"d2m3L8": 3, "d1m1L2": 1}[shape]
    want = finite_difference_gradient(path, depth, weights, stream)
    assert np.max(np.abs(got - want)) <= 1e-6 * np.max(np.abs(want))


def test_siglayer_runs_the_c_kernels_and_tells_keras_about_xla(worker):
    """On a CPU every backend runs the c target. On tensorflow its custom op has no XLA kernel:
    the layer says so (supports_jit), so Keras trains without XLA under jit_compile="auto" and
    True; the levelwise strategy runs the keras target, which XLA compiles."""
    backend, report, outputs = worker
    layer = report["layer"]
    assert layer["target"] == "c"
    assert layer["supports_jit"] == (backend != "tensorflow")
    assert layer["jit_compile_in_force"] == (backend == "jax")
    want_in_force = {"auto": backend == "jax", "true": backend == "jax", "levelwise-true": True}
    names = ("auto",) if backend == "torch" else ("auto", "true", "levelwise-true")
    assert {key for key in layer if key.startswith("jit-")} == {f"jit-{n}" for n in names}
    for name in names:
        run = layer[f"jit-{name}"]
        assert run["in_force"] == want_in_force[name], (name, run)
        assert run["target"] == ("c" if name != "levelwise-true" else
                                 {"jax": "jax", "torch": "keras", "tensorflow": "keras"}[backend])
        assert all(np.isfinite(run["losses"])) and run["losses"][-1] < run["losses"][0], run
        hidden = outputs[f"jit-{name}-hidden"].astype(np.float64)
        got = _get(worker, f"jit-{name}-values")
        assert relative_error(got, reference_signature(hidden, 3), 3, 3) <= 1e-5


def test_tensorflow_op_directly(worker):
    """The custom op in a tf.function with unknown batch and length (float64 stream, against
    the reference), its message for a path of the wrong dim, second derivatives refused (the
    gradient op has no gradient), and a SigLayer inside the caller's own
    tf.function(jit_compile=True), where it runs the keras module (values against the
    reference, gradients against central differences)."""
    backend, report, outputs = worker
    if backend != "tensorflow":
        assert "tfop-errors" not in report
        return
    x = outputs["tfop-x"]
    got = _get(worker, "tfop-stream")
    assert got.shape == (2, 3, 6, 39)
    assert relative_error(got, reference_signature(x, 3, stream=True), 3, 3) <= TOLERANCE["float64"]
    errors = report["tfop-errors"]
    assert "InvalidArgument" in errors["wrong-dim"] and "(..., L, 3)" in errors["wrong-dim"], errors
    assert errors["second-derivative"].startswith("NotImplementedError"), errors
    assert "SigcodegenSignatureGrad" in errors["second-derivative"], errors
    # a SigLayer (target c) traced inside the caller's tf.function(jit_compile=True)
    assert report["tfop-xla-target"] == "c"
    got = _get(worker, "tfop-xla-values")
    assert relative_error(got, reference_signature(x[0], 3), 3, 3) <= TOLERANCE["float64"]
    grad = _get(worker, "tfop-xla-grad")
    want = finite_difference_gradient(x[0], 3, np.ones(39))
    assert np.max(np.abs(grad - want)) <= 1e-6 * np.max(np.abs(want))


def test_signature_of_tensorflow_tensors_runs_the_custom_op(worker):
    """sc.signature on tensorflow tensors runs the c kernels through the custom op (eagerly and
    in a tf.function: the graph holds the op) and the keras target inside
    tf.function(jit_compile=True) (the graph does not): values against the reference in float64
    and float32, the stream, and the gradient against central differences."""
    backend, report, outputs = worker
    if backend != "tensorflow":
        assert "tfsig-ops" not in report
        return
    x, weights = outputs["tfsig-x"], outputs["tfsig-w"]
    want = reference_signature(x, 3)
    for name in ("tfsig-eager", "tfsig-graph", "tfsig-xla"):
        assert relative_error(_get(worker, name), want, 3, 3) <= TOLERANCE["float64"], name
    assert relative_error(_get(worker, "tfsig-f32"), want, 3, 3) <= TOLERANCE["float32"]
    got = _get(worker, "tfsig-stream")
    assert relative_error(got, reference_signature(x, 3, stream=True), 3, 3) <= TOLERANCE["float64"]
    assert report["tfsig-ops"]["graph"] == ["SigcodegenSignature"], report["tfsig-ops"]
    assert report["tfsig-ops"]["xla"] == [], report["tfsig-ops"]
    grad = _get(worker, "tfsig-grad")
    fd = np.stack([finite_difference_gradient(p, 3, weights) for p in x])
    assert np.max(np.abs(grad - fd)) <= 1e-6 * np.max(np.abs(fd))


def test_siglayer_trains_from_a_tf_data_pipeline(worker):
    data = worker[1]["layer"]["tf.data"]
    assert all(np.isfinite(data["losses"])) and data["losses"][-1] < data["losses"][0], data
    assert abs(data["evaluate_minus_predict_mse"]) <= 1e-5


def test_siglayer_trains_saves_and_loads(worker):
    backend, report, _ = worker
    layer = report["layer"]
    assert layer["jit_compile"] == (backend in ("jax", "tensorflow"))
    losses = layer["losses"]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    assert layer["reload_max_diff"] == 0.0
    assert layer["reload_layer_class"] == "sigcodegen.layers.SigLayer"
    assert layer["output_shape_unknown_length"] == [None, None, 84]
    assert layer["output_shape_known_length"] == [None, 19, 84]
    assert layer["functional_output_shape"] == [None, None, 20]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_native_tensors_in_native_tensors_out(worker, dtype):
    backend, report, outputs = worker
    got = _get(worker, f"native-{dtype}")
    info = report["native"][dtype]
    assert info["type"] == info["input_type"] and info["dtype"] == dtype
    want = reference_signature(outputs["native-x"].astype(dtype), 3)
    assert relative_error(got, want, 3, 3) <= TOLERANCE[dtype]


@pytest.mark.parametrize("name,error,match", [
    ("depth0", "ValueError", "depth must be >= 1"),
    ("depth-float", "TypeError", "depth must be an integer"),
    ("contradiction", "ValueError", "contradicts strategy='horner'"),
    ("unknown-strategy", "ValueError", "unknown strategy 'fast'"),
    ("unknown-dim", "ValueError", "last axis"),
    ("symbolic-options", "ValueError", "takes no basepoint"),
    ("symbolic-target", "ValueError", "picks its target per backend"),
])
def test_siglayer_refuses_bad_arguments(worker, name, error, match):
    import re

    got = worker[1]["layer_errors"][name]
    assert got["type"] == error, got
    assert re.search(match, got["message"]), got


@pytest.mark.parametrize("mode", ["expand", "words", "brackets"])
def test_keras_target_logsignature(worker, mode):
    x = worker[2]["ops-x"]
    got = _get(worker, f"ops-logsig-{mode}")
    if mode == "brackets":
        iisignature = pytest.importorskip("iisignature", reason="iisignature is not installed")
        want = iisignature.logsig(x, iisignature.prepare(3, 3))
    else:
        want = reference_logsignature(x, 3, mode)
    assert np.max(np.abs(got - want)) <= 1e-12 * max(1.0, np.max(np.abs(want)))
    back = _get(worker, f"ops-exp-log-{mode}")
    assert relative_error(back, reference_signature(x, 3), 3, 3) <= 1e-12


def test_keras_target_combine_inverse_windows_lengths(worker):
    x = worker[2]["ops-x"]
    assert relative_error(_get(worker, "ops-combine"), reference_signature(x, 3), 3, 3) <= 1e-12
    assert relative_error(_get(worker, "ops-inverse"), reference_signature(x[:, ::-1], 3), 3, 3) <= 1e-12
    windows = np.stack([reference_signature(x[:, s:s + 4], 3) for s in (0, 2, 4)], axis=-2)
    assert relative_error(_get(worker, "ops-windows"), windows, 3, 3) <= 1e-12
    lengths = _get(worker, "ops-lengths")
    for b, n in enumerate((9, 4, 1)):
        assert relative_error(lengths[b], reference_signature(x[b, :n], 3), 3, 3) <= 1e-12


@pytest.mark.parametrize("mode", ["words", "brackets", "expand"])
def test_logsiglayer_skips_masked_points(worker, mode):
    padded = worker[2]["ops-padded"]
    got = _get(worker, f"ops-layer-{mode}")
    for b, n in enumerate((9, 6, 3)):
        path = padded[b:b + 1, :n].astype("float64")
        if mode == "brackets":
            iisignature = pytest.importorskip("iisignature", reason="iisignature is not installed")
            want = iisignature.logsig(path, iisignature.prepare(3, 3))[0]
        else:
            want = reference_logsignature(path, 3, mode)[0]
        assert np.max(np.abs(got[b] - want)) <= 1e-5 * max(1.0, np.max(np.abs(want)))
    assert worker[1]["ops-reload"] == 0.0
    # on a CPU the jax and torch backends run the c target's log-signature kernels
    assert worker[1][f"ops-layer-{mode}-native"] == (worker[0] in ("jax", "torch"))


def test_logsiglayer_gradient_matches_iisignature(worker):
    iisignature = pytest.importorskip("iisignature", reason="iisignature is not installed")
    x, weights = worker[2]["ops-layer-grad-x"], worker[2]["ops-layer-grad-weights"]
    got = _get(worker, "ops-layer-grad")
    want = iisignature.logsigbackprop(weights, x, iisignature.prepare(3, 3))
    assert np.max(np.abs(got - want)) <= 1e-6 * np.max(np.abs(want))
    assert worker[1]["ops-layer-grad-native"] == (worker[0] in ("jax", "torch"))


def _buckets_of(lengths):
    """The distinct length buckets, from the grid's definition (16 increments, then two evenly
    spaced sizes per octave: 16, 24, 32, 48, ...), written out here."""
    grid = [16] + [b * m // 2 for b in (16, 32, 64, 128) for m in (3, 4)]
    return {min(g for g in grid if g >= n - 1) for n in lengths}


def test_bucketed_batches_trace_once_per_bucket(worker):
    """A model with Input((None, d)) fed batches of 7 lengths traces its train step once per
    new length, and once per new bucket when the batches go through sc.bucket_paths (4 buckets:
    after the first, at most 3 more traces)."""
    backend, report, _ = worker
    traces = report["bucket-traces"]
    if backend == "torch":  # eager: no train-step traces to count; the run must still work
        assert traces["bucketed"] >= len(BUCKET_LENGTHS)
        return
    buckets = len(_buckets_of(BUCKET_LENGTHS))
    assert buckets == 4 < len(BUCKET_LENGTHS)
    assert 1 <= traces["bucketed"] <= buckets - 1, traces
    assert traces["raw"] >= traces["bucketed"], traces
    if backend == "jax":  # jax retraces per shape (tensorflow relaxes to an unknown length)
        assert traces["raw"] == len(BUCKET_LENGTHS) - 1, traces


def test_eager_siglayer_on_the_jax_target_compiles_once_per_bucket(worker):
    backend, report, outputs = worker
    if backend != "jax":
        assert "bucket-eager-compilations" not in report
        return
    assert 1 <= report["bucket-eager-compilations"] <= len(_buckets_of(BUCKET_LENGTHS))
    for i in range(len(BUCKET_LENGTHS)):
        x = outputs[f"bucket-eager-x{i}"]
        got = _get(worker, f"bucket-eager-{i}")
        assert relative_error(got, reference_signature(x.astype(np.float64), 3), 3, 3) <= 1e-5


_NO_CXX_SCRIPT = """
import json, sys, warnings
import numpy as np
import keras, sigcodegen as sc
x = np.cumsum(np.random.default_rng(3).standard_normal((4, 9, 2)), axis=1) / 3
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    layer = sc.SigLayer(2, dtype="float64")
    out = keras.ops.convert_to_numpy(layer(x))
    model = keras.Sequential([keras.Input((9, 2)), sc.SigLayer(2), keras.layers.Dense(1)])
    model.compile("adam", "mse", jit_compile=True)
    model.fit(x, np.ones((4, 1)), epochs=1, verbose=0)
np.save(sys.argv[1], out)
print(json.dumps({"target": layer._target, "supports_jit": layer.supports_jit,
                  "jit_in_force": bool(model.jit_compile),
                  "warnings": [str(w.message) for w in caught if w.category is RuntimeWarning]}))
"""


def test_tensorflow_without_a_cxx_compiler_runs_the_keras_target(tmp_path):
    """When the tensorflow op cannot be built (here: SIGCODEGEN_CXX names no compiler), SigLayer
    warns once and runs the keras target, which XLA compiles."""
    pytest.importorskip("tensorflow", reason="the tensorflow backend is not installed")
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "SIGCODEGEN_CXX": str(tmp_path / "no-c++"),
           "SIGCODEGEN_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-c", _NO_CXX_SCRIPT, str(tmp_path / "out.npy")],
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["target"] == "keras" and report["supports_jit"] and report["jit_in_force"]
    named = [w for w in report["warnings"] if "no-c++" in w and "keras target" in w]
    assert len(named) == 1, report["warnings"]
    x = np.cumsum(np.random.default_rng(3).standard_normal((4, 9, 2)), axis=1) / 3
    got = np.load(tmp_path / "out.npy")
    assert relative_error(got, reference_signature(x, 2), 2, 2) <= TOLERANCE["float64"]
