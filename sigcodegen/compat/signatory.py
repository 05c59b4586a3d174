"""signatory's API (1.2) for torch 2, on sigcodegen's kernels: ``import sigcodegen.compat.signatory
as signatory`` runs signatory code unchanged (signatory itself supports torch <= 1.11 only).

Paths are torch tensors ``(batch, stream, channels)``; results are torch tensors of the path's
dtype and device, and gradients flow through torch's autograd (sigcodegen's native backward on
the CPU, the triton kernels on CUDA GPUs when triton is installed). The semantics are those of
signatory's reference documentation:

- ``signature(path, depth, stream, basepoint, inverse, initial, scalar_term)``: ``basepoint``
  True prepends the origin, a tensor ``(batch, channels)`` that point; ``inverse`` gives the
  inverse signature (of the reversed path); ``initial`` is pre-multiplied: ``initial ⊗ S``
  (``S^-1 ⊗ initial`` with ``inverse``, where ``initial`` is then the earlier piece's inverse);
  ``scalar_term`` adds the constant 1 as channel 0. ``stream`` gives every prefix of two or more
  points (one or more after a basepoint).
- ``logsignature(..., mode)``: ``"words"`` (the tensor logarithm's coefficients at the Lyndon
  words), ``"brackets"`` (the Lyndon bracket basis), ``"expand"`` (the whole tensor logarithm).
- ``signature_combine`` / ``multi_signature_combine``: Chen's product in path order (the
  reverse order for ``inverse=True``).
- ``Path``: window signatures of a growing path, ``Path(path, depth).signature(start, end)`` ==
  ``signature(path[:, start:end], depth)`` (slice rules; at least two points).

Example:
    >>> import torch
    >>> import sigcodegen.compat.signatory as signatory
    >>> path = torch.tensor([[[0.0, 0.0], [1.0, 2.0]]], dtype=torch.float64)
    >>> signatory.signature(path, 2)
    tensor([[1.0000, 2.0000, 0.5000, 1.0000, 1.0000, 2.0000]], dtype=torch.float64)
    >>> signatory.Path(path, 2).logsignature(mode="brackets")
    tensor([[1., 2., 0.]], dtype=torch.float64)
"""

from __future__ import annotations

import copy
import itertools

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .. import algebra
from ..ops.logsignature import logsignature as _logsignature_of_path
from ..ops.logsignature import signature_to_logsignature as _to_logsignature
from ..ops.signature import signature as _signature_of_path
from ..ops.tensor_algebra import multi_signature_combine as _combine_many
from ..ops.tensor_algebra import signature_combine as _combine_two
from ..ops.tensor_algebra import signature_inverse as _inverse

__all__ = [
    "signature", "logsignature", "signature_combine", "multi_signature_combine",
    "signature_to_logsignature", "signature_channels", "logsignature_channels",
    "extract_signature_term", "lyndon_words", "lyndon_brackets", "all_words", "Signature",
    "LogSignature", "Logsignature", "SignatureToLogSignature", "SignatureToLogsignature",
    "Augment", "Path",
]

MODES = ("words", "brackets", "expand")


# ----------------------------------------------------------------------------- helpers

def _check_path(path, depth, basepoint) -> None:
    if not isinstance(path, torch.Tensor):
        raise TypeError(f"signatory: path must be a torch.Tensor, got {type(path).__name__}")
    if path.dim() != 3:
        raise ValueError(f"signatory: path must have three dimensions (batch, stream, channel), "
                         f"got shape {tuple(path.shape)}")
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"signatory: depth must be an integer >= 1, got {depth!r}")
    if path.size(-1) < 1:
        raise ValueError("signatory: path must have at least one channel")
    points = path.size(-2) + (0 if basepoint is False or basepoint is None else 1)
    if points < 2:
        raise ValueError(f"signatory: a path needs at least two points (counting a basepoint), "
                         f"got {points}")
    if isinstance(basepoint, torch.Tensor) and tuple(basepoint.shape) != (path.size(0),
                                                                           path.size(-1)):
        raise ValueError(f"signatory: basepoint must be True, False or a tensor (batch, "
                         f"channels) = {(path.size(0), path.size(-1))}, got "
                         f"{tuple(basepoint.shape)}")


def _basepoint(basepoint):
    return None if basepoint is False else basepoint


def _add_scalar(sig: torch.Tensor) -> torch.Tensor:
    return torch.cat([torch.ones_like(sig[..., :1]), sig], dim=-1)


