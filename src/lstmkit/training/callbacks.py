"""What the training loop does at the end of each epoch besides training: the History it returns, early stopping,
a learning rate reduced on a plateau, and a CSV log. Keras' callbacks of the same names and meanings.

A callback has three hooks, each given the Trainer (its `model`, `state` and `history`): `on_train_begin`,
`on_epoch_end(trainer, epoch, logs)` and `on_train_end`. At an epoch's end the callbacks run in the order given,
before the epoch's logs join the History, so a callback may add to `logs` (ReduceLROnPlateau adds `lr`) and the
ones after it see the addition: put CSVLogger last. A callback keeps no state that a resumed run could not
rebuild: early stopping's record travels in the checkpoint (checkpoint.TrainState), and the learning-rate schedule
is replayed from the History.
"""

import copy
import csv
import io
import math
from dataclasses import dataclass, field

import numpy as np

from ..formats.modelfile import model_state
from ..runtime.backend import device_of, to_device

HIGHER_IS_BETTER = ("acc", "exact_match")     # monitored names containing one of these are maximised (mode="auto")


@dataclass
class History:
    """Per-epoch values, Keras-style: `history["loss"][e]`, `history["val_loss"][e]`, one list per metric."""
    history: dict = field(default_factory=dict)
    epoch: list = field(default_factory=list)
    stopped_epoch: int = None

    def append(self, epoch, logs):
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)


class Callback:
    """Base of the callbacks: every hook does nothing."""

    def on_train_begin(self, trainer):
        """Called once before the first epoch of a fit (or of a resumed fit)."""

    def on_epoch_end(self, trainer, epoch, logs):
        """Called after each epoch with its logs (which the callback may extend)."""

    def on_train_end(self, trainer):
        """Called once when the fit ends normally (not when it is interrupted or diverges)."""


def fit_callbacks(early_stopping, callbacks, has_validation):
    """The callbacks of a fit, checked before anything is built or resumed: `early_stopping` (None, an int
    patience on val_loss, or an EarlyStopping) first, then `callbacks` (a list of Callback); a monitor of a
    `val_` value needs validation data."""
    if isinstance(early_stopping, (int, np.integer)) and not isinstance(early_stopping, bool):
        early_stopping = EarlyStopping(patience=int(early_stopping))
    if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
        raise TypeError(f"early_stopping must be None, an int patience or an EarlyStopping, got "
                        f"{type(early_stopping).__name__}.")
    if isinstance(callbacks, Callback) or not isinstance(callbacks, (list, tuple)) or \
            not all(isinstance(cb, Callback) for cb in callbacks):
        raise TypeError(f"callbacks must be a list of lstmkit.training callbacks (EarlyStopping, "
                        f"ReduceLROnPlateau, CSVLogger, ...), got {callbacks!r}.")
    callbacks = ([] if early_stopping is None else [early_stopping]) + list(callbacks)
    if sum(isinstance(cb, EarlyStopping) for cb in callbacks) > 1:
        raise ValueError("pass at most one EarlyStopping: a fit keeps one early-stopping record.")
    for cb in callbacks:
        if isinstance(cb, Monitor):
            cb.check()
            if cb.monitor.startswith("val_") and not has_validation:
                raise ValueError(f"{type(cb).__name__} on {cb.monitor!r} needs validation_split or "
                                 f"validation_data.")
    return callbacks


