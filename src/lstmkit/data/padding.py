"""Pad variable-length sequences (token ids, or steps of features) into one batch array, as Keras'
`keras.utils.pad_sequences` does; feed the result to `Embedding(..., mask_zero=True)` (ids, padded with 0) or to
a `Masking` layer (features, padded with its mask_value)."""

import numbers
from collections.abc import Sequence

import numpy as np

SIDES = ("pre", "post")


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0):
    """Stack N sequences of different lengths into an array (N, T, *F), T = maxlen (default: the longest).

    sequences: a list (or tuple, or array) of N sequences; each is a list or array of shape (n_i,) or (n_i, *F),
        with the same F for all (an empty sequence is allowed: its row is all `value`).
    padding: "pre" puts the `value` steps before each sequence, "post" after it.
    truncating: a sequence longer than maxlen loses its first steps ("pre") or its last ones ("post").
    dtype: an integer or float NumPy dtype; with an integer dtype every entry must be a whole number in its range.
    value: the padding value (0: the padding id of Embedding(mask_zero=True) and the default Masking value).

    The defaults and results are Keras' (padding="pre", truncating="pre", dtype="int32"), except that bad input is
    refused with a ValueError / TypeError instead of being cast (1.5 -> 1) or failing inside NumPy; Keras'
    string padding (dtype=object) is not supported.
    """
    dtype = _check_dtype(dtype)
    for name, side in (("padding", padding), ("truncating", truncating)):
        if side not in SIDES:
            raise ValueError(f"{name} must be 'pre' or 'post', got {side!r}.")
    if maxlen is not None and (isinstance(maxlen, bool) or not isinstance(maxlen, numbers.Integral) or maxlen < 1):
        raise ValueError(f"maxlen must be None (the longest sequence) or a positive integer, got {maxlen!r}.")
    rows = _check_sequences(sequences, dtype)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.number)):
        raise TypeError(f"value must be a number (the padding value), got {type(value).__name__} {value!r}.")
    fill = _check_values(np.asarray(value), dtype, "value")
    F = next((row.shape[1:] for row in rows if len(row)), ())            # the feature shape, () for ids
    for n, row in enumerate(rows):
        if len(row) and row.shape[1:] != F:
            raise ValueError(f"sequences[{n}] has steps of shape {row.shape[1:]}, but the first non-empty sequence "
                             f"has {F}; every step of every sequence needs the same shape.")
    T = int(maxlen) if maxlen is not None else max(len(row) for row in rows)
    out = np.full((len(rows), T) + F, fill, dtype=dtype)                 # (N, T, *F)
    for n, row in enumerate(rows):
        if not len(row):                                                 # [] is (0,), not (0, *F): nothing to copy
            continue
        row = row[len(row) - T:] if truncating == "pre" and len(row) > T else row[:T]
        if padding == "pre":
            out[n, T - len(row):] = row
        else:
            out[n, :len(row)] = row
    return out


def _check_dtype(dtype):
    try:
        checked = np.dtype(dtype)
    except TypeError:
        checked = None
    if checked is None or checked.kind not in "iuf":
        raise TypeError(f"dtype must be an integer or float NumPy dtype such as 'int32' or 'float32', got "
                        f"{dtype!r}.")
    return checked


def _check_sequences(sequences, dtype):
    """The sequences as a list of arrays of `dtype`, each (n_i, ...)."""
    if not _is_sequence(sequences):
        raise TypeError(f"sequences must be a list of sequences, e.g. [[3, 1, 4], [1, 5]], got "
                        f"{type(sequences).__name__}.")
    if len(sequences) == 0:
        raise ValueError("sequences is empty; pass at least one sequence.")
    rows = []
    for n, seq in enumerate(sequences):
        if not _is_sequence(seq):
            raise TypeError(f"sequences[{n}] is {seq!r} ({type(seq).__name__}), not a sequence; sequences must "
                            f"be a list of sequences, e.g. [[3, 1, 4], [1, 5]] (wrap a single sequence: [seq]).")
        try:
            arr = np.asarray(seq)
        except ValueError:
            raise ValueError(f"sequences[{n}] is ragged: its steps have different shapes. Each step is one id or "
                             f"a vector of the same length.") from None
        if arr.size and arr.dtype.kind not in "biuf":
            raise TypeError(f"sequences[{n}] must hold numbers, got values of dtype {arr.dtype}, e.g. "
                            f"{arr.ravel()[0].item()!r}.")
        rows.append(_check_values(arr, dtype, f"sequences[{n}]") if arr.size else arr.astype(dtype))
    return rows


def _check_values(arr, dtype, name):
    """`arr` as `dtype`; with an integer dtype its values must be whole numbers within the dtype's range."""
    if dtype.kind == "f":
        return arr.astype(dtype)
    if arr.dtype.kind == "f":
        bad = arr[~np.isfinite(arr) | (arr != np.round(arr))]
        if bad.size:
            raise TypeError(f"{name} holds {bad.ravel()[0].item()!r}, not a whole number, but dtype is {dtype}; "
                            f"token ids must be integers (pass dtype='float32' to pad real values).")
    info = np.iinfo(dtype)
    low, high = arr.min(), arr.max()
    if low < info.min or high > info.max:
        raise ValueError(f"{name} holds {(low if low < info.min else high).item()!r}, outside the range of {dtype} "
                         f"[{info.min}, {info.max}]; pass a wider dtype such as 'int64'.")
    return arr.astype(dtype)


def _is_sequence(obj):
    """A list, tuple or other Sequence, or an array with at least one axis; not a string."""
    if isinstance(obj, np.ndarray):
        return obj.ndim > 0
    return isinstance(obj, Sequence) and not isinstance(obj, (str, bytes))
