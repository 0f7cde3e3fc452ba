"""The Keras-like model: `Sequential` chains layers, trains them with mini-batch gradient descent (`fit`) and
runs them (`predict`, `evaluate`); `summary` tabulates shapes and parameter counts."""

import copy
from dataclasses import dataclass, field

import numpy as np

from . import losses as losses_module
from . import metrics as metrics_module
from . import optim
from .layers import Layer
from .layers.recurrent import Recurrent
from .progress import EpochProgress
from .validation import check_array


@dataclass
class EarlyStopping:
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs; with
    `restore_best_weights` the model ends with the weights of its best epoch."""
    monitor: str = "val_loss"
    patience: int = 5
    min_delta: float = 0.0
    restore_best_weights: bool = True


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


class Sequential:
    """A stack of layers, each feeding the next. `seed` fixes the initial weights, dropout masks and the order
    of mini-batches, so the same seed gives the same training, bit for bit, on the same machine."""

    def __init__(self, layers=(), seed=None):
        self.layers = []
        self.seed = seed
        self.loss = None
        self.optimizer = None
        self.metrics = []
        self.input_shape = None
        self._shuffle_rng = None
        for layer in layers:
            self.add(layer)

    # ---- structure --------------------------------------------------------------------------------------------
    def add(self, layer):
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential takes lstmkit layers, got {type(layer).__name__}.")
        if isinstance(layer, Recurrent) and layer.return_state:
            raise ValueError(f"{type(layer).__name__}(return_state=True) returns a tuple, which a Sequential model "
                             f"cannot pass on; use return_state=False inside Sequential.")
        if self.input_shape is not None:
            raise ValueError("add layers before the model is built (before the first fit/predict).")
        self.layers.append(layer)

    def build(self, input_shape):
        """Create every layer's parameters for inputs shaped `(batch, *input_shape)`."""
        if not self.layers:
            raise ValueError("the model has no layers; pass them to Sequential([...]) or use add().")
        seeds = np.random.SeedSequence(self.seed).spawn(len(self.layers) + 1)
        shape = tuple(input_shape)
        for layer, layer_seed in zip(self.layers, seeds):
            if not layer.built:
                layer.build(shape, np.random.default_rng(layer_seed))
            shape = layer.output_shape(shape)
        self._shuffle_rng = np.random.default_rng(seeds[-1])
        self.input_shape = tuple(input_shape)
        return self

    @property
    def built(self):
        return self.input_shape is not None

    def get_config(self):
        return {"seed": self.seed,
                "input_shape": None if self.input_shape is None else list(self.input_shape),
                "layers": [{"class": type(layer).__name__, "config": layer.get_config()} for layer in self.layers]}

    def parameters(self):
        """All parameters as one flat dict `{"<layer index>.<name>": array}` (the live arrays)."""
        return {f"{i}.{name}": p for i, layer in enumerate(self.layers) for name, p in layer.params.items()}

    def gradients(self):
        return {f"{i}.{name}": g for i, layer in enumerate(self.layers) for name, g in layer.grads.items()}

    def count_params(self):
        return sum(layer.num_params() for layer in self.layers)

    # ---- passes -----------------------------------------------------------------------------------------------
    def forward(self, x, training=False):
        if not self.built:
            self.build(np.shape(x)[1:])
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    def backward(self, dy):
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy

    # ---- training ---------------------------------------------------------------------------------------------
    def compile(self, loss="mse", optimizer="adam", metrics=()):
        """Choose the loss (a name or a losses.Loss), the optimizer (a name or an optim.Optimizer) and the metrics
        reported by fit / evaluate (names from lstmkit.metrics)."""
        self.loss = losses_module.get(loss)
        self.optimizer = optim.get(optimizer)
        self.metrics = [(name, metrics_module.get(name)) for name in metrics]
        return self

    def _require_compiled(self, what):
        if self.loss is None:
            raise ValueError(f"call model.compile(loss=..., optimizer=...) before {what}.")

    def _takes_indices(self):
        return bool(self.layers) and self.layers[0].takes_indices

    def _check_xy(self, x, y, what):
        x = check_array(x, f"{what} x", allow_int=self._takes_indices())
        y = check_array(y, f"{what} y", allow_int=isinstance(self.loss, losses_module.SparseCategoricalCrossentropy))
        if len(x) != len(y):
            raise ValueError(f"{what} x and y must hold the same number of samples, got {len(x)} and {len(y)}.")
        return x, y

    def train_on_batch(self, x, y):
        """One gradient step on one batch; returns the loss before the step."""
        out = self.forward(x, training=True)
        loss, dout = self.loss.value_and_grad(out, y)
        if not np.isfinite(loss):
            raise FloatingPointError(f"the loss is {loss}")
        self.backward(dout)
        self.optimizer.step(self.parameters(), self.gradients())
        return loss

    def fit(self, x, y, epochs=1, batch_size=32, validation_split=0.0, validation_data=None, shuffle=True,
            early_stopping=None, verbose=1):
        """Train for `epochs` passes over (x, y) in shuffled mini-batches. Validation data are either the last
        `validation_split` fraction of the samples (taken before shuffling, as Keras does) or `validation_data`
        = (x_val, y_val). `early_stopping` is an EarlyStopping or an int patience on val_loss. Returns a History."""
        self._require_compiled("fit")
        x, y = self._check_xy(x, y, "fit")
        if not isinstance(epochs, (int, np.integer)) or epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {epochs!r}.")
        if validation_data is not None and validation_split:
            raise ValueError("pass either validation_split or validation_data, not both.")
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split!r}.")
        if validation_split:
            n_val = int(round(len(x) * validation_split))
            if n_val < 1 or n_val >= len(x):
                raise ValueError(f"validation_split={validation_split} leaves {n_val} of {len(x)} samples for "
                                 f"validation; use more data or another split.")
            validation_data = (x[-n_val:], y[-n_val:])
            x, y = x[:-n_val], y[:-n_val]
        if validation_data is not None:
            validation_data = self._check_xy(*validation_data, "validation_data")
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
        if batch_size > len(x):
            raise ValueError(f"batch_size={batch_size} is larger than the {len(x)} training samples; "
                             f"use batch_size <= {len(x)}.")
        if isinstance(early_stopping, (int, np.integer)):
            early_stopping = EarlyStopping(patience=int(early_stopping))
        if early_stopping is not None and early_stopping.monitor.startswith("val_") and validation_data is None:
            raise ValueError(f"early stopping on {early_stopping.monitor!r} needs validation_split or "
                             f"validation_data.")
        if not self.built:
            self.build(x.shape[1:])

        history = History()
        best, best_weights, waited = np.inf, None, 0
        n_batches = int(np.ceil(len(x) / batch_size))
        with EpochProgress(epochs, n_batches, enabled=bool(verbose)) as progress:
            for epoch in range(epochs):
                order = self._shuffle_rng.permutation(len(x)) if shuffle else np.arange(len(x))
                total, seen = 0.0, 0
                progress.start_epoch(epoch)
                for b in range(n_batches):
                    idx = order[b * batch_size:(b + 1) * batch_size]
                    try:
                        batch_loss = self.train_on_batch(x[idx], y[idx])
                    except FloatingPointError as err:
                        raise FloatingPointError(
                            f"training diverged at epoch {epoch + 1}, batch {b + 1}: {err}; lower the learning "
                            f"rate or clip gradients (optimizer clipnorm=1.0).") from None
                    total, seen = total + batch_loss * len(idx), seen + len(idx)
                    progress.advance(loss=total / seen)
                logs = {"loss": total / seen}
                if self.metrics:
                    logs.update(self._metric_values(self.predict(x), y))
                if validation_data is not None:
                    logs.update({f"val_{k}": v for k, v in self.evaluate(*validation_data).items()})
                history.append(epoch, logs)
                progress.end_epoch(logs)
                if early_stopping is not None:
                    if early_stopping.monitor not in logs:
                        raise ValueError(f"early stopping monitors {early_stopping.monitor!r}, which is not among "
                                         f"the logged values {sorted(logs)}.")
                    value = logs[early_stopping.monitor]
                    if value < best - early_stopping.min_delta:
                        best, waited = value, 0
                        best_weights = copy.deepcopy(self.parameters())
                    else:
                        waited += 1
                        if waited >= early_stopping.patience:
                            history.stopped_epoch = epoch
                            break
        if early_stopping is not None and early_stopping.restore_best_weights and best_weights is not None:
            for name, value in self.parameters().items():
                value[...] = best_weights[name]
        return history

    # ---- inference --------------------------------------------------------------------------------------------
    def predict(self, x, batch_size=256):
        """Outputs for x, computed in batches of `batch_size` (inference mode: no dropout)."""
        x = check_array(x, "x", allow_int=self._takes_indices())
        return np.concatenate([self.forward(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])

    def _metric_values(self, out, y):
        return {name: float(fn(out, y)) for name, fn in self.metrics}

    def evaluate(self, x, y, batch_size=256):
        """{"loss": ..., metric: ...} over (x, y), in inference mode."""
        self._require_compiled("evaluate")
        x, y = self._check_xy(x, y, "evaluate")
        out = self.predict(x, batch_size)
        return {"loss": float(self.loss(out, y)), **self._metric_values(out, y)}

    # ---- description and files --------------------------------------------------------------------------------
    def summary(self, print_fn=None):
        """A table of the layers with their output shapes and parameter counts; printed and returned as text."""
        from .progress import render_table
        rows, shape = [], self.input_shape
        for layer in self.layers:
            shape = None if shape is None else layer.output_shape(shape)
            out = "?" if shape is None else str((None,) + tuple(shape))
            rows.append((type(layer).__name__, out, f"{layer.num_params():,}"))
        title = f"Sequential: {self.count_params():,} parameters" if self.built else "Sequential (not built)"
        return render_table(title, ("Layer", "Output shape", "Params"), rows, print_fn=print_fn)

    def save(self, path, metadata=None):
        """Write weights (safetensors) and configuration (JSON) to one file; `metadata` is any JSON-safe dict
        kept beside them (the CLI stores its scaler and window there)."""
        from .io import save_model
        save_model(self, path, metadata)
