"""1-nearest-neighbour classification of whole series by Euclidean distance or by dynamic time warping (DTW), the
baselines of the UCR and UEA archives (Dau et al. 2019, "The UCR time series archive"; Bagnall et al. 2018).

Dimension letters: N training series, M test series, T the longest series of a set, C channels; a set is a
right-padded array (N, T, C) with `lengths` (N,) the real steps of each series (the layout of data/ts.py).

DTW (Sakoe & Chiba 1978), full window (no band), dependent multivariate form (Shokoohi-Yekta et al. 2017): for
series x of n steps and y of m steps, the local cost of matching step i of x with step j of y is the squared
Euclidean distance between their channel vectors, and D is filled row by row:
```
c(i, j) = sum_k (x[i, k] - y[j, k])^2                           (k over the C channels)
D(0, 0) = 0,   D(i, 0) = D(0, j) = inf                          (i, j >= 1)
D(i, j) = c(i, j) + min(D(i-1, j-1), D(i-1, j), D(i, j-1))     (i = 1..n, j = 1..m; x, y indexed from 1 here)
dtw(x, y) = D(n, m)
```
No square root is taken: `dtw(x, y)` equals aeon's `dtw_distance` (which takes (C, T) arrays). Only the real
steps of each series enter, so series of different lengths are compared as they are.

Euclidean: every series is resampled to the longest training length (linear interpolation per channel,
`resample`), then compared step by step by the squared Euclidean distance, whose ranking is that of the
distance; for a set of equal lengths this is the plain 1-NN Euclidean classifier of the UCR archive (the
resampling changes nothing). This is the baseline lstmkit's classification job has always reported.

Ties go to the lowest training index. The search over the training set abandons a candidate as soon as its
partial distance reaches the best one so far (a DTW row minimum, or a partial sum of squares, never decreases
towards the end): the neighbour found and its distance are exactly those of the full search. The test series run
in parallel on Numba's threads (`numba.set_num_threads` sets how many); every distance is summed in a fixed
order, so the result does not depend on the thread count.
"""

import numpy as np
from numba import njit, prange

from ...runtime.kernel_cache import enable_caching
from ...runtime.validation import check_array

METRICS = ("euclidean", "dtw")

# No fastmath (unlike ops.kernel): the sums stay in the order written, so that a distance equals the plain loop's
# (and aeon's) to the last bit; DTW's min chain along a row would not vectorise anyway. Cached on disk under the
# package stamp like every lstmkit kernel (kernel_cache.py).
_compile = njit(error_model="numpy", nogil=True)
_compile_parallel = njit(error_model="numpy", nogil=True, parallel=True)


def _kernel(func):
    return enable_caching(_compile(func))


def _parallel_kernel(func):
    return enable_caching(_compile_parallel(func))


@_kernel
def _dtw(x, n, y, m, bound, prev, cur):
    """D(n, m) of the module docstring for x[:n] and y[:m] ((T, C) each), or inf as soon as a whole row of D
    reaches `bound` (every warping path crosses every row, and D never decreases along one). prev, cur: two
    scratch rows of at least m + 1."""
    C = x.shape[1]
    prev[0] = 0.0
    for j in range(1, m + 1):
        prev[j] = np.inf
    for i in range(1, n + 1):
        cur[0] = np.inf
        row_min = np.inf
        for j in range(1, m + 1):
            c = 0.0
            for k in range(C):
                d = x[i - 1, k] - y[j - 1, k]
                c += d * d
            cur[j] = c + min(prev[j - 1], prev[j], cur[j - 1])
            row_min = min(row_min, cur[j])
        if row_min >= bound:
            return np.inf
        prev, cur = cur, prev
    return prev[m]


@_parallel_kernel
def _nearest_dtw(train_x, train_len, test_x, test_len, index, distance):
    """index[t], distance[t]: the training series nearest to test series t by DTW (the first of equals)."""
    N, M = train_x.shape[0], test_x.shape[0]
    width = train_x.shape[1] + 1
    for t in prange(M):
        prev, cur = np.empty(width), np.empty(width)
        best, best_j = np.inf, 0
        for j in range(N):
            d = _dtw(test_x[t], test_len[t], train_x[j], train_len[j], best, prev, cur)
            if d < best:
                best, best_j = d, j
        index[t], distance[t] = best_j, best


@_parallel_kernel
def _nearest_euclidean(train, test, index, distance):
    """index[t], distance[t]: the row of train (N, L) nearest to row t of test (M, L) by squared distance."""
    N, M, L = train.shape[0], test.shape[0], train.shape[1]
    for t in prange(M):
        best, best_j = np.inf, 0
        for j in range(N):
            s = 0.0
            for k in range(L):
                d = test[t, k] - train[j, k]
                s += d * d
                if s >= best:                    # abandoned: it cannot be nearer (and a tie keeps the first)
                    break
            if s < best:
                best, best_j = s, j
        index[t], distance[t] = best_j, best


