"""sigcodegen.sktime: sktime's own conformance suite (check_estimator, about 460 checks in ~10 s
here), the features against sktime's signature-method code (esig replaced by iisignature, see
test_sklearn.py), unequal-length panels, and its parameter errors."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sktime")
pytest.importorskip("iisignature")

from sktime.utils.estimator_checks import check_estimator  # noqa: E402
from test_sklearn import _sktime_reference  # noqa: E402

from sigcodegen.sktime import SignatureTransformer  # noqa: E402


def test_sktime_check_estimator():
    results = check_estimator(SignatureTransformer, raise_exceptions=False, verbose=False)
    failed = {name: str(outcome)[:500] for name, outcome in results.items()
              if outcome != "PASSED"}
    assert len(results) > 100 and not failed, failed


@pytest.mark.parametrize("params", [
    {"window_name": "dyadic", "window_depth": 2, "depth": 3},
    {"augmentation_list": ("leadlag", "cumsum"), "window_name": "sliding", "window_length": 5,
     "window_step": 2, "depth": 2, "rescaling": "post"},
    {"augmentation_list": ("ir",), "window_name": "global", "depth": 3,
     "sig_tfm": "logsignature", "rescaling": "pre"},
])
def test_numpy3d_features_match_sktimes_code(params, monkeypatch):
    X = np.random.default_rng(7).standard_normal((3, 2, 12))  # (instances, channels, time)
    got = SignatureTransformer(**params).fit_transform(X)
    window = (params["window_name"], params.get("window_depth", 3),
              params.get("window_length"), params.get("window_step"))
    want = _sktime_reference(np.swapaxes(X, 1, 2),
                             params.get("augmentation_list", ("basepoint", "addtime")), window,
                             params["depth"], params.get("rescaling"),
                             params.get("sig_tfm", "signature"), monkeypatch)
    np.testing.assert_allclose(got.to_numpy(), want, rtol=1e-10, atol=1e-10)


def test_unequal_length_panels_equal_each_instance_alone():
    import pandas as pd

    rng = np.random.default_rng(8)
    frames = [pd.DataFrame(rng.standard_normal((n, 2)), columns=["a", "b"]) for n in (9, 5, 14)]
    t = SignatureTransformer(depth=2, window_depth=1)
    together = t.fit_transform(frames)
    assert list(together.columns[:2]) == ["w0_S(time)", "w0_S(a)"]
    for i, frame in enumerate(frames):
        alone = SignatureTransformer(depth=2, window_depth=1).fit_transform(
            frame.to_numpy().T[None])
        np.testing.assert_allclose(together.to_numpy()[i], alone.to_numpy()[0], rtol=1e-12,
                                   atol=1e-12)
    sliding = SignatureTransformer(window_name="sliding", window_length=3, window_step=1)
    assert not sliding.get_tag("capability:unequal_length")
    with pytest.raises(ValueError):
        sliding.fit_transform(frames)


def test_backends_are_accepted_and_others_refused():
    X = np.random.default_rng(9).standard_normal((2, 2, 8))
    values = [SignatureTransformer(depth=2, backend=b).fit_transform(X).to_numpy()
              for b in ("esig", "iisignature", "sigcodegen")]
    np.testing.assert_array_equal(values[0], values[2])
    np.testing.assert_array_equal(values[1], values[2])
    with pytest.raises(ValueError, match="backend"):
        SignatureTransformer(backend="roughpy")
    with pytest.raises(ValueError, match="window_name"):
        SignatureTransformer(window_name="tumbling")