def _drop_scalar(sig: torch.Tensor, scalar_term: bool) -> torch.Tensor:
    return sig[..., 1:] if scalar_term else sig


def _check_signature(sig, channels: int, depth: int, scalar_term: bool, owner: str) -> None:
    want = signature_channels(channels, depth, scalar_term)
    if not isinstance(sig, torch.Tensor) or sig.size(-1) != want:
        shape = tuple(sig.shape) if isinstance(sig, torch.Tensor) else type(sig).__name__
        raise ValueError(f"signatory.{owner}: a signature of {channels} channels at depth {depth}"
                         f"{' with its scalar term' if scalar_term else ''} has {want} values on "
                         f"its last axis, got {shape}")


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError("Invalid values for argument 'mode'. Valid values are 'expand', "
                         "'brackets', or 'words'.")
    return mode


# ----------------------------------------------------------------------------- functions

def signature(path: torch.Tensor, depth: int, stream: bool = False, basepoint=False,
              inverse: bool = False, initial=None, scalar_term: bool = False) -> torch.Tensor:
    """The signature of paths ``(batch, stream, channels)``: ``(batch, siglen)``, or ``(batch,
    stream - 1, siglen)`` when ``stream`` (``(batch, stream, siglen)`` with a basepoint)."""
    _check_path(path, depth, basepoint)
    if initial is not None:
        _check_signature(initial, path.size(-1), depth, scalar_term, "signature")
        initial = _drop_scalar(initial, scalar_term)
    sig = _signature_of_path(path, depth, stream, basepoint=_basepoint(basepoint),
                             inverse=inverse, initial=initial)
    return _add_scalar(sig) if scalar_term else sig


def logsignature(path: torch.Tensor, depth: int, stream: bool = False, basepoint=False,
                 inverse: bool = False, mode: str = "words") -> torch.Tensor:
    """The log-signature of paths ``(batch, stream, channels)`` in ``mode``: shapes as
    :func:`signature`, with ``logsignature_channels(channels, depth)`` values for words and
    brackets."""
    _check_mode(mode)
    _check_path(path, depth, basepoint)
    return _logsignature_of_path(path, depth, mode, stream, basepoint=_basepoint(basepoint),
                                 inverse=inverse)


def signature_to_logsignature(signature: torch.Tensor, channels: int, depth: int,
                              stream: bool = False, mode: str = "words",
                              scalar_term: bool = False) -> torch.Tensor:
    """The log-signature from a signature ``(batch, [stream,] siglen)`` (``stream`` is accepted
    for signatory's signature; any leading axes work)."""
    _check_mode(mode)
    _check_signature(signature, channels, depth, scalar_term, "signature_to_logsignature")
    return _to_logsignature(_drop_scalar(signature, scalar_term), channels, depth, mode)


def signature_combine(sigtensor1: torch.Tensor, sigtensor2: torch.Tensor, input_channels: int,
                      depth: int, inverse: bool = False, scalar_term: bool = False) -> torch.Tensor:
    """The signature of path 1 followed by path 2 from their signatures (both inverse
    signatures when ``inverse``)."""
    return multi_signature_combine([sigtensor1, sigtensor2], input_channels, depth, inverse,
                                   scalar_term)


def multi_signature_combine(sigtensors, input_channels: int, depth: int, inverse: bool = False,
                            scalar_term: bool = False) -> torch.Tensor:
    """The signature of the paths joined in order, from their signatures (a list of tensors of
    one shape)."""
    sigtensors = list(sigtensors)
    if not sigtensors:
        raise ValueError("signatory.multi_signature_combine: sigtensors must have nonzero length")
    shapes = {tuple(s.shape) for s in sigtensors}
    if len(shapes) > 1:
        raise ValueError(f"signatory.multi_signature_combine: every signature must have one "
                         f"shape, got {sorted(shapes)}")
    for s in sigtensors:
        _check_signature(s, input_channels, depth, scalar_term, "multi_signature_combine")
    pieces = [_drop_scalar(s, scalar_term) for s in sigtensors]
    if inverse:
        pieces = pieces[::-1]  # (path1 path2)^-1 = path2^-1 ⊗ path1^-1
    if len(pieces) == 1:
        out = pieces[0]
    elif len(pieces) == 2:
        out = _combine_two(pieces[0], pieces[1], input_channels, depth)
    else:
        out = _combine_many(torch.stack(pieces, dim=-2), input_channels, depth)
    return _add_scalar(out) if scalar_term else out


