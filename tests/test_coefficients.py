"""signature_coefficients: chosen coefficients from the plan pruned to the words' prefix tree.

Compared with the matching entries of tests/reference.py's float64 Chen signature, with pysiglib's
``sig_coef``, with the closed form of a one-step path, and (gradients) with central finite
differences of the reference and the gradient of the gathered full signature.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

import reference as ref
import sigcodegen as sc

DIM, DEPTH = 3, 4
#: every length 1..DEPTH, shared prefixes, and repeats (the output follows the request order)
WORDS = [(0,), (2, 1), (1, 1, 1), (0, 2, 1, 0), (2, 1), (1,), (0, 2, 1), (2, 2, 2, 2), (0,)]
TOL = {"float64": 1e-12, "float32": 1e-5}


def word_index(word, dim):
    """The word's position in the flattened signature (levels concatenated, row-major)."""
    offset = sum(dim**k for k in range(1, len(word)))
    return offset + sum(a * dim ** (len(word) - 1 - i) for i, a in enumerate(word))


def gathered_reference(path, words, stream=False):
    depth = max(len(w) for w in words)
    full = ref.signature(path, depth, stream=stream)
    return full[..., [word_index(w, path.shape[-1]) for w in words]]


def to_framework(x, name, dtype):
    if name == "numpy":
        return x.astype(dtype)
    if name == "jax":
        import jax.numpy as jnp

        return jnp.asarray(x, dtype=dtype)
    import torch

    return torch.tensor(x, dtype=getattr(torch, dtype))


def to_numpy(y):
    return y.detach().numpy() if hasattr(y, "detach") else np.asarray(y)


@pytest.fixture
def x64():
    from sigcodegen.runtime.frameworks import x64

    with x64(True):
        yield


def numpy_array_code(path, words, stream):
    """The plan run as numpy array code (what numpy inputs use without a C compiler)."""
    from sigcodegen.runtime.coefficients import run_coefficients
    from sigcodegen.runtime.frameworks import framework_of

    return run_coefficients(sc.coefficients_plan(path.shape[-1], words), path,
                            framework_of(path), stream)


