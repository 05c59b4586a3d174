"""Runs the keras-side checks on one Keras backend, in its own process (switching backends in
one process is unsafe). Usage: KERAS_BACKEND=<name> python keras_worker.py OUT_DIR

Writes OUT_DIR/outputs.npz (every computed array, by case name) and OUT_DIR/report.json
(dtypes, types, errors and the layer checks). It asserts nothing: tests/test_keras_backends.py
compares the outputs with tests/reference.py.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

BACKEND = os.environ["KERAS_BACKEND"]
if BACKEND == "jax":
    import jax

    jax.config.update("jax_enable_x64", True)  # float64 cases; this process only

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

import sigcodegen as sc  # noqa: E402
from cases import BUCKET_LENGTHS, long_cases, numeric_cases  # noqa: E402
from sigcodegen.runtime.dispatch import load_module  # noqa: E402

assert keras.backend.backend() == BACKEND

outputs: dict[str, np.ndarray] = {}
report: dict[str, dict] = {}


def record(name, fn):
    try:
        value = fn()
        outputs[name] = np.asarray(value)
        report[name] = {"ok": True}
    except Exception as err:  # reported per case, judged by the test
        report[name] = {"ok": False, "error": f"{type(err).__name__}: {err}",
                        "trace": traceback.format_exc()[-3000:]}


def tensor(array, dtype):
    return ops.convert_to_tensor(np.asarray(array, dtype), dtype)


def numerics():
    for name, dim, depth, strategy, stream, dtype, path in numeric_cases():
        def run():
            out = sc.signature(tensor(path, dtype), depth, stream, target="keras", strategy=strategy)
            report.setdefault("dtypes", {})[name] = keras.backend.standardize_dtype(out.dtype)
            return ops.convert_to_numpy(out)

        record(name, run)
    for name, dim, depth, strategy, stream, dtype, path, options in long_cases():
        module = load_module(sc.KernelSpec(dim=dim, depth=depth, target="keras"))
        record(name, lambda: ops.convert_to_numpy(
            module.signature(tensor(path, dtype), stream, strategy, **options)))


def gradient_of(fn, x):
    """d sum(fn(x)) / dx with the backend's own autodiff."""
    if BACKEND == "jax":
        import jax

        return jax.grad(lambda p: ops.sum(fn(p)))(x)
    if BACKEND == "torch":
        import torch

        x = x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(ops.sum(fn(x)), x)
        return grad
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = ops.sum(fn(x))
    return tape.gradient(loss, x)


GRADIENT_SHAPES = {"d2m3L8": (2, 3, 8), "d1m1L2": (1, 1, 2)}


def gradients():
    for tag, (dim, depth, length) in GRADIENT_SHAPES.items():
        rng = np.random.default_rng(5)
        path = np.cumsum(rng.standard_normal((2, length, dim)), axis=1) / 3
        weights = rng.standard_normal(sc.signature_channels(dim, depth))
        outputs[f"grad-path-{tag}"], outputs[f"grad-weights-{tag}"] = path, weights
        for strategy in ("horner", "chunked", "levelwise"):
            for stream in (False, True):
                def run():
                    w = tensor(weights, "float64")

                    def fn(p):
                        return sc.signature(p, depth, stream, target="keras", strategy=strategy) * w

                    return ops.convert_to_numpy(gradient_of(fn, tensor(path, "float64")))

                record(f"grad-{tag}-{strategy}-{'stream' if stream else 'final'}", run)
        for stream in (False, True):
            def run_layer():
                layer = sc.SigLayer(depth, stream=stream, dtype="float64")
                w = tensor(weights, "float64")
                grad = gradient_of(lambda p: layer(p) * w, tensor(path, "float64"))
                report.setdefault("grad-layer-targets", {})[tag] = layer._target
                return ops.convert_to_numpy(grad)

            record(f"grad-layer-{tag}-{'stream' if stream else 'final'}", run_layer)


