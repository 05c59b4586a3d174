"""The signature algebra (issue: log-signatures, Lyndon bases, combine, basepoint / inverse /
initial, transforms, windows, ragged batches) against the float64 reference and iisignature,
on the jax and c targets for signatures and numpy, jax and torch arrays; the keras target and
LogSigLayer run per backend in test_keras_backends.py."""

from __future__ import annotations

import numpy as np
import pytest

import sigcodegen as sc
from reference import (brownian, finite_difference_gradient, logsignature as reference_logsignature,
                       lyndon_words_brute, relative_error)
from reference import signature as reference_signature

PAIRS = [(1, 3), (2, 4), (3, 3), (4, 2), (2, 6)]


def _path(shape, seed=0):
    return brownian(np.random.default_rng(seed), shape)


# ---- words, Lyndon words, lengths -----------------------------------------------------------------


@pytest.mark.parametrize("dim,depth", PAIRS + [(5, 4), (3, 5)])
def test_lyndon_words_and_witt_counts(dim, depth):
    assert sc.lyndon_words(dim, depth) == lyndon_words_brute(dim, depth)
    assert sc.logsignature_channels(dim, depth) == len(lyndon_words_brute(dim, depth))
    assert len(sc.lyndon_brackets(dim, depth)) == len(lyndon_words_brute(dim, depth))


def test_lyndon_brackets_are_the_standard_factorisation():
    assert sc.lyndon_brackets(3, 3)[3:] == [(0, 1), (0, 2), (1, 2), (0, (0, 1)), (0, (0, 2)),
                                            ((0, 1), 1), (0, (1, 2)), ((0, 2), 1), ((0, 2), 2),
                                            (1, (1, 2)), ((1, 2), 2)]


# ---- log-signatures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["c", "jax"])
@pytest.mark.parametrize("mode", ["expand", "words"])
@pytest.mark.parametrize("dim,depth", PAIRS)
def test_logsignature_matches_the_reference(target, mode, dim, depth):
    path = _path((3, 11, dim), seed=dim * depth)
    got = sc.logsignature(path, depth, mode, target=target)
    want = reference_logsignature(path, depth, mode)
    assert got.shape == want.shape and got.dtype == np.float64
    assert np.max(np.abs(got - want)) <= 1e-12 * max(1.0, np.max(np.abs(want)))


def test_brackets_in_one_dimension_are_the_increment():
    path = _path((3, 7, 1))  # iisignature needs d >= 2; in d = 1 the log is the increment
    assert np.allclose(sc.logsignature(path, 4, "brackets"), path[:, -1] - path[:, 0], atol=1e-14)


@pytest.mark.parametrize("dim,depth", PAIRS[1:] + [(5, 4)])
def test_brackets_match_iisignature(dim, depth):
    iisignature = pytest.importorskip("iisignature", reason="iisignature is not installed")
    path = _path((3, 15, dim), seed=dim + depth)
    got = sc.logsignature(path, depth, "brackets")
    want = iisignature.logsig(path, iisignature.prepare(dim, depth))
    assert np.max(np.abs(got - want)) <= 1e-10 * max(1.0, np.max(np.abs(want)))


@pytest.mark.parametrize("mode", ["expand", "words", "brackets"])
def test_stream_logsignature_and_exp_of_log(mode):
    path = _path((2, 9, 3))
    stream = sc.logsignature(path, 3, mode, stream=True)
    for k in (1, 4, 7):
        assert np.allclose(stream[:, k - 1], sc.logsignature(path[:, : k + 1], 3, mode), atol=1e-13)
    sig = sc.signature(path, 4)
    log = sc.signature_to_logsignature(sig, 3, 4, mode)
    back = sc.logsignature_to_signature(log, 3, 4, mode)
    assert relative_error(back, sig, 3, 4) <= 1e-12


def test_logsignature_on_jax_and_torch_keeps_types_and_gradients():
    import jax
    import jax.numpy as jnp
    import torch

    path = _path((2, 6, 2))
    want = sc.logsignature(path, 3, "brackets")
    with jax.enable_x64(True):
        got = sc.logsignature(jnp.asarray(path), 3, "brackets")
        weights = np.random.default_rng(1).standard_normal(want.shape)
        grad = jax.grad(lambda p: jnp.sum(sc.logsignature(p, 3, "words") * weights[..., :5]))(
            jnp.asarray(path))
    assert type(got).__module__.startswith("jax") and np.allclose(got, want, atol=1e-13)
    tensor = torch.tensor(path, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p: sc.logsignature(p, 3, "brackets"), (tensor,))

    def words_of(p):  # finite differences of the reference words log-signature
        return reference_logsignature(p, 3, "words")

    eps, fd = 1e-6, np.zeros_like(path)
    for index in np.ndindex(path.shape):
        up, down = path.copy(), path.copy()
        up[index] += eps
        down[index] -= eps
        fd[index] = np.sum((words_of(up) - words_of(down)) * weights[..., :5]) / (2 * eps)
    assert np.max(np.abs(np.asarray(grad) - fd)) <= 1e-6 * np.max(np.abs(fd))


