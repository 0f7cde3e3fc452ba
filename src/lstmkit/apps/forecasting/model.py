"""One recurrent network for many series (a global model), in the way Smyl's ES-RNN (2020) and Hewamalage, Bergmeir
& Bandara (2021, "Recurrent neural networks for time series forecasting") made recurrent networks win: train one
model on windows drawn from all the series, remove each series' seasonality first, normalise each window by its
own last level, forecast all horizon steps at once, and take the median of an ensemble of seeds.

Per series y_0 .. y_{n-1} (its history), season m, window L, horizon H:
  1. seasonal indices s_t (classical multiplicative decomposition: the mean ratio of y to its centred moving
     average at each position of the season, scaled to average 1) when m > 1, the history spans at least 3
     seasons, every value is positive and the lag-m autocorrelation passes the 90% test of the Theta method
     (|r_m| > 1.645 sqrt((1 + 2 sum_{k<m} r_k^2) / n)); else s_t = 1;
  2. z_t = log(y_t / s_t) when every value is positive, else z_t = y_t / scale with scale = mean |y| (1 if 0);
  3. a window ending at t: input u = z_{t-L..t-1} - z_{t-1} (L steps, 1 feature; a series shorter than L is
     padded on the left with its first value), target v = z_{t..t+H-1} - z_{t-1}.
The network (a recurrent layer, then Dense(H * Q)) maps u to the Q quantiles of each of the H values of v
(losses.Pinball); the forecast is z_hat = z_{n-1} + v_hat, mapped back by exp and s (or scale). The ensemble
members differ in their seed and in their input length (L, 3L/4 and 3L/2 in turn); their quantiles are combined
by the median and sorted, so that the interval bounds never cross.
"""

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ... import layers
from ...model import Sequential
from ...runtime.parallel import map_jobs
from ...training import optim
from ...training.losses import Pinball
from ...training.progress import CaseProgress
from ..config import check_fields, option

CELLS = layers.CELLS
QUANTILES = (0.5, 0.1, 0.9, 0.025, 0.975)         # the median, then the 80% and the 95% interval bounds


@dataclass
class ModelConfig:
    """The global network and its training (`lstmkit forecast` options come from these fields)."""
    window: int = option(0, "input steps per window; 0: by the frequency (24 monthly, 8 quarterly and yearly, 16 "
                            "other, 52 weekly, 28 daily, 48 hourly, else 2 x horizon)")
    cell: str = option("lstm", "recurrent cell", choices=tuple(CELLS))
    hidden: int = option(64, "hidden units per layer")
    layers: int = option(1, "stacked recurrent layers")
    epochs: int = option(0, "passes over the training windows of all series; 0: enough for 800 mini-batch "
                            "updates, at least 8")
    batch_size: int = option(256, "windows per mini-batch")
    lr: float = option(3e-3, "Adam learning rate")
    ensemble: int = option(5, "models trained from different seeds; the forecast is their median")
    deseasonalise: bool = option(True, "divide each series by its seasonal indices first, where the seasonality "
                                       "test finds a season (else the network must learn it)")
    seed: int = option(0, "seed of the first ensemble member (the others take the next ones)")

    def validate(self):
        check_fields(self, ("hidden", "layers", "batch_size", "ensemble"))
        if self.epochs < 0:
            raise ValueError(f"epochs must be 0 (enough for {MIN_UPDATES} updates) or more, got {self.epochs}.")
        if self.window < 0:
            raise ValueError(f"window must be 0 (by the frequency) or a number of steps, got {self.window}.")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}.")
        return self


WINDOWS = {"monthly": 24, "quarterly": 8, "yearly": 8, "other": 16, "weekly": 52, "daily": 28, "hourly": 48}
WINDOW_SHARES = (1.0, 0.75, 1.5)  # ensemble member k reads window x WINDOW_SHARES[k % 3] steps
MIN_UPDATES = 800                 # epochs=0: at least this many mini-batch updates (and at least 8 epochs)


