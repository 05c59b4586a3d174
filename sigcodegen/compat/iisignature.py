"""iisignature 0.24's Python API on sigcodegen's kernels: ``import sigcodegen.compat.iisignature
as iisignature`` runs iisignature code unchanged.

Same functions, arguments, shapes, dtypes, batching and errors as iisignature's ``doc.md``:

- ``sig`` and ``logsig`` compute in float64 (float32 input is converted, as iisignature does)
  and return float64; the derivatives (``sigbackprop``, ``sigjacobian``, ``sigjoinbackprop``,
  ``sigcombinebackprop``, ``sigscalebackprop``, ``logsigbackprop``) and ``sigjoin``,
  ``sigcombine`` and ``sigscale`` compute in float64 and return float32, like iisignature.
- Batching: any leading axes on every argument, which must match (no broadcasting).
- Errors are ``RuntimeError`` (as iisignature raises), of the class :class:`IISignatureError`,
  which is also a ``ValueError``; a non-integer level is a ``TypeError``.
- ``prepare`` returns a :class:`Prepared` object (iisignature's is an opaque capsule). The log
  signature methods (``C``, ``O``, ``S``, ``A``) all give the same values here (the tensor
  logarithm of the signature, projected on the basis); the method letters are kept so that
  ``info`` and the "not prepared" errors behave as iisignature's. ``H`` selects the standard Hall
  basis, ``X`` the expanded log signature, ``2`` enables ``logsigtosig``.

Differences: ``sig(paths, m, 1)`` on a batch returns each level with the batch axes
(iisignature 0.24 returns only the last path's levels); ``prepare(d, m, "2")`` works (the
installed iisignature 0.24 crashes there). The rotational invariants (``rotinv2d*``),
``logsigjoin``, ``logsigjoinbackprop`` and ``logsigtosigbackprop`` raise ``NotImplementedError``.

Example:
    >>> import numpy as np
    >>> import sigcodegen.compat.iisignature as iisignature
    >>> path = np.array([[0.0, 0.0], [1.0, 2.0]])
    >>> iisignature.sig(path, 2)
    array([1. , 2. , 0.5, 1. , 1. , 2. ])
    >>> s = iisignature.prepare(2, 2)
    >>> iisignature.logsig(path, s), iisignature.basis(s)
    (array([1., 2., 0.]), ('1', '2', '[1,2]'))
"""

from __future__ import annotations

import functools
import operator

import numpy as np

from .. import algebra
from ..ops.logsignature import logsignature_to_signature, signature_to_logsignature
from ..ops.signature import signature, signature_vjp
from ..ops.tensor_algebra import signature_combine

__all__ = [
    "IISignatureError", "Prepared", "version", "siglength", "logsiglength", "sig",
    "sigbackprop", "sigjacobian", "sigjoin", "sigjoinbackprop", "sigcombine",
    "sigcombinebackprop", "sigscale", "sigscalebackprop", "prepare", "logsig", "logsigbackprop",
    "logsigtosig", "basis", "info",
]

#: The iisignature release whose API this module implements (what ``version()`` reports).
IISIGNATURE_VERSION = "0.24"
_METHOD_LETTERS = "DCOSAXH2"
_METHOD_ERROR = ("Invalid method string. Should be 'D' (default), 'C' (compiled), 'O' (simple BCH "
                 "object, not compiled), 'S' (by taking the log of the signature), 'A' (area "
                 "calculations), or 'X' (to report the expanded log signature), or some "
                 "combination - order ignored, possibly with 'H' or '2', or None.")


class IISignatureError(RuntimeError, ValueError):
    """What iisignature raises as RuntimeError (bad shapes, levels, methods); also a ValueError."""


def version() -> str:
    """The iisignature version whose API this module implements."""
    return IISIGNATURE_VERSION


# ----------------------------------------------------------------------------- checks

def _level(m) -> int:
    m = operator.index(m)  # a float raises TypeError, as in iisignature
    if m < 1:
        raise IISignatureError("level must be positive")
    return m