# ---- combine, inverse, basepoint, initial ---------------------------------------------------------


@pytest.mark.parametrize("target", ["c", "jax"])
@pytest.mark.parametrize("dim,depth", PAIRS)
def test_chen_combine_and_inverse(target, dim, depth):
    path = _path((3, 12, dim), seed=depth)
    whole = reference_signature(path, depth)
    k = 5
    head = sc.signature(path[:, :k], depth, target=target)
    tail = sc.signature(path[:, k - 1:], depth, target=target)
    assert relative_error(sc.signature_combine(head, tail, dim, depth), whole, dim, depth) <= 1e-12
    pieces = np.stack([sc.signature(path[:, a:b], depth, target=target)
                       for a, b in ((0, 4), (3, 7), (6, 9), (8, 12))], axis=-2)
    assert relative_error(sc.multi_signature_combine(pieces, dim, depth), whole, dim, depth) <= 1e-12
    reversed_path = reference_signature(path[:, ::-1], depth)
    assert relative_error(sc.signature(path, depth, inverse=True, target=target), reversed_path,
                          dim, depth) <= 1e-12
    assert relative_error(sc.signature_inverse(whole, dim, depth), reversed_path, dim, depth) <= 1e-12


@pytest.mark.parametrize("target", ["c", "jax"])
def test_basepoint_initial_and_stream(target):
    path = _path((2, 8, 3))
    origin = np.concatenate([np.zeros((2, 1, 3)), path], axis=1)
    assert relative_error(sc.signature(path, 3, basepoint=True, target=target),
                          reference_signature(origin, 3), 3, 3) <= 1e-12
    point = np.array([0.5, -1.0, 2.0])
    moved = np.concatenate([np.broadcast_to(point, (2, 1, 3)), path], axis=1)
    assert relative_error(sc.signature(path, 3, basepoint=point, target=target),
                          reference_signature(moved, 3), 3, 3) <= 1e-12
    head = sc.signature(path[:, :4], 3, target=target)
    assert relative_error(sc.signature(path[:, 3:], 3, initial=head, target=target),
                          reference_signature(path, 3), 3, 3) <= 1e-12
    stream = sc.signature(path[:, 3:], 3, stream=True, initial=head, target=target)
    assert relative_error(stream, reference_signature(path, 3, stream=True)[:, 3:], 3, 3) <= 1e-12
    # inverse with initial: the inverse of the whole path from the head's inverse
    back = sc.signature(path[:, 3:], 3, inverse=True, initial=sc.signature_inverse(head, 3, 3),
                        target=target)
    assert relative_error(back, reference_signature(path[:, ::-1], 3), 3, 3) <= 1e-12


# ---- ragged batches and windows ---------------------------------------------------------------------


@pytest.mark.parametrize("target", ["c", "jax"])
def test_lengths_use_only_the_first_points(target):
    path = _path((4, 10, 2))
    lengths = np.array([10, 1, 2, 6])
    got = sc.signature(path, 4, lengths=lengths, target=target)
    for b, n in enumerate(lengths):
        assert relative_error(got[b], reference_signature(path[b, :n], 4), 2, 4) <= 1e-12
    stream = sc.signature(path, 3, stream=True, lengths=lengths, target=target)
    assert relative_error(stream[3, 5:], np.broadcast_to(reference_signature(path[3, :6], 3), (4, 14)),
                          2, 3) <= 1e-12


@pytest.mark.parametrize("target", ["c", "jax"])
@pytest.mark.parametrize("window,stride", [(2, 1), (4, 2), (10, 3), (12, 1)])
def test_windows_are_signatures_of_slices(target, window, stride):
    path = _path((2, 12, 3), seed=window)
    got = sc.windowed_signature(path, 3, window, stride, target=target)
    starts = range(0, 12 - window + 1, stride)
    want = np.stack([reference_signature(path[:, s:s + window], 3) for s in starts], axis=-2)
    assert got.shape == want.shape and relative_error(got, want, 3, 3) <= 1e-12


# ---- transforms ----------------------------------------------------------------------------------------


