"""The log-signature kernels (``KernelSpec(kind="logsignature")``): the spec, the plan's adjoint
routines (run by the tests' own plan interpreter), the c target's fused kernels against the
float64 reference and iisignature, their gradients, the conversions, the routing of
``logsignature()`` and the CLI. The Python targets' log-signature modules are tested in
test_logsignature_targets.py."""

from __future__ import annotations

import numpy as np
import pytest

import plan_interpreter
import sigcodegen as sc
from reference import brownian, logsignature as reference_logsignature
from reference import signature as reference_signature, tensor_log
from sigcodegen.plan.logsignature import logsignature_plan
from sigcodegen.runtime import dispatch

MODES = ("expand", "words", "brackets")


def _path(shape, seed=0, dtype=np.float64):
    return brownian(np.random.default_rng(seed), shape).astype(dtype)


def _module(dim, depth):
    return dispatch.load_module(sc.KernelSpec(dim=dim, depth=depth, kind="logsignature",
                                              target="c"))


def _want(path, depth, mode, stream=False):
    """The float64 reference: brackets from iisignature, the others from the tests' own Chen
    products and log series."""
    if not stream:
        if mode == "brackets" and path.shape[-1] == 1:  # one letter: the increment
            return path[..., -1, :] - path[..., 0, :]
        if mode == "brackets":
            iisignature = pytest.importorskip("iisignature")
            return iisignature.logsig(path, iisignature.prepare(path.shape[-1], depth))
        return reference_logsignature(path, depth, mode)
    rows = [_want(path[..., : k + 1, :], depth, mode) for k in range(1, path.shape[-2])]
    return np.stack(rows, axis=-2)


# ---- the spec and the plan -------------------------------------------------------------------


def test_the_spec_holds_the_mode_but_one_module_holds_every_mode():
    spec = sc.KernelSpec(dim=3, depth=4, kind="logsignature", target="c")
    assert spec.mode == "words" and "mode=words" in str(spec)
    brackets = spec.replace(mode="brackets")
    assert brackets.module_fields() == spec.module_fields()
    assert spec.module_fields()["kind"] == "logsignature"
    with pytest.raises(ValueError, match="unknown log-signature mode 'lyndon'"):
        sc.KernelSpec(dim=3, depth=4, kind="logsignature", mode="lyndon")
    with pytest.raises(ValueError, match="mode is a field of kind='logsignature' only"):
        sc.KernelSpec(dim=3, depth=4, mode="words")


@pytest.mark.parametrize("series", ["log", "exp"])
@pytest.mark.parametrize("dim,depth", [(2, 1), (2, 3), (3, 4), (2, 5)])
def test_the_series_adjoints_match_finite_differences(series, dim, depth):
    """The plan's log_series_vjp / exp_series_vjp, run by the interpreter, against central
    differences of the plan's own series routine (which test_plan checks against the powers)."""
    plan = logsignature_plan(dim, depth)
    forward, adjoint = plan.routine(f"{series}_series"), plan.routine(f"{series}_series_vjp")
    rng = np.random.default_rng(dim + depth)
    x = {f"x{k}": 0.5 * rng.standard_normal((dim**k, 2)) for k in range(1, depth + 1)}
    g = {f"g{k}": rng.standard_normal((dim**k, 2)) for k in range(1, depth + 1)}

    def value(inputs):
        out = plan_interpreter.run(forward, dim, inputs)
        return sum(np.sum(out[f"y{k}"] * g[f"g{k}"]) for k in range(1, depth + 1))

    got = plan_interpreter.run(adjoint, dim, {**x, **g})
    eps = 1e-6
    for k in range(1, depth + 1):
        for index in np.ndindex(x[f"x{k}"].shape):
            up = {name: v.copy() for name, v in x.items()}
            down = {name: v.copy() for name, v in x.items()}
            up[f"x{k}"][index] += eps
            down[f"x{k}"][index] -= eps
            fd = (value(up) - value(down)) / (2 * eps)
            assert abs(got[f"gx{k}"][index] - fd) <= 1e-7 * max(1.0, abs(fd))