def _dimension(d, minimum: int = 1) -> int:
    d = operator.index(d)
    if d < minimum:
        raise IISignatureError("dimension must be positive" if minimum == 1
                               else f"dimension must be at least {minimum}")
    return d


def _array(x, what: str = "data") -> np.ndarray:
    """x as a float64 array (iisignature computes in double)."""
    try:
        x = np.asarray(x)
    except Exception as error:  # ragged lists and the like
        raise IISignatureError(f"{what} must be (convertable to) a numpy array") from error
    if x.dtype.kind not in "biuf":
        raise IISignatureError(f"{what} must be (convertable to) a numpy array")
    return np.ascontiguousarray(x, dtype=np.float64)


def _path(path) -> np.ndarray:
    path = _array(path)
    if path.ndim < 2:
        raise IISignatureError("data must be 2d")
    if path.shape[-2] == 0:
        raise IISignatureError("Path has no length")
    if path.shape[-1] == 0:
        raise IISignatureError("Path must have positive dimension")
    return path


def _flat(x, d: int, m: int, message: str) -> np.ndarray:
    x = _array(x)
    if x.ndim < 1 or x.shape[-1] != algebra.signature_channels(d, m):
        raise IISignatureError(message)
    return x


def _same_batch(a: np.ndarray, b: np.ndarray, names: str, trailing_a: int = 1,
                trailing_b: int = 1) -> None:
    if a.ndim - trailing_a != b.ndim - trailing_b:
        raise IISignatureError(f"{names} must have the same number of dimensions")
    if a.shape[:a.ndim - trailing_a] != b.shape[:b.ndim - trailing_b]:
        raise IISignatureError(f"mismatched dimensions between {names}")


def _f32(x):
    return np.asarray(x, dtype=np.float32)


# ----------------------------------------------------------------------------- sizes

def siglength(d, m) -> int:
    """d + d**2 + ... + d**m, the length of a signature up to level m."""
    m = _level(m)
    return algebra.signature_channels(_dimension(d), m)


def logsiglength(d, m) -> int:
    """The length of the log signature up to level m (Witt's formula)."""
    m = _level(m)
    return algebra.logsignature_channels(_dimension(d), m)


# ----------------------------------------------------------------------------- tensor algebra
# Elements with their scalar term: (..., 1 + siglen), level k at offsets[k]:offsets[k+1].

def _offsets(d: int, m: int) -> list[int]:
    return [0, *(1 + o for o in algebra.level_offsets(d, m))]


def _with_unit(x: np.ndarray, value: float = 1.0) -> np.ndarray:
    return np.concatenate([np.full((*x.shape[:-1], 1), value), x], axis=-1)


def _mul(a: np.ndarray, b: np.ndarray, d: int, m: int) -> np.ndarray:
    """Truncated product of two tensor-algebra elements (scalar terms included)."""
    o = _offsets(d, m)
    out = np.zeros(np.broadcast_shapes(a.shape, b.shape))
    for k in range(m + 1):
        for i in range(k + 1):
            left, right = a[..., o[i]:o[i + 1]], b[..., o[k - i]:o[k - i + 1]]
            out[..., o[k]:o[k + 1]] += (left[..., :, None] * right[..., None, :]).reshape(
                *out.shape[:-1], -1)
    return out


def _mul_vjp(g: np.ndarray, a: np.ndarray, b: np.ndarray, d: int, m: int):
    """(ga, gb): the gradients of sum(g * _mul(a, b)) with respect to a and b."""
    o = _offsets(d, m)
    ga, gb = np.zeros_like(a), np.zeros_like(b)
    for k in range(m + 1):
        for i in range(k + 1):
            j = k - i
            block = g[..., o[k]:o[k + 1]].reshape(*g.shape[:-1], d**i, d**j)
            ga[..., o[i]:o[i + 1]] += np.einsum("...ij,...j->...i", block, b[..., o[j]:o[j + 1]])
            gb[..., o[j]:o[j + 1]] += np.einsum("...ij,...i->...j", block, a[..., o[i]:o[i + 1]])
    return ga, gb