def layer_checks():
    rng = np.random.default_rng(11)
    x = (np.cumsum(rng.standard_normal((64, 20, 4)), axis=1) / 4).astype("float32")
    y = np.sin(x[:, -1, :1] * 3).astype("float32")
    outputs["layer-x"] = x
    checks = {}
    for stream in (False, True):
        tag = "stream" if stream else "final"
        # SigLayer numerics against the reference, via the layer's own call
        record(f"layer-{tag}", lambda: ops.convert_to_numpy(sc.SigLayer(3, stream=stream)(x)))
    for gpu_optimized in (None, True, False):
        tag = f"layer-gpu_optimized-{gpu_optimized}"
        record(tag, lambda: ops.convert_to_numpy(sc.SigLayer(2, gpu_optimized=gpu_optimized)(x)))

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((20, 4)),
        keras.layers.Dense(3),
        sc.SigLayer(3),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(1),
    ])
    jit = BACKEND in ("jax", "tensorflow")
    model.compile(keras.optimizers.Adam(0.01), "mse", jit_compile=jit)
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    checks["jit_compile"] = jit
    checks["jit_compile_in_force"] = bool(model.jit_compile)
    checks["target"] = model.layers[1]._target
    checks["supports_jit"] = bool(model.layers[1].supports_jit)
    checks["losses"] = [float(v) for v in history.history["loss"]]
    checks.update(jit_and_data_checks(x, y))
    before = model.predict(x, verbose=0)
    path = Path(tempfile.mkdtemp()) / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    checks["reload_max_diff"] = float(np.max(np.abs(loaded.predict(x, verbose=0) - before)))
    checks["reload_layer_class"] = type(loaded.layers[1]).__module__ + "." + type(loaded.layers[1]).__name__

    layer = sc.SigLayer(3, stream=True)
    checks["output_shape_unknown_length"] = list(layer.compute_output_shape((None, None, 4)))
    checks["output_shape_known_length"] = list(layer.compute_output_shape((None, 20, 4)))
    inputs = keras.Input((None, 4))
    functional = keras.Model(inputs, sc.signature(inputs, 2, stream=True))
    checks["functional_output_shape"] = list(functional.output_shape)
    record("functional", lambda: ops.convert_to_numpy(functional(x)))
    report["layer"] = checks


def jit_and_data_checks(x, y):
    """Keras' default jit_compile and jit_compile=True on a lazily built Sequential (compiled
    before its layers are built), the keras target's XLA path (levelwise), and a tf.data
    pipeline feeding fit, evaluate and predict. On torch only the default (torch.compile is
    tested elsewhere and costs a minute here)."""
    import tensorflow as tf

    checks = {}
    runs = [("auto", sc.SigLayer(3), "auto"), ("true", sc.SigLayer(3), True),
            ("levelwise-true", sc.SigLayer(3, gpu_optimized=True), True)]
    for name, layer, jit in runs[:1] if BACKEND == "torch" else runs:  # torch: no torch.compile
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.layers.Dense(3), layer, keras.layers.Dense(1)])
        model.compile(keras.optimizers.Adam(0.01), "mse", jit_compile=jit)
        losses = model.fit(x, y, epochs=3, batch_size=16, verbose=0).history["loss"]
        checks[f"jit-{name}"] = {"in_force": bool(model.jit_compile), "target": layer._target,
                                 "losses": [float(v) for v in losses]}
        hidden = outputs[f"jit-{name}-hidden"] = ops.convert_to_numpy(model.layers[0](x))
        record(f"jit-{name}-values", lambda: ops.convert_to_numpy(layer(hidden)))
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((20, 4)), keras.layers.Dense(3),
                              sc.SigLayer(2, stream=True), keras.layers.Flatten(),
                              keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.01), "mse")
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16).map(
        lambda a, b: (a * 1.0, b)).prefetch(2)
    losses = model.fit(data, epochs=3, verbose=0).history["loss"]
    checks["tf.data"] = {"losses": [float(v) for v in losses],
                         "evaluate_minus_predict_mse": float(
                             model.evaluate(data, verbose=0)
                             - np.mean((model.predict(data, verbose=0) - y) ** 2))}
    return checks


def layer_errors():
    """What SigLayer says to bad arguments (the test checks type and message)."""
    attempts = {
        "depth0": lambda: sc.SigLayer(0),
        "depth-float": lambda: sc.SigLayer(2.5),
        "contradiction": lambda: sc.SigLayer(2, gpu_optimized=True, strategy="horner"),
        "unknown-strategy": lambda: sc.SigLayer(2, strategy="fast"),
        "unknown-dim": lambda: sc.SigLayer(2)(keras.Input((10, None))),
        "symbolic-options": lambda: sc.signature(keras.Input((10, 3)), 2, basepoint=True),
        "symbolic-target": lambda: sc.signature(keras.Input((10, 3)), 2, target="c"),
    }
    errors = {}
    for name, attempt in attempts.items():
        try:
            attempt()
            errors[name] = {"type": None, "message": ""}
        except Exception as err:
            errors[name] = {"type": type(err).__name__, "message": str(err)}
    report["layer_errors"] = errors