def test_the_log_series_equals_the_plain_powers():
    dim, depth = 3, 4
    plan = logsignature_plan(dim, depth)
    sig = reference_signature(_path((1, 6, dim)), depth)[0]
    offsets = np.cumsum([0] + [dim**k for k in range(1, depth + 1)])
    inputs = {f"x{k}": sig[offsets[k - 1]:offsets[k], None] for k in range(1, depth + 1)}
    out = plan_interpreter.run(plan.routine("log_series"), dim, inputs)
    got = np.concatenate([out[f"y{k}"][:, 0] for k in range(1, depth + 1)])
    assert np.abs(got - tensor_log(sig, dim, depth)).max() <= 1e-14


def test_the_plan_prints_the_projections_with_their_sizes():
    text = logsignature_plan(5, 4).text("c")
    maps = sc.lyndon_maps(5, 4)
    assert "logsignature plan: dim=5, depth=4" in text
    assert "routine log_series_vjp" in text and "routine exp_series_vjp" in text
    assert f"{maps.inverse.nnz:,} nonzeros" in text
    assert "lane_max_bytes" in text
    assert "the c target's projections, level by level" in text
    assert "level 4   rows 55..204         straight-line code, 300 terms" in text


def _apply_projection(projection, y, tables):
    """The plan's projection read op by op: straight-line terms, dense blocks (the diagonal 1,
    the lower triangle row by row) and, for table rows, the tables (indptr, cols, vals)."""
    indptr, cols, vals = tables
    out = np.full(projection.outputs, np.nan)
    for seg in projection.segments:
        if seg.how == "code":
            for i, terms in enumerate(seg.terms):
                out[seg.first + i] = sum(c * y[j] for j, c in terms)
        elif seg.how == "dense":
            for block in seg.blocks:
                k = 0
                for i, (row, col) in enumerate(zip(block.rows, block.columns)):
                    acc = y[col]
                    for j in range(i):
                        acc += block.lower[k] * y[block.columns[j]]
                        k += 1
                    out[row] = acc
        else:
            for i in range(seg.first, seg.first + seg.rows):
                out[i] = vals[indptr[i]:indptr[i + 1]] @ y[cols[indptr[i]:indptr[i + 1]]]
    return out


@pytest.mark.parametrize("dim,depth", [(2, 10), (3, 8), (4, 6), (5, 6), (20, 2), (2, 1)])
@pytest.mark.parametrize("mode", ["words", "brackets"])
def test_the_c_projections_cover_the_basis_level_by_level(mode, dim, depth):
    """The plan's projections (straight-line code, dense blocks, run-time tables) give the
    basis as the tables do, every row once, within their budgets."""
    from sigcodegen.plan import logsignature as planner

    projection = logsignature_plan(dim, depth).projection(mode)
    assert projection.outputs == sc.logsignature_channels(dim, depth)
    first = 0
    for seg in projection.segments:  # levels in order, rows contiguous
        assert seg.first == first and seg.rows > 0
        first += seg.rows
    assert first == projection.outputs
    code = sum(seg.nonzeros for seg in projection.segments if seg.how == "code")
    dense = sum(seg.coefficients for seg in projection.segments if seg.how == "dense")
    assert code <= planner.PROJECTION_CODE_TERMS
    assert dense <= planner.PROJECTION_DENSE_COEFFICIENTS
    for seg in projection.segments:
        if seg.how == "dense":
            assert mode == "brackets"
            assert seg.coefficients <= planner.PROJECTION_DENSE_FILL * seg.nonzeros
    y = np.random.default_rng(dim).standard_normal(sc.signature_channels(dim, depth))
    tables = indptr, cols, vals = sc.algebra.log_projection(dim, depth, mode)
    want = np.array([vals[indptr[i]:indptr[i + 1]] @ y[cols[indptr[i]:indptr[i + 1]]]
                     for i in range(projection.outputs)])
    got = _apply_projection(projection, y, tables)
    assert np.abs(got - want).max() <= 1e-9 * np.abs(want).max()
    hows = [seg.how for seg in projection.segments]
    if (dim, depth) in ((2, 10), (20, 2), (2, 1)):  # A-G's sizes: straight-line throughout
        assert set(hows) == {"code"}
    if (dim, depth, mode) == (3, 8, "brackets"):  # each of the three
        assert hows == ["code"] * 6 + ["dense", "table"]