def _log_vjp(g: np.ndarray, sig: np.ndarray, d: int, m: int) -> np.ndarray:
    """Gradient of sum(g * log(1 + sig)) with respect to sig (no scalar terms in g, sig)."""
    x = _with_unit(sig, 0.0)  # log(1 + x) = sum_n (-1)^(n+1) x^n / n
    powers = [x]
    for _ in range(1, m):
        powers.append(_mul(powers[-1], x, d, m))
    g = _with_unit(g, 0.0)
    g_power = [g * ((-1) ** (n + 1) / n) for n in range(1, m + 1)]  # g_power[n-1]: d/d x^n
    g_x = np.zeros_like(x)
    for n in range(m, 1, -1):  # x^n = x^(n-1) * x
        g_prev, g_right = _mul_vjp(g_power[n - 1], powers[n - 2], x, d, m)
        g_power[n - 2] = g_power[n - 2] + g_prev
        g_x += g_right
    return (g_x + g_power[0])[..., 1:]


def _segment_signature(segments: np.ndarray, m: int) -> np.ndarray:
    """exp(segment): the signature of the straight line from 0 to each segment."""
    line = np.stack([np.zeros_like(segments), segments], axis=-2)
    return signature(line, m)


def _segment_vjp(g: np.ndarray, segments: np.ndarray, m: int) -> np.ndarray:
    line = np.stack([np.zeros_like(segments), segments], axis=-2)
    return signature_vjp(line, g, m)[..., 1, :]


# ----------------------------------------------------------------------------- signatures

def sig(path, m, format=0):
    """The signature of ``path`` ``(..., n, d)`` up to level m: ``(..., siglength(d, m))``
    float64; format 1: a tuple of the levels ``(..., d**k)``; format 2: the signature of every
    prefix, ``(..., n-1, siglength(d, m))``."""
    m = _level(m)
    path = _path(path)
    if format not in (0, 1, 2) or isinstance(format, bool):
        raise IISignatureError("Invalid format requested")
    out = signature(path, m, stream=format == 2)
    if format == 1:
        offsets = algebra.level_offsets(path.shape[-1], m)
        return tuple(out[..., offsets[k]:offsets[k + 1]] for k in range(m))
    return out


def _sig_derivs(s, path: np.ndarray, m: int, name: str = "derivs") -> np.ndarray:
    s = _array(s)
    siglen = algebra.signature_channels(path.shape[-1], m)
    if s.ndim != path.ndim - 1:
        raise IISignatureError(f"{name} has the wrong number of dimensions")
    if s.shape[-1] != siglen:
        raise IISignatureError(f"{name} should have length {siglen} but it has length "
                               f"{s.shape[-1]}")
    if s.shape[:-1] != path.shape[:-2]:
        raise IISignatureError("mismatched dimensions between paths and derivatives")
    return s


def sigbackprop(s, path, m):
    """The gradient with respect to ``path`` of F, given ``s`` = dF/d sig(path, m): an array
    shaped like ``path``, float32."""
    m = _level(m)
    path = _path(path)
    s = _sig_derivs(s, path, m)
    return _f32(signature_vjp(path, s, m))


def sigjacobian(path, m):
    """The Jacobian of ``sig(path, m)``: ``(n, d, siglength(d, m))`` for one path ``(n, d)``,
    float32; ``[a, b, c]`` is d sig[c] / d path[a, b]."""
    m = _level(m)
    path = _path(path)
    if path.ndim != 2:
        raise IISignatureError("data must be 2d")
    siglen = algebra.signature_channels(path.shape[-1], m)
    copies = np.broadcast_to(path, (siglen, *path.shape))
    rows = signature_vjp(np.ascontiguousarray(copies), np.eye(siglen), m)  # (siglen, n, d)
    return _f32(np.moveaxis(rows, 0, -1))


