"""The forecasting job behind `lstmkit train`: fit a recurrent forecaster to a univariate series and score it on
its last `test_size` values against the seasonal-naive and persistence forecasts.

Preprocessing, fitted on the training part only: with `log`, f(y) = log y (a multiplicative seasonal series such
as the airline passengers becomes additive); with `season` s > 0 the network sees the seasonal difference
`z_t = f(y_t) - f(y_{t-s})` (for the airline series: the year-on-year growth rate) and predicts its next
`horizon` values; a forecast is mapped back by `f(y_t) = z_t + f(y_{t-s})`, using forecasts for f(y_{t-s}) when
the forecast reaches beyond one season. `z` is standardised with statistics of the training part.

Test points are forecast from a rolling origin: the origin starts at the last value before the test part and
moves `horizon` steps at a time, each forecast made from the true values up to its origin (with horizon 1: every
test value is forecast from the true values before it).
"""

import os
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from . import layers, optim
from .backend import DEVICES
from .config import check_fields, option
from .data import (
    StandardScaler,
    load_csv,
    load_dataset,
    scaler_from_dict,
    sliding_windows,
)
from .model import EarlyStopping, Sequential

CELLS = {"lstm": layers.LSTM, "gru": layers.GRU, "rnn": layers.SimpleRNN}


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
    window: int = option(12, "past steps the network sees")
    horizon: int = option(1, "future steps forecast at once")
    test_size: int = option(36, "last values held out for the test")
    val_size: int = option(12, "values before the test part used for early stopping")
    season: int = option(12, "seasonal period: the network models f(y_t) - f(y_{t-season}); 0 turns it off; "
                           "the seasonal-naive baseline is y_t = y_{t-season} (12 when off)")
    log: bool = option(True, "model log(y) (needs positive values); --no-log models y itself")
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
        if self.season < 0 or self.val_size < 0 or self.checkpoint_every < 0:
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


def train_forecaster(cfg, series=None, verbose=True, checkpoint=None, resume=False):
    """Run the whole job of the module docstring; returns a ForecastRun. Nothing is written to disk unless
    `checkpoint` names a run folder: then its config.json and, every `cfg.checkpoint_every` epochs, the training
    checkpoint go there, and `resume=True` continues the run from that checkpoint (see `resume_config`)."""
    cfg.validate()
    series = load_series(cfg) if series is None else series
    y = series.values
    n, s, w, h = len(y), cfg.season, cfg.window, cfg.horizon
    test_start = n - cfg.test_size
    val_start = test_start - cfg.val_size
    baseline_lag = s or 12
    if cfg.log and np.any(y <= 0):
        raise ValueError("the series has values <= 0, so log cannot be taken; rerun with --no-log.")
    min_train = s + w + h + max(cfg.batch_size, 8)
    if val_start < min_train or test_start <= baseline_lag:
        raise ValueError(f"the series has {n} values: too short for test_size={cfg.test_size}, "
                         f"val_size={cfg.val_size}, window={w}, horizon={h}, season={s} (the training part needs "
                         f"at least {min_train} values); use a longer series or smaller settings.")

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
               "parameters": model.count_params(), "series": series.source, "column": series.name}
    return ForecastRun(cfg, model, history.history, series.dates, y, test_start, test_forecast, metrics, transform)


CONFIG_FILE = "config.json"


def write_config(folder, cfg):
    """Write the settings of a run to `<folder>/config.json` (atomically), for `--resume`."""
    import json

    from .io import write_atomic

    os.makedirs(folder, exist_ok=True)
    write_atomic(os.path.join(folder, CONFIG_FILE), (json.dumps(asdict(cfg), indent=2) + "\n").encode())


def resume_config(folder, changes=None):
    """The settings of the run in `folder` (its config.json) with `changes` applied. Only the settings in
    `ForecastConfig.RESUMABLE` may change; any other that differs from the saved value is a ValueError, since the
    run could not go on as the same run. Also a ValueError when the folder holds no run or no checkpoint."""
    import json

    from .checkpoint import FILENAME

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