# ---- the c kernels ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dim,depth,batch,length", [
    (2, 4, 3, 12),    # fewer paths than lanes: the forward's lanes, mostly empty
    (3, 3, 37, 9),    # several lane blocks and a partial one
    (4, 2, 2, 200),   # time chunks joined (Chen), then the row pass
    (1, 4, 5, 6),     # d = 1: the log is the increment
    (6, 6, 2, 4),     # a block would take more than lane_max_bytes: one row at a time
    # words and brackets prune the forward's top level to the Lyndon words (exp_steps_lyndon)
    (5, 2, 11, 40),   # top rows in tiles and one by one (outer_add_sum)
    (10, 3, 9, 10),   # the top pass's tiles of letters, a partial lane block
    (5, 4, 3, 200),   # pruned time chunks joined by Chen's product
    (256, 2, 2, 8),   # one row at a time, pruned (65,792 coefficients)
    (3, 6, 5, 30),    # the word tree cut in subtrees, each pruned (exp_steps_subtree_lyndon)
    (2, 9, 3, 6),     # cut deeper: 8 subtrees' tables
    # brackets: straight-line levels 1-6, dense blocks at level 7, the tables at level 8
    (3, 8, 3, 5),
])
def test_c_kernels_match_the_reference(mode, dim, depth, batch, length):
    path = _path((batch, length, dim), seed=dim * depth)
    module = _module(dim, depth)
    want = _want(path, depth, mode)
    for keep in (False, True):
        got, sig = module.log_forward(path, False, 0, mode, keep_signature=keep)
        assert got.shape == want.shape and got.dtype == np.float64
        assert np.abs(got - want).max() <= 1e-12 * max(1.0, np.abs(want).max())
        if keep:
            assert np.abs(sig - reference_signature(path, depth)).max() <= 1e-12
    got32 = sc.logsignature(path.astype(np.float32), depth, mode)
    assert got32.dtype == np.float32
    # deep levels lose float32 digits to the logarithm's cancellations and the bracket map's
    # integer coefficients (1.3e-5 of the largest value at (2, 9))
    tol32 = 1e-5 if depth <= 6 else 1e-4
    assert np.abs(got32 - want).max() <= tol32 * max(1.0, np.abs(want).max())


@pytest.mark.parametrize("dim,depth", [(3, 3), (5, 2)])
def test_a_projection_off_the_lyndon_words_gets_the_whole_top_level(dim, depth):
    """The forward prunes the top level only for projections that read it at Lyndon words
    alone: a table reading every top-level word (through the module's C entry point) gets the
    tensor logarithm there, as expand does."""
    from sigcodegen.algebra import signature_channels

    path = _path((9, 13, dim), seed=3)
    module = _module(dim, depth)
    siglen = signature_channels(dim, depth)
    top = np.arange(siglen - dim**depth, siglen, dtype=np.int64)
    indptr = np.arange(top.size + 1, dtype=np.int64)
    vals = np.ones(top.size)
    out = np.empty((path.shape[0], top.size))
    lib = module.lib(64)
    status = lib.log_forward(path.ctypes.data, path.shape[0], path.shape[1], out.ctypes.data, 0,
                             0, top.size, indptr.ctypes.data, top.ctypes.data, vals.ctypes.data,
                             0, None)  # basis 0: tables of no basis of the module's
    assert status == 0
    want = _want(path, depth, "expand")[..., top]
    assert np.abs(out - want).max() <= 1e-12
    assert np.abs(sc.logsignature(path, depth, "words") -
                  _want(path, depth, "words")).max() <= 1e-12


@pytest.mark.parametrize("mode", MODES)
def test_c_stream_mode_matches_each_prefix(mode):
    path = _path((3, 8, 3), seed=4)
    want = _want(path, 3, mode, stream=True)
    got = sc.logsignature(path, 3, mode, stream=True)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-12
    _, sig = _module(3, 3).log_forward(path, True, 0, mode, keep_signature=True)
    assert np.abs(sig - reference_signature(path, 3, stream=True)).max() <= 1e-12


@pytest.mark.slow
def test_c_kernels_on_long_normalised_paths():
    """L = 10^4 (issue 15): float64 <= 1e-12 and float32 <= 1e-5 of the float64 reference."""
    path = _path((2, 10_000, 2), seed=7)
    for mode in ("words", "brackets"):
        want = _want(path, 4, mode)
        assert np.abs(sc.logsignature(path, 4, mode) - want).max() <= 1e-12
        got32 = sc.logsignature(path.astype(np.float32), 4, mode)
        assert np.abs(got32 - want).max() <= 1e-5


