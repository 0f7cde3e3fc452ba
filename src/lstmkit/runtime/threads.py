"""Batch rows on several threads: the parallelism of the compiled sweeps.

Within one layer and direction the rows of a batch are independent sequences, so a compiled sweep (Numba, `nogil`)
can run rows lo .. hi-1 on each of a few threads, all T steps at once, with no synchronisation per step. Each
thread's per-step GEMM then calls BLAS itself, so the BLAS the kernels call (blas.py) is held to one thread
meanwhile; otherwise every thread would start BLAS threads of its own on the same cores. Where that library has
no thread control that lstmkit can find, sweeps stay on one thread.
Two kinds of problem stay on the calling thread (`row_ranges`): small ones (a sweep of fewer than MIN_WORK
multiply-adds, or fewer than MIN_ROWS rows per thread), where handing work to a thread costs more than it saves,
and those whose per-step GEMM (B G*H Hs multiply-adds) exceeds MAX_STEP_WORK, where one multi-threaded BLAS call
per step beats one single-threaded call per thread.

`set_num_threads(n)` / `get_num_threads()`; the default is the environment variable LSTMKIT_NUM_THREADS, else 1:
one multi-threaded BLAS call per step (docs/performance.md has the measurements behind this default; measure a
machine with `lstmkit bench`). The number of threads changes only how rows are grouped into GEMMs, so results
agree to rounding (float32 ~1e-7).
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from .blas import library
from .validation import check_positive_int

MIN_ROWS = 4                 # rows per thread at least
MIN_WORK = 1 << 22           # multiply-adds of a sweep's GEMMs (T B G*H Hs) below which one thread runs
MAX_STEP_WORK = 1 << 23      # multiply-adds of one step's GEMM (B G*H Hs) above which BLAS threads do better

_state = {"threads": None, "pool": None, "workers": 0}
_lock = threading.Lock()


def set_num_threads(n):
    """Use up to n threads per compiled sweep (1: no threads)."""
    _state["threads"] = check_positive_int(n, "number of threads")


def get_num_threads():
    if _state["threads"] is None:
        env = os.environ.get("LSTMKIT_NUM_THREADS")
        value = int(env) if env and env.strip().isdigit() else env      # a non-number is named in the error
        _state["threads"] = check_positive_int(value, "LSTMKIT_NUM_THREADS") if env else 1
    return _state["threads"]


def row_ranges(B, T, step_work):
    """The (lo, hi) row ranges of a batch of B rows for a sweep of T steps whose per-step GEMM takes `step_work`
    multiply-adds: one range per thread, or [(0, B)]."""
    n = min(get_num_threads(), B // MIN_ROWS) if T * step_work >= MIN_WORK and step_work <= MAX_STEP_WORK else 1
    if n <= 1 or _blas_threads() is None:
        return [(0, B)]
    bounds = [B * k // n for k in range(n + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def run_rows(sweep, B, T, step_work):
    """Call sweep(lo, hi) for the row ranges of row_ranges(B, T, step_work), concurrently; return
    [(lo, hi, result)]."""
    ranges = row_ranges(B, T, step_work)
    if len(ranges) == 1:
        return [(0, B, sweep(0, B))]
    get, set_ = _blas_threads()
    with _lock:
        if _state["workers"] < len(ranges) - 1:                # (re)made for more threads; the old one retires
            if _state["pool"] is not None:
                _state["pool"].shutdown(wait=False)
            _state["pool"] = ThreadPoolExecutor(len(ranges) - 1, thread_name_prefix="lstmkit")
            _state["workers"] = len(ranges) - 1
        pool = _state["pool"]
        before = get()
        set_(1)
        try:
            futures = [pool.submit(sweep, lo, hi) for lo, hi in ranges[1:]]
            first = sweep(*ranges[0])                          # the calling thread takes the first rows
            results = [first] + [f.result() for f in futures]
        finally:
            set_(before)
    return [(lo, hi, result) for (lo, hi), result in zip(ranges, results)]


def _blas_threads():
    """(get_num_threads, set_num_threads) of the BLAS the kernels call (blas.py), or None if it has none."""
    found = library()
    return None if found.set_threads is None else (found.get_threads, found.set_threads)
