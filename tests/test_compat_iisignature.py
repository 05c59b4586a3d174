"""sigcodegen.compat.iisignature against the installed iisignature 0.24: every function on random
inputs, unbatched and batched, float32 and float64 inputs (same shapes, dtypes and values), and
the same errors on bad inputs. The derivatives are also checked against finite differences of
the real iisignature's forward functions, so a shared mistake cannot pass."""

from __future__ import annotations

import numpy as np
import pytest

import sigcodegen.compat.iisignature as compat
from reference import chen_product, flatten

ii = pytest.importorskip("iisignature")

BATCHES = [(), (3,), (2, 2)]
DTYPES = [np.float32, np.float64]
PAIRS = [(2, 3), (3, 2), (2, 5)]  # (d, m); (3, 2) has the area method; (2, 5): Hall brackets
# of brackets ([[1,2],[1,[1,2]]])


def _rng(*key):
    return np.random.default_rng(abs(hash(key)) % 2**32)


def _inputs(d, m, batch, dtype, seed=0):
    rng = _rng(d, m, batch, np.dtype(dtype).name, seed)
    siglen = ii.siglength(d, m)
    path = rng.standard_normal((*batch, 6, d)).astype(dtype)
    return {
        "path": path,
        "path2": rng.standard_normal((*batch, 4, d)).astype(dtype),
        "sig": ii.sig(path, m).astype(dtype),
        "sig2": ii.sig(rng.standard_normal((*batch, 4, d)), m).astype(dtype),
        "seg": rng.standard_normal((*batch, d)).astype(dtype),
        "scales": rng.uniform(0.5, 1.5, (*batch, d)).astype(dtype),
        "g_sig": rng.standard_normal((*batch, siglen)).astype(dtype),
        "g_stream": rng.standard_normal((*batch, 5, siglen)).astype(dtype),
        "g_log": rng.standard_normal((*batch, ii.logsiglength(d, m))).astype(dtype),
    }


def _calls(d, m, x, prepared):
    """(name, call on a module, module -> its prepared object) for every compared function."""
    s = prepared
    return {
        "sig": lambda mod: mod.sig(x["path"], m),
        "sig_format2": lambda mod: mod.sig(x["path"], m, 2),
        "sigbackprop": lambda mod: mod.sigbackprop(x["g_sig"], x["path"], m),
        "sigjoin": lambda mod: mod.sigjoin(x["sig"], x["seg"], m),
        "sigjoin_fixedlast": lambda mod: mod.sigjoin(x["sig"], x["seg"][..., :-1], m, 0.7),
        "sigjoinbackprop": lambda mod: mod.sigjoinbackprop(x["g_sig"], x["sig"], x["seg"], m),
        "sigjoinbackprop_fixedlast": lambda mod: mod.sigjoinbackprop(
            x["g_sig"], x["sig"], x["seg"][..., :-1], m, 0.7),
        "sigcombine": lambda mod: mod.sigcombine(x["sig"], x["sig2"], d, m),
        "sigcombinebackprop": lambda mod: mod.sigcombinebackprop(x["g_sig"], x["sig"], x["sig2"],
                                                                 d, m),
        "sigscale": lambda mod: mod.sigscale(x["sig"], x["scales"], m),
        "sigscalebackprop": lambda mod: mod.sigscalebackprop(x["g_sig"], x["sig"], x["scales"], m),
        "logsig": lambda mod: mod.logsig(x["path"], s[mod]("")),
        "logsig_hall": lambda mod: mod.logsig(x["path"], s[mod]("H")),
        "logsig_x": lambda mod: mod.logsig(x["path"], s[mod](""), "x"),
        "logsig_S": lambda mod: mod.logsig(x["path"], s[mod]("S"), "S"),
        "logsigbackprop": lambda mod: mod.logsigbackprop(x["g_log"], x["path"], s[mod]("")),
        "logsigbackprop_hall": lambda mod: mod.logsigbackprop(x["g_log"], x["path"], s[mod]("H")),
        "logsigbackprop_x": lambda mod: mod.logsigbackprop(x["g_sig"], x["path"], s[mod](""),
                                                           "x"),
    }