def test_logsignature_runs_the_log_signature_kernels():
    dispatch.clear_memo()
    path = _path((4, 10, 3))
    sc.logsignature(path, 3, "brackets")
    assert isinstance(dispatch.loaded("logsignature", 3, 3, "c"), dispatch.LogSignatureModule)
    assert dispatch.loaded("signature", 3, 3, "c") is None  # no detour through the signature
    # options the kernels do not fuse (inverse, initial) take the signature and its logarithm
    inverse = sc.logsignature(path, 3, "words", inverse=True)
    assert np.abs(inverse - reference_logsignature(path[:, ::-1], 3, "words")).max() <= 1e-12
    based = sc.logsignature(path, 3, "words", basepoint=True)
    zero = np.zeros((4, 1, 3))
    want = reference_logsignature(np.concatenate([zero, path], axis=1), 3, "words")
    assert np.abs(based - want).max() <= 1e-12
    assert np.abs(sc.logsignature(path, 3, "words", target="jax") -
                  reference_logsignature(path, 3, "words")).max() <= 1e-12


# ---- gradients -------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("mode", MODES)
def test_c_gradients_through_torch_autograd(mode, stream):
    torch = pytest.importorskip("torch")
    leaf = torch.tensor(_path((3, 7, 2), seed=2), requires_grad=True)
    assert torch.autograd.gradcheck(lambda p: sc.logsignature(p, 4, mode, stream=stream),
                                    (leaf,))


@pytest.mark.parametrize("mode", ["words", "brackets"])
def test_c_gradients_through_jax_match_finite_differences(mode):
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    path = _path((2, 5, 3), seed=3)
    weights = np.random.default_rng(5).standard_normal(_want(path, 3, mode).shape)

    def value(p):
        return np.sum(_want(p, 3, mode) * weights)

    with jax.enable_x64(True):
        function = lambda p: jnp.sum(sc.logsignature(p, 3, mode) * weights)  # noqa: E731
        got = np.asarray(jax.grad(function)(jnp.asarray(path)))
        jitted = np.asarray(jax.jit(jax.grad(function))(jnp.asarray(path)))
    eps, fd = 1e-6, np.zeros_like(path)
    for index in np.ndindex(path.shape):
        up, down = path.copy(), path.copy()
        up[index] += eps
        down[index] -= eps
        fd[index] = (value(up) - value(down)) / (2 * eps)
    assert np.abs(got - fd).max() <= 1e-6 * np.abs(fd).max()
    assert np.abs(jitted - got).max() <= 1e-12
    with jax.enable_x64(True):  # inside jit: the XLA FFI handler; vmap folds into the batch
        lowered = jax.jit(lambda p: sc.logsignature(p, 3, mode)).lower(jnp.asarray(path))
        assert "logsig_forward" in lowered.as_text()
        stacked = jnp.asarray(np.stack([path, 2 * path]))
        mapped = np.asarray(jax.jit(jax.vmap(lambda p: sc.logsignature(p, 3, mode)))(stacked))
    assert np.abs(mapped[1] - _want(2 * path, 3, mode)).max() <= 1e-12


def test_c_kernels_under_torch_compile():
    torch = pytest.importorskip("torch")
    path = _path((3, 8, 2), seed=6)
    leaf = torch.tensor(path, requires_grad=True)
    compiled = torch.compile(lambda p: sc.logsignature(p, 3, "brackets"))
    out = compiled(leaf)
    assert np.abs(out.detach().numpy() - _want(path, 3, "brackets")).max() <= 1e-12
    out.sum().backward()
    eager = torch.tensor(path, requires_grad=True)
    sc.logsignature(eager, 3, "brackets").sum().backward()
    assert torch.allclose(leaf.grad, eager.grad, atol=1e-12)
    with torch.no_grad():  # no gradient asked: the signature is not kept
        assert sc.logsignature(leaf, 3, "words").shape == (3, sc.logsignature_channels(2, 3))