def _join_inputs(sigs, segments, m, fixedLast):
    m = _level(m)
    segments = _array(segments)
    if segments.ndim < 1:
        raise IISignatureError("data must be (convertable to) a numpy array")
    fixed = fixedLast is not None and not np.isnan(fixedLast)
    if fixed:
        segments = np.concatenate(
            [segments, np.full((*segments.shape[:-1], 1), float(fixedLast))], axis=-1)
    d = segments.shape[-1]
    if d < 1:
        raise IISignatureError("signatures have unexpected length")
    sigs = _flat(sigs, d, m, "signatures have unexpected length")
    _same_batch(sigs, segments, "sigs and data")
    return sigs, segments, d, m, fixed


def sigjoin(sigs, segments, m, fixedLast=float("nan")):
    """The signatures ``sigs`` ``(..., siglength(d, m))`` of paths extended by a straight segment
    ``(..., d)`` (or ``(..., d-1)`` and the common last coordinate ``fixedLast``), float32."""
    sigs, segments, d, m, _ = _join_inputs(sigs, segments, m, fixedLast)
    return _f32(signature_combine(sigs, _segment_signature(segments, m), d, m))


def sigjoinbackprop(derivs, sigs, segments, m, fixedLast=float("nan")):
    """(dF/d sigs, dF/d segments[, dF/d fixedLast]) from ``derivs`` = dF/d sigjoin(...)."""
    sigs, segments, d, m, fixed = _join_inputs(sigs, segments, m, fixedLast)
    derivs = _flat(derivs, d, m, "derivatives have unexpected length")
    _same_batch(sigs, derivs, "sigs and derivs")
    a, b = _with_unit(sigs), _with_unit(_segment_signature(segments, m))
    ga, gb = _mul_vjp(_with_unit(derivs, 0.0), a, b, d, m)
    g_segments = _segment_vjp(gb[..., 1:], segments, m)
    if fixed:
        return _f32(ga[..., 1:]), _f32(g_segments[..., :-1]), float(g_segments[..., -1].sum())
    return _f32(ga[..., 1:]), _f32(g_segments)


def _combine_inputs(sigs1, sigs2, d, m):
    d, m = _dimension(d), _level(m)
    a = _flat(sigs1, d, m, "first input has unexpected length")
    b = _flat(sigs2, d, m, "second input has unexpected length")
    if a.ndim != b.ndim:
        raise IISignatureError("signatures inputs must have the same number of dimensions")
    if a.shape != b.shape:
        raise IISignatureError("mismatched dimensions between the two signature inputs")
    return a, b, d, m


def sigcombine(sigs1, sigs2, d, m):
    """Chen's product: the signature of path 1 followed by path 2, float32."""
    a, b, d, m = _combine_inputs(sigs1, sigs2, d, m)
    return _f32(signature_combine(a, b, d, m))


def sigcombinebackprop(derivs, sigs1, sigs2, d, m):
    """(dF/d sigs1, dF/d sigs2) from ``derivs`` = dF/d sigcombine(sigs1, sigs2, d, m)."""
    a, b, d, m = _combine_inputs(sigs1, sigs2, d, m)
    derivs = _flat(derivs, d, m, "derivatives have unexpected length")
    if derivs.shape != a.shape:
        raise IISignatureError("mismatched dimensions between sigs and derivs")
    ga, gb = _mul_vjp(_with_unit(derivs, 0.0), _with_unit(a), _with_unit(b), d, m)
    return _f32(ga[..., 1:]), _f32(gb[..., 1:])


def _scale_inputs(sigs, scales, m):
    m = _level(m)
    scales = _array(scales)
    if scales.ndim < 1 or scales.shape[-1] < 1:
        raise IISignatureError("signatures have unexpected length")
    d = scales.shape[-1]
    sigs = _flat(sigs, d, m, "signatures have unexpected length")
    _same_batch(sigs, scales, "sigs and scales")
    return sigs, scales, d, m


def _scale_factors(scales: np.ndarray, m: int) -> list[np.ndarray]:
    """[scales, scales⊗scales, ...]: the factor of each word of each level."""
    levels = [scales]
    for _ in range(1, m):
        levels.append((levels[-1][..., :, None] * scales[..., None, :]).reshape(
            *scales.shape[:-1], -1))
    return levels