def _compare(ours, theirs, name):
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs), name
        for a, b in zip(ours, theirs):
            _compare(a, b, name)
        return
    if isinstance(theirs, float):
        assert isinstance(ours, float), name
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5, err_msg=name)
        return
    assert isinstance(ours, np.ndarray), (name, type(ours))
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, \
        (name, ours.shape, theirs.shape, ours.dtype, theirs.dtype)
    tol = 1e-10 if theirs.dtype == np.float64 else 2e-5  # float32 results are rounded doubles
    scale = max(1.0, float(np.abs(theirs).max(initial=0.0)))
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol * scale, err_msg=name)


@pytest.mark.parametrize("d,m", PAIRS)
@pytest.mark.parametrize("batch", BATCHES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: np.dtype(t).name)
def test_every_function_matches_iisignature(d, m, batch, dtype):
    x = _inputs(d, m, batch, dtype)
    prepared = {mod: (lambda mod: lambda methods: mod.prepare(d, m, methods))(mod)
                for mod in (compat, ii)}
    for name, call in _calls(d, m, x, prepared).items():
        _compare(call(compat), call(ii), name)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: np.dtype(t).name)
def test_unbatched_only_functions(dtype):
    x = _inputs(2, 3, (), dtype)
    _compare(compat.sigjacobian(x["path"], 3), ii.sigjacobian(x["path"], 3), "sigjacobian")
    ours, theirs = compat.sig(x["path"], 3, 1), ii.sig(x["path"], 3, 1)  # levels of one path
    _compare(ours, theirs, "sig_format1")


def test_format1_batched_gives_each_paths_levels():
    """iisignature 0.24 returns only the last path's levels here; ours keep the batch axes."""
    x = _inputs(2, 3, (3,), np.float64)
    levels = compat.sig(x["path"], 3, 1)
    assert [a.shape for a in levels] == [(3, 2), (3, 4), (3, 8)]
    np.testing.assert_allclose(np.concatenate(levels, -1), ii.sig(x["path"], 3), rtol=1e-10,
                               atol=1e-12)


@pytest.mark.parametrize("d,m,methods", [(2, 3, ""), (2, 3, "H"), (3, 4, "H"), (2, 5, ""),
                                         (2, 5, "H"), (3, 2, ""), (2, 3, "X"), (2, 3, "S"),
                                         (2, 3, "C"), (2, 1, ""), (10, 2, ""), (3, 6, "S")])
def test_basis_info_and_lengths(d, m, methods):
    ours, theirs = compat.prepare(d, m, methods), ii.prepare(d, m, methods)
    assert compat.basis(ours) == ii.basis(theirs)
    assert compat.info(ours) == ii.info(theirs)
    assert compat.siglength(d, m) == ii.siglength(d, m)
    assert compat.logsiglength(d, m) == ii.logsiglength(d, m)


def test_sizes_version_and_edge_paths():
    assert compat.version() == ii.version()
    for d, m in [(1, 3), (1, 1), (4, 2)]:
        assert compat.siglength(d, m) == ii.siglength(d, m)
        assert compat.logsiglength(d, m) == ii.logsiglength(d, m)
    one_point = np.array([[0.5, -1.0]])
    for ours, theirs in [(compat.sig(one_point, 2), ii.sig(one_point, 2)),
                         (compat.sig(one_point, 2, 2), ii.sig(one_point, 2, 2)),
                         (compat.logsig(one_point, compat.prepare(2, 3)),
                          ii.logsig(one_point, ii.prepare(2, 3))),
                         (compat.sig(np.zeros((0, 5, 2)), 2), ii.sig(np.zeros((0, 5, 2)), 2)),
                         (compat.sig([[0, 0], [1, 2]], 2), ii.sig([[0, 0], [1, 2]], 2)),
                         (compat.sig(np.arange(6).reshape(3, 2), 2),
                          ii.sig(np.arange(6).reshape(3, 2), 2))]:
        _compare(ours, theirs, "edge")


