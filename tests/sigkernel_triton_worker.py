"""Runs the triton target of the signature kernels in its own process. Usage:

    TRITON_INTERPRET=1 python sigkernel_triton_worker.py interpret OUT_DIR   # on the CPU
    python sigkernel_triton_worker.py compile OUT_DIR                       # sm_90 and sm_80

Writes OUT_DIR/outputs.npz (values and gradients by case name) and OUT_DIR/report.json (per
case: ok, error, trace). It asserts nothing: tests/test_sigkernel.py compares.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

outputs: dict[str, np.ndarray] = {}
report: dict[str, dict] = {}

#: (name, static kernel (name, args), dyadic order, dtype, (batch, L1, L2, dim))
CASES = [
    ("linear-0-f64", None, 0, "float64", (3, 6, 5, 2)),
    ("linear-12-f64", None, (1, 2), "float64", (3, 6, 5, 2)),
    ("rbf-2-f64", ("RBF", (0.8,)), 2, "float64", (2, 5, 4, 3)),
    ("matern52-1-f64", ("Matern52", (0.9,)), 1, "float64", (2, 5, 6, 2)),
    ("polynomial-0-f32", ("Polynomial", (3, 0.5, 1.5)), 0, "float32", (3, 6, 5, 2)),
    ("linear-long-f64", None, 0, "float64", (2, 50, 40, 2)),
]


def record(name, fn):
    try:
        for key, value in fn().items():
            outputs[f"{name}/{key}"] = np.asarray(value)
        report[name] = {"ok": True}
    except Exception as err:  # recorded for the test to show
        report[name] = {"ok": False, "error": repr(err), "trace": traceback.format_exc()[-3000:]}


def paths(seed, shape, dtype):
    return (np.random.default_rng(seed).standard_normal(shape) * 0.3).astype(dtype)


def interpret_checks():
    import torch

    import sigcodegen as sc

    for name, kernel, order, dtype, (batch, l1, l2, dim) in CASES:
        static = None if kernel is None else getattr(sc, kernel[0])(*kernel[1])

        def run():
            x = torch.tensor(paths(0, (batch, l1, dim), dtype), requires_grad=True)
            y = torch.tensor(paths(1, (batch, l2, dim), dtype), requires_grad=True)
            weights = torch.linspace(-1, 1.5, batch, dtype=x.dtype)
            k = sc.signature_kernel(x, y, dyadic_order=order, static_kernel=static,
                                    target="triton")
            (weights * k).sum().backward()
            gram = sc.signature_kernel_gram(x.detach(), y.detach(), dyadic_order=order,
                                            static_kernel=static, target="triton")
            sym = sc.signature_kernel_gram(x.detach(), dyadic_order=order, static_kernel=static,
                                           target="triton")
            return {"x": x.detach().numpy(), "y": y.detach().numpy(),
                    "weights": weights.numpy(), "k": k.detach().numpy(),
                    "gx": x.grad.numpy(), "gy": y.grad.numpy(), "gram": gram.numpy(),
                    "sym": sym.numpy()}

        record(name, run)


def compile_checks():
    from sigcodegen.jit.loader import import_source
    from sigcodegen.spec import KernelSpec

    for dim in (1, 3, 5):
        for capability in (90, 80):
            def run():
                module = import_source(KernelSpec(dim=dim, kind="sigkernel", target="triton"))
                compiled = module.compile_kernels(capability)
                return {"kernels": np.array(len(compiled))}

            record(f"compile-d{dim}-sm{capability}", run)


if __name__ == "__main__":
    mode, out = sys.argv[1], Path(sys.argv[2])
    interpret_checks() if mode == "interpret" else compile_checks()
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "outputs.npz", **outputs)
    (out / "report.json").write_text(json.dumps(report))
