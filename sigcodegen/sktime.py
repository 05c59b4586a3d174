"""An sktime transformer of the generalised signature method, computed by sigcodegen: the
parameters and feature values of ``sktime.transformations.signature_based.SignatureTransformer``
without its esig dependency (esig does not install on Python >= 3.10).

Switch by changing the import::

    # from sktime.transformations.signature_based import SignatureTransformer
    from sigcodegen.sktime import SignatureTransformer

Panels of equal or unequal length, univariate or multivariate, in any sktime Panel mtype;
``transform`` returns one row of features per instance (a DataFrame whose columns name the words,
as :meth:`sigcodegen.sklearn.SignatureTransformer.get_feature_names_out` does). sktime's
``backend`` parameter is accepted ("esig", "iisignature" or "sigcodegen") and always runs
sigcodegen. The log-signature is in the Lyndon bracket basis (iisignature's ``logsig``; esig's
log-signature coordinates are in another Hall basis).

Example:
    >>> import numpy as np
    >>> from sigcodegen.sktime import SignatureTransformer
    >>> X = np.array([[0, 1], [2, 3], [1, 1]]).reshape(-1, 2, 3)  # (instances, channels, time)
    >>> SignatureTransformer(depth=2, window_name="global").fit_transform(X).round(4).values
    array([[ 1.    ,  2.    ,  1.    ,  0.5   ,  1.3333, -0.5   ,  0.6667,  2.    ,
            -1.    ,  1.5   ,  3.    ,  0.5   ]])
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sktime.transformations.base import BaseTransformer

from .ops.features import SignatureFeatures

__all__ = ["SignatureTransformer"]

BACKENDS = ("esig", "iisignature", "sigcodegen")


class SignatureTransformer(BaseTransformer):
    """Signature features of time series (Morrill et al., "A Generalised Signature Method for
    Multivariate Time Series"): augmentations, windows, and each window's (log-)signature.

    Parameters
    ----------
    augmentation_list : tuple of str or None, default ("basepoint", "addtime")
        Applied in order: "leadlag", "ir" (invisibility reset), "addtime" (time in [0, 1] as the
        first channel), "cumsum", "basepoint" (prepend the origin).
    window_name : {"global", "sliding", "expanding", "dyadic"}, default "dyadic"
    window_depth : int, default 3
        Depth of the dyadic windows.
    window_length, window_step : int or None
        Length and step of sliding / expanding windows.
    rescaling : {None, "pre", "post"}
        "pre": scale the path by ``depth! ** (1/depth)``; "post": multiply level k by k!.
    sig_tfm : {"signature", "logsignature"}, default "signature"
    depth : int, default 4
        Signature truncation depth.
    backend : {"sigcodegen", "esig", "iisignature"}, default "sigcodegen"
        Accepted for sktime compatibility; every value computes with sigcodegen.

    Examples
    --------
    >>> from sktime.datasets import load_japanese_vowels
    >>> from sigcodegen.sktime import SignatureTransformer
    >>> X, y = load_japanese_vowels(split="train", return_type="df-list")  # 7 to 29 frames each
    >>> features = SignatureTransformer(depth=2, window_name="global").fit_transform(X)
    >>> features.shape  # basepoint + time: 13 channels, 13 + 13**2 features
    (270, 182)
    """

    _tags = {
        "authors": ["sigcodegen"],
        "python_dependencies": None,
        "scitype:transform-input": "Series",
        "scitype:transform-output": "Primitives",
        "scitype:instancewise": True,
        "scitype:transform-labels": "None",
        "X_inner_mtype": ["df-list", "numpy3D"],
        "y_inner_mtype": "None",
        "capability:multivariate": True,
        "capability:unequal_length": True,
        "capability:missing_values": False,
        "capability:categorical_in_X": False,
        "requires_y": False,
        "fit_is_empty": True,
        "property:randomness": "deterministic",
    }

    def __init__(self, augmentation_list=("basepoint", "addtime"), window_name="dyadic",
                 window_depth=3, window_length=None, window_step=None, rescaling=None,
                 sig_tfm="signature", depth=4, backend="sigcodegen"):
        self.augmentation_list = augmentation_list
        self.window_name = window_name
        self.window_depth = window_depth
        self.window_length = window_length
        self.window_step = window_step
        self.rescaling = rescaling
        self.sig_tfm = sig_tfm
        self.depth = depth
        self.backend = backend
        super().__init__()
        if backend not in BACKENDS:
            raise ValueError(f"SignatureTransformer: backend must be one of {list(BACKENDS)} "
                             f"(all compute with sigcodegen), got {backend!r}")
        if window_name in ("sliding", "expanding"):  # their window count follows the length
            self.set_tags(**{"capability:unequal_length": False})
        self._features = SignatureFeatures(
            augmentation_list, window_name, window_depth, window_length, window_step, rescaling,
            sig_tfm, depth, owner="SignatureTransformer")

    def _transform(self, X, y=None):
        """One row of features per instance of X (numpy3D or df-list)."""
        if isinstance(X, np.ndarray):  # numpy3D: (instances, channels, time)
            series = np.ascontiguousarray(np.swapaxes(X, 1, 2), dtype=np.float64)
            channels = [f"x{i}" for i in range(series.shape[-1])]
            count = len(self._features.windows(self._features.length(series.shape[1])))
        else:  # df-list: one (time, channels) DataFrame per instance
            series = [np.asarray(frame, dtype=np.float64) for frame in X]
            channels = [str(c) for c in X[0].columns]
            count = len(self._features.windows(self._features.length(len(series[0]))))
        values = self._features.transform(series)
        names = self._features.feature_names(channels, count)
        return pd.DataFrame(values, columns=names)

    @classmethod
    def get_test_params(cls, parameter_set="default"):
        """Test instances: small depths, every window, augmentations and rescalings (sktime's
        test series are short, so the dyadic windows stay shallow)."""
        return [
            {"window_name": "global", "depth": 2},
            {"augmentation_list": ("leadlag", "addtime"), "window_name": "dyadic",
             "window_depth": 1, "depth": 2, "rescaling": "post"},
            {"augmentation_list": ("ir", "cumsum", "basepoint"), "window_name": "expanding",
             "window_length": 2, "window_step": 1, "depth": 2, "sig_tfm": "logsignature",
             "rescaling": "pre"},
        ]
