"""The forecasting job behind `lstmkit train`: fit a recurrent forecaster to a univariate series and score it on
its last `test_size` values against the seasonal-naive and persistence forecasts.

Preprocessing, fitted on the training part only: with `log`, f(y) = log y (a multiplicative seasonal series such
as the airline passengers becomes additive); with `season` s > 0 the network sees the seasonal difference
`z_t = f(y_t) - f(y_{t-s})` (for the airline series: the year-on-year growth rate) and predicts its next
`horizon` values; a forecast is mapped back by `f(y_t) = z_t + f(y_{t-s})`, using forecasts for f(y_{t-s}) when
the forecast reaches beyond one season. `z` is standardised with statistics of the training part.

Settings left at "auto" (the defaults) are chosen from the series before anything is fitted (`resolve_config`):
log when every value is > 0; the season from the dates' step (monthly 12, quarterly 4, weekly 52, daily 7,
hourly 24, yearly 0) when the part before the test holds at least 3 seasons, else, without a recognised step, from
the autocorrelation of that part of f(y) (`season_from_acf`); test_size min(36, n // 4), val_size min(12, n // 8),
window min(12, half of the values before the validation part less season and horizon). The airline series gets
log, season 12, test_size 36, val_size 12 and window 12.

Test points are forecast from a rolling origin: the origin starts at the last value before the test part and
moves `horizon` steps at a time, each forecast made from the true values up to its origin (with horizon 1: every
test value is forecast from the true values before it).
"""

import os
import time
from dataclasses import asdict, dataclass, replace
from typing import NamedTuple

import numpy as np

from .. import layers
from ..data import StandardScaler, load_csv, load_dataset, scaler_from_dict, sliding_windows
from ..data.dates import date_step, frequency
from ..model import Sequential
from ..runtime.backend import DEVICES
from ..training import EarlyStopping
from ..training import optim
from .config import check_fields, is_auto, option

CELLS = layers.CELLS


@dataclass
class ForecastConfig:
    """Every setting of the forecasting job; `lstmkit train --help` is generated from these fields."""
    data: str = option(None, "CSV file with the series (default: the shipped airline-passengers series)")
    column: str = option(None, "numeric column of the CSV to forecast (default: the only numeric column)")
    fill: str = option(None, "how to treat missing/NaN values: reject them (default) or 'interpolate'",
                     choices=("interpolate",))
    cell: str = option("lstm", "recurrent cell", choices=tuple(CELLS))
    hidden: int = option(32, "hidden units per layer")
    layers: int = option(1, "stacked recurrent layers")
    bidirectional: bool = option(False, "run each recurrent layer in both directions")
    window: int = option("auto", "past steps the network sees; auto: 12, fewer when the series is short")
    horizon: int = option(1, "future steps forecast at once")
    test_size: int = option("auto", "last values held out for the test; auto: min(36, n // 4) of n values")
    val_size: int = option("auto", "values before the test part used for early stopping; auto: min(12, n // 8)")
    season: int = option("auto", "seasonal period: the network models f(y_t) - f(y_{t-season}); 0 turns it off; "
                               "the seasonal-naive baseline is y_t = y_{t-season} (12 when off); auto: from the "
                               "dates' step (monthly 12, quarterly 4, weekly 52, daily 7, yearly 0), else from the "
                               "autocorrelation")
    log: bool = option("auto", "model log(y) (needs positive values); no: y itself; auto: yes when every value "
                               "is > 0")
    epochs: int = option(300, "maximum training epochs")
    patience: int = option(50, "stop after this many epochs without a better validation loss")
    batch_size: int = option(16, "mini-batch size")
    lr: float = option(3e-3, "Adam learning rate")
    forget_bias: float = option(1.0, "initial forget-gate bias of LSTM cells")
    seed: int = option(0, "random seed (weights, batches): the same seed gives the same run")
    checkpoint_every: int = option(10, "write a checkpoint to the run folder every N epochs (and at the end; 0: "
                                     "none); `--resume RUN_DIR` continues from it")
    device: str = option("cpu", "where the layers compute: cpu, or cuda (a GPU, through CuPy)", choices=DEVICES)

    # settings that a resumed run may change: they do not alter what the epochs already run computed
    RESUMABLE = ("epochs", "checkpoint_every", "device")

    def validate(self):
        check_fields(self, ("hidden", "layers", "window", "horizon", "test_size", "epochs", "batch_size",
                            "patience"))
        if any(not is_auto(self, name) and getattr(self, name) < 0
               for name in ("season", "val_size", "checkpoint_every")):
            raise ValueError("season, val_size and checkpoint_every must be >= 0.")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr must be positive, got {self.lr}.")
        return self