def test_time_augment_and_lead_lag():
    path = _path((2, 4, 2))
    augmented = sc.time_augment(path)
    assert augmented.shape == (2, 4, 3) and np.allclose(augmented[..., 2], np.linspace(0, 1, 4))
    assert np.array_equal(augmented[..., :2], path)
    given = sc.time_augment(path, times=[0.0, 2.0, 3.0, 7.0])
    assert np.array_equal(given[0, :, 2], [0.0, 2.0, 3.0, 7.0])
    leadlag = sc.lead_lag(path[0])
    x = path[0]
    want = [np.r_[x[0], x[0]], np.r_[x[1], x[0]], np.r_[x[1], x[1]], np.r_[x[2], x[1]],
            np.r_[x[2], x[2]], np.r_[x[3], x[2]], np.r_[x[3], x[3]]]
    assert np.array_equal(leadlag, np.array(want))


# ---- bad input -------------------------------------------------------------------------------------------


def test_bad_input_is_refused_clearly():
    path = _path((2, 6, 3))
    sig = sc.signature(path, 2)
    with pytest.raises(ValueError, match="has 12 values on its last axis"):
        sc.signature_combine(sig, sc.signature(path[..., :2], 2), 3, 2)
    with pytest.raises(ValueError, match="lengths must lie in 1..L=6"):
        sc.signature(path, 2, lengths=np.array([3, 7]))
    with pytest.raises(ValueError, match="lengths must be integers of shape"):
        sc.signature(path, 2, lengths=np.array([3.0, 2.0]))
    with pytest.raises(ValueError, match="window=7 points is longer than the path"):
        sc.windowed_signature(path, 2, 7)
    with pytest.raises(ValueError, match="stride must be an integer >= 1"):
        sc.windowed_signature(path, 2, 3, 0)
    with pytest.raises(ValueError, match="unknown log-signature mode 'lie'"):
        sc.logsignature(path, 2, "lie")
    with pytest.raises(ValueError, match="brackets log-signature of dim=3, depth=2 has 6 values"):
        sc.logsignature_to_signature(np.zeros((2, 5)), 3, 2, "brackets")
    with pytest.raises(ValueError, match="basepoint must be True or a point of dimension 3"):
        sc.signature(path, 2, basepoint=np.zeros(2))
    with pytest.raises(ValueError, match="initial signature of dim=3, depth=2 has 12 values"):
        sc.signature(path, 2, initial=np.zeros((2, 5)))


# ---- log-signature sizes (issue 15): sparse maps, large (d, m), counts, the size guard -------------


def _expansion(bracket) -> dict:
    """The polynomial of a nested-pair bracket, {word: coefficient}, by [a, b] = ab - ba."""
    if isinstance(bracket, int):
        return {(bracket,): 1}
    out = {}
    for u, a in _expansion(bracket[0]).items():
        for v, b in _expansion(bracket[1]).items():
            out[u + v] = out.get(u + v, 0) + a * b
            out[v + u] = out.get(v + u, 0) - a * b
    return {w: c for w, c in out.items() if c}


def _flat_index(word, dim):
    position = 0
    for letter in word:
        position = position * dim + letter
    return sum(dim**j for j in range(1, len(word))) + position


def _dense_maps(dim, depth):
    """The old dense construction, as an independent reference at small (d, m): the index of the
    Lyndon words, the bracket expansions as columns, and the inverse of their square part."""
    words = lyndon_words_brute(dim, depth)
    index = np.array([_flat_index(w, dim) for w in words])
    expand = np.zeros((sum(dim**k for k in range(1, depth + 1)), len(words)))
    for j, bracket in enumerate(sc.lyndon_brackets(dim, depth)):
        for word, coefficient in _expansion(bracket).items():
            expand[_flat_index(word, dim), j] = coefficient
    return index, np.linalg.inv(expand[index]), expand


def _densify(sparse):
    out = np.zeros(sparse.shape)
    np.add.at(out, (sparse.rows, sparse.cols), sparse.values)
    return out


@pytest.mark.parametrize("dim,depth", [(2, 3), (3, 4), (2, 7), (4, 4), (3, 5), (5, 2), (1, 3)])
def test_lyndon_maps_equal_the_dense_construction(dim, depth):
    maps = sc.lyndon_maps(dim, depth)
    index, inverse, expand = _dense_maps(dim, depth)
    assert maps.words_index.tolist() == index.tolist() == sc.lyndon_index(dim, depth).tolist()
    assert np.allclose(_densify(maps.inverse), inverse, atol=1e-12)
    assert np.array_equal(_densify(maps.expand), expand)
    assert maps.inverse.nnz == np.count_nonzero(np.abs(inverse) > 1e-9)


