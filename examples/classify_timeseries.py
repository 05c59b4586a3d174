"""Who is speaking? Time-series classification with signature features (Keras, JAX backend).

Data: JapaneseVowels, from the UEA multivariate time-series archive (Kudo, Toyama & Shimbo,
1999), as shipped inside sktime's wheel (``sktime/datasets/data/JapaneseVowels/*.ts``) and read
by ``sktime.datasets.load_japanese_vowels``: nothing is downloaded. Nine speakers say the vowel
pair "ae"; each utterance is 7 to 29 frames of 12 LPC cepstrum coefficients, a path in R^12.
There are 270 training and 370 test utterances, and the task is to name the speaker.

The utterances have different lengths. Each split is padded to its longest utterance and
``keras.layers.Masking`` marks the padding; SigLayer and LogSigLayer skip masked points, so a
padded path has exactly the features of the path itself (the script checks this).

Three models, each trained with Adam on the full training set and scored on the test set:

    signature      path with the origin prepended -> SigLayer(3) -> BatchNormalization -> Dense(9)
    logsignature   (path, time) with the origin prepended -> LogSigLayer(3) -> BatchNormalization
                   -> Dense(9)
    GRU baseline   path -> GRU(64) -> Dense(9)

Signatures do not see where a path starts, only how it moves; prepending the origin (a
"basepoint") turns the starting point into the first increment. Time as an extra channel lets the
log-signature see the speed of the utterance.

Run (``pip install '.[examples]'`` installs sktime, jax and keras):

    python examples/classify_timeseries.py            # 3 seeds x 60 epochs per model
    python examples/classify_timeseries.py --quick    # 6 utterances per speaker, 3 epochs
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "jax")  # before keras is imported

import keras  # noqa: E402
import numpy as np  # noqa: E402
import sktime  # noqa: E402
from sktime.datasets import load_japanese_vowels  # noqa: E402

import sigcodegen as sc  # noqa: E402

DEPTH = 3
SPEAKERS = 9
# Padding value: no standardised frame has all twelve coefficients equal to it (0 would not do:
# the prepended origin is a real point).
PAD = -1000.0


def load(split):
    """Utterances as a list of (L_i, 12) float32 arrays, and speakers 0..8."""
    frames, labels = load_japanese_vowels(split=split, return_X_y=True, return_type="df-list")
    return [f.to_numpy(np.float32) for f in frames], labels.astype(int) - 1


def first_per_class(paths, labels, count):
    """The first ``count`` utterances of each speaker (the --quick subset)."""
    keep = np.concatenate([np.flatnonzero(labels == c)[:count] for c in range(SPEAKERS)])
    return [paths[i] for i in keep], labels[keep]


def with_origin(path):
    """Prepend the origin: the signature then also sees where the path starts."""
    return np.concatenate([np.zeros_like(path[:1]), path])


def pad(paths):
    """(batch, longest L, d), padded with PAD after each path's end."""
    return keras.utils.pad_sequences(paths, dtype="float32", padding="post", value=PAD)


def signature_model(dim):
    inputs = keras.Input((None, dim))
    x = keras.layers.Masking(PAD)(inputs)
    x = sc.SigLayer(DEPTH)(x)                          # (batch, 12 + 12**2 + 12**3 = 1884)
    x = keras.layers.BatchNormalization()(x)
    return keras.Model(inputs, keras.layers.Dense(SPEAKERS, activation="softmax")(x))


def logsignature_model(dim):
    inputs = keras.Input((None, dim))
    x = keras.layers.Masking(PAD)(inputs)
    x = sc.LogSigLayer(DEPTH)(x)                       # (batch, 819): a Lyndon word each
    x = keras.layers.BatchNormalization()(x)
    return keras.Model(inputs, keras.layers.Dense(SPEAKERS, activation="softmax")(x))


def gru_model(dim):
    inputs = keras.Input((None, dim))
    x = keras.layers.Masking(PAD)(inputs)
    x = keras.layers.GRU(64)(x)
    return keras.Model(inputs, keras.layers.Dense(SPEAKERS, activation="softmax")(x))