def direction(mode, monitor, what):
    """"min" or "max": `mode`, with "auto" resolved from the monitored name (Keras' rule: "max" when the name
    contains "acc" (accuracy, val_accuracy, val_token_accuracy) or "exact_match", "min" otherwise)."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{what} mode must be 'auto', 'min' or 'max', got {mode!r}; use 'max' for a value that is "
                         f"better when higher (an accuracy), 'min' for a loss.")
    if mode != "auto":
        return mode
    return "max" if any(part in str(monitor).lower() for part in HIGHER_IS_BETTER) else "min"


class Monitor:
    """A monitored log value compared with its best so far: `score` turns it into a number that is better when
    lower, `improved` says whether it beats a best score by more than `min_delta`."""

    def score(self, value):
        """The monitored value as a number that is better when lower: `value` for "min", `-value` for "max"."""
        return float(value) if self.direction == "min" else -float(value)

    def improved(self, value, best_score):
        """Whether `value` beats the best score so far (a `score`, inf before the first epoch) by more than
        `min_delta`."""
        return self.score(value) < best_score - self.min_delta

    def value(self, logs):
        if self.monitor not in logs:
            raise ValueError(f"{type(self).__name__} monitors {self.monitor!r}, which is not among the logged "
                             f"values {sorted(logs)}.")
        return logs[self.monitor]

    def check(self, patience_name="patience"):
        if not isinstance(self.monitor, str):
            raise TypeError(f"{type(self).__name__} monitor must be a logged name such as 'val_loss', got "
                            f"{self.monitor!r}.")
        patience = getattr(self, patience_name)
        if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or patience < 0:
            raise ValueError(f"{type(self).__name__} {patience_name} must be an integer >= 0 (epochs), got "
                             f"{patience!r}.")
        if isinstance(self.min_delta, bool) or not isinstance(self.min_delta, (int, float)) or \
                not self.min_delta >= 0:
            raise ValueError(f"{type(self).__name__} min_delta must be a number >= 0, got {self.min_delta!r}.")
        self.direction                                         # a mode changed after construction


@dataclass
class EarlyStopping(Callback, Monitor):
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs; with
    `restore_best_weights` the model ends with the weights and buffers (BatchNorm's running statistics) of its
    best epoch.

    `mode`: "min" (lower is better), "max" (higher is better) or "auto" (the default, Keras' rule): "max" when the
    name contains "acc" or "exact_match", "min" otherwise (losses, mse, mae, rmse). Its record (best score, epochs
    waited, best weights) lives in the trainer's state, which checkpoints save."""
    monitor: str = "val_loss"
    patience: int = 5
    min_delta: float = 0.0
    restore_best_weights: bool = True
    mode: str = "auto"

    def __post_init__(self):
        self.direction                                         # a bad mode fails here, at construction

    @property
    def direction(self):
        return direction(self.mode, self.monitor, "EarlyStopping")

    def on_epoch_end(self, trainer, epoch, logs):
        state, value = trainer.state, self.value(logs)
        if self.improved(value, state.best):
            state.best, state.waited = self.score(value), 0
            state.best_weights = copy.deepcopy(model_state(trainer.model))
        else:
            state.waited += 1
            if state.waited >= self.patience:
                state.history.stopped_epoch = epoch

    def on_train_end(self, trainer):
        best = trainer.state.best_weights
        if self.restore_best_weights and best is not None:
            state = model_state(trainer.model)
            for name, saved in best.items():
                state[name][...] = to_device(saved, device_of(state[name]))


@dataclass
class ReduceLROnPlateau(Callback, Monitor):
    """Multiply the optimizer's learning rate by `factor` when `monitor` has not improved by more than `min_delta`
    for `patience` epochs, never below `min_lr` (Keras' callback; torch.optim.lr_scheduler.ReduceLROnPlateau).
    Each epoch logs the rate it trained with as `lr`. The schedule is a function of the History alone, so a
    resumed fit replays it and goes on with the same rate."""
    monitor: str = "val_loss"
    factor: float = 0.5
    patience: int = 5
    min_lr: float = 0.0
    min_delta: float = 0.0
    mode: str = "auto"

    def __post_init__(self):
        self.check()
        if not (isinstance(self.factor, (int, float)) and not isinstance(self.factor, bool) and 0 < self.factor < 1):
            raise ValueError(f"ReduceLROnPlateau factor must be in (0, 1), got {self.factor!r}.")
        if not (isinstance(self.min_lr, (int, float)) and not isinstance(self.min_lr, bool) and self.min_lr >= 0):
            raise ValueError(f"ReduceLROnPlateau min_lr must be a number >= 0, got {self.min_lr!r}.")

    @property
    def direction(self):
        return direction(self.mode, self.monitor, "ReduceLROnPlateau")

    def on_train_begin(self, trainer):
        self.best, self.waited = math.inf, 0
        past = trainer.state.history.history
        if past.get("lr"):                                     # a resumed fit: replay the schedule
            trainer.model.optimizer.lr = past["lr"][0]
            for value in past[self.monitor]:
                self._after(trainer.model.optimizer, value)

    def on_epoch_end(self, trainer, epoch, logs):
        value = self.value(logs)
        logs["lr"] = float(trainer.model.optimizer.lr)
        self._after(trainer.model.optimizer, value)

    def _after(self, optimizer, value):
        """The schedule's step after an epoch that scored `value`."""
        if self.improved(value, self.best):
            self.best, self.waited = self.score(value), 0
            return
        self.waited += 1
        if self.waited >= self.patience:
            optimizer.lr = max(optimizer.lr * self.factor, self.min_lr)
            self.waited = 0


class CSVLogger(Callback):
    """Write the History to a CSV file, one row per epoch (`epoch` and every logged value), rewritten whole after
    each epoch (a resumed fit's file holds the epochs before the interruption too)."""

    def __init__(self, path):
        self.path = path

    def on_epoch_end(self, trainer, epoch, logs):
        from ..formats.modelfile import write_atomic

        rows = dict(trainer.state.history.history)
        epochs = trainer.state.history.epoch + [epoch]
        names = list(dict.fromkeys([*rows, *logs]))
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["epoch", *names])
        for i, e in enumerate(epochs):
            last = i == len(epochs) - 1
            writer.writerow([e + 1, *[logs.get(n, "") if last else _at(rows.get(n), i) for n in names]])
        write_atomic(self.path, text.getvalue().encode())


def _at(values, i):
    return values[i] if values is not None and i < len(values) else ""