def operations():
    """The signature algebra with the keras target on this backend's tensors."""
    x = np.cumsum(np.random.default_rng(9).standard_normal((3, 9, 3)), axis=1) / 3
    outputs["ops-x"] = x
    t = tensor(x, "float64")
    for mode in ("expand", "words", "brackets"):
        record(f"ops-logsig-{mode}", lambda: ops.convert_to_numpy(
            sc.logsignature(t, 3, mode, target="keras")))
        record(f"ops-exp-log-{mode}", lambda: ops.convert_to_numpy(sc.logsignature_to_signature(
            sc.logsignature(t, 3, mode, target="keras"), 3, 3, mode, target="keras")))
    record("ops-combine", lambda: ops.convert_to_numpy(sc.signature_combine(
        sc.signature(tensor(x[:, :5], "float64"), 3, target="keras"),
        sc.signature(tensor(x[:, 4:], "float64"), 3, target="keras"), 3, 3, target="keras")))
    record("ops-inverse", lambda: ops.convert_to_numpy(sc.signature(t, 3, inverse=True, target="keras")))
    record("ops-windows", lambda: ops.convert_to_numpy(sc.windowed_signature(t, 3, 4, 2, target="keras")))
    record("ops-lengths", lambda: ops.convert_to_numpy(
        sc.signature(t, 3, lengths=np.array([9, 4, 1]), target="keras")))
    # LogSigLayer and masking, float32
    padded = x.astype("float32")
    padded[1, 6:] = 0.0
    padded[2, 3:] = 0.0
    outputs["ops-padded"] = padded
    for mode in ("words", "brackets", "expand"):
        model = keras.Sequential([keras.Input((9, 3)), keras.layers.Masking(0.0),
                                  sc.LogSigLayer(3, mode=mode)])
        record(f"ops-layer-{mode}", lambda: ops.convert_to_numpy(model(padded)))
        report[f"ops-layer-{mode}-native"] = model.layers[-1]._native is not None
    # LogSigLayer's gradient (the native backward where it runs the log-signature kernels)
    layer = sc.LogSigLayer(3, mode="brackets", dtype="float64")
    weights = np.random.default_rng(3).standard_normal((3, 14))
    outputs["ops-layer-grad-weights"], outputs["ops-layer-grad-x"] = weights, x
    record("ops-layer-grad", lambda: ops.convert_to_numpy(gradient_of(
        lambda t: ops.sum(layer(t) * ops.convert_to_tensor(weights, "float64")),
        tensor(x, "float64"))))
    report["ops-layer-grad-native"] = layer._native is not None
    model = keras.Sequential([keras.Input((9, 3)), sc.LogSigLayer(3, mode="brackets", stream=True),
                              keras.layers.Flatten(), keras.layers.Dense(1)])
    before = model.predict(padded, verbose=0)
    path = Path(tempfile.mkdtemp()) / "logsig.keras"
    model.save(path)
    report["ops-reload"] = float(np.max(np.abs(keras.saving.load_model(path).predict(padded, verbose=0) - before)))


def native_tensors():
    """signature() on the backend's own tensor type, target chosen automatically."""
    x = np.cumsum(np.random.default_rng(2).standard_normal((3, 10, 3)), axis=1)
    outputs["native-x"] = x
    for dtype in ("float32", "float64"):
        def run():
            t = tensor(x, dtype)
            out = sc.signature(t, 3)
            report.setdefault("native", {})[dtype] = {
                "type": type(out).__module__.split(".")[0],
                "input_type": type(t).__module__.split(".")[0],
                "dtype": keras.backend.standardize_dtype(out.dtype),
            }
            return ops.convert_to_numpy(out)

        record(f"native-{dtype}", run)


class CountingSigLayer(sc.SigLayer):
    """A SigLayer that counts its calls: on the jax and tensorflow backends Keras calls a layer
    once per trace of the train step, so the count is the number of compilations."""

    calls = 0

    def call(self, inputs, mask=None):
        CountingSigLayer.calls += 1
        return super().call(inputs, mask)


def bucket_traces():
    """Train steps of a model with Input((None, 3)) on batches of several lengths, fed raw and
    through sc.bucket_paths (counting the traces after the first step's shape is compiled); and an eager SigLayer on the jax target over
    the same lengths (counting the compilations)."""
    from sigcodegen.runtime.buckets import COMPILED

    rng = np.random.default_rng(5)
    batches = [np.cumsum(rng.standard_normal((8, n, 3)), axis=1).astype("float32") / 3
               for n in BUCKET_LENGTHS]
    traces = {}
    for feed in ("raw", "bucketed"):
        keras.utils.set_random_seed(0)
        CountingSigLayer.calls = 0
        model = keras.Sequential([keras.Input((None, 3)), keras.layers.Dense(3),
                                  CountingSigLayer(3), keras.layers.Dense(1)])
        model.compile("adam", "mse")
        for i, x in enumerate(batches[:1] + batches):  # the first step also builds the state:
            if i == 1:                                   # count the traces after it
                CountingSigLayer.calls = 0
            model.train_on_batch(sc.bucket_paths(x) if feed == "bucketed" else x,
                                 np.ones((8, 1), "float32"))
        traces[feed] = CountingSigLayer.calls
    report["bucket-traces"] = traces
    if BACKEND == "jax":  # the jax target, called eagerly on arrays: compiled once per bucket
        layer = sc.SigLayer(3, strategy="levelwise")
        before = COMPILED.compilations
        for i, x in enumerate(batches):
            outputs[f"bucket-eager-x{i}"] = x
            record(f"bucket-eager-{i}", lambda: ops.convert_to_numpy(layer(x)))
        report["bucket-eager-compilations"] = COMPILED.compilations - before