class SeriesScale(NamedTuple):
    """How one series maps to the network's z scale: `indices` (m,) seasonal indices (None: not seasonal), with
    indices[t % m] belonging to y_t; `log` whether z = log(y / s); else `scale` divides."""
    indices: object
    log: bool
    scale: float


def autocorrelation(y, max_lag):
    """r_1 .. r_max_lag of y (the biased estimator, as the Theta method's test uses)."""
    d = y - y.mean()
    denom = float(d @ d)
    if denom == 0.0:
        return np.zeros(max_lag)
    return np.array([float(d[k:] @ d[:-k]) / denom for k in range(1, max_lag + 1)])


def is_seasonal(y, m):
    """The 90% autocorrelation test at lag m: |r_m| > 1.645 sqrt((1 + 2 sum_{k<m} r_k^2) / n)."""
    if m <= 1 or len(y) < 3 * m:
        return False
    r = autocorrelation(y, m)
    return abs(r[m - 1]) > 1.645 * np.sqrt((1 + 2 * np.sum(r[:m - 1] ** 2)) / len(y))


def seasonal_indices(y, m):
    """Classical multiplicative decomposition: (m,) indices, mean 1, indices[t % m] for y_t."""
    if m % 2 == 0:                                               # a 2 x m centred moving average
        weights = np.r_[0.5, np.ones(m - 1), 0.5] / m
    else:
        weights = np.ones(m) / m
    trend = np.convolve(y, weights, mode="valid")                 # trend[j] centres on y[j + len(weights) // 2]
    start = len(weights) // 2
    ratios = y[start:start + len(trend)] / trend
    positions = (np.arange(len(trend)) + start) % m
    indices = np.array([ratios[positions == k].mean() for k in range(m)])
    return indices / indices.mean()


def fit_scale(y, m, deseasonalise=True):
    """The SeriesScale of the module docstring for history y and season m."""
    positive = bool(np.all(y > 0))
    indices = seasonal_indices(y, m) if deseasonalise and positive and is_seasonal(y, m) else None
    scale = 1.0 if positive else float(np.mean(np.abs(y))) or 1.0
    return SeriesScale(indices, positive, scale)


def _season(scale, start, count):
    if scale.indices is None:
        return np.ones(count)
    return scale.indices[np.arange(start, start + count) % len(scale.indices)]


def to_z(y, scale):
    """z_t for the history y (t = 0 .. n-1)."""
    ds = y / _season(scale, 0, len(y))
    return np.log(ds) if scale.log else ds / scale.scale


def from_z(z, scale, start):
    """y for z values of steps start, start + 1, ... (the last axis), the inverse of to_z."""
    season = _season(scale, start, z.shape[-1])
    return (np.exp(z) if scale.log else z * scale.scale) * season


def input_window(z, window):
    """u: the last `window` values of z less the last one, left-padded with z[0] where z is shorter (window,)."""
    part = z[-window:]
    if len(part) < window:
        part = np.r_[np.full(window - len(part), part[0]), part]
    return part - z[-1]


def check_long_enough(zs, horizon):
    """Raise a ValueError when no series gives a training window (n - horizon < 2 for all)."""
    if all(len(z) - horizon < 2 for z in zs):
        raise ValueError(f"no series is long enough to give a training window (each needs at least "
                         f"{horizon + 2} values for horizon {horizon}).")


def training_windows(zs, window, horizon):
    """(X (N, window, 1), Y (N, horizon)) float32 from every series: windows ending at t for t from
    max(2, min(window, n - horizon)) to n - horizon (a series with n - horizon < 2 gives none)."""
    check_long_enough(zs, horizon)
    X, Y = [], []
    for z in zs:
        n = len(z)
        for t in range(max(2, min(window, n - horizon)), n - horizon + 1):
            X.append(input_window(z[:t], window))
            Y.append(z[t:t + horizon] - z[t - 1])
    return np.asarray(X, np.float32)[..., None], np.asarray(Y, np.float32)