def sigscale(sigs, scales, m):
    """The signatures of the paths scaled by ``scales`` ``(..., d)`` in each coordinate: word
    (i1..ik) is multiplied by scales[i1] * ... * scales[ik]. float32."""
    sigs, scales, _, m = _scale_inputs(sigs, scales, m)
    return _f32(sigs * np.concatenate(_scale_factors(scales, m), axis=-1))


def sigscalebackprop(derivs, sigs, scales, m):
    """(dF/d sigs, dF/d scales) from ``derivs`` = dF/d sigscale(sigs, scales, m)."""
    sigs, scales, d, m = _scale_inputs(sigs, scales, m)
    derivs = _flat(derivs, d, m, "derivatives have unexpected length")
    _same_batch(sigs, derivs, "sigs and derivs")
    factors = _scale_factors(scales, m)
    offsets = algebra.level_offsets(d, m)
    g_factor = [derivs[..., offsets[k]:offsets[k + 1]] * sigs[..., offsets[k]:offsets[k + 1]]
                for k in range(m)]
    g_scales = np.zeros_like(scales)
    for k in range(m - 1, 0, -1):  # factors[k] = factors[k-1] ⊗ scales
        block = g_factor[k].reshape(*scales.shape[:-1], d**k, d)
        g_factor[k - 1] = g_factor[k - 1] + np.einsum("...ij,...j->...i", block, scales)
        g_scales += np.einsum("...ij,...i->...j", block, factors[k - 1])
    g_scales += g_factor[0]
    return _f32(derivs * np.concatenate(factors, axis=-1)), _f32(g_scales)


# ----------------------------------------------------------------------------- log signatures

def _hall_brackets(d: int, m: int) -> list:
    """The standard Hall basis in iisignature's order, as nested pairs of 0-based letters:
    degree by degree, [a, b] for Hall elements a before b (by index) of total degree n such
    that b is a letter or b = [c, e] with c not after a; ordered by a, then b."""
    elements = list(range(d))
    degree = {letter: 1 for letter in elements}
    index = {letter: i for i, letter in enumerate(elements)}
    for n in range(2, m + 1):
        found = [(a, b) for i, a in enumerate(elements) for b in elements[i + 1:]
                 if degree[a] + degree[b] == n and (isinstance(b, int) or index[b[0]] <= i)]
        for bracket in found:
            degree[bracket], index[bracket] = n, len(elements)
            elements.append(bracket)
    return elements


def _expansion(bracket) -> dict[tuple[int, ...], int]:
    """The polynomial of a Lie bracket, {word: coefficient}: [a, b] = ab - ba."""
    if isinstance(bracket, int):
        return {(bracket,): 1}
    out: dict[tuple[int, ...], int] = {}
    for u, x in _expansion(bracket[0]).items():
        for v, y in _expansion(bracket[1]).items():
            out[u + v] = out.get(u + v, 0) + x * y
            out[v + u] = out.get(v + u, 0) - x * y
    return {w: c for w, c in out.items() if c}