def tensorflow_op():
    """The tensorflow custom op directly (tensorflow backend only): a float64 stream through a
    tf.function with unknown batch and length, what it says to a path of the wrong dim, and
    second derivatives (not defined)."""
    if BACKEND != "tensorflow":
        return
    import tensorflow as tf

    from sigcodegen.runtime.dispatch import load_native

    module = load_native(3, 3, "tensorflow", "float64")
    op = module.bind("tensorflow")
    x = np.cumsum(np.random.default_rng(4).standard_normal((2, 3, 7, 3)), axis=-2) / 3
    outputs["tfop-x"] = x
    traced = tf.function(lambda p: op(p, True, 1),
                         input_signature=[tf.TensorSpec((None, 3, None, 3), tf.float64)])
    record("tfop-stream", lambda: traced(tf.constant(x)).numpy())
    errors = {}
    try:
        op(tf.zeros((2, 5, 4), tf.float64), False, 0)
        errors["wrong-dim"] = ""
    except Exception as err:
        errors["wrong-dim"] = f"{type(err).__name__}: {err}"
    try:
        t = tf.constant(x[0])
        with tf.GradientTape() as outer:
            outer.watch(t)
            with tf.GradientTape() as inner:
                inner.watch(t)
                loss = tf.reduce_sum(op(t, False, 0) ** 2)
            grad = tf.reduce_sum(inner.gradient(loss, t))
        outer.gradient(grad, t)
        errors["second-derivative"] = ""
    except Exception as err:
        errors["second-derivative"] = f"{type(err).__name__}: {err}"
    report["tfop-errors"] = errors
    # SigLayer traced inside a caller's own tf.function(jit_compile=True): the keras module
    layer = sc.SigLayer(3, dtype="float64")
    path = tf.constant(x[0])

    @tf.function(jit_compile=True)
    def xla_step(p):
        with tf.GradientTape() as tape:
            tape.watch(p)
            out = layer(p)
            loss = tf.reduce_sum(out)
        return out, tape.gradient(loss, p)

    record("tfop-xla-values", lambda: xla_step(path)[0].numpy())
    record("tfop-xla-grad", lambda: xla_step(path)[1].numpy())
    report["tfop-xla-target"] = layer.target


def tensorflow_signature():
    """sc.signature on tensorflow tensors (tensorflow backend only): eagerly, in a tf.function
    (whose graph should hold the custom op), its gradient, a stream, float32, and inside
    tf.function(jit_compile=True), where the op cannot run (its graph should not hold it)."""
    if BACKEND != "tensorflow":
        return
    import tensorflow as tf

    x = np.cumsum(np.random.default_rng(6).standard_normal((2, 8, 3)), axis=-2) / 3
    weights = np.random.default_rng(7).standard_normal(39)
    outputs["tfsig-x"], outputs["tfsig-w"] = x, weights
    t = tf.constant(x)
    record("tfsig-eager", lambda: sc.signature(t, 3).numpy())
    record("tfsig-f32", lambda: sc.signature(tf.constant(x, tf.float32), 3).numpy())
    record("tfsig-stream", lambda: sc.signature(t, 3, stream=True).numpy())

    def grad():
        with tf.GradientTape() as tape:
            tape.watch(t)
            loss = tf.reduce_sum(sc.signature(t, 3) * weights)
        return tape.gradient(loss, t).numpy()

    record("tfsig-grad", grad)
    spec = [tf.TensorSpec((None, None, 3), tf.float64)]
    ops_in = {}
    for name, jit in (("graph", False), ("xla", True)):
        fn = tf.function(lambda p: sc.signature(p, 3), input_signature=spec, jit_compile=jit)
        record(f"tfsig-{name}", lambda fn=fn: fn(t).numpy())
        ops_in[name] = sorted({op.type for op in fn.get_concrete_function().graph.get_operations()
                               if op.type.startswith("Sigcodegen")})
    report["tfsig-ops"] = ops_in


def main(out_dir):
    for part in (numerics, gradients, layer_checks, layer_errors, operations, native_tensors,
                 bucket_traces, tensorflow_op, tensorflow_signature):
        try:
            part()
        except Exception as err:
            report[f"part-{part.__name__}"] = {"ok": False, "error": repr(err),
                                              "trace": traceback.format_exc()[-3000:]}
    out = Path(out_dir)
    np.savez(out / "outputs.npz", **outputs)
    (out / "report.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main(sys.argv[1])
