"""Turn a time series into supervised (input window, next values) pairs, and split a series in time order."""

import numbers

import numpy as np

from lstmkit.runtime.validation import check_array


def sliding_windows(values, window, horizon=1):
    """Cut a series into overlapping input windows and the values that follow each one.

    values: shape (N,) or (N, F); the target is the series itself for 1-D input and its first feature column
    (values[:, 0]) for 2-D input. With M = N - window - horizon + 1 pairs:

        X[m] = values[m : m+window]                      X: (M, window, F), F = 1 for 1-D input
        y[m] = target[m+window : m+window+horizon]       y: (M, horizon)

    so y[m] holds the `horizon` steps right after the last step of X[m]. Both are float64 copies.
    """
    values = check_array(values, "values", ndim=(1, 2), dtype="float64")
    window = _check_positive_int(window, "window")
    horizon = _check_positive_int(horizon, "horizon")
    if values.ndim == 2 and values.shape[1] == 0:
        raise ValueError(f"values has shape {values.shape}, with no feature columns; pass at least one column.")
    N = len(values)
    if N < window + horizon:
        raise ValueError(f"the series has {N} values, but window={window} and horizon={horizon} need at least "
                         f"{window + horizon}; use a smaller --window (window=) or horizon.")
    series = values.reshape(N, -1)  # (N, F)
    M = N - window - horizon + 1
    X = np.lib.stride_tricks.sliding_window_view(series, window, axis=0)[:M]  # (M, F, window)
    y = np.lib.stride_tricks.sliding_window_view(series[window:, 0], horizon)  # (M, horizon)
    return np.ascontiguousarray(X.transpose(0, 2, 1)), y.copy()


def chronological_split(n, test_size, val_size=0):
    """Split steps 0..n-1 into contiguous train, validation and test slices, in that time order.

    test_size, val_size: a number of steps (int) or a fraction of n in (0, 1), rounded to the nearest step;
    val_size=0 gives an empty validation slice. Train, test and a requested validation part are never empty.
    Returns (train_slice, val_slice, test_slice), e.g. series.values[test_slice].
    """
    n = _check_positive_int(n, "n")
    n_test = _size_in_steps(test_size, "test_size", n, allow_zero=False)
    n_val = _size_in_steps(val_size, "val_size", n, allow_zero=True)
    n_train = n - n_test - n_val
    if n_train < 1:
        raise ValueError(f"test_size={test_size!r} ({n_test} steps) and val_size={val_size!r} ({n_val} steps) "
                         f"leave no training steps out of n={n}; use smaller test_size or val_size.")
    return slice(0, n_train), slice(n_train, n_train + n_val), slice(n_train + n_val, n)


def _size_in_steps(size, name, n, allow_zero):
    """A split size as a whole number of steps; fractions are rounded to the nearest step."""
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        steps = int(size)
        if steps < 0 or (steps == 0 and not allow_zero):
            lowest = "0" if allow_zero else "1"
            raise ValueError(f"{name} must be at least {lowest} step(s) or a fraction in (0, 1), got {size}.")
        return steps
    if isinstance(size, numbers.Real) and not isinstance(size, bool) and 0 < size < 1:
        steps = int(np.floor(size * n + 0.5))
        if steps == 0:
            raise ValueError(f"{name}={size} of n={n} steps rounds to 0 steps, so that part would be empty; "
                             f"use a larger {name}.")
        return steps
    raise ValueError(f"{name} must be a whole number of steps or a fraction in (0, 1), got {size!r}.")


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)
