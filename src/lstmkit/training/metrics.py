"""Evaluation metrics: plain functions `(y_pred, y_true) -> float`, with the target shape rule of `losses`."""

import numpy as np

from ..runtime.validation import check_array
from .losses import MAE, MSE, as_prediction, check_labels, match_target


def mse(y_pred, y_true):
    """Mean squared error, mean((y_pred - y_true)^2)."""
    return MSE()(y_pred, y_true)


def mae(y_pred, y_true):
    """Mean absolute error, mean(|y_pred - y_true|)."""
    return MAE()(y_pred, y_true)


def rmse(y_pred, y_true):
    """Root mean squared error, sqrt(mse), in the units of the targets."""
    return float(np.sqrt(mse(y_pred, y_true)))


def accuracy(y_pred, y_true):
    """Fraction of positions classified correctly, from logits.

    Binary (a 1-D output, or a last axis of size 1): predicted class = (logit > 0), targets 0 or 1.
    Multi-class (logits (..., C), C > 1): predicted class = argmax over C, targets integer labels (...) or
    one-hot (..., C) (their argmax). Multi-label targets are not supported.
    """
    y_pred = as_prediction(y_pred)
    y_true = np.asarray(y_true)
    if y_pred.ndim == 1 or y_pred.shape[-1] == 1:
        y_true = match_target(y_pred, check_array(y_true, "y_true", dtype=y_pred.dtype))
        if np.any((y_true != 0) & (y_true != 1)):
            raise ValueError("y_true for binary accuracy must hold only 0 and 1; for class labels use an output "
                             "with one logit per class.")
        return float(np.mean((y_pred > 0) == (y_true == 1)))
    if y_true.shape == y_pred.shape:
        labels = np.argmax(check_array(y_true, "y_true", dtype=y_pred.dtype), axis=-1)   # one-hot -> (...)
    else:
        labels = match_target(y_pred, check_array(y_true, "y_true", allow_int=True), sparse=True)
        check_labels(labels, y_pred.shape[-1])
    return float(np.mean(np.argmax(y_pred, axis=-1) == labels))


METRICS = {f.__name__: f for f in (mse, mae, rmse, accuracy)}
ALIASES = {"mean_squared_error": "mse", "mean_absolute_error": "mae", "root_mean_squared_error": "rmse",
           "acc": "accuracy"}


def get(metric):
    """A metric function from a registry name (see `METRICS`, `ALIASES`); a callable is returned as is."""
    if callable(metric):
        return metric
    if not isinstance(metric, str):
        raise TypeError(f"metric must be a name or a function (y_pred, y_true) -> float, got "
                        f"{type(metric).__name__}.")
    key = ALIASES.get(metric.lower(), metric.lower())
    if key not in METRICS:
        raise ValueError(f"Unknown metric {metric!r}; valid names are {sorted(METRICS) + sorted(ALIASES)}.")
    return METRICS[key]
