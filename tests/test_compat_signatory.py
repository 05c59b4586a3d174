"""sigcodegen.compat.signatory against signatory's documented semantics (its reference pages,
written out here with the float64 reference of tests/reference.py): basepoint, inverse, initial,
stream, scalar_term, the log-signature modes, combine, the utilities, the modules, Path's
intervals and updates, and gradients. signatory itself does not install on torch 2."""

from __future__ import annotations

import numpy as np
import pytest
from reference import brownian, finite_difference_gradient, lyndon_words_brute
from reference import logsignature as reference_logsignature
from reference import signature as reference_signature

torch = pytest.importorskip("torch")
signatory = pytest.importorskip("sigcodegen.compat.signatory")

DTYPES = [(torch.float64, 1e-11), (torch.float32, 2e-5)]


def _path(seed, shape, dtype=torch.float64):
    return torch.tensor(brownian(np.random.default_rng(seed), shape), dtype=dtype)


def _ref(x, depth, stream=False):
    return reference_signature(np.asarray(x, dtype=np.float64), depth, stream)


def _close(got, want, tol):
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=tol, atol=tol)


def _with_origin(x):
    return np.concatenate([np.zeros_like(x[:, :1]), x], axis=1)


@pytest.mark.parametrize("dtype,tol", DTYPES, ids=["float64", "float32"])
def test_signature_stream_basepoint_scalar_term(dtype, tol):
    x = _path(0, (3, 9, 2), dtype)
    xn = x.double().numpy()
    out = signatory.signature(x, 3)
    assert out.dtype == dtype and out.shape == (3, signatory.signature_channels(2, 3))
    _close(out, _ref(xn, 3), tol)
    _close(signatory.signature(x, 3, stream=True), _ref(xn, 3, True), tol)  # (3, 8, 14)
    # basepoint=True prepends the origin; stream then has L entries
    with_base = signatory.signature(x, 3, stream=True, basepoint=True)
    assert with_base.shape == (3, 9, 14)
    _close(with_base, _ref(_with_origin(xn), 3, True), tol)
    point = torch.tensor(np.random.default_rng(1).standard_normal((3, 2)), dtype=dtype)
    shifted = np.concatenate([point.double().numpy()[:, None], xn], axis=1)
    _close(signatory.signature(x, 3, basepoint=point), _ref(shifted, 3), tol)
    scalar = signatory.signature(x, 3, scalar_term=True)
    assert scalar.shape == (3, signatory.signature_channels(2, 3, scalar_term=True)) == (3, 15)
    _close(scalar[:, 0], np.ones(3), 0)
    _close(scalar[:, 1:], _ref(xn, 3), tol)


@pytest.mark.parametrize("dtype,tol", DTYPES, ids=["float64", "float32"])
def test_inverse_and_initial(dtype, tol):
    x = _path(2, (2, 12, 3), dtype)
    xn = x.double().numpy()
    # inverse: the signature of the reversed path (of each prefix, with stream)
    _close(signatory.signature(x, 3, inverse=True), _ref(xn[:, ::-1], 3), tol)
    stream = signatory.signature(x, 3, stream=True, inverse=True)
    want = np.stack([_ref(xn[:, :k + 1][:, ::-1], 3) for k in range(1, 12)], axis=1)
    _close(stream, want, tol)
    # initial: pre-multiplied; the second piece starts at the first one's end (basepoint)
    first, second = x[:, :6], x[:, 6:]
    joined = signatory.signature(second, 3, basepoint=first[:, -1],
                                 initial=signatory.signature(first, 3))
    _close(joined, _ref(xn, 3), tol)
    joined_stream = signatory.signature(second, 3, stream=True, basepoint=first[:, -1],
                                        initial=signatory.signature(first, 3))
    _close(joined_stream, _ref(xn, 3, True)[:, 5:], tol)  # prefixes ending at points 6..11
    # with inverse, initial is the earlier piece's inverse: the result is the whole inverse
    joined_inverse = signatory.signature(second, 3, basepoint=first[:, -1], inverse=True,
                                         initial=signatory.signature(first, 3, inverse=True))
    _close(joined_inverse, _ref(xn[:, ::-1], 3), tol)
    scalar = signatory.signature(second, 3, basepoint=first[:, -1], scalar_term=True,
                                 initial=signatory.signature(first, 3, scalar_term=True))
    _close(scalar[:, 1:], _ref(xn, 3), tol)


