"""sigcodegen.sklearn: scikit-learn's own estimator checks, the features against sktime's
signature-method code (its augmentations, windows and rescaling run with an ``esig`` stand-in
made of iisignature, since esig does not install here), ragged input, feature names, pandas
output, and a pipeline on the JapaneseVowels data that sktime ships."""

from __future__ import annotations

import pickle
import sys
import types

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
iisignature = pytest.importorskip("iisignature")

from sklearn.base import clone  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from sigcodegen.sklearn import LogSignatureTransformer, SignatureTransformer  # noqa: E402

CHECKED = [
    SignatureTransformer(window_name="global", depth=2),
    LogSignatureTransformer(window_name="dyadic", window_depth=1, depth=3),
    SignatureTransformer(augmentation_list=("leadlag", "ir", "cumsum"), window_name="sliding",
                         window_length=2, window_step=1, rescaling="post", depth=2),
]


@parametrize_with_checks(CHECKED)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_importing_sigcodegen_imports_neither_sklearn_nor_sktime():
    import subprocess

    code = ("import sys, sigcodegen, sigcodegen.ops.features; "
            "print(any(m.split('.')[0] in ('sklearn', 'sktime') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- sktime's code as the reference

def _sktime_reference(X, augmentations, window, depth, rescaling, sig_tfm, monkeypatch):
    """sktime's SignatureTransformer steps on X (n, L, C), esig replaced by iisignature."""
    esig = types.ModuleType("esig")
    esig.stream2sig = lambda x, m: np.concatenate([[1.0], iisignature.sig(x, m)])
    esig.stream2logsig = lambda x, m: iisignature.logsig(x, iisignature.prepare(x.shape[-1], m))
    esig.sigdim = lambda c, m: 1 + iisignature.siglength(c, m)
    esig.set_backend = lambda name: None
    monkeypatch.setitem(sys.modules, "esig", esig)
    from sktime.transformations.signature_based._augmentations import (
        _make_augmentation_pipeline,
    )
    from sktime.transformations.signature_based._compute import _WindowSignatureTransform
    from sktime.transformations.signature_based._window import _window_getter

    data = np.swapaxes(X, 1, 2)  # sktime's numpy3D: (n, C, L)
    if augmentations:
        for _, step in _make_augmentation_pipeline(augmentations).steps:
            data = step._transform(data)
    # constructed without __init__: its soft-dependency check looks for an installed esig
    windows = object.__new__(_WindowSignatureTransform)
    windows.__dict__.update(sig_tfm=sig_tfm, sig_depth=depth, rescaling=rescaling,
                            backend="esig", window=_window_getter(*window))
    return windows._transform(data)


CONFIGS = [
    (("basepoint", "addtime"), ("dyadic", 2, None, None), 3, None, "signature"),
    (("leadlag",), ("sliding", None, 4, 3), 2, "post", "signature"),
    (("ir", "cumsum"), ("expanding", None, 3, 2), 2, "pre", "signature"),
    (("addtime", "basepoint", "leadlag"), ("global", None, None, None), 3, None, "logsignature"),
    (None, ("dyadic", 1, None, None), 2, "pre", "logsignature"),
]


@pytest.mark.parametrize("augmentations,window,depth,rescaling,sig_tfm", CONFIGS)
def test_features_match_sktimes_signature_method(augmentations, window, depth, rescaling,
                                                 sig_tfm, monkeypatch):
    X = np.random.default_rng(len(str(window))).standard_normal((4, 11, 2))
    name, window_depth, length, step = window
    cls = LogSignatureTransformer if sig_tfm == "logsignature" else SignatureTransformer
    ours = cls(augmentation_list=augmentations, window_name=name,
               window_depth=window_depth if window_depth is not None else 3,
               window_length=length, window_step=step, rescaling=rescaling, depth=depth)
    got = ours.fit_transform(X)
    want = _sktime_reference(X, augmentations, window, depth, rescaling, sig_tfm, monkeypatch)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    assert len(ours.get_feature_names_out()) == got.shape[1] == ours.n_features_out_


def test_float32_in_float32_out():
    X = np.random.default_rng(1).standard_normal((3, 9, 2))
    t = SignatureTransformer(depth=3, window_name="dyadic", window_depth=1)
    f64 = t.fit_transform(X)
    f32 = t.fit_transform(X.astype(np.float32))
    assert f32.dtype == np.float32 and f64.dtype == np.float64
    np.testing.assert_allclose(f32, f64, rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------- ragged input

def test_ragged_lists_and_lengths_equal_each_series_alone():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((4, 16, 3))
    lengths = np.array([16, 9, 4, 12])
    for cls in (SignatureTransformer, LogSignatureTransformer):
        t = cls(depth=2, window_depth=1).fit(X)
        alone = np.concatenate([t.transform(X[i:i + 1, :n]) for i, n in enumerate(lengths)])
        np.testing.assert_allclose(t.transform([X[i, :n] for i, n in enumerate(lengths)]),
                                   alone, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(t.transform(X, lengths=lengths), alone, rtol=1e-12,
                                   atol=1e-12)
        np.testing.assert_allclose(cls(depth=2, window_depth=1).fit_transform(X, lengths=lengths),
                                   alone, rtol=1e-12, atol=1e-12)


def test_bad_inputs_and_parameters_are_refused():
    X = np.random.default_rng(3).standard_normal((3, 10, 2))
    t = SignatureTransformer(depth=2, window_name="global").fit(X)
    with pytest.raises(ValueError, match="channels"):
        t.transform(X[..., :1])
    with pytest.raises(ValueError, match="same channels"):
        t.transform([X[0], X[1, :, :1]])
    with pytest.raises(ValueError, match="lengths"):
        t.transform(X, lengths=np.array([3, 11, 2]))
    with pytest.raises(ValueError, match="lengths="):
        t.transform([X[0]], lengths=np.array([3]))
    for bad in ({"augmentation_list": ("addtime", "shuffle")}, {"window_name": "tumbling"},
                {"rescaling": "mid"}, {"sig_tfm": "esig"}, {"depth": 0},
                {"window_name": "sliding", "window_length": None, "window_step": 1}):
        with pytest.raises(ValueError):
            SignatureTransformer(**bad).fit(X)
    with pytest.raises(NotImplementedError, match="post"):
        LogSignatureTransformer(rescaling="post").fit(X)
    with pytest.raises(ValueError, match="window_depth=3 is too deep"):
        SignatureTransformer(window_depth=3).fit(X[:, :5])
    sliding = SignatureTransformer(window_name="sliding", window_length=4, window_step=2)
    with pytest.raises(ValueError, match="windows"):
        sliding.fit([X[0], X[1, :6]])  # 4 windows and 2 windows
    with pytest.raises(ValueError, match="expected"):
        sliding.fit(X).transform(X[:, :6])


# ---------------------------------------------------------------- names and pandas

def test_feature_names_name_the_words():
    """Each name's word, read back, indexes the iisignature signature of the augmented path."""
    X = np.random.default_rng(4).standard_normal((2, 7, 2))
    t = SignatureTransformer(depth=3, window_name="global").fit(X)
    names = t.get_feature_names_out(["a", "b"])
    channels = ["time", "a", "b"]  # basepoint then addtime: time is the first channel
    augmented = np.concatenate([np.zeros((2, 1, 2)), X], axis=1)
    augmented = np.concatenate([np.linspace(0, 1, 8)[None, :, None].repeat(2, 0), augmented], -1)
    sig = iisignature.sig(augmented, 3)
    out = t.transform(X)
    for column, name in enumerate(names):
        assert name.startswith("S(") and name.endswith(")")
        word = [channels.index(letter) for letter in name[2:-1].split(",")]
        index = sum(3**k for k in range(1, len(word))) + int("".join(map(str, word)), 3)
        np.testing.assert_allclose(out[:, column], sig[:, index], rtol=1e-10, atol=1e-12)
    logt = LogSignatureTransformer(depth=2, window_name="dyadic", window_depth=1).fit(X)
    lognames = list(logt.get_feature_names_out(["a", "b"]))
    assert lognames[:4] == ["w0_logS(time)", "w0_logS(a)", "w0_logS(b)", "w0_logS([time,a])"]
    assert len(lognames) == 3 * 6 and lognames[6] == "w1_logS(time)"
    pd = pytest.importorskip("pandas")
    frames = [pd.DataFrame(x, columns=["left", "right"]) for x in X]
    named = SignatureTransformer(depth=1, window_name="global").fit(frames)
    assert list(named.get_feature_names_out()) == ["S(time)", "S(left)", "S(right)"]


def test_set_output_pandas():
    pd = pytest.importorskip("pandas")
    X = np.random.default_rng(5).standard_normal((3, 8, 2))
    t = SignatureTransformer(depth=2, window_name="global").set_output(transform="pandas")
    frame = t.fit_transform(X)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == list(t.get_feature_names_out())
    np.testing.assert_allclose(frame.to_numpy(), clone(t).set_output(
        transform="default").fit_transform(X))


# ---------------------------------------------------------------- a real pipeline

def test_japanese_vowels_pipeline_fits_predicts_pickles_and_clones():
    datasets = pytest.importorskip("sktime.datasets")
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = datasets.load_japanese_vowels(split="train", return_type="df-list")
    X_test, y_test = datasets.load_japanese_vowels(split="test", return_type="df-list")
    assert len({len(x) for x in X}) > 1  # ragged: 7 to 29 frames of 12 coefficients
    pipeline = make_pipeline(SignatureTransformer(depth=2, window_name="global"),
                             StandardScaler(), LogisticRegression(max_iter=300))
    predicted = pipeline.fit(X, y).predict(X_test)
    accuracy = float(np.mean(predicted == y_test))
    assert accuracy > 0.5, accuracy  # chance is 1/9 for the nine speakers
    restored = pickle.loads(pickle.dumps(pipeline))
    np.testing.assert_array_equal(restored.predict(X_test), predicted)
    refit = clone(pipeline)
    assert not hasattr(refit.steps[0][1], "n_features_out_")
    np.testing.assert_array_equal(refit.fit(X, y).predict(X_test), predicted)
