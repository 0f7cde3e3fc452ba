"""The BLAS thread count of a training run, sized to the CPUs that other processes leave free.

Every per-step GEMM of a sweep is split across the BLAS threads, and the step waits for the slowest part. When
another process holds one of the cores, the BLAS thread on that core gets a share of it only at the scheduler's
time-slice granularity, and every step waits for it (PyTorch's the same). Leaving the busy cores out of the
pool avoids the wait (benchmarks/bench_contention.py measures it).

`choose_blas_threads()` measures, from the per-CPU counters of /proc/stat, how many of this process's CPUs other
processes kept busy (`busy CPU time of those CPUs - this process's own CPU time`, over the last interval) and
returns `most - round(busy)`, at least 1, where `most` is the BLAS's own count when lstmkit first asked (which
OPENBLAS_NUM_THREADS and friends set). `fit` applies it at its start, keeps it for the whole run and gives the
previous count back at its end (`training_threads`); a checkpoint records it, and a resumed run uses the
recorded count. float32 GEMMs round differently on different thread counts (NumPy's OpenBLAS), so the count is
part of what makes a run bit-reproducible: `LSTMKIT_BLAS_THREADS=N` (or `set_blas_threads(N)`) fixes it, `auto`
(the default) follows the load. Where /proc/stat is missing (not Linux) or the BLAS has no thread control, the
count stays as it is.
"""

import os
import time
from contextlib import contextmanager

from .blas import library
from .validation import check_positive_int

SAMPLE_S = 0.1               # the shortest interval worth measuring (10 ticks of a 100 Hz clock)
RECENT_S = 1.0               # an older previous reading would average over a load that may have changed
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
# what a BLAS (and lstmkit) reads its thread count from, when NumPy loads
BLAS_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "LSTMKIT_NUM_THREADS", "LSTMKIT_BLAS_THREADS")
_state = {"most": None, "fixed": None, "reading": None}


def usable_cpus():
    """The CPUs this process may run on (its affinity where the OS has one, else all)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def set_blas_threads(n):
    """Fix the BLAS thread count of every later fit to `n`, or "auto" to follow the free CPUs (the default)."""
    _state["fixed"] = "auto" if n == "auto" else check_positive_int(n, "number of BLAS threads")


def _fixed():
    """The fixed count (set_blas_threads, else LSTMKIT_BLAS_THREADS), or None for "auto"."""
    if _state["fixed"] is None:
        env = os.environ.get("LSTMKIT_BLAS_THREADS", "auto").strip()
        _state["fixed"] = "auto" if env in ("", "auto") else check_positive_int(int(env) if env.isdigit() else env,
                                                                          "LSTMKIT_BLAS_THREADS")
    return None if _state["fixed"] == "auto" else _state["fixed"]


def _most():
    """The BLAS's own thread count, read once (None: no thread control)."""
    if _state["most"] is None:
        blas = library()
        _state["most"] = 0 if blas.get_threads is None else int(blas.get_threads())
    return _state["most"] or None


def read_cpu_seconds(stat_path="/proc/stat"):
    """(wall time, busy CPU seconds of this process's CPUs, this process's CPU seconds), or None when the
    counters cannot be read."""
    try:
        with open(stat_path) as f:
            lines = f.readlines()
        mine = {f"cpu{n}" for n in os.sched_getaffinity(0)}
    except (OSError, AttributeError):
        return None
    busy = 0
    for line in lines:
        fields = line.split()
        if fields and fields[0] in mine:
            ticks = [int(v) for v in fields[1:9]]      # user nice system idle iowait irq softirq steal
            busy += sum(ticks) - ticks[3] - ticks[4]
    own = os.times()
    return time.monotonic(), busy / _TICK, own.user + own.system


def busy_elsewhere(before, after):
    """CPUs kept busy by other processes between two `read_cpu_seconds` readings (a float >= 0)."""
    wall = after[0] - before[0]
    return max(0.0, ((after[1] - before[1]) - (after[2] - before[2])) / wall) if wall > 0 else 0.0


def threads_for(most, busy):
    """BLAS threads when `busy` CPUs are held by other processes: most - round(busy), between 1 and most."""
    return max(1, min(most, most - int(busy + 0.5)))


def choose_blas_threads():
    """The BLAS thread count for a fit starting now (see the module docstring), or None to leave it as it is.
    Uses the interval since the previous call when that is between SAMPLE_S and RECENT_S long, else waits
    SAMPLE_S to measure."""
    fixed, most = _fixed(), _most()
    if fixed is not None or most is None or most == 1:
        return fixed if most is not None else None
    previous, now = _state["reading"], read_cpu_seconds()
    if now is None:
        return None
    if previous is None or not SAMPLE_S <= now[0] - previous[0] <= RECENT_S:
        previous = now
        time.sleep(SAMPLE_S)
        now = read_cpu_seconds()
    _state["reading"] = now
    return threads_for(most, busy_elsewhere(previous, now))


def get_blas_threads():
    """The BLAS's current thread count (None: no thread control)."""
    blas = library()
    return None if blas.get_threads is None else int(blas.get_threads())


def apply_blas_threads(n):
    """Set the BLAS thread count to n (no-op for None or a BLAS without thread control)."""
    blas = library()
    if n is not None and blas.set_threads is not None:
        _most()                                           # remember the BLAS's own count before changing it
        blas.set_threads(int(n))


@contextmanager
def training_threads(saved=None):
    """The BLAS thread count of a training run, for its duration: `saved` (the count a resumed run used) or
    `choose_blas_threads()`; yields the count in use (None: the BLAS has no thread control) and restores the
    count it found afterwards, so that what runs after `fit` (predict, the user's NumPy) is not held to it."""
    before = get_blas_threads()
    apply_blas_threads(saved if saved is not None else choose_blas_threads())
    try:
        yield get_blas_threads()
    finally:
        apply_blas_threads(before)


@contextmanager
def one_thread_blas():
    """Set the thread variables of BLAS_THREAD_VARS to 1 in os.environ for the duration, so that worker processes
    spawned meanwhile (whose runs are the parallelism) compute on one thread each; restores them afterwards."""
    saved = {name: os.environ.get(name) for name in BLAS_THREAD_VARS}
    os.environ.update({name: "1" for name in BLAS_THREAD_VARS})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
