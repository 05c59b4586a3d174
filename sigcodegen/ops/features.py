"""The generalised signature method as features (Morrill et al., "A Generalised Signature Method
for Multivariate Time Series", the method of sktime's SignatureTransformer): augment each series,
cut it into windows, and concatenate the (log-)signatures of the windows.

Numpy in, numpy out; series are ``(L, C)`` (L points, C channels), given as one array
``(n, L, C)`` (optionally with ``lengths``) or as a list of arrays of their own lengths. The
integrations (``sigcodegen.sklearn``, ``sigcodegen.sktime``) are thin estimators around
:class:`SignatureFeatures`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import algebra
from .logsignature import logsignature
from .signature import signature
from .transforms import lead_lag, time_augment

__all__ = ["AUGMENTATIONS", "WINDOWS", "SignatureFeatures"]

#: The augmentations, applied in the order given: ``addtime`` (time in [0, 1] as a first
#: channel), ``leadlag`` (lead channels, then lag channels), ``ir`` (invisibility reset: a pen
#: channel of ones in front, then the last point with the pen up, then the origin), ``cumsum``
#: (cumulative sum over time), ``basepoint`` (prepend the origin).
AUGMENTATIONS = ("addtime", "leadlag", "ir", "cumsum", "basepoint")
#: The windows: ``global`` (the whole series), ``sliding`` (``window_length`` points, starts
#: ``window_step`` apart), ``expanding`` (from the start, ends ``window_step`` apart, the first
#: ``window_length`` points long), ``dyadic`` (the whole series, its halves, quarters, ... down to
#: ``2**window_depth`` pieces).
WINDOWS = ("global", "sliding", "expanding", "dyadic")
RESCALINGS = (None, "pre", "post")
TRANSFORMS = ("signature", "logsignature")


def _positive_int(name: str, value, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {name} must be an integer >= 1, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class SignatureFeatures:
    """The parameters of sktime's SignatureTransformer, checked, and the computation.

    Example:
        >>> import numpy as np
        >>> f = SignatureFeatures(("basepoint", "addtime"), "global", depth=2)
        >>> x = np.array([[[0.0, 3.0], [1.0, 1.0], [2.0, 1.0]]])  # one series, 3 points, 2 channels
        >>> f.transform(x).round(4)  # sktime's documented example
        array([[ 1.    ,  2.    ,  1.    ,  0.5   ,  1.3333, -0.5   ,  0.6667,  2.    ,
                -1.    ,  1.5   ,  3.    ,  0.5   ]])
        >>> f.feature_names(["a", "b"])[:4]
        ['S(time)', 'S(a)', 'S(b)', 'S(time,time)']
    """

    augmentation_list: tuple = ("basepoint", "addtime")
    window_name: str = "dyadic"
    window_depth: int = 3
    window_length: int | None = None
    window_step: int | None = None
    rescaling: str | None = None
    sig_tfm: str = "signature"
    depth: int = 4
    owner: str = "SignatureFeatures"

    def __post_init__(self):
        owner = self.owner
        augmentations = self.augmentation_list
        if augmentations is None:
            augmentations = ()
        elif isinstance(augmentations, str):
            augmentations = (augmentations,)
        augmentations = tuple(augmentations)
        unknown = [a for a in augmentations if a not in AUGMENTATIONS]
        if unknown:
            raise ValueError(f"{owner}: unknown augmentation(s) {unknown}; augmentation_list "
                             f"takes names from {list(AUGMENTATIONS)}, applied in order")
        object.__setattr__(self, "augmentation_list", augmentations)
        if self.window_name not in WINDOWS:
            raise ValueError(f"{owner}: window_name must be one of {list(WINDOWS)}, got "
                             f"{self.window_name!r}")
        if self.window_name == "dyadic":
            if isinstance(self.window_depth, bool) or not isinstance(
                    self.window_depth, (int, np.integer)) or self.window_depth < 0:
                raise ValueError(f"{owner}: window_depth must be an integer >= 0 for dyadic "
                                 f"windows, got {self.window_depth!r}")
        if self.window_name in ("sliding", "expanding"):
            for name in ("window_length", "window_step"):
                _positive_int(name, getattr(self, name), f"{owner} ({self.window_name} windows)")
        if self.rescaling not in RESCALINGS:
            raise ValueError(f"{owner}: rescaling must be None, 'pre' or 'post', got "
                             f"{self.rescaling!r}")
        if self.sig_tfm not in TRANSFORMS:
            raise ValueError(f"{owner}: sig_tfm must be 'signature' or 'logsignature', got "
                             f"{self.sig_tfm!r}")
        _positive_int("depth", self.depth, owner)
        if self.rescaling == "post" and self.sig_tfm == "logsignature":
            raise NotImplementedError(
                f"{owner}: rescaling='post' multiplies signature level k by k!, which has no "
                f"meaning for log-signature coordinates; use rescaling='pre' or None with "
                f"sig_tfm='logsignature'")

    # ------------------------------------------------------------------ shapes and names

    def channels(self, channels: int) -> int:
        """Channels after the augmentations."""
        for name in self.augmentation_list:
            channels = {"addtime": channels + 1, "leadlag": 2 * channels,
                        "ir": channels + 1}.get(name, channels)
        return channels

    def length(self, length: int) -> int:
        """Points after the augmentations."""
        for name in self.augmentation_list:
            length = {"leadlag": 2 * length - 1, "ir": length + 2,
                      "basepoint": length + 1}.get(name, length)
        return length

    def windows(self, length: int) -> list[tuple[int, int]]:
        """(start, end) of each window of a series of ``length`` points (after augmentation),
        ``path[start:end]``, in output order; ValueError when the series is too short."""
        owner = self.owner
        if self.window_name == "global":
            return [(0, length)]
        if self.window_name == "dyadic":
            deepest = int(math.floor(math.log2(length)))
            if self.window_depth > deepest:
                raise ValueError(f"{owner}: window_depth={self.window_depth} is too deep for "
                                 f"series of {length} points (after augmentation); dyadic "
                                 f"windows need window_depth <= floor(log2(length)) = {deepest}")
            return [((q * length) >> j, ((q + 1) * length) >> j)
                    for j in range(self.window_depth + 1) for q in range(2**j)]
        start_step = self.window_step if self.window_name == "sliding" else 0
        out, start, end = [], 0, self.window_length
        while end <= length:
            out.append((start, end))
            start, end = start + start_step, end + self.window_step
        if not out:
            raise ValueError(f"{owner}: series of {length} points (after augmentation) are "
                             f"shorter than window_length={self.window_length}")
        return out

    def n_features(self, channels: int, n_windows: int) -> int:
        """Output columns for series of ``channels`` channels cut into ``n_windows`` windows."""
        return self._per_window(self.channels(channels)) * n_windows

    def channel_names(self, names) -> list[str]:
        """Names of the channels after the augmentations."""
        names = [str(n) for n in names]
        for name in self.augmentation_list:
            if name == "addtime":
                names = ["time", *names]
            elif name == "leadlag":
                names = [f"{n}_lead" for n in names] + [f"{n}_lag" for n in names]
            elif name == "ir":
                names = ["pen", *names]
            elif name == "cumsum":
                names = [f"cumsum_{n}" for n in names]
        return names

    def feature_names(self, names, n_windows: int = 1) -> list[str]:
        """One name per output column: ``S(a,b)`` is the signature at the word ab (the iterated
        integral of da then db), ``logS([a,b])`` the log-signature's coefficient of the Lie
        bracket [a, b] (Lyndon basis); with several windows each name starts ``w<j>_``."""
        letters = self.channel_names(names)
        width = len(letters)

        def bracket(b):
            return letters[b] if isinstance(b, int) else f"[{bracket(b[0])},{bracket(b[1])}]"

        if self.sig_tfm == "signature":
            words = [f"S({','.join(letters[i] for i in w)})"
                     for w in algebra.words(width, self.depth)]
        else:
            words = [f"logS({bracket(b)})" for b in algebra.lyndon_brackets(width, self.depth)]
        if n_windows == 1:
            return words
        return [f"w{j}_{w}" for j in range(n_windows) for w in words]

    # ------------------------------------------------------------------ computation

    def augment(self, x: np.ndarray) -> np.ndarray:
        """The augmentations applied to series ``(n, L, C)`` in order."""
        for name in self.augmentation_list:
            if name == "addtime":
                timed = time_augment(x)  # time last; sktime puts it first
                x = np.concatenate([timed[..., -1:], timed[..., :-1]], axis=-1)
            elif name == "leadlag":
                x = lead_lag(x)
            elif name == "ir":
                pen = np.concatenate([np.ones_like(x[..., :1]), x], axis=-1)
                lifted = pen[..., -1:, :].copy()
                lifted[..., 0] = 0
                x = np.concatenate([pen, lifted, np.zeros_like(lifted)], axis=-2)
            elif name == "cumsum":
                x = np.cumsum(x, axis=-2)
            elif name == "basepoint":
                x = np.concatenate([np.zeros_like(x[..., :1, :]), x], axis=-2)
        if self.rescaling == "pre":
            x = x * math.factorial(self.depth) ** (1.0 / self.depth)
        return x

    def _post(self, sig: np.ndarray, channels: int) -> np.ndarray:
        offsets = algebra.level_offsets(channels, self.depth)
        factors = np.concatenate([np.full(offsets[k + 1] - offsets[k], math.factorial(k + 1))
                                  for k in range(self.depth)])
        return sig * factors.astype(sig.dtype)

    def transform(self, series, lengths=None, n_windows: int | None = None) -> np.ndarray:
        """Features ``(n, n_features)`` of series ``(n, L, C)`` (the first ``lengths[i]`` points
        of series i when ``lengths`` is given) or of a list of ``(L_i, C)`` arrays (one C).

        ``n_windows``: the window count the caller expects (a fitted estimator's); series whose
        windows differ raise ValueError.
        """
        if isinstance(series, np.ndarray) and lengths is None:  # one length: batched
            augmented = self.augment(series)
            windows = self.windows(augmented.shape[1])
            self._check_count({len(windows)}, n_windows)
            return np.concatenate([self._compute(augmented[:, a:b]) for a, b in windows], -1)
        parts = self._parts(series, lengths)
        augmented = [self.augment(p[None])[0] for p in parts]
        windows_of = {n: self.windows(n) for n in {len(p) for p in augmented}}
        count = self._check_count({len(w) for w in windows_of.values()}, n_windows)
        channels = augmented[0].shape[-1]
        per_window = self._per_window(channels)
        out = np.zeros((len(parts), count, per_window), dtype=augmented[0].dtype)
        # window points -> [(series, window, start)]
        groups: dict[int, list[tuple[int, int, int]]] = {}
        for i, path in enumerate(augmented):
            for j, (start, end) in enumerate(windows_of[len(path)]):
                groups.setdefault(end - start, []).append((i, j, start))
        for points, members in groups.items():
            batch = np.stack([augmented[i][start:start + points] for i, _, start in members])
            rows, cols = [i for i, _, _ in members], [j for _, j, _ in members]
            out[rows, cols] = self._compute(batch)
        return out.reshape(len(parts), count * per_window)

    def _parts(self, series, lengths) -> list[np.ndarray]:
        if lengths is None:
            parts = list(series)
        else:
            lengths = np.asarray(lengths)
            if (lengths.shape != series.shape[:1] or lengths.dtype.kind not in "iu"
                    or (lengths.size and (lengths.min() < 1 or lengths.max() > series.shape[1]))):
                raise ValueError(f"{self.owner}: lengths must be {series.shape[0]} integers in "
                                 f"1..{series.shape[1]}, one per series; got {lengths!r}")
            parts = [series[i, :n] for i, n in enumerate(lengths)]
        if not parts:
            raise ValueError(f"{self.owner}: no series given")
        return parts

    def _check_count(self, counts: set, expected: int | None) -> int:
        if len(counts) > 1 or (expected is not None and counts != {expected}):
            want = f", expected {expected}" if expected is not None else ""
            raise ValueError(f"{self.owner}: {self.window_name} windows give {sorted(counts)} "
                             f"windows for these series lengths{want}; series of other lengths "
                             f"need window_name='global' or 'dyadic'")
        return counts.pop()

    def _per_window(self, channels: int) -> int:
        """Features of one window of a path with ``channels`` (augmented) channels."""
        if self.sig_tfm == "signature":
            return algebra.signature_channels(channels, self.depth)
        return algebra.logsignature_channels(channels, self.depth)

    def _compute(self, paths: np.ndarray) -> np.ndarray:
        paths = np.ascontiguousarray(paths)
        if self.sig_tfm == "logsignature":
            return logsignature(paths, self.depth, mode="brackets")
        sig = signature(paths, self.depth)
        return self._post(sig, paths.shape[-1]) if self.rescaling == "post" else sig
