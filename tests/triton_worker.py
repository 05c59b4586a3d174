"""Runs the triton target's checks in their own process. Usage:

    TRITON_INTERPRET=1 python triton_worker.py interpret OUT_DIR   # kernels on the CPU
    python triton_worker.py compile OUT_DIR DIM:DEPTH ...          # compile for sm_90 and sm_80

Triton fixes interpreted or compiled kernels when it is imported, so each mode needs its own
process. Writes OUT_DIR/outputs.npz (every computed array, by case name) and
OUT_DIR/report.json (per case: ok, error, trace, dtype). It asserts nothing:
tests/test_triton.py compares the outputs with tests/reference.py.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

outputs: dict[str, np.ndarray] = {}
report: dict[str, dict] = {}


def record(name, fn):
    try:
        value = fn()
        if value is not None:
            outputs[name] = np.asarray(value)
        report[name] = {"ok": True}
    except Exception as err:  # recorded for the test to show
        report[name] = {"ok": False, "error": repr(err), "trace": traceback.format_exc()[-3000:]}


def interpret_checks():
    import torch

    import sigcodegen as sc
    from cases import long_cases, numeric_cases
    from reference import brownian
    from sigcodegen.runtime.dispatch import load_module
    from sigcodegen.spec import KernelSpec

    strategies = ("horner", "chunked")
    for name, dim, depth, strategy, stream, dtype, path in numeric_cases(strategies):
        record(name, lambda: sc.signature(torch.as_tensor(path), depth, stream, target="triton",
                                          strategy=strategy).numpy())
    for name, dim, depth, strategy, stream, dtype, path, options in long_cases(strategies):
        if strategy not in strategies:  # the forced levelwise blocks
            continue
        short = np.ascontiguousarray(path[:, :50])  # the interpreter: L <= 50
        module = load_module(KernelSpec(dim=dim, depth=depth, target="triton"))
        record(name, lambda: module.signature(torch.as_tensor(short), stream, strategy,
                                              **options).numpy())
        outputs[name + "-input"] = short

    # gradients: d sum(w * sig) / d path by the backward kernel, float64, every layout
    rng = np.random.default_rng(11)
    for dim, depth in ((1, 1), (1, 3), (2, 3), (3, 5), (5, 4), (8, 3), (10, 2), (2, 8)):
        path = brownian(rng, (5, 7, dim))
        for strategy, stream in (("horner", False), ("horner", True), ("chunked", False)):
            module = load_module(KernelSpec(dim=dim, depth=depth, target="triton"))
            out_shape = (5, 6, module.SIGLEN) if stream else (5, module.SIGLEN)
            weights = rng.standard_normal(out_shape)
            name = f"grad-d{dim}m{depth}-{strategy}-{'stream' if stream else 'final'}"
            outputs[name + "-input"], outputs[name + "-weights"] = path, weights

            def grad(path=path, weights=weights, stream=stream, strategy=strategy,
                     module=module):
                x = torch.tensor(path, requires_grad=True)
                options = {"chunks": 3} if strategy == "chunked" else {}  # L=7: force 3 chunks
                sig = module.signature(x, stream, strategy, **options)
                (sig * torch.as_tensor(weights)).sum().backward()
                return x.grad.numpy()

            record(name, grad)
            record(name + "-gradcheck", lambda path=path, stream=stream, strategy=strategy,
                   module=module: np.asarray(torch.autograd.gradcheck(
                       lambda p: module.signature(p, stream, strategy, chunks=2),
                       (torch.tensor(path[:2], requires_grad=True),), fast_mode=True)))

    # the fallback that reads stored states instead of walking time back
    path = brownian(rng, (3, 9, 3))
    weights = rng.standard_normal((3, 39))
    outputs["fallback-input"], outputs["fallback-weights"] = path, weights

    def fallback():
        module = load_module(KernelSpec(dim=3, depth=3, target="triton"))
        saved, module.REVERSAL_TOLERANCE = module.REVERSAL_TOLERANCE, -1.0  # always unsafe
        try:
            x = torch.tensor(path, requires_grad=True)
            (module.signature(x, False, "horner") * torch.as_tensor(weights)).sum().backward()
            return x.grad.numpy()
        finally:
            module.REVERSAL_TOLERANCE = saved

    record("fallback", fallback)

    # float32 with a large state: the guard must route to stored states
    big = (brownian(rng, (2, 40, 2)) * 30).astype(np.float32)
    weights32 = rng.standard_normal((2, 14))
    outputs["big32-input"], outputs["big32-weights"] = big, weights32

    def big32():
        x = torch.tensor(big, requires_grad=True)
        (sc.signature(x, 3, target="triton", strategy="horner")
         * torch.as_tensor(weights32, dtype=torch.float32)).sum().backward()
        return x.grad.numpy()

    record("big32", big32)

    # log-signatures on the triton target: tensor log in torch, basis map as a matmul
    path = brownian(rng, (4, 12, 3))
    outputs["logsig-input"] = path
    for mode in ("expand", "words", "brackets"):
        record(f"logsig-{mode}", lambda mode=mode: sc.logsignature(
            torch.as_tensor(path), 4, mode, target="triton").numpy())
    head, tail = torch.as_tensor(path[:, :6]), torch.as_tensor(path[:, 5:])
    record("combine", lambda: sc.signature_combine(
        sc.signature(head, 4, target="triton"), sc.signature(tail, 4, target="triton"), 3, 4,
        target="triton").numpy())

    # SigLayer on Keras' torch backend picks the triton target on a GPU; here the GPU test is
    # replaced by the interpreter (the layer's device probe says yes)
    def siglayer():
        import keras

        from sigcodegen.runtime.frameworks import framework_named

        assert keras.backend.backend() == "torch", keras.backend.backend()
        torch_arrays = framework_named("torch")  # the default-device probe says "a GPU"
        torch_arrays.on_gpu = lambda x=None: True if x is None else bool(x.is_cuda)
        layer = sc.SigLayer(3)
        out = layer(keras.ops.convert_to_tensor(path[:, :, :2].astype(np.float32)))
        report["siglayer-module"] = {"ok": True, "name": layer._module.__name__}
        return keras.ops.convert_to_numpy(out)

    outputs["siglayer-input"] = path[:, :, :2]
    record("siglayer", siglayer)


def compile_checks(specs):
    from sigcodegen.runtime.dispatch import load_module
    from sigcodegen.spec import KernelSpec

    for text in specs:
        dim, depth = map(int, text.split(":"))
        module = load_module(KernelSpec(dim=dim, depth=depth, target="triton"))
        for capability in (90, 80):
            def compiled(module=module, capability=capability):
                kernels = module.compile_kernels(capability)
                return np.array(sorted(f"{name}:{dtype}:{flags}" for name, dtype, flags in kernels))

            record(f"compile-d{dim}m{depth}-sm{capability}", compiled)


def main():
    mode, out = sys.argv[1], Path(sys.argv[2])
    if mode == "interpret":
        assert os.environ.get("TRITON_INTERPRET") == "1"
        interpret_checks()
    else:
        compile_checks(sys.argv[3:])
    np.savez(out / "outputs.npz", **outputs)
    (out / "report.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
