"""Forecasting with the seed's SigKAN-like model, on whichever Keras backend is active.

The model is the one the benchmarks train (bench/keras_train.py), a simplified form of the
SigKAN architecture (Inzirillo & Genet, 2024) with SigLayer in place of the signature-weighted
KAN layer:

    Input((20, 5)) -> Dense(7) -> SigLayer(4) -> Flatten -> Dense(10, relu) -> Dense(1)

The data is a synthetic 5-channel series: five phase-shifted oscillations whose amplitude drifts
slowly, plus a random walk and observation noise. From a window of the last 20 points the model
predicts how far channel 0 moves over the next 5 steps. The first 80% of the series trains the
model and the last 20% tests it; the baseline predicts no change.

Run with the backend of your choice. On a CPU, SigLayer runs compiled C on every backend
(through the XLA FFI on jax, a custom op on torch and on tensorflow):

    KERAS_BACKEND=jax python examples/sigkan_forecast.py
    KERAS_BACKEND=torch python examples/sigkan_forecast.py
    KERAS_BACKEND=tensorflow python examples/sigkan_forecast.py
    python examples/sigkan_forecast.py --quick      # a short series and 2 epochs
"""

import argparse
import time

import keras
import numpy as np

import sigcodegen as sc

WINDOW, HORIZON, CHANNELS = 20, 5, 5


def synthetic_series(steps, seed=0):
    """(steps, 5) float32: oscillations with a drifting amplitude, a random walk and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)[:, None]
    amplitude = 1.0 + 0.5 * np.sin(2 * np.pi * t / 900)
    waves = amplitude * np.sin(2 * np.pi * t / 40 + np.arange(CHANNELS) * np.pi / CHANNELS)
    drift = 0.05 * np.cumsum(rng.standard_normal((steps, CHANNELS)), axis=0)
    return (waves + drift + 0.05 * rng.standard_normal((steps, CHANNELS))).astype(np.float32)


def windows(series):
    """Inputs (n, WINDOW, CHANNELS) and targets (n, 1): the move of channel 0 over HORIZON steps
    after each window."""
    starts = np.arange(len(series) - WINDOW - HORIZON + 1)
    x = series[starts[:, None] + np.arange(WINDOW)]
    last = series[starts + WINDOW - 1, 0]
    y = series[starts + WINDOW - 1 + HORIZON, 0] - last
    return x, y[:, None]


class EpochTimes(keras.callbacks.Callback):
    """Wall time of every training epoch (the first one includes compilation)."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def sigkan_like_model():
    return keras.Sequential([
        keras.Input((WINDOW, CHANNELS)),
        keras.layers.Dense(7),              # a learned linear map of the path, R^5 -> R^7
        sc.SigLayer(depth=4),               # (batch, 7 + 7**2 + 7**3 + 7**4) = (batch, 2800)
        keras.layers.Flatten(),             # already flat; kept as in the seed
        keras.layers.Dense(10, activation="relu"),
        keras.layers.Dense(1),
    ])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a 1000-step series and 2 epochs (what the test runs)")
    parser.add_argument("--epochs", type=int, help="training epochs (default 30; 2 with --quick)")
    args = parser.parse_args()
    epochs = args.epochs or (2 if args.quick else 30)

    keras.utils.set_random_seed(0)
    series = synthetic_series(1000 if args.quick else 10_000)
    split = int(0.8 * len(series))
    x_train, y_train = windows(series[:split])
    x_test, y_test = windows(series[split:])   # no test window overlaps the training part
    scale = float(y_train.std())               # train on moves in units of their spread
    print(f"Keras {keras.__version__} on {keras.backend.backend()}: {len(x_train)} training and "
          f"{len(x_test)} test windows of shape {x_train.shape[1:]}")

    model = sigkan_like_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    print(f"model: {model.count_params()} parameters")

    timer = EpochTimes()
    history = model.fit(x_train, y_train / scale, batch_size=128, epochs=epochs, verbose=0,
                        callbacks=[timer])
    losses = history.history["loss"]
    print(f"training loss (in units of the moves' variance): {losses[0]:.3f} after epoch 1, "
          f"{losses[-1]:.3f} after epoch {epochs}")
    later = timer.seconds[1:] or timer.seconds
    print(f"time: first epoch {timer.seconds[0]:.2f} s (includes compilation), then "
          f"{np.median(later):.3f} s per epoch")

    predicted = model.predict(x_test, batch_size=512, verbose=0) * scale
    mse = float(np.mean((predicted - y_test) ** 2))
    no_change = float(np.mean(y_test ** 2))
    print(f"test MSE: model {mse:.4f}, no-change baseline {no_change:.4f} "
          f"(ratio {mse / no_change:.2f}; below 1 the model beats the baseline)")


if __name__ == "__main__":
    main()