class Transform:
    """y <-> z: the log and seasonal difference of the module docstring, with the standardisation of z."""

    def __init__(self, log, season, scaler=None):
        self.log, self.season, self.scaler = log, season, scaler

    def f(self, y):
        return np.log(y) if self.log else np.asarray(y, dtype=np.float64)

    def f_inverse(self, fy):
        return np.exp(fy) if self.log else fy

    def z(self, fy):
        """z_t = f(y_t) - f(y_{t-s}) for t >= s (the first s values have no z), or f(y_t) itself when s = 0."""
        return fy[self.season:] - fy[:-self.season] if self.season else fy

    def to_dict(self):
        return {"log": self.log, "season": self.season, "scaler": self.scaler.to_dict()}

    @classmethod
    def from_dict(cls, d):
        return cls(bool(d["log"]), int(d["season"]), scaler_from_dict(d["scaler"]))


def forecast(model, transform, window, y_known, steps):
    """Forecast `steps` values after the series `y_known`, `horizon` values per network call, feeding forecasts
    back in (recursively) when `steps` exceeds the horizon."""
    fy = list(transform.f(np.asarray(y_known, dtype=np.float64)))
    s = transform.season
    start = len(fy)
    while len(fy) - start < steps:
        z_window = transform.z(np.asarray(fy))[-window:]                       # (window,)
        x = transform.scaler.transform(z_window)[None, :, None]               # (1, window, 1)
        z_next = transform.scaler.inverse_transform(model.predict(x)[0])      # (horizon,)
        for z in z_next:
            fy.append(z + (fy[len(fy) - s] if s else 0.0))
    return transform.f_inverse(np.asarray(fy[start:start + steps]))


@dataclass
class ForecastRun:
    config: ForecastConfig
    model: Sequential
    history: dict
    dates: list
    y: np.ndarray
    test_start: int
    test_forecast: np.ndarray
    metrics: dict
    transform: Transform

    def model_metadata(self):
        data_file = None if self.config.data is None else os.path.abspath(self.config.data)
        return {"task": "forecast", "config": asdict(self.config), "transform": self.transform.to_dict(),
                "column": self.metrics["column"], "data_file": data_file}


def _scores(pred, truth):
    err = pred - truth
    return float(np.sqrt(np.mean(err ** 2))), float(np.mean(np.abs(err)))


def load_series(cfg):
    if cfg.data is None:
        series = load_dataset("airline-passengers")
        if cfg.column not in (None, series.name):
            raise ValueError(f"the shipped airline-passengers series has no column {cfg.column!r}; "
                             f"available columns: {series.name!r}.")
        return series
    return load_csv(cfg.data, column=cfg.column, fill=cfg.fill)


def season_from_dates(dates, n):
    """(season, reason) from the step of `dates`, or None when they have no step of the tables above. A season
    that `n` values (the part before the test) hold fewer than 3 times is turned off."""
    step = date_step(dates)
    if step is None:
        return None
    if step.months and step.months % 12 == 0:
        return 0, "yearly dates" if step.months == 12 else f"dates {step.months} months apart"
    name, season = frequency(step.months, step.span)
    if name == "other":
        return None
    if n < 3 * season:
        return 0, f"{name} dates, but {n} values before the test part hold fewer than 3 seasons of {season}"
    return season, f"{name} dates"