def test_logsignature_modes_and_conversion():
    iisignature = pytest.importorskip("iisignature")
    x = _path(3, (2, 10, 3))
    xn = x.numpy()
    _close(signatory.logsignature(x, 3), reference_logsignature(xn, 3, "words"), 1e-11)
    _close(signatory.logsignature(x, 3, mode="expand"), reference_logsignature(xn, 3, "expand"),
           1e-11)
    _close(signatory.logsignature(x, 3, mode="brackets"),
           iisignature.logsig(xn, iisignature.prepare(3, 3)), 1e-11)
    stream = signatory.logsignature(x, 3, stream=True, basepoint=True)
    assert stream.shape == (2, 10, signatory.logsignature_channels(3, 3))
    _close(stream[:, -1], reference_logsignature(_with_origin(xn), 3, "words"), 1e-11)
    _close(signatory.logsignature(x, 3, inverse=True),
           reference_logsignature(xn[:, ::-1], 3, "words"), 1e-11)
    sig = signatory.signature(x, 3, stream=True, scalar_term=True)
    for mode in signatory.MODES:
        converted = signatory.signature_to_logsignature(sig, 3, 3, stream=True, mode=mode,
                                                        scalar_term=True)
        _close(converted, signatory.logsignature(x, 3, stream=True, mode=mode).numpy(), 1e-11)
        module = signatory.SignatureToLogSignature(3, 3, stream=True, mode=mode, scalar_term=True)
        _close(module(sig), converted.numpy(), 0)
    with pytest.raises(ValueError, match="mode"):
        signatory.logsignature(x, 3, mode="lyndon")


def test_combine_and_multi_combine():
    x = _path(4, (2, 13, 2))
    xn = x.numpy()
    pieces = [x[:, :5], x[:, 4:9], x[:, 8:]]  # each piece starts where the last one ends
    sigs = [signatory.signature(p, 4) for p in pieces]
    _close(signatory.signature_combine(sigs[0], sigs[1], 2, 4), _ref(xn[:, :9], 4), 1e-11)
    _close(signatory.multi_signature_combine(sigs, 2, 4), _ref(xn, 4), 1e-11)
    inverses = [signatory.signature(p, 4, inverse=True) for p in pieces]
    _close(signatory.multi_signature_combine(inverses, 2, 4, inverse=True),
           _ref(xn[:, ::-1], 4), 1e-11)
    scalars = [signatory.signature(p, 4, scalar_term=True) for p in pieces]
    combined = signatory.multi_signature_combine(scalars, 2, 4, scalar_term=True)
    _close(combined[:, 1:], _ref(xn, 4), 1e-11)
    assert float(combined[:, 0].min()) == 1.0
    with pytest.raises(ValueError):
        signatory.signature_combine(sigs[0], sigs[1][:, :-1], 2, 4)


def test_utilities():
    x = _path(5, (2, 6, 3))
    sig = signatory.signature(x, 3, scalar_term=True)
    for level in (1, 2, 3):
        term = signatory.extract_signature_term(sig, 3, level, scalar_term=True)
        start = 1 + sum(3**k for k in range(1, level))
        _close(term, sig[:, start:start + 3**level].numpy(), 0)
        assert term.shape == (2, 3**level)
    assert [tuple(w) for w in signatory.lyndon_words(3, 4)] == lyndon_words_brute(3, 4)
    brackets = signatory.lyndon_brackets(2, 3)
    assert brackets == [0, 1, [0, 1], [0, [0, 1]], [[0, 1], 1]]
    words = signatory.all_words(2, 3)
    assert len(words) == signatory.signature_channels(2, 3) and words[:3] == [(0,), (1,), (0, 0)]
    # all_words orders the signature: the coefficient of word (i, j) is the iterated integral
    increments = np.diff(x.numpy(), axis=1)
    first = increments.sum(axis=1)
    plain = signatory.signature(x, 3)
    for position, word in enumerate(signatory.all_words(3, 1)):
        _close(plain[:, position], first[:, word[0]], 1e-12)
    assert signatory.logsignature_channels(4, 4) == len(lyndon_words_brute(4, 4))
    for bad in ((0, 2), (2, 0)):
        with pytest.raises(ValueError):
            signatory.signature_channels(*bad)


def test_modules_equal_the_functions():
    x = _path(6, (2, 8, 3))
    point = torch.zeros(2, 3, dtype=torch.float64)
    module = signatory.Signature(3, stream=True, inverse=True, scalar_term=True)
    _close(module(x, basepoint=point), signatory.signature(
        x, 3, stream=True, basepoint=point, inverse=True, scalar_term=True).numpy(), 0)
    log_module = signatory.LogSignature(3, mode="brackets")
    log_module.prepare(3)
    _close(log_module(x, basepoint=True),
           signatory.logsignature(x, 3, basepoint=True, mode="brackets").numpy(), 0)
    assert signatory.Logsignature is signatory.LogSignature


