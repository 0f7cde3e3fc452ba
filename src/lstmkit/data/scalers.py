"""Standard and min-max scaling of a series, saved and restored as JSON-safe dicts.

Fit a scaler on the training part of the series only (e.g. `scaler.fit(values[train_slice])`): statistics taken
from the validation or test part would leak the future into training and flatter the test score. Then transform
every part with that same fitted scaler, and map predictions back with `inverse_transform`.

A 1-D input is scaled by scalar statistics; a 2-D input (N, F) by per-feature statistics along the last axis.
A feature that is constant in the training data gets scale 1 instead of a division by zero.
"""

import inspect

import numpy as np

from lstmkit.runtime.validation import check_array


class _Scaler:
    """Shared fit / transform / save logic; a subclass names its fitted statistics and supplies the maths."""

    state_names = ()  # the fitted statistics, attributes that appear when fit() runs

    def fit(self, x):
        """Learn the statistics of `x`, shape (N,) or (N, F); returns self."""
        x = check_array(x, "x", ndim=(1, 2), dtype="float64")
        axis = None if x.ndim == 1 else 0  # scalar statistics for (N,), per-feature (F,) for (N, F)
        for name, statistic in self._statistics(x, axis).items():
            setattr(self, name, np.asarray(statistic, dtype=np.float64))
        return self

    def transform(self, x):
        """Scale `x` with the fitted statistics (any shape whose last axis matches the fitted features)."""
        return self._forward(self._check_input(x, "transform"))

    def inverse_transform(self, x):
        """Undo `transform`: map scaled values back to the units of the data."""
        return self._inverse(self._check_input(x, "inverse_transform"))

    def fit_transform(self, x):
        """`fit(x)` then `transform(x)`."""
        return self.fit(x).transform(x)

    def to_dict(self):
        """The class name, constructor arguments and fitted statistics as plain floats and lists (JSON-safe)."""
        self._check_fitted("to_dict")
        params = {name: np.asarray(getattr(self, name), dtype=np.float64).tolist()
                  for name in inspect.signature(type(self)).parameters}
        state = {name: getattr(self, name).tolist() for name in self.state_names}
        return {"class": type(self).__name__, "params": params, "state": state}

    @classmethod
    def from_dict(cls, d):
        """Rebuild a fitted scaler from the output of `to_dict`."""
        if not isinstance(d, dict) or not {"class", "params", "state"} <= d.keys():
            raise ValueError(f"a scaler dict needs the keys 'class', 'params' and 'state' (as written by "
                             f"to_dict()), got {_describe(d)}.")
        if d["class"] != cls.__name__:
            raise ValueError(f"this dict describes a {d['class']!r}, not a {cls.__name__!r}; "
                             f"use scaler_from_dict(d) to rebuild whichever class it names.")
        state = d["state"]
        if not isinstance(state, dict) or set(state) != set(cls.state_names):
            raise ValueError(f"the 'state' of a {cls.__name__} dict must have the keys {list(cls.state_names)}, "
                             f"got {_describe(state)}.")
        if not isinstance(d["params"], dict):
            raise ValueError(f"the 'params' of a {cls.__name__} dict must be a dict, got {_describe(d['params'])}.")
        try:
            scaler = cls(**d["params"])
        except TypeError as err:
            raise ValueError(f"the 'params' of a {cls.__name__} dict do not fit its constructor: {err}.") from None
        statistics = {name: _finite_statistic(state[name], name) for name in cls.state_names}
        if len({s.shape for s in statistics.values()}) > 1 or any(s.ndim > 1 for s in statistics.values()):
            shapes = {name: s.shape for name, s in statistics.items()}
            raise ValueError(f"the statistics of a {cls.__name__} dict must be all scalars or all lists of one "
                             f"length, got shapes {shapes}.")
        for name, statistic in statistics.items():
            setattr(scaler, name, statistic)
        return scaler

    def _check_fitted(self, method):
        if not hasattr(self, self.state_names[0]):
            raise ValueError(f"this {type(self).__name__} is not fitted yet; call fit(train_values) before "
                             f"{method}().")

    def _check_input(self, x, method):
        self._check_fitted(method)
        x = check_array(x, "x", dtype="float64")
        n_features = getattr(self, self.state_names[0]).shape  # () for scalar statistics, (F,) per feature
        if n_features and (x.ndim == 0 or x.shape[-1] != n_features[0]):
            raise ValueError(f"x has shape {x.shape}, but this {type(self).__name__} was fitted on "
                             f"{n_features[0]} features; pass an array whose last axis has {n_features[0]} "
                             f"entries, or refit the scaler.")
        return x


class StandardScaler(_Scaler):
    """Scale to zero mean and unit variance: z = (x - mean_) / scale_, with scale_ the standard deviation."""

    state_names = ("mean_", "scale_")

    def _statistics(self, x, axis):
        std = x.std(axis=axis)
        return {"mean_": x.mean(axis=axis), "scale_": np.where(std > 0, std, 1.0)}

    def _forward(self, x):
        return (x - self.mean_) / self.scale_

    def _inverse(self, z):
        return z * self.scale_ + self.mean_


class MinMaxScaler(_Scaler):
    """Scale linearly so the training minimum maps to feature_range[0] and the maximum to feature_range[1]."""

    state_names = ("data_min_", "data_max_")

    def __init__(self, feature_range=(0, 1)):
        try:
            low, high = (float(v) for v in feature_range)
        except (TypeError, ValueError):
            low = high = np.nan
        if not (np.isfinite(low) and np.isfinite(high) and low < high):
            raise ValueError(f"feature_range must be two finite numbers (low, high) with low < high, "
                             f"got {feature_range!r}; for example feature_range=(-1, 1).")
        self.feature_range = feature_range

    def _statistics(self, x, axis):
        return {"data_min_": x.min(axis=axis), "data_max_": x.max(axis=axis)}

    def _scale(self):
        """Output units per data unit; 1 for a constant feature (its range is 0)."""
        low, high = (float(v) for v in self.feature_range)
        data_range = self.data_max_ - self.data_min_
        return (high - low) / np.where(data_range > 0, data_range, 1.0), low

    def _forward(self, x):
        scale, low = self._scale()
        return low + (x - self.data_min_) * scale

    def _inverse(self, z):
        scale, low = self._scale()
        return (z - low) / scale + self.data_min_


SCALERS = {cls.__name__: cls for cls in (StandardScaler, MinMaxScaler)}


def scaler_from_dict(d):
    """Rebuild whichever fitted scaler `d` (the output of `to_dict()`) names in its 'class' key."""
    name = d.get("class") if isinstance(d, dict) else None
    if name not in SCALERS:
        raise ValueError(f"a scaler dict needs 'class' set to one of {list(SCALERS)}, got {_describe(d)}; "
                         f"pass the output of StandardScaler.to_dict() or MinMaxScaler.to_dict().")
    return SCALERS[name].from_dict(d)


def _finite_statistic(value, name):
    try:
        statistic = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        statistic = np.asarray(np.nan)
    if not np.all(np.isfinite(statistic)):
        raise ValueError(f"the statistic {name!r} of a scaler dict must be a finite number or a list of finite "
                         f"numbers, got {value!r}.")
    return statistic


def _describe(value):
    if isinstance(value, dict):
        return f"a dict with keys {sorted(map(str, value))}"
    return f"a {type(value).__name__}"
