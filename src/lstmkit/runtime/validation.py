"""Checks at the public boundary: each failure is one ValueError/TypeError that names the argument, what was
expected, what arrived and how to fix it (never an assert, never a raw NumPy error)."""

import numpy as np

from . import backend

FLOAT_DTYPES = ("float32", "float64")


def check_dtype(dtype):
    """Return the canonical name of a supported float dtype."""
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = str(dtype)
    if name not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}.")
    return name


def check_array(x, name, ndim=None, dtype="float32", allow_int=False, device=None):
    """Turn `x` into an ndarray of `dtype` (or of integers when `allow_int`), rejecting what would give a silent
    wrong answer: non-numeric data, the wrong number of dimensions, an empty batch, NaN or inf. The checks run
    where `x` lives (host or GPU); with `device` the result is moved there."""
    if device is not None:
        return backend.to_device(check_array(x, name, ndim, dtype, allow_int), device)
    try:
        arr = backend.as_array(x)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a numeric array; could not convert it ({err}).") from None
    if arr.dtype.kind in "OUSVMmc":
        raise TypeError(f"{name} must be numeric, got an array of dtype {arr.dtype}.")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}D" for d in allowed)
            raise ValueError(f"{name} must be a {want} array, got shape {arr.shape} ({arr.ndim}D).")
    if arr.ndim and arr.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); pass at least one sample.")
    if allow_int:
        if arr.dtype.kind not in "iu":
            if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
                return arr.astype(np.int64)
            raise TypeError(f"{name} must hold integer indices, got dtype {arr.dtype}.")
        return arr.astype(np.int64, copy=False)
    arr = arr.astype(dtype, copy=False)
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or inf value(s); clean or impute the data first.")
    return arr


def first_nonfinite(named):
    """The first key of `named` ({key: float array}) whose array holds NaN or inf, or None. In the common case
    this reads one number back from the device: the float64 sum over all arrays, which is finite when every value
    is (a sum that overflows from finite values sends it to the array-by-array check, which then finds none)."""
    with np.errstate(over="ignore", invalid="ignore"):         # an overflowing sum is expected, not an error
        total = sum((a.sum(dtype=np.float64) for a in named.values()), 0.0)     # on the arrays' device
    if np.isfinite(float(total)):
        return None
    return next((key for key, a in named.items() if not np.all(np.isfinite(a))), None)


def check_feature_size(x, expected, name="x"):
    """The last axis of `x` must match the size the layer was built with."""
    if x.shape[-1] != expected:
        raise ValueError(
            f"{name} has {x.shape[-1]} features on its last axis, but the layer was built for {expected} "
            f"(got shape {x.shape}). Reshape the data or build a new layer.")


def check_positive_int(value, name):
    """A positive integer (bools are not integers here); returns it as int."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def check_rate(value, name):
    """A probability in [0, 1), such as a dropout rate; returns it as float."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}.")
    return float(value)


def check_gradient_shape(dout, expected, dtype, name="dout", device="cpu"):
    """The gradient passed to backward must have exactly the shape of what forward returned; it is returned as an
    array of `dtype` on `device`."""
    arr = backend.to_device(backend.as_array(dout), device).astype(dtype, copy=False)
    if arr.shape != tuple(expected):
        raise ValueError(f"{name} must have the shape of the forward output, {tuple(expected)}, got {arr.shape}.")
    return arr


def check_mask(mask, B, T, dtype, device):
    """A (B, T) bool mask of real steps, as recurrent layers take it (None: no mask); returned time-major as
    floats of `dtype` on `device`, (T, B, 1), or None."""
    if mask is None:
        return None
    mask = backend.to_host(backend.as_array(mask))
    if mask.shape != (B, T):
        raise ValueError(f"mask must have shape (B, T) = {(B, T)}, got {mask.shape}.")
    if mask.dtype != bool:
        raise TypeError(f"mask must be a bool array (True on real steps), got dtype {mask.dtype}.")
    return backend.to_device(mask.T[:, :, None].astype(dtype), device)