@functools.lru_cache(maxsize=32)
def _hall_maps(d: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """(to_basis (n × siglen), from_basis (siglen × n)) for the Hall basis: the columns of
    from_basis expand the basis elements; to_basis is its pseudo-inverse (exact on Lie
    elements, which lie in the column span)."""
    offsets = algebra.level_offsets(d, m)
    brackets = _hall_brackets(d, m)
    expand = np.zeros((offsets[-1], len(brackets)))
    for j, bracket in enumerate(brackets):
        for word, coefficient in _expansion(bracket).items():
            index = 0
            for letter in word:
                index = index * d + letter
            expand[offsets[len(word) - 1] + index, j] = coefficient
    return np.linalg.pinv(expand), expand


class Prepared:
    """What :func:`prepare` returns: the dimension, level, basis and methods for ``logsig``."""

    __slots__ = ("dimension", "level", "hall", "methods", "logsigtosig")

    def __init__(self, dimension: int, level: int, hall: bool, methods: set, logsigtosig: bool):
        self.dimension, self.level, self.hall = dimension, level, hall
        self.methods, self.logsigtosig = methods, logsigtosig

    def __repr__(self):
        return (f"<sigcodegen.compat.iisignature prepared: dimension {self.dimension}, level "
                f"{self.level}, {'Standard Hall' if self.hall else 'Lyndon'} basis>")

    def brackets(self) -> list:
        if self.hall:
            return _hall_brackets(self.dimension, self.level)
        return algebra.lyndon_brackets(self.dimension, self.level)


def _letters(methods, owner_error: str = _METHOD_ERROR) -> str:
    if methods is None:
        return ""
    if not isinstance(methods, str):
        raise TypeError(f"argument 3 must be str or None, not {type(methods).__name__}")
    letters = methods.replace(" ", "").upper()
    if any(c not in _METHOD_LETTERS for c in letters):
        raise IISignatureError(owner_error)
    return letters


def prepare(d, m, methods=None) -> Prepared:
    """The object ``logsig``, ``basis`` and ``info`` take, for d-dimensional paths up to level m.
    ``methods``: letters of D C O S A X (order ignored), H for the Hall basis, 2 for
    ``logsigtosig``; None or "" is the default method."""
    d, m = operator.index(d), operator.index(m)
    letters = _letters(methods)
    if d < 2:
        raise IISignatureError("dimension must be at least 2")
    if m < 1:
        raise IISignatureError("level must be positive")
    chosen = set(letters) & set("COSAX")
    if not set(letters) - {"H", "2"} or "D" in letters:  # iisignature's default method for (d, m)
        compiled = (d == 2 and m < 10) or (2 < d < 10 and m < 5)
        chosen |= {"C"} if compiled else {"S"}
        if m == 1:
            chosen |= {"C", "S"}
        if m <= 2:
            chosen.add("A")
    if "A" in chosen and m > 2:
        raise IISignatureError("level is too high to use the 'A' (area) method")
    if "C" in chosen and m > 1:
        chosen.add("O")  # the compiled BCH function is built from the BCH object
    chosen.add("X")
    return Prepared(d, m, "H" in letters, chosen, "2" in letters)


def _prepared(s) -> Prepared:
    if not isinstance(s, Prepared):
        raise IISignatureError("I have received an input which is not from iisignature.prepare()")
    return s


def _logsig_path(path, s: Prepared) -> np.ndarray:
    path = _path(path)
    if path.shape[-1] != s.dimension:
        raise IISignatureError(f"Path has dimension {path.shape[-1]} but we prepared for "
                               f"dimension {s.dimension}")
    return path


def _expanded_wanted(s: Prepared, methods) -> bool:
    """True for the X method; otherwise check a basis method is prepared."""
    letters = set(_letters(methods)) - {"H", "2"}
    if "X" in letters:
        return True
    wanted = letters & set("COSA")
    if "A" in wanted and s.level > 2:
        raise IISignatureError("level is too high to use the 'A' (area) method")
    available = s.methods & set("COSA")
    if (wanted and not wanted & available) or not available:
        raise IISignatureError("We had not prepare()d for this request type")
    return False


def _to_basis(expanded: np.ndarray, s: Prepared) -> np.ndarray:
    return expanded @ _hall_maps(s.dimension, s.level)[0].T


def logsig(path, s, methods=None):
    """The log signature of ``path`` ``(..., n, d)``: ``(..., logsiglength(d, m))`` float64 in
    the prepared basis, or ``(..., siglength(d, m))`` expanded in tensor space for ``"x"``."""
    s = _prepared(s)
    path = _logsig_path(path, s)
    expanded = _expanded_wanted(s, methods)
    d, m = s.dimension, s.level
    sig_ = signature(path, m)
    if expanded:
        return signature_to_logsignature(sig_, d, m, "expand")
    if s.hall:
        return _to_basis(signature_to_logsignature(sig_, d, m, "expand"), s)
    return signature_to_logsignature(sig_, d, m, "brackets")


def logsigbackprop(derivs, path, s, methods=None):
    """The gradient with respect to ``path`` of F, given ``derivs`` = dF/d logsig(path, s,
    methods): an array shaped like ``path``, float32."""
    s = _prepared(s)
    path = _logsig_path(path, s)
    letters = set(_letters(methods)) - {"H", "2"}
    if letters - {"S", "A", "X", "D"}:
        raise IISignatureError("Requested method cannot be used here")
    expanded = "X" in letters
    if not expanded and s.level > 2:
        s.methods.add("S")  # as iisignature: backprop prepares the S method when it must
    d, m = s.dimension, s.level
    derivs = _array(derivs)
    count = algebra.signature_channels(d, m) if expanded else algebra.logsignature_channels(d, m)
    if derivs.ndim < 1 or derivs.shape[-1] != count:
        raise IISignatureError("derivatives have unexpected length")
    if derivs.shape[:-1] != path.shape[:-2]:
        raise IISignatureError("mismatched dimensions between sigs and derivs")
    if expanded:
        g_log = derivs
    elif s.hall:
        g_log = derivs @ _hall_maps(d, m)[0]
    else:
        maps = algebra.lyndon_maps(d, m)  # the adjoint of gather-then-inverse: sparse
        g_log = np.zeros((*derivs.shape[:-1], maps.siglen))
        g_log[..., maps.words_index] = maps.inverse.T.apply(derivs)
    sig_ = signature(path, m)
    return _f32(signature_vjp(path, _log_vjp(g_log, sig_, d, m), m))


def logsigtosig(logsig_, s):
    """The signature ``(..., siglength(d, m))`` whose log signature (in the prepared basis) is
    ``logsig_`` ``(..., logsiglength(d, m))``; ``s`` must be prepared with ``"2"``."""
    s = _prepared(s)
    if not s.logsigtosig:
        raise IISignatureError("We did not prepare for log sig -> sig conversion. Ensure '2' "
                               "is in the method string in prepare")
    d, m = s.dimension, s.level
    logsig_ = _array(logsig_)
    if logsig_.ndim < 1 or logsig_.shape[-1] != algebra.logsignature_channels(d, m):
        raise IISignatureError("log signatures have unexpected length")
    if s.hall:
        return logsignature_to_signature(logsig_ @ _hall_maps(d, m)[1].T, d, m, "expand")
    return logsignature_to_signature(logsig_, d, m, "brackets")


def _bracket_text(bracket) -> str:
    if isinstance(bracket, int):
        return str(bracket + 1) if bracket < 9 else "?"  # iisignature's letters: 1..9, then ?
    return f"[{_bracket_text(bracket[0])},{_bracket_text(bracket[1])}]"


def basis(s) -> tuple[str, ...]:
    """The bracketed expressions the coefficients of ``logsig`` refer to, letters from 1."""
    return tuple(_bracket_text(b) for b in _prepared(s).brackets())


def info(s) -> dict:
    """The properties of a prepared object: dimension, level, methods, basis,
    logsigtosig_supported."""
    s = _prepared(s)
    return {"dimension": s.dimension, "level": s.level,
            "methods": "".join(c for c in "COSAX" if c in s.methods),
            "basis": "Standard Hall" if s.hall else "Lyndon",
            "logsigtosig_supported": s.logsigtosig}


def _refused(name: str, reason: str):
    def refuse(*args, **kwargs):
        raise NotImplementedError(f"sigcodegen.compat.iisignature.{name} is not implemented "
                                  f"({reason}); use iisignature itself for it")
    refuse.__name__ = name
    return refuse


logsigjoin = _refused("logsigjoin", "join through logsigtosig, sigjoin and logsig instead")
logsigjoinbackprop = _refused("logsigjoinbackprop", "no derivative of the exponential map yet")
logsigtosigbackprop = _refused("logsigtosigbackprop", "no derivative of the exponential map yet")
rotinv2dprepare = _refused("rotinv2dprepare", "rotational invariants are not provided")
rotinv2d = _refused("rotinv2d", "rotational invariants are not provided")
rotinv2dlength = _refused("rotinv2dlength", "rotational invariants are not provided")
rotinv2dcoeffs = _refused("rotinv2dcoeffs", "rotational invariants are not provided")