def dtw_distance(x, y):
    """DTW distance D(n, m) of the module docstring between two series x (n,) or (n, C) and y (m,) or (m, C)
    (one row per step; a 1-D array is one channel)."""
    x = check_array(x, "x", ndim=(1, 2), dtype="float64")
    y = check_array(y, "y", ndim=(1, 2), dtype="float64")
    x, y = (a.reshape(len(a), -1) for a in (x, y))                       # (n, C), (m, C)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channel(s) and y {y.shape[1]}; DTW compares series with the same "
                         f"channels (arrays shaped (steps, channels)).")
    scratch = np.empty((2, len(y) + 1))
    return float(_dtw(np.ascontiguousarray(x), len(x), np.ascontiguousarray(y), len(y), np.inf, *scratch))


def nearest_neighbours(train_x, train_lengths, test_x, test_lengths, metric="euclidean"):
    """For every test series, the index of its nearest training series (the lowest of equals) and its distance:
    (index (M,) int64, distance (M,) float64). Sets are (N, T, C) arrays right-padded after `lengths` (None: every
    series fills T). metric "dtw": the DTW distance of the real steps; "euclidean": the squared Euclidean
    distance after resampling every series to the longest training length (see the module docstring)."""
    train_x, train_lengths = _check_set(train_x, train_lengths, "train")
    test_x, test_lengths = _check_set(test_x, test_lengths, "test")
    if test_x.shape[2] != train_x.shape[2]:
        raise ValueError(f"test_x has {test_x.shape[2]} channel(s) per step but train_x has {train_x.shape[2]}; "
                         f"both sets need the same channels (arrays shaped (series, steps, channels)).")
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(repr(m) for m in METRICS)}.")
    index, distance = np.empty(len(test_x), np.int64), np.empty(len(test_x))
    if metric == "dtw":
        _nearest_dtw(train_x, train_lengths, test_x, test_lengths, index, distance)
    else:
        steps = int(train_lengths.max())
        train, test = (resample(x, n, steps).reshape(len(x), -1)                # (N, steps*C), (M, steps*C)
                       for x, n in ((train_x, train_lengths), (test_x, test_lengths)))
        _nearest_euclidean(train, test, index, distance)
    return index, distance


def nearest_neighbour_predict(train_x, train_lengths, train_y, test_x, test_lengths, metric="euclidean"):
    """1-NN predictions: the label (`train_y` (N,), any dtype) of each test series' nearest training series,
    by `metric` "euclidean" or "dtw" (see `nearest_neighbours`). Returns an (M,) array of train_y's dtype."""
    train_y, shape = np.asarray(train_y), np.shape(train_x)
    if shape and (train_y.ndim != 1 or len(train_y) != shape[0]):
        raise ValueError(f"train_y must hold one label per training series: expected shape ({shape[0]},), got "
                         f"{train_y.shape}.")
    index, _ = nearest_neighbours(train_x, train_lengths, test_x, test_lengths, metric)
    return train_y[index]


def resample(x, lengths, steps):
    """Every series of x (N, T, C) stretched or squeezed to `steps` steps by linear interpolation of each
    channel over its real steps (first and last step kept): (N, steps, C) float64. A series that already has
    `steps` steps comes back unchanged."""
    out = np.empty((len(x), steps, x.shape[2]))
    for n, (series, length) in enumerate(zip(x, lengths)):
        if length == steps:
            out[n] = series[:steps]
            continue
        where = np.linspace(0.0, length - 1, steps)
        for c in range(x.shape[2]):
            out[n, :, c] = np.interp(where, np.arange(length), series[:length, c])
    return out


def _check_set(x, lengths, split):
    """x as a C-contiguous float64 (N, T, C) array, finite on its real steps (the padding may hold anything, NaN
    included, and is never read), and lengths as int64 (N,) with 1 <= length <= T."""
    name = f"{split}_x"
    try:
        x = np.ascontiguousarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a numeric array (series, steps, channels); could not convert it ({err}).") \
            from None
    if x.ndim != 3:
        raise ValueError(f"{name} must be a 3D array (series, steps, channels), got shape {x.shape} ({x.ndim}D); "
                         f"give a univariate set as x[..., None].")
    N, T, C = x.shape
    if N == 0:
        raise ValueError(f"{name} holds no series (shape {x.shape}); 1-NN needs at least one "
                         f"{'training' if split == 'train' else 'test'} series.")
    if T == 0 or C == 0:
        raise ValueError(f"{name} has shape {x.shape}; every series needs at least one step of at least one "
                         f"channel.")
    if lengths is None:
        lengths = np.full(N, T, np.int64)
    else:
        lengths = np.ascontiguousarray(check_array(lengths, f"{split}_lengths", ndim=1, allow_int=True))
        if len(lengths) != N:
            raise ValueError(f"{split}_lengths has {len(lengths)} entries but {name} holds {N} series; give one "
                             f"length per series.")
        bad = np.flatnonzero((lengths < 1) | (lengths > T))
        if bad.size:
            raise ValueError(f"{split}_lengths[{bad[0]}] is {lengths[bad[0]]}, outside 1..{T} (the steps of "
                             f"{name}); a length counts the real steps of a series before its padding.")
    real = np.arange(T)[None, :] < lengths[:, None]                                  # (N, T)
    finite = np.isfinite(x).all(axis=2) | ~real
    if not finite.all():
        n, t = np.argwhere(~finite)[0]
        raise ValueError(f"{name}[{n}] holds NaN or inf at step {t}, before its length {lengths[n]}; clean or "
                         f"impute the data first (only the padding after a series' length may hold anything).")
    return x, lengths
