"""The triton target: its kernels run through Triton's CPU interpreter in one subprocess
(tests/triton_worker.py, TRITON_INTERPRET=1) and are compiled for sm_90 and sm_80 in another
(no GPU needed); the results are compared here with the float64 reference."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cases import TOLERANCE, long_cases, numeric_cases
from reference import finite_difference_gradient, relative_error
from reference import logsignature as reference_logsignature
from reference import signature as reference_signature

pytest.importorskip("triton", reason="the triton target needs triton (pip install '.[triton]')")
torch = pytest.importorskip("torch")

import sigcodegen as sc  # noqa: E402
from sigcodegen.emit.triton import lane_layout  # noqa: E402
from sigcodegen.plan import make_plan  # noqa: E402
from sigcodegen.spec import KernelSpec  # noqa: E402

WORKER = Path(__file__).resolve().parent / "triton_worker.py"
STRATEGIES = ("horner", "chunked")
#: Specs whose kernels are compiled: those in generated/ and a spread of shapes and layouts.
COMPILED = ((2, 3), (5, 4), (1, 1), (2, 8), (3, 5), (8, 3), (10, 2))


def _run_worker(tmp_path_factory, mode, *args, interpret=False):
    out = tmp_path_factory.mktemp(f"triton-{mode}")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    if interpret:
        env["TRITON_INTERPRET"] = "1"
        env["KERAS_BACKEND"] = "torch"  # the SigLayer check
    result = subprocess.run([sys.executable, str(WORKER), mode, str(out), *args], env=env,
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads((out / "report.json").read_text()), dict(np.load(out / "outputs.npz"))


@pytest.fixture(scope="module")
def interpreted(tmp_path_factory):
    return _run_worker(tmp_path_factory, "interpret", interpret=True)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    return _run_worker(tmp_path_factory, "compile", *(f"{d}:{m}" for d, m in COMPILED))


def _get(worker, name):
    report, outputs = worker
    entry = report.get(name)
    assert entry is not None, f"{name} was not run"
    assert entry["ok"], f"{name}: {entry['error']}\n{entry['trace']}"
    return outputs[name]


@pytest.mark.parametrize("case", numeric_cases(STRATEGIES), ids=lambda c: c[0])
def test_interpreted_kernels_match_reference(interpreted, case):
    name, dim, depth, strategy, stream, dtype, path = case
    got = _get(interpreted, name)
    want = reference_signature(path, depth, stream)
    assert got.shape == want.shape
    assert got.dtype == np.dtype(dtype)
    assert relative_error(got, want, dim, depth) <= TOLERANCE[dtype]


@pytest.mark.parametrize("case", [c for c in long_cases(STRATEGIES) if c[3] in STRATEGIES],
                         ids=lambda c: c[0])
def test_interpreted_long_and_chunked(interpreted, case):
    name, dim, depth, strategy, stream, dtype, _, _ = case
    got = _get(interpreted, name)
    path = interpreted[1][name + "-input"]
    want = reference_signature(path.astype(np.float64), depth, stream)
    assert relative_error(got, want, dim, depth) <= TOLERANCE[dtype]


GRADIENT_CASES = [(d, m, s, st) for d, m in ((1, 1), (1, 3), (2, 3), (3, 5), (5, 4), (8, 3),
                                              (10, 2), (2, 8))
                  for s, st in (("horner", False), ("horner", True), ("chunked", False))]


@pytest.mark.parametrize("dim,depth,strategy,stream", GRADIENT_CASES,
                         ids=lambda v: str(v))
def test_backward_kernel_matches_finite_differences(interpreted, dim, depth, strategy, stream):
    name = f"grad-d{dim}m{depth}-{strategy}-{'stream' if stream else 'final'}"
    got = _get(interpreted, name)
    outputs = interpreted[1]
    want = finite_difference_gradient(outputs[name + "-input"], depth, outputs[name + "-weights"],
                                      stream)
    assert np.max(np.abs(got - want)) <= 1e-6 * max(1.0, np.max(np.abs(want)))
    assert bool(_get(interpreted, name + "-gradcheck")), "torch.autograd.gradcheck failed"


def test_backward_reading_stored_states(interpreted):
    outputs = interpreted[1]
    want = finite_difference_gradient(outputs["fallback-input"], 3, outputs["fallback-weights"])
    got = _get(interpreted, "fallback")
    assert np.max(np.abs(got - want)) <= 1e-6 * max(1.0, np.max(np.abs(want)))


def test_float32_large_state_gradient_stays_accurate(interpreted):
    outputs = interpreted[1]
    want = finite_difference_gradient(outputs["big32-input"].astype(np.float64), 3,
                                      outputs["big32-weights"], eps=1e-4)
    got = _get(interpreted, "big32")
    assert np.max(np.abs(got - want)) <= 1e-4 * np.max(np.abs(want))


@pytest.mark.parametrize("mode", ("expand", "words", "brackets"))
def test_logsignature_on_triton(interpreted, mode):
    path = interpreted[1]["logsig-input"]
    got = _get(interpreted, f"logsig-{mode}")
    if mode == "brackets":
        iisignature = pytest.importorskip("iisignature")
        want = np.stack([iisignature.logsig(p, iisignature.prepare(3, 4)) for p in path])
    else:
        want = reference_logsignature(path, 4, mode)
    assert np.max(np.abs(got - want)) <= 1e-12 * max(1.0, np.max(np.abs(want)))


def test_combine_on_triton(interpreted):
    path = interpreted[1]["logsig-input"]
    got = _get(interpreted, "combine")
    want = reference_signature(path, 4)
    assert relative_error(got, want, 3, 4) <= 1e-12


def test_siglayer_uses_triton_on_a_gpu_backend(interpreted):
    path = interpreted[1]["siglayer-input"]
    got = _get(interpreted, "siglayer")
    assert "triton" in interpreted[0]["siglayer-module"]["name"]
    want = reference_signature(path.astype(np.float32).astype(np.float64), 3)
    assert relative_error(got, want, 2, 3) <= TOLERANCE["float32"]


@pytest.mark.parametrize("dim,depth", COMPILED, ids=lambda v: str(v))
@pytest.mark.parametrize("capability", (90, 80))
def test_every_kernel_compiles_for_gpus(compiled, dim, depth, capability):
    kernels = _get(compiled, f"compile-d{dim}m{depth}-sm{capability}")
    # forward final/stream, backward reversible/stored/stream, each in float32 and float64
    assert len(kernels) == 10, kernels


def test_cpu_tensors_need_the_interpreter():
    # this process imported triton without TRITON_INTERPRET: CPU tensors are refused clearly
    assert os.environ.get("TRITON_INTERPRET", "0") in ("", "0")
    with pytest.raises(RuntimeError, match="CUDA GPU, or TRITON_INTERPRET=1"):
        sc.signature(torch.zeros(2, 5, 3), 2, target="triton")


def test_triton_refuses_what_it_cannot_run():
    with pytest.raises(ValueError, match="takes torch tensors"):
        sc.signature(np.zeros((2, 5, 3)), 2, target="triton")
    with pytest.raises(ValueError, match="'horner' and 'chunked'"):
        sc.signature(torch.zeros(2, 5, 3), 2, target="triton", strategy="levelwise")


def test_target_rules_pick_triton_for_cuda_torch():
    from sigcodegen.runtime.dispatch import choose_strategy, choose_target

    assert choose_target("torch", on_gpu=True) == "triton"
    assert choose_target("torch", on_gpu=True, strategy="levelwise") == "jax"
    assert choose_strategy(True, False, "triton") == "chunked"
    assert choose_strategy(True, True, "triton") == "horner"


@pytest.mark.parametrize("dim,depth", COMPILED, ids=lambda v: str(v))
def test_lane_layout_is_within_budget(dim, depth):
    layout = lane_layout(make_plan(KernelSpec(dim=dim, depth=depth, target="triton")))
    assert layout.lanes_per_path == dim**layout.prefix
    assert layout.lane_block >= layout.lanes_per_path
    assert layout.lane_block & (layout.lane_block - 1) == 0  # a power of two
    assert layout.forward_tiles <= 64
    # the lanes of one path do at least the Horner step's multiply-adds (docs/architecture.md,
    # counted here independently): H(d, m) = sum_{j=2..m} (m-j+1) d^j
    horner = sum((depth - j + 1) * dim**j for j in range(2, depth + 1))
    assert layout.forward_macs >= horner
    assert layout.backward_macs >= horner


def test_plan_prints_the_triton_layout():
    result = subprocess.run([sys.executable, "-m", "sigcodegen", "plan", "--dim", "5",
                             "--depth", "4", "--target", "triton"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "triton lanes: dim=5, depth=4" in result.stdout
    assert "registers per lane" in result.stdout and "FLOPs per path per time step" in result.stdout


@pytest.mark.parametrize("interpret", (True, False), ids=("interpreted", "no-gpu"))
def test_generated_module_runs_its_self_check(interpret):
    if not interpret and torch.cuda.is_available():
        pytest.skip("a GPU is present: the self-check runs on it")
    generated = Path(__file__).resolve().parents[1] / "generated"
    (module,) = generated.glob("sig_d2_m3_triton_*.py")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    if interpret:
        env["TRITON_INTERPRET"] = "1"
    result = subprocess.run([sys.executable, str(module)], env=env, capture_output=True,
                            text=True, timeout=600)
    if interpret:
        assert result.returncode == 0, result.stdout + result.stderr[-3000:]
        assert "ok: dim=2 depth=3" in result.stdout
    else:  # no GPU here: one clear line, not a traceback
        assert result.returncode != 0
        assert "needs a CUDA GPU, or TRITON_INTERPRET=1" in result.stderr
        assert "Traceback" not in result.stderr
