"""The c target beyond the shared matrix: lanes left empty by odd batches, forced time chunks,
the native backward (reversible and checkpointed), JAX through the XLA FFI, torch through a
custom op, and the fallback when no compiler works."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import sigcodegen as sc
from cases import TOLERANCE
from reference import brownian, finite_difference_gradient, relative_error
from reference import logsignature as reference_logsignature
from reference import signature as reference_signature
from sigcodegen.runtime.dispatch import load_module


def native(dim, depth):
    return load_module(sc.KernelSpec(dim=dim, depth=depth, target="c"))


@pytest.mark.parametrize("batch", [1, 3, 7, 9, 13, 17])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_batches_that_do_not_fill_the_lanes(batch, dtype):
    path = brownian(np.random.default_rng(batch), (batch, 30, 3)).astype(dtype)
    for stream in (False, True):
        got = native(3, 4).forward(path, stream)
        assert relative_error(got, reference_signature(path, 4, stream), 3, 4) <= TOLERANCE[dtype]


@pytest.mark.parametrize("chunks", [1, 2, 3, 5, 8, 40, 1000])
def test_forced_time_chunks(chunks):
    path = brownian(np.random.default_rng(chunks), (5, 41, 2))
    got = native(2, 5).forward(path, False, chunks)
    assert relative_error(got, reference_signature(path, 5), 2, 5) <= 1e-12


@pytest.mark.parametrize("dim,depth", [(3, 6), (2, 9), (2, 10)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_forward_cut_into_subtrees(dim, depth, dtype):
    """Specs whose fused steps run subtree by subtree (the plan's subtree_depth > 0): batches
    that do and do not fill the lanes, lengths with and without a tail of single steps, forced
    time chunks (joined by Chen's identity) and the stream (which steps the whole state)."""
    from sigcodegen.plan.signature import subtree_depth

    assert subtree_depth(dim, depth) > 0
    module = native(dim, depth)
    for batch, length, chunks in ((3, 11, 0), (9, 14, 0), (8, 30, 3)):
        path = brownian(np.random.default_rng(batch + length), (batch, length, dim)).astype(dtype)
        want = reference_signature(path, depth)
        got = module.forward(path, False, chunks) if chunks else module.forward(path)
        assert relative_error(got, want, dim, depth) <= TOLERANCE[dtype], (batch, length, chunks)
    path = brownian(np.random.default_rng(1), (2, 7, dim)).astype(dtype)
    got = module.forward(path, True)
    assert relative_error(got, reference_signature(path, depth, True), dim, depth) <= \
        TOLERANCE[dtype]


def test_two_points_and_one_point():
    path = brownian(np.random.default_rng(0), (3, 2, 4))
    assert relative_error(native(4, 3).forward(path), reference_signature(path, 3), 4, 3) <= 1e-12
    assert np.array_equal(native(4, 3).forward(path[:, :1]), np.zeros((3, 84)))


# ---- gradients ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["auto", "reversible", "checkpoint"])
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("dim,depth,length", [(1, 1, 2), (2, 3, 9), (3, 4, 6), (2, 6, 12)])
def test_backward_matches_finite_differences(dim, depth, length, stream, mode):
    rng = np.random.default_rng(dim + depth + length)
    path = brownian(rng, (3, length, dim))
    module = native(dim, depth)
    y = module.forward(path, stream)
    weights = rng.standard_normal(y.shape)
    got = module.backward(path, y, weights, stream, mode)
    want = finite_difference_gradient(path, depth, weights, stream)
    assert np.max(np.abs(got - want)) <= 1e-6 * np.max(np.abs(want))


def test_float32_backward_guard_routes_large_states_to_checkpoints():
    """Walking back by exp(-dx) loses about steps * eps * |S| per coefficient, so in float32 a
    path whose signature is large (unit increments at d=2, m=6: |S| ~ 1e11) is recomputed from
    checkpoints, while a normalised path is reversed. Both stay close to the float64 gradient."""
    module = native(2, 6)
    large = np.cumsum(np.ones((3, 200, 2)), axis=1)
    small = brownian(np.random.default_rng(0), (3, 200, 2))
    for path, expected_mode in ((large, "checkpoint"), (small, "reversible")):
        y64 = module.forward(path)
        gy = np.random.default_rng(1).standard_normal(y64.shape)
        want = module.backward(path, y64, gy, mode="checkpoint")
        x32, gy32 = path.astype(np.float32), gy.astype(np.float32)
        y32 = module.forward(x32)
        auto = module.backward(x32, y32, gy32, mode="auto")
        assert np.array_equal(auto, module.backward(x32, y32, gy32, mode=expected_mode))
        assert np.max(np.abs(auto - want)) <= 1e-5 * np.max(np.abs(want))


# ---- JAX and torch -----------------------------------------------------------------------------


def test_jax_ffi_jit_grad_vmap():
    import jax
    import jax.numpy as jnp

    path = brownian(np.random.default_rng(4), (3, 15, 3))
    weights = np.random.default_rng(5).standard_normal(39)
    with jax.enable_x64(True):
        x = jnp.asarray(path)

        def loss(p):
            return jnp.sum(jnp.asarray(weights) * sc.signature(p, 3, target="c"))

        out = jax.jit(lambda p: sc.signature(p, 3, target="c"))(x)
        grad = np.asarray(jax.jit(jax.grad(loss))(x))
        per_path = np.asarray(jax.vmap(jax.grad(loss))(x))
        stream = jax.jit(lambda p: sc.signature(p, 3, stream=True, target="c"))(x)
    assert relative_error(np.asarray(out), reference_signature(path, 3), 3, 3) <= 1e-12
    assert relative_error(np.asarray(stream), reference_signature(path, 3, True), 3, 3) <= 1e-12
    want = finite_difference_gradient(path, 3, weights, False)
    assert np.max(np.abs(grad - want)) <= 1e-6 * np.max(np.abs(want))
    assert np.max(np.abs(per_path - want)) <= 1e-6 * np.max(np.abs(want))


def test_torch_custom_op_autograd_and_compile():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    path = torch.tensor(brownian(np.random.default_rng(6), (2, 10, 3)), requires_grad=True)
    for stream in (False, True):
        assert torch.autograd.gradcheck(
            lambda p: sc.signature(p, 3, stream=stream, target="c"), (path,), eps=1e-6, atol=1e-7)
    compiled = torch.compile(lambda p: sc.signature(p, 3, target="c").square().sum())
    eager = sc.signature(path, 3, target="c").square().sum()
    assert torch.allclose(compiled(path), eager, rtol=1e-12)


@pytest.mark.parametrize("wide", [0, 1])
def test_both_fused_step_variants(tmp_path, wide):
    """The emitted C holds the fused steps twice, K = fused_steps (16 vector registers) and
    fused_steps_wide (32: AVX-512), and SIGCODEGEN_WIDE_STEPS picks one (by default from the
    vector width): both, forced on whatever this machine is, give the signature (uncut, cut into
    subtrees, odd tails, forced time chunks, stream) and the log-signature whose pruned steps
    are their variants too."""
    from sigcodegen.plan.signature import fused_steps

    cases = [(5, 4, 9, 14, 0), (3, 6, 5, 16, 0), (3, 6, 8, 30, 3), (2, 3, 3, 20, 0)]
    result = _run(
        f"""
        import ctypes, numpy as np, sigcodegen as sc
        from sigcodegen.jit.loader import build_library
        from sigcodegen.runtime.dispatch import load_module
        for dim, depth, batch, length, chunks in {cases!r}:
            x = np.cumsum(np.random.default_rng(batch).standard_normal((batch, length, dim)), axis=1)
            spec = sc.KernelSpec(dim=dim, depth=depth, target="c")
            module = load_module(spec)
            lib = ctypes.CDLL(str(build_library(spec, bits=64)))
            lib.sigcodegen_info.restype = ctypes.c_int64
            print(dim, depth, lib.sigcodegen_info(7))
            np.save(f"sig_{{dim}}_{{depth}}_{{chunks}}.npy", module.forward(x, False, chunks) if chunks else module.forward(x))
            np.save(f"stream_{{dim}}_{{depth}}_{{chunks}}.npy", module.forward(x[:2, :9], True))
            np.save(f"words_{{dim}}_{{depth}}_{{chunks}}.npy", sc.logsignature(x, depth, "words"))
        """, SIGCODEGEN_CFLAGS=f"-O1 -march=native -DSIGCODEGEN_WIDE_STEPS={wide}",
        SIGCODEGEN_CACHE_DIR=str(tmp_path / "cache"), SIGCODEGEN_PREBUILT="0")
    assert result.returncode == 0, result.stderr[-3000:]
    printed = [tuple(int(v) for v in line.split()) for line in result.stdout.strip().splitlines()]
    assert printed == [(d, m, fused_steps(d, m, bool(wide))) for d, m, *_ in cases]
    for dim, depth, batch, length, chunks in cases:
        x = np.cumsum(np.random.default_rng(batch).standard_normal((batch, length, dim)), axis=1)
        got = np.load(f"sig_{dim}_{depth}_{chunks}.npy")
        assert relative_error(got, reference_signature(x, depth), dim, depth) <= 1e-12
        got = np.load(f"stream_{dim}_{depth}_{chunks}.npy")
        want = reference_signature(x[:2, :9], depth, True)
        assert relative_error(got, want, dim, depth) <= 1e-12
        got = np.load(f"words_{dim}_{depth}_{chunks}.npy")
        want = reference_logsignature(x, depth, "words")
        assert np.abs(got - want).max() <= 1e-12 * max(1.0, np.abs(want).max())
        for name in ("sig", "stream", "words"):
            os.remove(f"{name}_{dim}_{depth}_{chunks}.npy")


# ---- toolchain ----------------------------------------------------------------------------------


def _run(code, **env):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=600, env={**os.environ, **env})


def test_missing_compiler_falls_back_to_jax_with_one_warning(tmp_path):
    result = _run(
        """
        import warnings, numpy as np, sigcodegen as sc
        x = np.cumsum(np.random.default_rng(0).standard_normal((4, 10, 3)), axis=1)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            a = sc.signature(x, 3)
            b = sc.signature(x, 3, target="c")
        print(len([w for w in caught if "Using the jax target" in str(w.message)]))
        np.save("out.npy", a); np.save("out_b.npy", b)
        """, SIGCODEGEN_CC="/nonexistent/cc", SIGCODEGEN_CACHE_DIR=str(tmp_path / "cache"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"
    x = np.cumsum(np.random.default_rng(0).standard_normal((4, 10, 3)), axis=1)
    for name in ("out.npy", "out_b.npy"):
        got = np.load(os.path.join(os.getcwd(), name))
        os.remove(name)
        assert relative_error(got, reference_signature(x, 3), 3, 3) <= 1e-12


def test_the_toolchain_names_the_cpu_the_compiler_targets(tmp_path, monkeypatch):
    """The toolchain (the kernels' cache key) holds the CPU the compiler's -march names (its
    lower-case macros, __znver3__ and the like, not the platform's): the sigkernel kind's
    emitted code chooses its products by them, so one cache shared by two CPU families builds
    for each. A probe memo from before the field existed is probed again."""
    from sigcodegen.jit import toolchain as tc
    monkeypatch.setenv("SIGCODEGEN_CACHE_DIR", str(tmp_path / "cache"))
    archs = {}
    for name, macros in (("zen", "__znver4__ __tune_znver4__"), ("intel", "__sapphirerapids__")):
        fake = tmp_path / name
        defines = "".join(f"echo '#define {m} 1'; " for m in
                          (*macros.split(), "__x86_64__", "__linux__", "__AVX2__", "__GNUC__"))
        fake.write_text(f"#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = --version ] && echo fakecc 1.0 "
                        f"&& exit 0; [ \"$a\" = -E ] && {{ {defines}exit 0; }}; done\nexit 1\n")
        fake.chmod(0o755)
        monkeypatch.setenv("SIGCODEGEN_CC", str(fake))
        archs[name] = tc.toolchain()
    assert archs["zen"].arch == "tune_znver4,znver4" and archs["intel"].arch == "sapphirerapids"
    assert archs["zen"].key() != {**archs["intel"].key(), "compiler": archs["zen"].compiler}
    memos = list((tmp_path / "cache").glob("toolchain-*.json"))  # one per fake compiler
    assert len(memos) == 2
    for memo in memos:
        stale = json.loads(memo.read_text())
        stale.pop("arch")
        memo.write_text(json.dumps(stale))
    tc._probe.cache_clear()
    for name in archs:
        monkeypatch.setenv("SIGCODEGEN_CC", str(tmp_path / name))
        assert tc.toolchain().arch == archs[name].arch


def test_broken_compiler_keeps_its_log_for_show(tmp_path):
    fake = tmp_path / "cc"
    fake.write_text("#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = --version ] && echo fakecc 1.0 && exit 0; "
                    "[ \"$a\" = -E ] && exit 0; done\necho 'fatal error: the compiler is broken' >&2\nexit 1\n")
    fake.chmod(0o755)
    env = {"SIGCODEGEN_CC": str(fake), "SIGCODEGEN_CACHE_DIR": str(tmp_path / "cache")}
    result = _run(
        """
        import warnings, numpy as np, sigcodegen as sc
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            print(sc.signature(np.ones((2, 5, 2)), 2).shape)
        print(any("the compiler is broken" in str(w.message) for w in caught))
        """, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["(2, 6)", "True"]
    shown = subprocess.run([sys.executable, "-m", "sigcodegen", "show", "--dim", "2", "--depth", "2",
                            "--target", "c"], capture_output=True, text=True, timeout=300,
                           env={**os.environ, **env})
    assert "int sigcodegen_forward_f32" in shown.stdout
    assert "the compiler is broken" in shown.stderr