def test_augment():
    torch.manual_seed(0)
    x = _path(7, (2, 10, 3), torch.float32)
    augment = signatory.Augment(3, (5, 4), kernel_size=3)
    out = augment(x)
    assert out.shape == (2, 8, 3 + 1 + 4)
    _close(out[..., :3], x[:, 2:].numpy(), 0)
    _close(out[..., 3], np.broadcast_to(np.linspace(0, 1, 8), (2, 8)), 1e-6)
    conv1, conv2 = augment.convs
    manual = conv2(torch.relu(conv1(x.transpose(1, 2)))).transpose(1, 2)
    _close(out[..., 4:], manual.detach().numpy(), 1e-6)
    only_network = signatory.Augment(3, 4, kernel_size=2, stride=2, include_original=False,
                                     include_time=False)
    assert only_network(x).shape == (2, 5, 4)
    with pytest.raises(ValueError, match="stride"):
        signatory.Augment(3, 4, kernel_size=2, stride=2)
    with pytest.raises(RuntimeError, match="three dimensions"):
        augment(x[0])


def test_path_intervals_and_updates():
    rng = np.random.default_rng(8)
    x = _path(8, (2, 30, 2))
    path = signatory.Path(x[:, :12], 3, basepoint=True)
    path.update(x[:, 12:20])
    path.update(x[:, 20:])
    full = _with_origin(x.numpy())  # the basepoint is the first point
    assert path.shape == (2, 31, 2) and path.size(1) == 31
    assert path.signature_shape == (2, 30, 14) and path.logsignature_size(-1) == 5
    assert path.channels() == 2 and path.depth == 3 and len(path.path) == 4
    for _ in range(20):
        start = int(rng.integers(0, 29))
        end = int(rng.integers(start + 2, 32))
        _close(path.signature(start, end), _ref(full[:, start:end], 3), 1e-11)
    _close(path.signature(), _ref(full, 3), 1e-11)
    _close(path.signature(-6, None), _ref(full[:, -6:], 3), 1e-11)
    _close(path.logsignature(3, 17, mode="expand"),
           reference_logsignature(full[:, 3:17], 3, "expand"), 1e-11)
    _close(path[1].signature(4, 9), _ref(full[1:2, 4:9], 3), 1e-11)
    with pytest.raises(ValueError, match="two points"):
        path.signature(5, 6)
    with pytest.raises(ValueError, match="channels"):
        path.update(x[:, :4, :1])
    scalar = signatory.Path(x, 2, scalar_term=True)
    _close(scalar.signature(2, 7)[:, 0], np.ones(2), 0)
    assert scalar.signature_channels() == 7
    forgetful = signatory.Path(x, 2, remember_path=False)
    with pytest.raises(RuntimeError, match="remember_path"):
        forgetful.path


def test_gradients_match_finite_differences():
    x = brownian(np.random.default_rng(9), (10, 2))
    weights = np.random.default_rng(10).standard_normal(14)
    leaf = torch.tensor(x[None], requires_grad=True)
    (signatory.signature(leaf, 3) * torch.tensor(weights)).sum().backward()
    _close(leaf.grad[0], finite_difference_gradient(x, 3, weights), 1e-6)
    leaf = torch.tensor(x[None], requires_grad=True)
    (signatory.Path(leaf, 3).signature(2, 8) * torch.tensor(weights)).sum().backward()
    want = np.zeros_like(x)
    want[2:8] = finite_difference_gradient(x[2:8], 3, weights)
    _close(leaf.grad[0], want, 1e-6)
    small = torch.tensor(brownian(np.random.default_rng(11), (1, 5, 2)), requires_grad=True)
    start = torch.tensor(np.random.default_rng(12).standard_normal((1, 2)), requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda p, b: signatory.logsignature(p, 3, basepoint=b, mode="brackets"), (small, start))


def test_bad_arguments():
    with pytest.raises(ValueError, match="three dimensions"):
        signatory.signature(torch.zeros(5, 2), 2)
    with pytest.raises(ValueError, match="two points"):
        signatory.signature(torch.zeros(1, 1, 2), 2)
    with pytest.raises(ValueError, match="basepoint"):
        signatory.signature(torch.zeros(2, 4, 2), 2, basepoint=torch.zeros(3))
    with pytest.raises(ValueError, match="depth"):
        signatory.signature(torch.zeros(2, 4, 2), 0)
    with pytest.raises(TypeError, match="torch.Tensor"):
        signatory.signature(np.zeros((2, 4, 2)), 2)