def build_model(cfg, horizon, quantiles, seed):
    cell = CELLS[cfg.cell]
    model = Sequential([cell(cfg.hidden, num_layers=cfg.layers), layers.Dense(horizon * len(quantiles))], seed=seed)
    return model.compile(loss=Pinball(quantiles), optimizer=optim.Adam(lr=cfg.lr, clipnorm=1.0))


def member_window(window, k):
    """The input length of ensemble member k: window x WINDOW_SHARES[k % 3] (different lookbacks make the
    members differ more than their seeds alone do)."""
    return max(2, round(window * WINDOW_SHARES[k % len(WINDOW_SHARES)]))


def epochs_for(cfg, n_windows, batch_size):
    """cfg.epochs, or for 0 enough epochs for MIN_UPDATES mini-batch updates, at least 8."""
    return cfg.epochs or max(8, math.ceil(MIN_UPDATES / math.ceil(n_windows / batch_size)))


def train_and_predict(zs, window, cfg, horizon, quantiles, seed, verbose=False):
    """One ensemble member: train on the windows of the series zs (z scale), return its quantiles for the window
    after each series' end, (S, Q, horizon) in z offsets."""
    X, Y = training_windows(zs, window, horizon)
    U = np.asarray([input_window(z, window) for z in zs], np.float32)[..., None]          # (S, window, 1)
    model = build_model(cfg, horizon, quantiles, seed)
    batch_size = min(cfg.batch_size, len(X))
    model.fit(X, Y, epochs=epochs_for(cfg, len(X), batch_size), batch_size=batch_size, verbose=verbose)
    parts = model.loss.split(model.predict(U))
    return np.stack([parts[q] for q in quantiles], axis=1)


def _member(job):
    return train_and_predict(*job)


def ensemble_quantiles(zs, window, cfg, horizon, quantiles=QUANTILES, workers=1, cluster=None, verbose=False):
    """The median over cfg.ensemble members (member k: seed cfg.seed + k, input length member_window(window, k))
    of their quantiles, (S, Q, horizon). The members train on `workers` processes when workers > 1, one BLAS
    thread each, or on a Dask `cluster` (parallel.map_jobs); `verbose` shows a bar over the members."""
    jobs = [(zs, member_window(window, k), cfg, horizon, quantiles, cfg.seed + k) for k in range(cfg.ensemble)]
    with CaseProgress(len(jobs), f"training {len(jobs)} model(s)", enabled=verbose) as progress:
        members = map_jobs(_member, jobs, workers=workers if workers > 1 else 0, cluster=cluster,
                           on_result=lambda k, _: progress.finished(f"member {k + 1} done"))
    return np.median(np.stack(members), axis=0)


def forecast_panel(histories, season, horizon, frequency, cfg=ModelConfig(), quantiles=QUANTILES, workers=1,
                   cluster=None, verbose=False):
    """Forecast every history: returns (quantile forecasts {q: list of (horizon,) arrays}, scales, window), the
    quantiles sorted per step so that the bounds do not cross. With workers > 1 the members run on spawned
    processes, so a script calling this must do so under `if __name__ == "__main__":` (see parallel.py)."""
    window = cfg.window or WINDOWS.get(frequency, 2 * horizon)
    scales = [fit_scale(np.asarray(y, np.float64), season, cfg.deseasonalise) for y in histories]
    zs = [to_z(np.asarray(y, np.float64), s) for y, s in zip(histories, scales)]
    check_long_enough(zs, horizon)                               # no training window at all: one clear error now
    q = ensemble_quantiles(zs, window, cfg, horizon, quantiles, workers, cluster, verbose)    # (S, Q, H)
    order = np.argsort(quantiles)
    q[:, order, :] = np.sort(q[:, order, :], axis=1)
    out = {}
    for k, quantile in enumerate(quantiles):
        out[quantile] = [from_z(z[-1] + q[i, k], s, len(z)) for i, (z, s) in enumerate(zip(zs, scales))]
    return out, scales, window