def test_logsigbackprop_prepares_the_s_method():
    path = _inputs(2, 3, (), np.float64)["path"]
    ours, theirs = compat.prepare(2, 3), ii.prepare(2, 3)
    for mod, s in ((compat, ours), (ii, theirs)):
        mod.logsigbackprop(np.ones(5), path, s)
    assert compat.info(ours) == ii.info(theirs)
    _compare(compat.logsig(path, ours, "S"), ii.logsig(path, theirs, "S"), "logsig S")


def test_logsigtosig_inverts_logsig():
    """iisignature 0.24 crashes on prepare(..., "2") here, so the check is the round trip."""
    path = _inputs(3, 3, (2,), np.float64)["path"]
    for methods in ("2", "2H"):
        s = compat.prepare(3, 3, methods)
        assert compat.info(s)["logsigtosig_supported"]
        np.testing.assert_allclose(compat.logsigtosig(compat.logsig(path, s), s),
                                   ii.sig(path, 3), rtol=1e-10, atol=1e-12)


def _finite_difference(f, x, g, eps=1e-6):
    out = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += eps
        down[index] -= eps
        out[index] = np.sum(g * (f(up) - f(down))) / (2 * eps)
    return out


def _chen(a, b, d, m):
    """The float64 Chen product of tests/reference.py (iisignature's sigcombine is float32)."""
    def levels(flat):
        sizes = np.cumsum([0] + [d**k for k in range(1, m + 1)])
        return [flat[sizes[k]:sizes[k + 1]].reshape((d,) * (k + 1)) for k in range(m)]
    return flatten(chen_product(levels(np.asarray(a, np.float64)),
                                levels(np.asarray(b, np.float64))))


def test_derivatives_match_finite_differences_of_iisignature():
    """An independent check of the backprops: central differences of the real forwards (and
    of the reference Chen product for sigcombine)."""
    d, m = 2, 3
    x = _inputs(d, m, (), np.float64, seed=1)
    g, g_log = x["g_sig"].astype(np.float64), x["g_log"].astype(np.float64)
    s = ii.prepare(d, m)
    checks = [
        (compat.sigbackprop(g, x["path"], m), lambda p: ii.sig(p, m), x["path"], g),
        (compat.logsigbackprop(g_log, x["path"], compat.prepare(d, m)),
         lambda p: ii.logsig(p, s), x["path"], g_log),
        (compat.sigjoinbackprop(g, x["sig"], x["seg"], m)[1],
         lambda e: ii.sig(np.concatenate([x["path"], x["path"][-1:] + e[None]]), m), x["seg"],
         g),
        (compat.sigscalebackprop(g, x["sig"], x["scales"], m)[1],
         lambda c: ii.sig(x["path"] * c, m), x["scales"], g),
        (compat.sigcombinebackprop(g, x["sig"], x["sig2"], d, m)[0],
         lambda a: _chen(a, x["sig2"], d, m), x["sig"], g),
    ]
    for ours, f, at, weights in checks:
        at = at.astype(np.float64)
        np.testing.assert_allclose(ours, _finite_difference(f, at, weights), rtol=1e-4,
                                   atol=1e-4)