@pytest.mark.parametrize("mode", ["words", "brackets"])
def test_c_backward_through_each_kind_of_projection_segment(mode):
    """(3, 8): the brackets' straight-line levels, dense blocks and table rows transposed
    (words: straight-line and tables): the native backward against central differences of
    the reference along a random direction, float64."""
    dim, depth = 3, 8
    path = _path((2, 4, dim), seed=12)
    module = _module(dim, depth)
    rng = np.random.default_rng(3)
    weights = rng.standard_normal((2, sc.logsignature_channels(dim, depth)))
    out, sig = module.log_forward(path, mode=mode)
    gx = module.log_backward(path, sig, weights, mode=mode)
    direction = rng.standard_normal(path.shape)
    eps = 1e-5
    fd = np.sum((_want(path + eps * direction, depth, mode) -
                 _want(path - eps * direction, depth, mode)) * weights) / (2 * eps)
    assert abs(np.sum(gx * direction) - fd) <= 1e-6 * max(1.0, abs(fd))


def test_the_c_entry_points_refuse_an_unknown_basis():
    """The basis argument names the tables passed: one the module does not know, or tables of
    another size, return SIGCODEGEN_BAD_BASIS (2) and compute nothing."""
    module = _module(3, 3)
    path = _path((2, 5, 3), seed=1)
    indptr, cols, vals = sc.algebra.log_projection(3, 3, "brackets")
    lib = module.lib(64)
    for basis, outputs in ((7, indptr.size - 1), (2, indptr.size - 2), (-1, indptr.size - 1)):
        out = np.full((2, outputs), np.nan)
        status = lib.log_forward(path.ctypes.data, 2, 5, out.ctypes.data, 0, 0, outputs,
                                 indptr.ctypes.data, cols.ctypes.data, vals.ctypes.data, basis,
                                 None)
        assert status == 2 and np.isnan(out).all()
    with pytest.raises(ValueError, match="does not know this basis"):
        module._check(2, "log-signature forward", path.shape)


def test_c_backward_at_one_large_path():
    """(1000, 2), one path: the rows go through the one-row pass (a lane block would hold
    64 MB); the gradient equals that of the reference words, by finite differences along a
    random direction."""
    torch = pytest.importorskip("torch")
    path = _path((1, 3, 1000), seed=9) / 3
    rng = np.random.default_rng(0)
    weights = rng.standard_normal(sc.logsignature_channels(1000, 2))
    leaf = torch.tensor(path, requires_grad=True)
    (sc.logsignature(leaf, 2, "words") * torch.tensor(weights)).sum().backward()
    direction = rng.standard_normal(path.shape)
    eps = 1e-6
    up = reference_logsignature(path + eps * direction, 2, "words")
    down = reference_logsignature(path - eps * direction, 2, "words")
    fd = np.sum((up - down) * weights) / (2 * eps)
    assert abs(np.sum(leaf.grad.numpy() * direction) - fd) <= 1e-6 * max(1.0, abs(fd))


# ---- the conversions -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_conversions_run_the_kernels_on_numpy_and_torch(mode):
    torch = pytest.importorskip("torch")
    path = _path((3, 9, 3), seed=1)
    sig = reference_signature(path, 4)
    log = sc.signature_to_logsignature(sig, 3, 4, mode)
    assert np.abs(log - _want(path, 4, mode)).max() <= 1e-12
    back = sc.logsignature_to_signature(log, 3, 4, mode)
    assert np.abs(back - sig).max() <= 1e-12
    tensor = torch.tensor(sig, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s: sc.signature_to_logsignature(s, 3, 4, mode),
                                    (tensor,))
    logs = torch.tensor(log, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: sc.logsignature_to_signature(v, 3, 4, mode),
                                    (logs,))


def test_the_conversions_check_shapes():
    with pytest.raises(ValueError, match="has 39 values on its last axis"):
        sc.signature_to_logsignature(np.zeros((2, 38)), 3, 3, "words")
    with pytest.raises(ValueError, match="unknown log-signature mode"):
        sc.logsignature(_path((2, 4, 3)), 3, "lyndon")


# ---- the CLI ---------------------------------------------------------------------------------