def season_from_acf(fy):
    """(season, reason) from the autocorrelation r_k of `fy` (m values) less its least-squares line, over the lags
    k = 2 .. K = min(m/3, 60): the highest local peak (r_k > r_{k-1}, r_k >= r_{k+1}) above the white-noise bound
    z / sqrt(m), or the shortest such peak that divides it (a season of 12 peaks at 24 and 36 too); 0 when no
    peak clears the bound. z = Phi^-1(1 - 0.1 / (K - 1)) makes it a 10% test of all K - 1 lags together: the
    one-lag bound 1.645 / sqrt(m) is cleared somewhere in most pure-noise series. Removing the line keeps a trend
    from correlating every lag (first differences would, but they bury a smooth season in amplified noise)."""
    from statistics import NormalDist

    m = len(fy)
    max_lag = min(m // 3, 60)
    t = np.arange(m)
    d = fy - np.polyval(np.polyfit(t, fy, 1), t) if m >= 2 else np.zeros(m)
    d = d - d.mean() if m else d
    energy = float(d @ d)
    if max_lag < 2 or energy <= 1e-12 * max(float(fy @ fy), 1e-300):
        return 0, f"{m} values are too few or too regular for an autocorrelation"
    r = np.array([d[:m - k] @ d[k:] for k in range(max_lag + 2)]) / energy           # r[k], k = 0 .. max_lag+1
    bound = NormalDist().inv_cdf(1 - 0.1 / (max_lag - 1)) / np.sqrt(m)
    peaks = [k for k in range(2, max_lag + 1) if r[k] > r[k - 1] and r[k] >= r[k + 1] and r[k] > bound]
    if not peaks:
        return 0, f"no autocorrelation peak above {bound:.2f} at lags 2..{max_lag}"
    highest = max(peaks, key=lambda k: r[k])
    k = min(j for j in peaks if highest % j == 0)
    return k, f"autocorrelation {r[k]:.2f} at lag {k}"


class Resolved(NamedTuple):
    """`config` with no setting left at "auto", and `summary`: one line saying what was chosen and why."""
    config: ForecastConfig
    summary: str


def resolve_config(cfg, series):
    """Choose every "auto" setting of `cfg` from `series` by the rules of the module docstring."""
    y, n, h = series.values, len(series.values), cfg.horizon
    sized = [name for name in ("test_size", "val_size", "window") if is_auto(cfg, name)]
    test_size = max(1, min(36, n // 4)) if is_auto(cfg, "test_size") else cfg.test_size
    val_size = min(12, n // 8) if is_auto(cfg, "val_size") else cfg.val_size

    if is_auto(cfg, "log"):
        log, why_log = bool(np.all(y > 0)), ("all values > 0" if np.all(y > 0) else
                                             f"{int(np.sum(y <= 0))} of {n} values <= 0")
    else:
        log, why_log = cfg.log, "given"
        if log and np.any(y <= 0):
            raise ValueError(f"the series has {int(np.sum(y <= 0))} values <= 0, so log cannot be taken; rerun "
                             f"with --log auto or --no-log.")

    known = max(n - test_size, 0)                                 # the part before the test
    if is_auto(cfg, "season"):
        season, why_season = (season_from_dates(series.dates, known)
                              or season_from_acf(Transform(log, 0).f(y[:known])))
    else:
        season, why_season = cfg.season, "given"

    window = cfg.window
    if is_auto(cfg, "window"):
        window = max(1, min(12, (known - val_size - season - h) // 2))
    sizes = f"test_size {test_size}, val_size {val_size}, window {window}"
    if sized:
        sizes += f" ({'all' if len(sized) == 3 else ', '.join(sized)} chosen for {n} values)"
    resolved = replace(cfg, log=log, season=season, test_size=test_size, val_size=val_size, window=window)
    return Resolved(resolved.validate(), f"log: {'yes' if log else 'no'} ({why_log}); season: {season} "
                                         f"({why_season}); {sizes}")


def train_forecaster(cfg, series=None, verbose=True, checkpoint=None, resume=False, on_settings=None):
    """Run the whole job of the module docstring; returns a ForecastRun. Settings left at "auto" are chosen
    first (`resolve_config`); `on_settings`, when given, is called with the line that says what was chosen
    before training starts, and the run's config holds the chosen values. Nothing is written to disk unless
    `checkpoint` names a run folder: then its config.json and, every `cfg.checkpoint_every` epochs, the training
    checkpoint go there, and `resume=True` continues the run from that checkpoint (see `resume_config`)."""
    cfg.validate()
    series = load_series(cfg) if series is None else series
    cfg, settings = resolve_config(cfg, series)
    if on_settings is not None:
        on_settings(settings)
    y = series.values
    n, s, w, h = len(y), cfg.season, cfg.window, cfg.horizon
    test_start = n - cfg.test_size
    val_start = test_start - cfg.val_size
    baseline_lag = s or 12
    min_train = s + w + h + 7                                    # 8 training windows (the batch size is capped)
    if val_start < min_train or test_start <= baseline_lag:
        raise ValueError(f"the series has {n} values: too short for test_size={cfg.test_size}, "
                         f"val_size={cfg.val_size}, window={w}, horizon={h}, season={s} (the training part needs "
                         f"at least {min_train} values, and the test part must start after value {baseline_lag}); "
                         f"use a longer series or lower --test-size, --val-size, --window or --season.")

    fy = Transform(cfg.log, s).f(y)
    transform = Transform(cfg.log, s)
    transform.scaler = StandardScaler().fit(transform.z(fy[:val_start]))
    zs = transform.scaler.transform(transform.z(fy))            # z_t for t = s .. n-1, scaled
    X, Y = sliding_windows(zs, w, h)                             # X[m] = zs[m:m+w], Y[m] = zs[m+w:m+w+h]
    first_target = s + w + np.arange(len(X))                     # series index of Y[m, 0]
    last_target = first_target + h - 1
    train = last_target < val_start
    val = (first_target >= val_start) & (last_target < test_start)

    Cell = CELLS[cfg.cell]
    cell_args = {"forget_bias": cfg.forget_bias} if cfg.cell == "lstm" else {}
    model = Sequential([Cell(cfg.hidden, num_layers=cfg.layers, bidirectional=cfg.bidirectional, **cell_args),
                        layers.Dense(h)], seed=cfg.seed).to(cfg.device)
    model.compile(loss="mse", optimizer=optim.Adam(lr=cfg.lr, clipnorm=1.0))
    started = time.perf_counter()
    fit_args = {}
    if val.any():
        fit_args = {"validation_data": (X[val], Y[val]), "early_stopping": EarlyStopping(patience=cfg.patience)}
    if checkpoint is not None and cfg.checkpoint_every:
        write_config(checkpoint, cfg)
        fit_args.update(checkpoint=checkpoint, checkpoint_every=cfg.checkpoint_every, resume=resume)
    elif resume:
        raise ValueError("resuming needs the run folder (checkpoint=) and checkpoint_every >= 1.")
    history = model.fit(X[train], Y[train], epochs=cfg.epochs, batch_size=min(cfg.batch_size, int(train.sum())),
                        verbose=verbose, **fit_args)
    train_seconds = time.perf_counter() - started

    test_forecast = np.concatenate([
        forecast(model, transform, w, y[:origin], min(h, n - origin)) for origin in range(test_start, n, h)])
    truth = y[test_start:]
    test_rmse, test_mae = _scores(test_forecast, truth)
    base_rmse, base_mae = _scores(y[test_start - baseline_lag:n - baseline_lag], truth)
    pers_rmse, pers_mae = _scores(y[test_start - 1:n - 1], truth)
    metrics = {"test_rmse": test_rmse, "test_mae": test_mae, "baseline_rmse": base_rmse, "baseline_mae": base_mae,
               "persistence_rmse": pers_rmse, "persistence_mae": pers_mae, "test_points": int(cfg.test_size),
               "baseline": f"seasonal naive y[t] = y[t-{baseline_lag}]", "persistence": "y[t] = y[t-1]",
               "epochs_run": len(history.epoch), "stopped_early": history.stopped_epoch is not None,
               "train_seconds": round(train_seconds, 3),
               "parameters": model.count_params(), "series": series.source, "column": series.name,
               "settings": settings}
    return ForecastRun(cfg, model, history.history, series.dates, y, test_start, test_forecast, metrics, transform)


CONFIG_FILE = "config.json"


def write_config(folder, cfg):
    """Write the settings of a run to `<folder>/config.json` (atomically), for `--resume`."""
    import json

    from ..formats.modelfile import write_atomic

    os.makedirs(folder, exist_ok=True)
    write_atomic(os.path.join(folder, CONFIG_FILE), (json.dumps(asdict(cfg), indent=2) + "\n").encode())


def resume_config(folder, changes=None):
    """The settings of the run in `folder` (its config.json) with `changes` applied. Only the settings in
    `ForecastConfig.RESUMABLE` may change; any other that differs from the saved value is a ValueError, since the
    run could not go on as the same run. Also a ValueError when the folder holds no run or no checkpoint."""
    import json

    from ..formats.checkpoint import FILENAME

    path = os.path.join(folder, CONFIG_FILE)
    if not os.path.isdir(folder):
        raise ValueError(f"no such run folder: {folder}")
    if not os.path.isfile(path):
        raise ValueError(f"{folder} holds no {CONFIG_FILE}; it is not a run folder written by `lstmkit train`.")
    if not os.path.isfile(os.path.join(folder, FILENAME)):
        raise ValueError(f"{folder} holds no checkpoint ({FILENAME}): the run stopped before its first "
                         f"checkpoint, or ran with --checkpoint-every 0; start it again.")
    try:
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
        if not isinstance(saved, dict):
            raise TypeError("not a JSON object")
        cfg = ForecastConfig(**saved).validate()
    except (ValueError, TypeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is damaged ({err}); the run cannot be resumed.") from None
    if (changes or {}).get("checkpoint_every") == 0:
        raise ValueError("--resume goes on writing checkpoints; --checkpoint-every must be at least 1.")
    differ = {name: value for name, value in (changes or {}).items()
              if name not in ForecastConfig.RESUMABLE and getattr(cfg, name) != value}
    if differ:
        listed = ", ".join(f"--{k.replace('_', '-')} {v} (the run has {getattr(cfg, k)})" for k, v in differ.items())
        raise ValueError(f"--resume continues the run in {folder} with its saved settings, but {listed}; drop "
                         f"{'that option' if len(differ) == 1 else 'those options'} or start a new run.")
    return replace(cfg, **{k: v for k, v in (changes or {}).items() if k in ForecastConfig.RESUMABLE}).validate()


def write_run(run, out):
    """Write a run folder: model.lstmkit, metrics.json (with the config), forecast.png, history.png."""
    import json

    from .plots import plot_forecast, plot_history

    os.makedirs(out, exist_ok=True)
    run.model.save(os.path.join(out, "model.lstmkit"), metadata=run.model_metadata())
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump({**run.metrics, "config": asdict(run.config)}, f, indent=2)
    lag = run.config.season or 12
    plot_forecast(os.path.join(out, "forecast.png"), run.y, run.test_start, run.test_forecast, run.dates,
                  title=f"{run.config.cell.upper()} forecast of {run.metrics['column']}: test RMSE "
                        f"{run.metrics['test_rmse']:.2f} (seasonal naive {run.metrics['baseline_rmse']:.2f})",
                  baseline=run.y[run.test_start - lag:len(run.y) - lag])
    plot_history(os.path.join(out, "history.png"), run.history, title=f"{run.config.cell.upper()} training loss")