def _bad_calls():
    p = np.zeros((5, 2))
    return {
        "1-d path": lambda mod: mod.sig(np.zeros(5), 2),
        "level 0": lambda mod: mod.sig(p, 0),
        "no points": lambda mod: mod.sig(np.zeros((0, 2)), 2),
        "no dimension": lambda mod: mod.sig(np.zeros((5, 0)), 2),
        "format 3": lambda mod: mod.sig(p, 2, 3),
        "complex": lambda mod: mod.sig(p.astype(complex), 2),
        "float level": lambda mod: mod.sig(p, 2.0),
        "derivs length": lambda mod: mod.sigbackprop(np.ones(5), p, 2),
        "derivs batch": lambda mod: mod.sigbackprop(np.ones((3, 6)), np.zeros((2, 5, 2)), 2),
        "derivs rank": lambda mod: mod.sigbackprop(np.ones((4, 6)), p, 2),
        "jacobian batch": lambda mod: mod.sigjacobian(np.zeros((3, 5, 2)), 2),
        "combine length": lambda mod: mod.sigcombine(np.ones(6), np.ones(5), 2, 2),
        "combine rank": lambda mod: mod.sigcombine(np.ones((2, 6)), np.ones(6), 2, 2),
        "join length": lambda mod: mod.sigjoin(np.ones(6), np.ones(3), 2),
        "join batch": lambda mod: mod.sigjoin(np.ones((3, 6)), np.ones((2, 2)), 2),
        "join rank": lambda mod: mod.sigjoin(np.ones((3, 6)), np.ones(2), 2),
        "joinbackprop fixedLast missing": lambda mod: mod.sigjoinbackprop(
            np.ones(6), np.ones(6), np.ones(1), 2),
        "scale length": lambda mod: mod.sigscale(np.ones(6), np.ones(3), 2),
        "scale batch": lambda mod: mod.sigscale(np.ones((3, 6)), np.ones((2, 2)), 2),
        "prepare dimension": lambda mod: mod.prepare(1, 3),
        "prepare level": lambda mod: mod.prepare(2, 0),
        "prepare method": lambda mod: mod.prepare(2, 3, "Q"),
        "prepare area": lambda mod: mod.prepare(2, 3, "A"),
        "prepare float": lambda mod: mod.prepare(2.0, 3),
        "prepare methods type": lambda mod: mod.prepare(2, 3, 5),
        "logsig dimension": lambda mod: mod.logsig(np.zeros((5, 3)), mod.prepare(2, 2)),
        "logsig method": lambda mod: mod.logsig(p, mod.prepare(2, 2), "Q"),
        "logsig area": lambda mod: mod.logsig(p, mod.prepare(2, 3), "A"),
        "logsig not prepared": lambda mod: mod.logsig(p, mod.prepare(2, 3, "X")),
        "logsig S not prepared": lambda mod: mod.logsig(p, mod.prepare(2, 3), "S"),
        "logsig not prepare()d": lambda mod: mod.logsig(p, 5),
        "logsigbackprop length": lambda mod: mod.logsigbackprop(np.ones(5), p, mod.prepare(2, 3),
                                                                "x"),
        "logsigbackprop batch": lambda mod: mod.logsigbackprop(
            np.ones((2, 5)), np.zeros((3, 5, 2)), mod.prepare(2, 3)),
        "logsigbackprop method": lambda mod: mod.logsigbackprop(np.ones(5), p, mod.prepare(2, 3),
                                                                "C"),
        "logsigtosig unprepared": lambda mod: mod.logsigtosig(np.zeros(5), mod.prepare(2, 3)),
        "siglength level": lambda mod: mod.siglength(2, 0),
        "siglength dimension": lambda mod: mod.siglength(0, 2),
        "logsiglength level": lambda mod: mod.logsiglength(2, 0),
        "logsiglength dimension": lambda mod: mod.logsiglength(0, 3),
    }


@pytest.mark.parametrize("name", list(_bad_calls()))
def test_errors_match_iisignature(name):
    call = _bad_calls()[name]
    with pytest.raises(Exception) as theirs:
        call(ii)
    with pytest.raises(Exception) as ours:
        call(compat)
    assert isinstance(ours.value, type(theirs.value)), (name, ours.value, theirs.value)
    if isinstance(theirs.value, RuntimeError):
        assert isinstance(ours.value, compat.IISignatureError)
        assert str(ours.value) == str(theirs.value), name


def test_refused_functions_say_so():
    for name in ("rotinv2dprepare", "logsigjoin", "logsigtosigbackprop"):
        with pytest.raises(NotImplementedError, match=name):
            getattr(compat, name)()