LARGE = [(5, 6, 2), (6, 6, 2), (7, 6, 2), (9, 5, 2), (1000, 2, 1)]


@pytest.mark.parametrize("dim,depth,batch", LARGE)
def test_large_log_signatures_run_sparse(dim, depth, batch):
    """The sizes of issue 15: brackets equal iisignature.logsig, words the reference, and the
    maps stay sparse (a dense siglen x n matrix at (7, 6) alone would be 26 GB)."""
    iisignature = pytest.importorskip("iisignature")
    path = _path((batch, 3, dim)) / 3
    got = sc.logsignature(path, depth, "brackets")
    want = iisignature.logsig(path, iisignature.prepare(dim, depth))
    assert np.abs(got - want).max() <= 1e-12 * max(1.0, np.abs(want).max())
    words = sc.logsignature(path, depth, "words")
    assert np.allclose(words, reference_logsignature(path, depth, "words"), atol=1e-13)
    maps = sc.lyndon_maps(dim, depth)
    assert np.array_equal(sc.lyndon_index(dim, depth), maps.words_index)
    siglen = sum(dim**k for k in range(1, depth + 1))
    assert maps.nbytes < 64 * 2**20 and maps.nnz < 8 * siglen
    sig = sc.signature(path, depth)
    back = sc.logsignature_to_signature(got, dim, depth, "brackets")
    assert np.allclose(back, sig, atol=1e-12)
    assert np.allclose(sc.logsignature_to_signature(words, dim, depth, "words"), sig, atol=1e-12)


@pytest.mark.parametrize("dim,depth", [(5, 6), (9, 5)])
def test_large_log_signature_gradients_match_iisignature(dim, depth):
    iisignature = pytest.importorskip("iisignature")
    torch = pytest.importorskip("torch")
    from sigcodegen.compat import iisignature as compat

    path = _path((2, 3, dim)) / 3
    s = iisignature.prepare(dim, depth)
    weights = np.random.default_rng(1).standard_normal((2, iisignature.logsiglength(dim, depth)))
    want = iisignature.logsigbackprop(weights, path, s)  # float32, as iisignature returns
    leaf = torch.tensor(path, requires_grad=True)
    (sc.logsignature(leaf, depth, "brackets") * torch.tensor(weights)).sum().backward()
    scale = np.abs(want).max()
    assert np.abs(leaf.grad.numpy() - want).max() <= 1e-6 * scale
    got = compat.logsigbackprop(weights, path, compat.prepare(dim, depth))
    assert np.abs(got - want).max() <= 1e-6 * scale


@pytest.mark.parametrize("mode", ["words", "brackets"])
def test_sparse_log_signature_gradients_match_the_dense_reference(mode):
    """Gradients through the sparse maps (jax and torch autodiff) equal those through the old
    dense matrices, and finite differences of the dense reference."""
    import jax
    import jax.numpy as jnp
    import torch

    dim, depth = 3, 4
    path = _path((2, 4, dim))
    index, inverse, _ = _dense_maps(dim, depth)
    weights = np.random.default_rng(2).standard_normal((2, len(index)))

    def dense(p):  # numpy float64: the reference log-signature in mode
        words = reference_logsignature(p, depth, "expand")[..., index]
        return words if mode == "words" else words @ inverse.T

    grad_jax = jax.grad(lambda p: jnp.sum(sc.logsignature(p, depth, mode) * weights))
    with jax.enable_x64(True):
        got_jax = np.asarray(grad_jax(jnp.asarray(path)))
    leaf = torch.tensor(path, requires_grad=True)
    (sc.logsignature(leaf, depth, mode) * torch.tensor(weights)).sum().backward()
    eps, want = 1e-6, np.zeros_like(path)
    for i in np.ndindex(path.shape):
        up, down = path.copy(), path.copy()
        up[i] += eps
        down[i] -= eps
        want[i] = np.sum((dense(up) - dense(down)) * weights) / (2 * eps)
    assert np.allclose(got_jax, want, atol=1e-6)
    assert np.allclose(leaf.grad.numpy(), want, atol=1e-6)