def signature_channels(channels: int, depth: int, scalar_term: bool = False) -> int:
    """channels + channels**2 + ... + channels**depth (+ 1 with the scalar term)."""
    if channels < 1:
        raise ValueError("in_channels must be at least 1")
    if depth < 1:
        raise ValueError("depth must be at least 1")
    return algebra.signature_channels(channels, depth) + int(scalar_term)


def logsignature_channels(in_channels: int, depth: int) -> int:
    """The number of Lyndon words of length 1..depth (Witt's formula)."""
    if in_channels < 1:
        raise ValueError("in_channels must be at least 1")
    if depth < 1:
        raise ValueError("depth must be at least 1")
    return algebra.logsignature_channels(in_channels, depth)


def extract_signature_term(sigtensor: torch.Tensor, channels: int, depth: int,
                           scalar_term: bool = False) -> torch.Tensor:
    """Level ``depth`` of a signature: its ``channels**depth`` values on the last axis."""
    if channels < 1:
        raise ValueError("in_channels must be at least 1")
    start = int(scalar_term) if depth == 1 else signature_channels(channels, depth - 1,
                                                                   scalar_term)
    return sigtensor.narrow(dim=-1, start=start, length=channels**depth)


def lyndon_words(channels: int, depth: int) -> list[list[int]]:
    """The Lyndon words of length 1..depth (letters 0..channels-1), by length then
    lexicographically: the order of ``logsignature(..., mode="words")``."""
    return [list(w) for w in algebra.lyndon_words(channels, depth)]


def _as_lists(bracket):
    return bracket if isinstance(bracket, int) else [_as_lists(b) for b in bracket]


def lyndon_brackets(channels: int, depth: int) -> list:
    """The Lyndon words in their standard bracketing, nested lists: the order of
    ``logsignature(..., mode="brackets")``."""
    return [_as_lists(b) for b in algebra.lyndon_brackets(channels, depth)]


def all_words(channels: int, depth: int) -> list[tuple[int, ...]]:
    """Every word of length 1..depth, by length then lexicographically: the order of the
    signature's values."""
    return [w for k in range(1, depth + 1) for w in itertools.product(range(channels), repeat=k)]


# ----------------------------------------------------------------------------- modules