def test_cli_builds_shows_and_plans_the_kind(capsys):
    from sigcodegen import cli

    assert cli.main(["plan", "--kind", "logsignature", "--dim", "3", "--depth", "3",
                     "--mode", "brackets"]) == 0
    out = capsys.readouterr().out
    assert "logsignature plan: dim=3, depth=3" in out and "  brackets " in out
    assert "  words " not in out
    assert cli.main(["show", "--kind", "logsignature", "--dim", "2", "--depth", "3",
                     "--target", "c"]) == 0
    source = capsys.readouterr().out
    assert "sigcodegen build --kind logsignature --dim 2 --depth 3 --target c" in source
    assert "int sigcodegen_logsig_forward_f32(" in source
    assert cli.main(["plan", "--dim", "3", "--depth", "3", "--mode", "words"]) == 2
    assert "--mode is an option of --kind logsignature" in capsys.readouterr().err


# ---- paths one at a time (lane_max_bytes) ------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_few_large_paths_run_one_at_a_time(stream):
    """(9, 5): a block of lanes would take more than lane_max_bytes for 2 paths, so each path
    runs alone in scalar code; forward and every backward mode against the reference."""
    dim, depth = 9, 5
    path = _path((2, 5, dim), seed=11) / 2
    module = dispatch.load_module(sc.KernelSpec(dim=dim, depth=depth, target="c"))
    # 2 paths < the lanes of any vector width, and one vector per coefficient passes the bound
    assert sc.signature_channels(dim, depth) * 64 > module_lane_max_bytes(dim, depth)
    want = reference_signature(path, depth, stream=stream)
    got = module.forward(path, stream)
    assert np.abs(got - want).max() <= 1e-13
    rng = np.random.default_rng(1)
    weights, direction = rng.standard_normal(want.shape), rng.standard_normal(path.shape)
    eps = 1e-6
    fd = np.sum((reference_signature(path + eps * direction, depth, stream=stream) -
                 reference_signature(path - eps * direction, depth, stream=stream)) * weights)
    fd /= 2 * eps
    for mode in ("auto", "reversible", "checkpoint"):
        grad = module.backward(path, got, weights, stream, mode)
        assert abs(np.sum(grad * direction) - fd) <= 1e-6 * max(1.0, abs(fd)), mode
    logs = sc.logsignature(path, depth, "words", stream=stream)
    assert np.abs(logs - _want(path, depth, "words", stream)).max() <= 1e-12


def module_lane_max_bytes(dim, depth):
    return logsignature_plan(dim, depth).target_params("c").param("lane_max_bytes")


@pytest.mark.parametrize("mode", ["words", "brackets"])
def test_c_kernels_inside_jit_without_x64(mode):
    """Without x64 jax has no int64 arrays: the FFI handlers take the tables as int32 (a crash
    once, in examples/classify_timeseries.py's LogSigLayer)."""
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    path = _path((4, 9, 3), seed=8)
    with jax.enable_x64(False):
        x = jnp.asarray(path, dtype=jnp.float32)
        got = np.asarray(jax.jit(lambda p: sc.logsignature(p, 3, mode))(x))
        grad = np.asarray(jax.jit(jax.grad(lambda p: sc.logsignature(p, 3, mode).sum()))(x))
    want = _want(path, 3, mode)
    assert np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max())
    torch = pytest.importorskip("torch")
    leaf = torch.tensor(path.astype(np.float32), requires_grad=True)
    sc.logsignature(leaf, 3, mode).sum().backward()
    assert np.abs(grad - leaf.grad.numpy()).max() <= 1e-5 * np.abs(grad).max()


def test_c_kernels_through_host_callbacks_without_ffi_headers(monkeypatch):
    """A library compiled without jaxlib's FFI headers runs traced jax arrays through
    jax.pure_callback: the same values and gradients."""
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    module = _module(2, 3)
    monkeypatch.setattr(module, "has_ffi", False)
    monkeypatch.setattr(module, "_logsig_jax", None)
    path = _path((3, 6, 2), seed=12)
    with jax.enable_x64(True):
        got = np.asarray(jax.jit(lambda p: sc.logsignature(p, 3, "brackets"))(jnp.asarray(path)))
        grad = np.asarray(jax.grad(lambda p: sc.logsignature(p, 3, "words").sum())(
            jnp.asarray(path)))
    assert np.abs(got - _want(path, 3, "brackets")).max() <= 1e-12
    torch = pytest.importorskip("torch")
    leaf = torch.tensor(path, requires_grad=True)
    sc.logsignature(leaf, 3, "words").sum().backward()
    assert np.abs(grad - leaf.grad.numpy()).max() <= 1e-12
    monkeypatch.undo()
    module._logsig_jax = None  # the next call binds the FFI again
