"""Independent jobs run in parallel: on local worker processes (spawned, one BLAS thread each: the jobs are the
parallelism) or on a Dask cluster. Each job is `fn(job)` on plain data, so its result does not depend on where it
ran. Used by the long-time-lag experiments (one run per job) and the forecaster's ensemble (one model per job).

Local workers are started with 'spawn', which imports the caller's main module again: a script that calls
`map_jobs` with workers > 1 must do so under `if __name__ == "__main__":` (the `lstmkit` command does).
"""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed

import numpy as np

from .cpus import one_thread_blas, usable_cpus


def map_jobs(fn, jobs, workers=None, cluster=None, order=None, on_result=None):
    """[fn(job) for job in jobs], computed on `workers` local processes (default: the usable CPUs; 0: in this
    process, with its BLAS threads) or, with `cluster` (a Dask scheduler address "tcp://host:8786" or a `distributed.Client`), on its
    workers. `order`: the job indices in the order to submit them (e.g. longest first); `on_result(index,
    result)` is called as each job finishes (in completion order). A failed job or Ctrl-C stops the local
    workers at once and is raised."""
    order = list(range(len(jobs))) if order is None else list(order)
    if cluster is not None:
        results = _on_dask(fn, jobs, order, cluster, on_result)
    else:
        workers = usable_cpus() if workers is None else workers
        if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 0:
            raise ValueError(f"workers must be an integer >= 0 (0: in this process), got {workers!r}.")
        results = (_on_processes if workers and jobs else _in_process)(fn, jobs, order, workers, on_result)
    return [results[i] for i in range(len(jobs))]


def _in_process(fn, jobs, order, workers, on_result):
    results = {}
    for i in order:
        results[i] = fn(jobs[i])
        if on_result is not None:
            on_result(i, results[i])
    return results


def _on_processes(fn, jobs, order, workers, on_result):
    results = {}
    pool = ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=multiprocessing.get_context("spawn"))
    try:
        with one_thread_blas():                  # the workers start during submit and keep this environment
            futures = {pool.submit(fn, jobs[i]): i for i in order}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            if on_result is not None:
                on_result(futures[future], results[futures[future]])
    except BaseException:                         # Ctrl-C or a failed job: stop now, not after the running ones
        _terminate_workers(pool)
        raise
    pool.shutdown()
    return results


def _terminate_workers(pool):
    """ProcessPoolExecutor.terminate_workers() of Python >= 3.14, done by hand on older versions (terminate the
    processes, which shutdown() forgets, then shut down without waiting)."""
    if hasattr(pool, "terminate_workers"):
        pool.terminate_workers()
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def _on_dask(fn, jobs, order, cluster, on_result):
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError:
        raise ImportError('--cluster needs Dask: pip install "lstmkit[cluster]" (or "dask[distributed]").') from None
    client = cluster if isinstance(cluster, Client) else Client(cluster)
    try:
        futures = client.map(fn, [jobs[i] for i in order], pure=False)
        index = {future.key: i for future, i in zip(futures, order)}
        results = {}
        for future in dask_completed(futures):
            results[index[future.key]] = future.result()
            if on_result is not None:
                on_result(index[future.key], results[index[future.key]])
        return results
    finally:
        if client is not cluster:
            client.close()