# numpy: the c kernel; numpy-array: the same plan as numpy array code; jax, torch: array code
@pytest.mark.parametrize("framework", ["numpy", "numpy-array", "jax", "torch"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("stream", [False, True])
def test_equals_the_reference_signature_entries(framework, dtype, stream, x64):
    rng = np.random.default_rng(1)
    path = ref.brownian(rng, (2, 3, 7, DIM))
    if framework == "numpy-array":
        got = numpy_array_code(path.astype(dtype), WORDS, stream)
        framework = "numpy"
    else:
        got = sc.signature_coefficients(to_framework(path, framework, dtype), WORDS,
                                        stream=stream)
    want = gathered_reference(path, WORDS, stream)
    assert type(got).__module__.split(".")[0] == type(to_framework(path, framework, dtype)) \
        .__module__.split(".")[0]
    assert str(got.dtype).endswith(dtype)
    assert tuple(got.shape) == want.shape == ((2, 3, 6, len(WORDS)) if stream else
                                              (2, 3, len(WORDS)))
    error = np.abs(to_numpy(got).astype(np.float64) - want).max() / np.abs(want).max()
    assert error <= TOL[dtype], error


@pytest.mark.parametrize("stream", [False, True])
def test_matches_pysiglib_sig_coef(stream):
    pysiglib = pytest.importorskip("pysiglib")
    rng = np.random.default_rng(2)
    path = ref.brownian(rng, (4, 9, DIM))
    got = sc.signature_coefficients(path, WORDS, stream=stream)
    if stream:  # pysiglib has no stream mode: compare each prefix
        want = np.stack([pysiglib.sig_coef(path[:, :k + 1].copy(), WORDS)
                         for k in range(1, path.shape[1])], axis=1)
    else:
        want = pysiglib.sig_coef(path, WORDS)
    assert np.abs(got - want).max() <= 1e-12 * np.abs(want).max()


def test_one_step_closed_form_and_large_dim():
    """(d=20, m=6) with 100 random words, which the full signature's size guard refuses: a
    one-step path has S_w = prod dx_w / |w|!, and a longer one matches pysiglib."""
    rng = np.random.default_rng(3)
    words = [tuple(int(a) for a in rng.integers(0, 20, size=rng.integers(1, 7)))
             for _ in range(100)]
    words[0] = (5,) * 6  # at least one word of every length ≤ 6 is likely; make 6 certain
    plan = sc.coefficients_plan(20, words)
    prefixes = {w[:k] for w in words for k in range(1, len(w) + 1)}
    assert plan.nodes == len(prefixes) and plan.depth == 6
    step = rng.standard_normal((2, 20))
    path = np.stack([np.zeros((2, 20)), step], axis=1)
    got = sc.signature_coefficients(path, words)
    want = np.array([[np.prod(s[list(w)]) / math.factorial(len(w)) for w in words]
                     for s in step])
    assert np.abs(got - want).max() <= 1e-14 * np.abs(want).max()
    pysiglib = pytest.importorskip("pysiglib")
    long = ref.brownian(rng, (70, 30, 20))  # many blocks of lanes: the c kernel's thread pool
    got = sc.signature_coefficients(long.astype(np.float32), words)
    want = pysiglib.sig_coef(long, words)
    assert got.dtype == np.float32
    assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()


def reference_gradient(path, words, weights, stream=False, eps=1e-6):
    """Central finite differences of sum(weights * gathered reference)."""
    grad = np.zeros_like(path)
    for i in np.ndindex(path.shape):
        up, down = path.copy(), path.copy()
        up[i] += eps
        down[i] -= eps
        diff = gathered_reference(up, words, stream) - gathered_reference(down, words, stream)
        grad[i] = (weights * diff).sum() / (2 * eps)
    return grad


@pytest.mark.parametrize("framework", ["numpy", "jax", "torch"])
@pytest.mark.parametrize("stream", [False, True])
def test_gradient(framework, stream, x64):
    rng = np.random.default_rng(4)
    path = ref.brownian(rng, (2, 5, DIM))
    shape = (2, 4, len(WORDS)) if stream else (2, len(WORDS))
    weights = rng.standard_normal(shape)
    if framework == "numpy":
        got = sc.signature_coefficients_vjp(path, weights, WORDS, stream=stream)
    elif framework == "jax":
        import jax
        import jax.numpy as jnp

        got = jax.grad(lambda p: (sc.signature_coefficients(p, WORDS, stream=stream)
                                  * weights).sum())(jnp.asarray(path))
    else:
        import torch

        leaf = torch.tensor(path, requires_grad=True)
        (sc.signature_coefficients(leaf, WORDS, stream=stream) * torch.tensor(weights)) \
            .sum().backward()
        got = leaf.grad
    got = to_numpy(got)
    fd = reference_gradient(path, WORDS, weights, stream)
    assert np.abs(got - fd).max() <= 1e-7 * max(1.0, np.abs(fd).max())
    # and the gradient of the gather of the full signature (scatter the weights into it)
    full = np.zeros(shape[:-1] + (ref.siglen(DIM, DEPTH),))
    for n, word in enumerate(WORDS):
        full[..., word_index(word, DIM)] += weights[..., n]
    gather = sc.signature_vjp(path, full, DEPTH, stream=stream)
    assert np.abs(got - gather).max() <= 1e-12 * max(1.0, np.abs(gather).max())


def test_vjp_of_jax_and_torch_inputs(x64):
    import jax.numpy as jnp
    import torch

    rng = np.random.default_rng(5)
    path = ref.brownian(rng, (3, 6, DIM))
    weights = rng.standard_normal((3, len(WORDS)))
    want = sc.signature_coefficients_vjp(path, weights, WORDS)
    for x in (jnp.asarray(path), torch.tensor(path)):
        got = to_numpy(sc.signature_coefficients_vjp(x, weights, WORDS))
        assert np.abs(got - want).max() <= 1e-13


def test_jax_jit_and_vmap(x64):
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(6)
    path = ref.brownian(rng, (4, 6, DIM))
    want = gathered_reference(path, WORDS)
    jitted = jax.jit(lambda p: sc.signature_coefficients(p, WORDS))(jnp.asarray(path))
    mapped = jax.vmap(lambda p: sc.signature_coefficients(p, WORDS))(jnp.asarray(path))
    for got in (jitted, mapped):
        assert np.abs(np.asarray(got) - want).max() <= 1e-12 * np.abs(want).max()


def test_lengths_basepoint_and_short_paths():
    rng = np.random.default_rng(7)
    path = ref.brownian(rng, (3, 8, DIM))
    lengths = np.array([8, 3, 1])
    got = sc.signature_coefficients(path, WORDS, lengths=lengths)
    for b, n in enumerate(lengths):
        want = gathered_reference(path[b, :n], WORDS)
        assert np.abs(got[b] - want).max() <= 1e-12 * max(1.0, np.abs(want).max())
    based = sc.signature_coefficients(path, WORDS, basepoint=True)
    zero = np.concatenate([np.zeros((3, 1, DIM)), path], axis=1)
    want = gathered_reference(zero, WORDS)
    assert np.abs(based - want).max() <= 1e-12 * np.abs(want).max()
    one_point = path[:, :1]
    assert np.array_equal(sc.signature_coefficients(one_point, WORDS), np.zeros((3, len(WORDS))))
    assert sc.signature_coefficients(np.zeros((0, 4, DIM)), WORDS).shape == (0, len(WORDS))
    strided = path[:, ::2]  # not contiguous
    assert np.abs(sc.signature_coefficients(strided, WORDS)
                  - gathered_reference(strided, WORDS)).max() <= 1e-12 * 10
    assert sc.signature_coefficients(one_point, WORDS, stream=True).shape == (3, 0, len(WORDS))
    single = sc.signature_coefficients(path[0], (0, 2, 1))  # one path, one word given alone
    assert single.shape == (1,)
    assert abs(single[0] - gathered_reference(path[0], [(0, 2, 1)])[0]) <= 1e-12


@pytest.mark.parametrize("words, error, match", [
    ([], ValueError, "no words requested"),
    ([(0,), ()], ValueError, "word 1 is empty"),
    ([(0, 3)], ValueError, "letter 3, out of range for a path of dimension 3"),
    ([(0, -1)], ValueError, "letter -1, out of range"),
    ([(0, 1.0)], TypeError, "letters are integers"),
    ([(True,)], TypeError, "letters are integers"),
    ("01", TypeError, "words must be a list of words"),
    ([(0,), 1], TypeError, "word 1 is 1, not a tuple of letters"),
])
def test_bad_words_are_refused(words, error, match):
    path = np.zeros((5, DIM))
    with pytest.raises(error, match=match):
        sc.signature_coefficients(path, words)


def test_bad_calls_are_refused():
    path = np.zeros((2, 5, DIM))
    with pytest.raises(TypeError, match="stream must be True or False"):
        sc.signature_coefficients(path, WORDS, stream=1)
    with pytest.raises(ValueError, match=r"shape \(..., L, d\)"):
        sc.signature_coefficients(np.zeros(5), WORDS)
    with pytest.raises(ValueError, match="signature_coefficients: lengths must lie in 1..L=5"):
        sc.signature_coefficients(path, WORDS, lengths=np.array([6, 1]))
    with pytest.raises(ValueError, match="grad has shape"):
        sc.signature_coefficients_vjp(path, np.zeros((2, 3)), WORDS)
    with pytest.raises(TypeError, match="complex paths"):
        sc.signature_coefficients(path + 0j, WORDS)


def test_cli_prints_the_pruned_plan():
    run = [sys.executable, "-m", "sigcodegen", "plan", "--dim", "4", "--words", "0,1;2,3,1;0,1"]
    out = subprocess.run(run + ["--batch", "8", "--length", "11"], capture_output=True,
                         text=True, check=True).stdout
    # prefixes: (0) (2) (0,1) (2,3) (2,3,1): 5 nodes; full signature d + d^2 + d^3 = 84
    assert "5 prefix-tree nodes (the full signature has 84)" in out
    assert "S[2,3,1] += dx[2]*dx[3]*dx[1]/6 + S[2]*dx[3]*dx[1]/2 + S[2,3]*dx[1]" in out
    bad = subprocess.run(run[:-1] + ["0,x"], capture_output=True, text=True)
    assert bad.returncode == 2 and "write letters as integers" in bad.stderr
    bad = subprocess.run(run[:-1] + ["0,4"], capture_output=True, text=True)
    assert bad.returncode == 2 and "out of range for a path of dimension 4" in bad.stderr


def test_readme_example_runs():
    """The README's signature-coefficients example runs as written."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text.split("## Signature coefficients for chosen words\n", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    # prefixes of the words: (0) (3) (3,1) (19) .. (19,0,4,4,2,7): 1 + 2 + 6 = 9 nodes
    assert result.stdout.split() == ["(8,", "4)", "(8,", "199,", "4)", "(8,", "200,", "20)", "9"]


def test_kernel_spec_of_the_c_module():
    spec = sc.KernelSpec(dim=4, kind="coefficients", target="c")
    assert spec.module_fields() == {"kind": "coefficients", "dim": 4, "target": "c"}
    assert str(spec) == "coefficients(dim=4, target=c)"
    with pytest.raises(ValueError, match="leave depth unset"):
        sc.KernelSpec(dim=4, depth=3, kind="coefficients", target="c")
    with pytest.raises(NotImplementedError, match="target='jax' emits no coefficients kernel"):
        sc.KernelSpec(dim=4, kind="coefficients", target="jax")
    shown = subprocess.run([sys.executable, "-m", "sigcodegen", "show", "--kind", "coefficients",
                            "--dim", "4"], capture_output=True, text=True)
    assert shown.returncode == 0 and "sigcodegen_coefficients_forward_f64" in shown.stdout
    assert shown.stdout.startswith("/* sigcodegen kernel module: coefficients, dim 4, target c.")


def test_c_kernel_serves_every_word_set_from_one_module():
    """Two word sets of one dim load one module (the tables are arguments)."""
    from sigcodegen.runtime.dispatch import load_coefficients

    rng = np.random.default_rng(8)
    path = ref.brownian(rng, (3, 6, DIM))
    first = load_coefficients(DIM, "float64")
    for words in ([(0, 1)], [(2,), (1, 0, 2), (1, 0, 2, 2, 1)]):
        got = sc.signature_coefficients(path, words)
        assert np.abs(got - gathered_reference(path, words)).max() <= 1e-12
        assert load_coefficients(DIM, "float64") is first