def _witt(dim, depth):
    """Witt's formula, written here: sum over k of (1/k) sum over j | k of mu(k/j) dim^j."""
    def mu(n):
        factors, p, out = n, 2, 1
        while p * p <= factors:
            if factors % p == 0:
                factors //= p
                if factors % p == 0:
                    return 0
                out = -out
            p += 1
        return -out if factors > 1 else out

    return sum(sum(mu(k // j) * dim**j for j in range(1, k + 1) if k % j == 0) // k
               for k in range(1, depth + 1))


@pytest.mark.parametrize("dim,depth", [(4, 12), (9, 9), (1000, 2)])
def test_counts_at_large_sizes_equal_their_closed_forms(dim, depth):
    from sigcodegen.compat import iisignature as compat_iisignature
    from sigcodegen.compat import signatory as compat_signatory

    geometric = (dim ** (depth + 1) - dim) // (dim - 1)  # dim + ... + dim^depth
    assert sc.signature_channels(dim, depth) == geometric
    assert sc.logsignature_channels(dim, depth) == _witt(dim, depth)
    assert compat_signatory.signature_channels(dim, depth) == geometric
    assert compat_signatory.logsignature_channels(dim, depth) == _witt(dim, depth)
    assert compat_iisignature.siglength(dim, depth) == geometric
    assert compat_iisignature.logsiglength(dim, depth) == _witt(dim, depth)
    if (dim, depth) == (1000, 2):  # 500,500 words: small enough to list
        assert len(sc.lyndon_words(dim, depth)) == _witt(dim, depth) == dim * (dim + 1) // 2


def test_one_path_at_depth_12_runs_in_float32():
    """(4, 12) is 22,369,620 coefficients, 89 MB per path in float32: below the memory limit,
    so it runs (the old fixed cap of 2**24 coefficients refused it)."""
    path = (_path((1, 3, 4)) / 3).astype(np.float32)
    sig = sc.signature(path, 12)
    assert sig.shape == (1, 22369620) and sig.dtype == np.float32
    increment = path[0, -1] - path[0, 0]
    assert np.allclose(sig[0, :4], increment, atol=1e-6)
    top = sum(4**k for k in range(1, 12))  # level 12 starts here: word (0,)*12 = dx0^12 / 12!
    import math
    assert np.isclose(sig[0, top], increment[0] ** 12 / math.factorial(12), rtol=1e-3, atol=1e-30)


def test_the_size_guard_judges_bytes_and_can_be_raised(monkeypatch):
    path = np.zeros((64, 3, 3))
    siglen = 3 + 9 + 27 + 81
    output = 64 * siglen * 8
    try:
        sc.set_max_bytes(output // 2)
        with pytest.raises(sc.SizeLimitError, match=r"\(64, 3, 3\) at depth 4.*SIGCODEGEN_MAX_BYTES"):
            sc.signature(path, 4)
        with pytest.raises(ValueError, match="set_max_bytes"):
            sc.logsignature(path, 4, "brackets")
        sc.set_max_bytes(output * 100)
        assert sc.signature(path, 4).shape == (64, siglen)
    finally:
        sc.set_max_bytes(None)
    monkeypatch.setenv("SIGCODEGEN_MAX_BYTES", "1K")
    assert sc.max_bytes() == 1024
    with pytest.raises(sc.SizeLimitError, match="1,024|0.0 MiB"):
        sc.signature(path, 4)
    monkeypatch.setenv("SIGCODEGEN_MAX_BYTES", "lots")
    with pytest.raises(ValueError, match="SIGCODEGEN_MAX_BYTES='lots'"):
        sc.max_bytes()
    monkeypatch.delenv("SIGCODEGEN_MAX_BYTES")
    assert sc.max_bytes() >= 2**28  # the default: half the physical memory


@pytest.mark.parametrize("use_scipy", [True, False])
@pytest.mark.parametrize("chunk", [7, 1 << 16])
def test_sparse_map_products_equal_the_dense_matrix(use_scipy, chunk):
    if use_scipy:
        pytest.importorskip("scipy")
    maps = sc.lyndon_maps(3, 4)
    x = np.random.default_rng(3).standard_normal((2, 3, maps.siglen))
    for sparse, vector in ((maps.inverse, x[..., :maps.count]), (maps.expand, x[..., :maps.count]),
                           (maps.expand.T, x)):
        want = vector @ _densify(sparse).T
        got = sparse.apply(vector, chunk=chunk, use_scipy=use_scipy)
        assert got.shape == want.shape and np.allclose(got, want, atol=1e-12)
    assert maps.expand.apply(x[..., :maps.count].astype(np.float32)).dtype == np.float32


def test_numpy_segment_sum_adds_sorted_segments():
    from sigcodegen.runtime.frameworks import framework_named

    data = np.arange(12.0).reshape(2, 6)
    segments = np.array([0, 0, 2, 2, 2, 4])
    got = framework_named("numpy").segment_sum(data, segments, 5)
    want = np.zeros((2, 5))
    for t, s in enumerate(segments):
        want[:, s] += data[:, t]
    assert np.array_equal(got, want)
