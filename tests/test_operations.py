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