class Signature(nn.Module):
    """:class:`torch.nn.Module` around :func:`signature`."""

    def __init__(self, depth: int, stream: bool = False, inverse: bool = False,
                 scalar_term: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.depth, self.stream = depth, stream
        self.inverse, self.scalar_term = inverse, scalar_term

    def forward(self, path: torch.Tensor, basepoint=False, initial=None) -> torch.Tensor:
        return signature(path, self.depth, stream=self.stream, basepoint=basepoint,
                         inverse=self.inverse, initial=initial, scalar_term=self.scalar_term)

    def extra_repr(self):
        return f"depth={self.depth}, stream={self.stream}, inverse={self.inverse}"


class LogSignature(nn.Module):
    """:class:`torch.nn.Module` around :func:`logsignature`."""

    def __init__(self, depth: int, stream: bool = False, inverse: bool = False,
                 mode: str = "words", **kwargs):
        super().__init__(**kwargs)
        self._depth, self._stream, self._inverse, self._mode = depth, stream, inverse, \
            _check_mode(mode)

    def prepare(self, in_channels: int) -> None:
        """Accepted for signatory compatibility (the bases are computed once and cached)."""
        algebra.lyndon_maps(in_channels, self._depth)

    def forward(self, path: torch.Tensor, basepoint=False) -> torch.Tensor:
        return logsignature(path, self._depth, stream=self._stream, basepoint=basepoint,
                            inverse=self._inverse, mode=self._mode)

    def extra_repr(self):
        return (f"depth={self._depth}, stream={self._stream}, inverse={self._inverse}, "
                f"mode={self._mode!r}")


class SignatureToLogSignature(nn.Module):
    """:class:`torch.nn.Module` around :func:`signature_to_logsignature`."""

    def __init__(self, channels: int, depth: int, stream: bool = False, mode: str = "words",
                 scalar_term: bool = False, **kwargs):
        super().__init__(**kwargs)
        self._channels, self._depth, self._stream = channels, depth, stream
        self._mode, self._scalar_term = _check_mode(mode), scalar_term

    def forward(self, signature: torch.Tensor) -> torch.Tensor:
        return signature_to_logsignature(signature, self._channels, self._depth, self._stream,
                                         self._mode, self._scalar_term)

    def extra_repr(self):
        return (f"channels={self._channels}, depth={self._depth}, stream={self._stream}, "
                f"mode={self._mode!r}")


Logsignature = LogSignature
SignatureToLogsignature = SignatureToLogSignature


class Augment(nn.Module):
    """A feedforward network swept along the stream (a Conv1d of ``kernel_size``, then pointwise
    Conv1d layers with ``activation`` between them), concatenated on the channels after the
    original stream (its last ``L - kernel_size + 1`` points) and a time channel in [0, 1], when
    those are included: ``(batch, L, C) -> (batch, L - kernel_size + 1, out_channels)``."""

    def __init__(self, in_channels: int, layer_sizes, kernel_size: int, stride: int = 1,
                 padding: int = 0, dilation: int = 1, bias: bool = True, activation=F.relu,
                 include_original: bool = True, include_time: bool = True, **kwargs):
        super().__init__(**kwargs)
        if isinstance(layer_sizes, int):
            layer_sizes = (layer_sizes,)
        self.in_channels, self.layer_sizes, self.kernel_size = in_channels, layer_sizes, \
            kernel_size
        self.stride, self.padding, self.dilation, self.bias = stride, padding, dilation, bias
        self.activation = activation
        self.include_original, self.include_time = include_original, include_time
        if (include_original or include_time) and layer_sizes and (stride, padding, dilation) \
                != (1, 0, 1):
            raise ValueError("Augment: include_original and include_time align the network's "
                             "output with the stream's last L - kernel_size + 1 points, which "
                             "needs stride=1, padding=0, dilation=1; set both to False to use "
                             "other values")
        self.convs = nn.ModuleList()
        channels = in_channels
        for i, size in enumerate(layer_sizes):
            self.convs.append(nn.Conv1d(channels, size, kernel_size=kernel_size if i == 0 else 1,
                                        stride=stride if i == 0 else 1,
                                        padding=padding if i == 0 else 0,
                                        dilation=dilation if i == 0 else 1, bias=bias))
            channels = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise RuntimeError(f"Argument x should have three dimensions, (batch, stream, "
                               f"channel); got shape {tuple(x.shape)}")
        kept = x.size(1) - self.kernel_size + 1
        pieces = []
        if self.include_original:
            pieces.append(x[:, self.kernel_size - 1:, :])
        if self.include_time:
            time = torch.linspace(0, 1, kept, dtype=x.dtype, device=x.device)
            pieces.append(time[None, :, None].expand(x.size(0), kept, 1))
        if self.layer_sizes:
            out = self.convs[0](x.transpose(1, 2))
            for conv in self.convs[1:]:
                out = conv(self.activation(out))
            pieces.append(out.transpose(1, 2))
        return torch.cat(pieces, dim=2)

    def extra_repr(self):
        return (f"activation={self.activation}, include_original={self.include_original}, "
                f"include_time={self.include_time}")


# ----------------------------------------------------------------------------- Path

class Path:
    """Signatures and log-signatures over intervals of a path that may grow (``update``).

    The signature of every prefix is stored; ``signature(start, end)`` is ``S(start)^-1 ⊗
    S(end)`` (Chen's identity), one product per query. Indexing ``path_object[i]`` selects batch
    elements. ``basepoint`` becomes the first point of the path.
    """

    def __init__(self, path: torch.Tensor, depth: int, basepoint=False,
                 remember_path: bool = True, scalar_term: bool = False, **kwargs):
        _check_path(path, depth, basepoint)
        self._depth, self._scalar_term, self._remember_path = depth, scalar_term, remember_path
        self._batch_size, self._channels = path.size(0), path.size(-1)
        self._prefix: list[torch.Tensor] = []  # (batch, n, siglen) pieces, no scalar term
        self._pieces: list[torch.Tensor] = []
        self._length = 0
        self._end = basepoint
        if basepoint is not False:
            point = torch.zeros_like(path[:, 0]) if basepoint is True else basepoint
            self._length = 1
            if remember_path:
                self._pieces.append(point.unsqueeze(-2))
        self._extend(path, None)

    def _extend(self, path, initial) -> None:
        prefix = _signature_of_path(path, self._depth, True, basepoint=_basepoint(self._end),
                                    initial=initial)
        self._prefix.append(prefix)
        if self._remember_path:
            self._pieces.append(path)
        self._end = path[:, -1, :].clone()
        self._length += path.size(-2)

    def update(self, path: torch.Tensor) -> None:
        """Append ``path`` (batch, stream, channels) to the stored path."""
        if path.size(-3) != self._batch_size:
            raise ValueError("Cannot append a path with different number of batch elements to "
                             "what has already been used.")
        if path.size(-1) != self._channels:
            raise ValueError("Cannot append a path with different number of channels to what has "
                             "already been used.")
        self._extend(path, self._prefix[-1][:, -1, :])

    def _interval(self, start, end) -> tuple[int, int]:
        given = (start, end)
        start, end, _ = slice(start, end).indices(self._length)
        if end - start < 2:
            raise ValueError(f"start={given[0]}, end={given[1]} is interpreted as {start}, {end} "
                             f"for path of length {self._length}, which does not describe a valid "
                             f"interval: a path needs at least two points.")
        return start, end

    def _prefix_at(self, points: int) -> torch.Tensor:
        """The signature of the first ``points`` points (points >= 2)."""
        index = points - 2
        for piece in self._prefix:
            if index < piece.size(1):
                return piece[:, index]
            index -= piece.size(1)
        raise IndexError(points)

    def signature(self, start=None, end=None) -> torch.Tensor:
        """The signature of ``p[:, start:end]``, p all points so far (basepoint included)."""
        start, end = self._interval(start, end)
        sig = self._prefix_at(end)
        if start > 0:
            head = _inverse(self._prefix_at(start + 1), self._channels, self._depth)
            sig = _combine_two(head, sig, self._channels, self._depth)
        return _add_scalar(sig) if self._scalar_term else sig

    def logsignature(self, start=None, end=None, mode: str = "words") -> torch.Tensor:
        """The log-signature of ``p[:, start:end]`` in ``mode``."""
        _check_mode(mode)
        start, end = self._interval(start, end)
        sig = self.signature(start, end)
        return _to_logsignature(_drop_scalar(sig, self._scalar_term), self._channels,
                                self._depth, mode)

    @property
    def remember_path(self) -> bool:
        return self._remember_path

    @property
    def path(self) -> list[torch.Tensor]:
        """The pieces given so far (basepoint, path, updates)."""
        if not self._remember_path:
            raise RuntimeError("This Path object has not retained a reference to the path it was "
                               "called with. The Path object must have been initialised with "
                               "`remember_path=True`.")
        return self._pieces

    @property
    def depth(self) -> int:
        return self._depth

    @property
    def shape(self) -> torch.Size:
        return torch.Size([self._batch_size, self._length, self._channels])

    def size(self, index=None):
        return self.shape if index is None else self.shape[index]

    def channels(self) -> int:
        return self._channels

    @property
    def signature_shape(self) -> torch.Size:
        return torch.Size([self._batch_size, sum(p.size(1) for p in self._prefix),
                           self.signature_channels()])

    def signature_size(self, index=None):
        return self.signature_shape if index is None else self.signature_shape[index]

    def signature_channels(self) -> int:
        return signature_channels(self._channels, self._depth, self._scalar_term)

    @property
    def logsignature_shape(self) -> torch.Size:
        return torch.Size([self._batch_size, self.signature_shape[1],
                           self.logsignature_channels()])

    def logsignature_size(self, index=None):
        return self.logsignature_shape if index is None else self.logsignature_shape[index]

    def logsignature_channels(self) -> int:
        return logsignature_channels(self._channels, self._depth)

    def __getitem__(self, item) -> "Path":
        """The same path for a subset of the batch (an int, slice, or 1-D index)."""
        if isinstance(item, int):
            item = slice(item, item + 1 if item != -1 else None)
        elif isinstance(item, (list, np.ndarray, torch.Tensor)) and np.ndim(item) != 1:
            raise IndexError("Only integers, slices, one dimensional Tensors, one dimensional "
                             "numpy arrays, and lists of integers, are valid indices.")
        new = copy.copy(self)
        new._prefix = [p[item] for p in self._prefix]
        new._pieces = [p[item] for p in self._pieces]
        new._end = self._end[item] if isinstance(self._end, torch.Tensor) else self._end
        new._batch_size = new._prefix[0].size(0)
        if new._batch_size == 0:
            raise IndexError("Index corresponds to a batch of size zero, which is disallowed.")
        return new

    def shuffle(self):
        """A new Path with the batch randomly permuted, and the permutation."""
        perm = torch.randperm(self._batch_size)
        return self[perm], perm

