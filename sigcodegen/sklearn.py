"""scikit-learn transformers of the generalised signature method: ``SignatureTransformer`` and
``LogSignatureTransformer``, with the parameters of sktime's SignatureTransformer (without its
esig dependency).

Input: series as one array ``(n_instances, n_timepoints, n_channels)``, optionally with
``lengths=`` (series i uses its first ``lengths[i]`` points), or a list of ``(n_timepoints_i,
n_channels)`` arrays / DataFrames of their own lengths; a 2-D array ``(n_instances,
n_timepoints)`` is one univariate series per row (its columns are then sklearn's features:
transform wants the same number). Output: ``(n_instances, n_features_out)`` floats (float32
input stays float32), ``get_feature_names_out()`` naming each column's word and window, and
``set_output(transform="pandas")`` works.

Example:
    >>> import numpy as np
    >>> from sigcodegen.sklearn import SignatureTransformer
    >>> X = np.random.default_rng(0).standard_normal((10, 20, 2))  # (series, points, channels)
    >>> t = SignatureTransformer(depth=2, window_name="global").fit(X)
    >>> t.transform(X).shape                                       # basepoint + time: 3 channels
    (10, 12)
    >>> list(t.get_feature_names_out()[:4])
    ['S(time)', 'S(x0)', 'S(x1)', 'S(time,time)']
    >>> ragged = [X[0, :5], X[1], X[2, :12]]
    >>> t.transform(ragged).shape
    (3, 12)
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .ops.features import SignatureFeatures

__all__ = ["SignatureTransformer", "LogSignatureTransformer"]

_DTYPES = [np.float64, np.float32]


def _is_series_list(X) -> bool:
    return isinstance(X, (list, tuple)) and len(X) > 0 and all(np.ndim(x) == 2 for x in X)


class SignatureTransformer(TransformerMixin, BaseEstimator):
    """(Log-)signature features of multivariate time series: augment, cut into windows, and
    concatenate the windows' signatures (Morrill et al., "A Generalised Signature Method for
    Multivariate Time Series"). Parameters as sktime's ``SignatureTransformer``.

    Parameters
    ----------
    augmentation_list : tuple of str or None, default ("basepoint", "addtime")
        Applied in order: "addtime" (time in [0, 1] as the first channel), "leadlag", "ir"
        (invisibility reset), "cumsum", "basepoint" (prepend the origin).
    window_name : {"global", "sliding", "expanding", "dyadic"}, default "dyadic"
    window_depth : int, default 3
        Dyadic windows: the whole series, halves, ..., ``2**window_depth`` pieces.
    window_length, window_step : int or None
        Points per sliding window (first expanding window) and the step between windows.
    rescaling : {None, "pre", "post"}
        "pre": scale the path by ``depth! ** (1/depth)``; "post": multiply signature level k by
        k! (signatures only).
    sig_tfm : {"signature", "logsignature"}, default "signature"
        The log-signature is in the Lyndon bracket basis (iisignature's ``logsig``).
    depth : int, default 4
        Truncation depth.

    Attributes
    ----------
    n_features_in_ : int
        The channels of 3-D or list input; for 2-D input (univariate series, one per row) the
        number of columns (timepoints), as sklearn counts features.
    n_channels_ : int
        Channels of the series seen in fit.
    n_windows_ : int
        Windows per series (sliding and expanding windows depend on the length seen in fit).
    n_features_out_ : int
    """

    _default_sig_tfm = "signature"

    def __init__(self, augmentation_list=("basepoint", "addtime"), window_name="dyadic",
                 window_depth=3, window_length=None, window_step=None, rescaling=None,
                 sig_tfm="signature", depth=4):
        self.augmentation_list = augmentation_list
        self.window_name = window_name
        self.window_depth = window_depth
        self.window_length = window_length
        self.window_step = window_step
        self.rescaling = rescaling
        self.sig_tfm = sig_tfm
        self.depth = depth

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def _features(self) -> SignatureFeatures:
        return SignatureFeatures(self.augmentation_list, self.window_name, self.window_depth,
                                 self.window_length, self.window_step, self.rescaling,
                                 self.sig_tfm, self.depth, owner=type(self).__name__)

    def _series(self, X, lengths, reset: bool):
        """(an array (n, L, C) or a list of (L_i, C) arrays, lengths) validated; sets or checks
        the fitted input description."""
        owner = type(self).__name__
        if _is_series_list(X):
            if lengths is not None:
                raise ValueError(f"{owner}: lengths= goes with a padded 3-D array; a list of "
                                 f"series carries its own lengths")
            series = [check_array(x, dtype=_DTYPES, ensure_min_samples=1) for x in X]
            dtype = np.result_type(*[s.dtype for s in series])
            series = [s.astype(dtype, copy=False) for s in series]
            channels = {s.shape[1] for s in series}
            if len(channels) > 1:
                raise ValueError(f"{owner}: every series needs the same channels; got "
                                 f"{sorted(channels)}")
            self._set_or_check(channels.pop(), reset, two_d=False)
            if reset:
                columns = getattr(X[0], "columns", None)  # DataFrames name their channels
                self._channel_names = ([str(c) for c in columns] if columns is not None
                                       else None)
            return series, None
        if isinstance(X, (list, tuple)):
            X = np.asarray(X)  # nested lists of numbers
        if len(getattr(X, "shape", ())) == 3:
            X = check_array(X, dtype=_DTYPES, allow_nd=True, ensure_min_features=1)
            if X.shape[1] < 1 or X.shape[2] < 1:
                raise ValueError(f"{owner}: series need at least one point and one channel; got "
                                 f"shape {X.shape}")
            self._set_or_check(X.shape[2], reset, two_d=False)
            return X, lengths
        if reset or getattr(self, "_fitted_2d", False):
            X = validate_data(self, X, dtype=_DTYPES, reset=reset)
        else:
            X = check_array(X, dtype=_DTYPES)
        self._set_or_check(1, reset, two_d=True)
        return X[:, :, None], lengths

    def _set_or_check(self, channels: int, reset: bool, two_d: bool) -> None:
        if reset:
            self.n_channels_ = channels
            self._fitted_2d = two_d
            self._channel_names = None
            if not two_d:
                self.n_features_in_ = channels
                if hasattr(self, "feature_names_in_"):
                    del self.feature_names_in_
        elif channels != self.n_channels_:
            raise ValueError(f"X has {channels} channels, but {type(self).__name__} is "
                             f"expecting {self.n_channels_} channels as input")

    def fit(self, X, y=None, lengths=None):
        """Check the parameters and learn the input's channels and window count."""
        features = self._features()
        series, lengths = self._series(X, lengths, reset=True)
        sizes = ([len(s) for s in series] if isinstance(series, list) else
                 list(lengths) if lengths is not None else [series.shape[1]])
        counts = {len(features.windows(features.length(int(n)))) for n in sizes}
        if len(counts) > 1:
            raise ValueError(f"{type(self).__name__}: {self.window_name} windows give "
                             f"{sorted(counts)} windows for these series lengths; series of "
                             f"different lengths need window_name='global' or 'dyadic'")
        self.n_windows_ = counts.pop()
        self.n_features_out_ = features.n_features(self.n_channels_, self.n_windows_)
        return self

    def transform(self, X, lengths=None):
        """The features ``(n_instances, n_features_out_)``."""
        check_is_fitted(self, "n_features_out_")
        series, lengths = self._series(X, lengths, reset=False)
        return self._features().transform(series, lengths, n_windows=self.n_windows_)

    def fit_transform(self, X, y=None, lengths=None):
        """fit then transform, passing ``lengths`` to both."""
        return self.fit(X, y, lengths=lengths).transform(X, lengths=lengths)

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: ``S(a,b)`` is the signature's coefficient at the word
        ab (``logS([a,b])`` the log-signature's at the bracket [a, b]), over the channels after
        augmentation ("time", "pen", ``<c>_lead``, ``<c>_lag``, ``cumsum_<c>``); with several
        windows each name starts ``w<j>_``. ``input_features`` names the channels (default: the
        columns of DataFrames given to fit, else x0, x1, ...; for 2-D input they name the
        timepoint columns, and the one channel is ``x0``)."""
        check_is_fitted(self, "n_features_out_")
        expected = self.n_features_in_
        names_in = getattr(self, "feature_names_in_", None)
        if input_features is not None:
            input_features = np.asarray(input_features, dtype=object)
            if len(input_features) != expected:
                raise ValueError(f"input_features should have length equal to number of "
                                 f"features ({expected}), got {len(input_features)}")
            if names_in is not None and not np.array_equal(names_in, input_features):
                raise ValueError("input_features is not equal to feature_names_in_")
        channels = ["x0"] if self._fitted_2d else (
            list(input_features) if input_features is not None
            else self._channel_names or [f"x{i}" for i in range(self.n_channels_)])
        names = self._features().feature_names(channels, self.n_windows_)
        return np.asarray(names, dtype=object)


class LogSignatureTransformer(SignatureTransformer):
    """:class:`SignatureTransformer` with ``sig_tfm="logsignature"`` by default: the
    log-signature of each window in the Lyndon bracket basis (iisignature's ``logsig``)."""

    def __init__(self, augmentation_list=("basepoint", "addtime"), window_name="dyadic",
                 window_depth=3, window_length=None, window_step=None, rescaling=None,
                 sig_tfm="logsignature", depth=4):
        super().__init__(augmentation_list, window_name, window_depth, window_length,
                         window_step, rescaling, sig_tfm, depth)
