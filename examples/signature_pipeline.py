"""Replacing sktime's esig-based SignatureTransformer: the same pipeline, one import changed.

sktime's ``SignatureTransformer`` needs esig, which does not install on Python >= 3.10. This
script builds the pipeline of sktime's signature-method tutorial on the JapaneseVowels data
(shipped inside sktime, nothing downloaded) twice:

1. an sktime pipeline: ``sigcodegen.sktime.SignatureTransformer`` (sktime's parameters,
   unequal-length panels) -> StandardScaler -> LogisticRegression;
2. a scikit-learn pipeline: ``sigcodegen.sklearn.SignatureTransformer`` on the list of
   utterances (ragged, 7 to 29 frames of 12 coefficients) -> the same classifier;

and checks that both give the same features, then prints each one's test accuracy and time.

    python examples/signature_pipeline.py            # all 270 train / 370 test utterances
    python examples/signature_pipeline.py --quick    # a subset (CI)
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline as sklearn_pipeline
from sklearn.preprocessing import StandardScaler
from sktime.datasets import load_japanese_vowels
from sktime.pipeline import make_pipeline as sktime_pipeline

# was: from sktime.transformations.signature_based import SignatureTransformer  (needs esig)
from sigcodegen.sktime import SignatureTransformer
from sigcodegen.sklearn import SignatureTransformer as SklearnSignatureTransformer

PARAMS = dict(augmentation_list=("basepoint", "addtime"), window_name="dyadic", window_depth=1,
              depth=3, rescaling="post")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 train / 90 test utterances")
    args = parser.parse_args()

    X, y = load_japanese_vowels(split="train", return_type="df-list")
    X_test, y_test = load_japanese_vowels(split="test", return_type="df-list")
    if args.quick:
        rng = np.random.default_rng(0)
        train, test = rng.permutation(len(X))[:60], rng.permutation(len(X_test))[:90]
        X, y = [X[i] for i in train], y[train]
        X_test, y_test = [X_test[i] for i in test], y_test[test]
    print(f"JapaneseVowels: {len(X)} train / {len(X_test)} test utterances, "
          f"{min(len(x) for x in X)}-{max(len(x) for x in X)} frames of {X[0].shape[1]} "
          f"coefficients")

    sktime_features = SignatureTransformer(**PARAMS).fit_transform(X_test)
    sklearn_features = SklearnSignatureTransformer(**PARAMS).fit_transform(X_test)
    difference = float(np.abs(sktime_features.to_numpy() - sklearn_features).max())
    print(f"{sktime_features.shape[1]} features per utterance; sktime and sklearn transformers "
          f"differ by {difference:.1e}")

    for name, pipeline in (
        ("sktime pipeline", sktime_pipeline(SignatureTransformer(**PARAMS), StandardScaler(),
                                            LogisticRegression(max_iter=2000))),
        ("sklearn pipeline", sklearn_pipeline(SklearnSignatureTransformer(**PARAMS),
                                              StandardScaler(),
                                              LogisticRegression(max_iter=2000))),
    ):
        start = time.perf_counter()
        with warnings.catch_warnings():
            # sktime's classifier wrapper warns that it was not declared for unequal lengths;
            # the signature features it receives have one length.
            warnings.simplefilter("ignore", UserWarning)
            pipeline.fit(X, y)
            accuracy = float(np.mean(pipeline.predict(X_test) == np.asarray(y_test)))
        print(f"{name:<17} test accuracy {accuracy:.3f}  (fit + predict "
              f"{time.perf_counter() - start:.2f} s; chance 0.111)")


if __name__ == "__main__":
    main()