class EpochTimes(keras.callbacks.Callback):
    """Wall time of every training epoch (the first one includes compilation)."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def train_and_score(build, train, test, epochs, seed):
    """Test accuracy, parameter count and timings of one model trained from ``seed``."""
    (x_train, y_train), (x_test, y_test) = train, test
    keras.utils.set_random_seed(seed)
    model = build(x_train.shape[-1])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    timer = EpochTimes()
    model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=0, callbacks=[timer])
    model.predict(x_test, verbose=0)  # compiles the prediction step
    start = time.perf_counter()
    predicted = model.predict(x_test, verbose=0).argmax(axis=-1)
    predict_s = time.perf_counter() - start
    later = timer.seconds[1:] or timer.seconds
    return {"accuracy": float(np.mean(predicted == y_test)), "params": model.count_params(),
            "first_epoch_s": timer.seconds[0], "epoch_s": float(np.median(later)),
            "predict_ms": predict_s * 1e3}


def masking_error(paths):
    """Largest relative difference between SigLayer on a padded, masked batch and signature()
    of each unpadded path."""
    layer = keras.Sequential([keras.layers.Masking(PAD), sc.SigLayer(DEPTH)])
    padded = keras.ops.convert_to_numpy(layer(pad(paths)))
    exact = np.stack([sc.signature(p, DEPTH) for p in paths])
    return float(np.max(np.abs(padded - exact)) / np.max(np.abs(exact)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="6 utterances per speaker for training, 10 per speaker for "
                             "testing, 3 epochs, 1 seed (what the test runs)")
    parser.add_argument("--epochs", type=int, help="training epochs (default 60; 3 with --quick)")
    parser.add_argument("--seeds", type=int, help="seeds per model (default 3; 1 with --quick)")
    args = parser.parse_args()
    epochs = args.epochs or (3 if args.quick else 60)
    seeds = args.seeds or (1 if args.quick else 3)

    train_paths, train_labels = load("train")
    test_paths, test_labels = load("test")
    if args.quick:
        train_paths, train_labels = first_per_class(train_paths, train_labels, 6)
        test_paths, test_labels = first_per_class(test_paths, test_labels, 10)
    lengths = [len(p) for p in train_paths + test_paths]
    print(f"JapaneseVowels (from sktime {sktime.__version__}): "
          f"{len(train_paths)} train / {len(test_paths)} test utterances, 12 channels, "
          f"lengths {min(lengths)}-{max(lengths)}, {SPEAKERS} speakers; Keras "
          f"{keras.__version__} on {keras.backend.backend()}")

    # Standardise every coefficient with the training frames' mean and spread.
    frames = np.concatenate(train_paths)
    mean, std = frames.mean(axis=0), frames.std(axis=0)
    train_paths = [(p - mean) / std for p in train_paths]
    test_paths = [(p - mean) / std for p in test_paths]

    def inputs(transform):
        return ((pad([transform(p) for p in train_paths]), train_labels),
                (pad([transform(p) for p in test_paths]), test_labels))

    models = {
        "signature": (signature_model, inputs(with_origin)),
        "logsignature": (logsignature_model,
                         inputs(lambda p: with_origin(sc.time_augment(p)))),
        "GRU baseline": (gru_model, inputs(lambda p: p)),
    }
    print(f"masked SigLayer vs signature() of the unpadded paths: relative difference "
          f"{masking_error([with_origin(p) for p in test_paths[:16]]):.1e}")
    print(f"training {epochs} epochs (Adam 1e-3, batch 32) with seeds 0..{seeds - 1}\n")

    header = (f"{'model':<13} {'params':>7}  {'test accuracy':>13}  {'per seed':<20} "
              f"{'1st epoch s':>11} {'epoch s':>8} {'predict ms':>10}")
    print(header)
    print("-" * len(header))
    for name, (build, (train, test)) in models.items():
        runs = [train_and_score(build, train, test, epochs, seed) for seed in range(seeds)]
        accuracy = [r["accuracy"] for r in runs]
        print(f"{name:<13} {runs[0]['params']:>7}  {np.mean(accuracy):>13.3f}  "
              f"{' '.join(f'{a:.3f}' for a in accuracy):<20} "
              f"{np.median([r['first_epoch_s'] for r in runs]):>11.2f} "
              f"{np.median([r['epoch_s'] for r in runs]):>8.3f} "
              f"{np.median([r['predict_ms'] for r in runs]):>10.1f}", flush=True)
    print(f"\nchance level: {1 / SPEAKERS:.3f}; times are medians over seeds; '1st epoch' "
          f"includes compilation")


if __name__ == "__main__":
    main()
