"""Training runs on the long-time-lag tasks and the grid runner that spreads them over worker processes or a Dask
cluster.

One run, `run_one(task, cell, length, seed, config)`, trains `Sequential([Cell(H), Dense(C)])` with Adam and
gradient clipping on fresh batches (infinite data, `train_on_batch`), scores a fixed test set every
`config.eval_every` optimizer steps and stops at the first score that meets the task's criterion ("steps to
solve") or after `config.max_steps`. It is a pure function of its arguments: the test set, the training batches
and the initial weights all come from `SeedSequence([seed, length, crc32(task)])`, and the same data serve every
cell, so RNN, LSTM and GRU meet identical sequences. Only `wall_time` differs between repetitions.

`run_grid` runs cells x lengths x seeds and returns the results in grid order whoever computed them: in worker
processes of this machine (`workers`, default: the CPUs it may use), or on an existing Dask cluster (`cluster`, an
address or a `distributed.Client`; `pip install "lstmkit[cluster]"`). Each local worker is a fresh 'spawn'
process whose BLAS runs one thread (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS = 1 in its environment
from the start, since the BLAS reads them only when NumPy loads): the runs are the parallelism, and one-thread
BLAS makes every run's arithmetic independent of the number of workers. Dask workers started by `dask worker`
or a `LocalCluster` get the same one-thread setting from Dask's nanny by default.
"""

import os
import time
import zlib
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from ... import layers
from ...model import Sequential
from ...runtime.parallel import map_jobs
from ...training import optim
from .tasks import generate, get_task

CELLS = layers.CELLS
CELL_COST = {"rnn": 1, "gru": 3, "lstm": 4}          # rough relative cost of a step, to start long runs first


def _opt(default, help):
    """A config field whose help text is shared by the CLI and the docs."""
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class RunConfig:
    """Settings of one training run; `lstmkit experiment --help` is generated from these fields. The defaults
    are sized for the adding problem on two cores: 27 runs (3 cells x 3 lengths x 3 seeds) in under 10 minutes."""
    hidden: int = _opt(32, "hidden units of the recurrent layer")
    batch_size: int = _opt(32, "sequences per optimizer step (each batch freshly generated)")
    lr: float = _opt(1e-2, "Adam learning rate")
    clipnorm: float = _opt(1.0, "clip the gradients' global norm to this value")
    forget_bias: float = _opt(1.0, "initial forget-gate bias of LSTM cells")
    max_steps: int = _opt(3000, "optimizer steps before a run is declared unsolved")
    eval_every: int = _opt(50, "score the test set every this many steps")
    test_size: int = _opt(500, "sequences in the fixed test set")

    def validate(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type is int:
                if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                    raise ValueError(f"{f.name} must be a positive integer, got {value!r}.")
            elif not isinstance(value, (int, float)) or not np.isfinite(value) or value <= 0:
                raise ValueError(f"{f.name} must be a positive number, got {value!r}.")
        return self


def _seeds(task, length, seed):
    """Three independent seed streams (test set, training batches, initial weights) for one (task, length, seed);
    the cell is deliberately not part of them."""
    return np.random.SeedSequence([int(seed), int(length), zlib.crc32(task.encode())]).spawn(3)


def build_model(task, cell, config, seed):
    """`Sequential([Cell(H), Dense(C)])` for `task` (a Task), compiled with Adam and gradient clipping."""
    kwargs = {"forget_bias": config.forget_bias} if cell == "lstm" else {}
    model = Sequential([CELLS[cell](config.hidden, return_sequences=task.sequence_output, **kwargs),
                        layers.Dense(task.output_size)], seed=seed)
    return model.compile(loss=task.loss, optimizer=optim.Adam(lr=config.lr, clipnorm=config.clipnorm))


def check_run(task, cell, length, seed):
    """Raise a ValueError for an unknown task or cell, a length the task does not accept or a bad seed."""
    spec = get_task(task)
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r}; the cells are {', '.join(CELLS)}.")
    if not isinstance(length, (int, np.integer)) or isinstance(length, bool) or length < spec.min_length:
        raise ValueError(f"length must be an integer >= {spec.min_length} for {task} ({spec.length_note}), "
                         f"got {length!r}.")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}.")
    return spec


def run_one(task, cell, length, seed, config=RunConfig()):
    """Train one `cell` on `task` at sequence length `length` with `seed`; return a JSON-safe result dict.

    Keys: task, cell, length, seed, solved, steps_to_solve (optimizer steps until the test metric first met the
    criterion, None if it never did), steps (steps trained), test_metric (the last score), metric, curve
    ([[step, score], ...] from step 0), diverged (None, or the step whose loss was not finite), wall_time (s).
    """
    config = RunConfig(**config) if isinstance(config, dict) else config
    spec = check_run(task, cell, length, seed)
    config.validate()
    started = time.perf_counter()
    test_ss, train_ss, model_ss = _seeds(task, length, seed)
    test = generate(task, config.test_size, length, np.random.default_rng(test_ss))
    train_rng = np.random.default_rng(train_ss)
    model = build_model(spec, cell, config, int(model_ss.generate_state(1)[0]))

    def score():
        return spec.score(model.predict(test.x, batch_size=config.test_size), test.y)

    value = score()
    curve, step, solved_at, diverged = [[0, value]], 0, None, None
    while step < config.max_steps and solved_at is None:
        x, y, _ = generate(task, config.batch_size, length, train_rng)
        step += 1
        try:
            model.train_on_batch(x, y)
        except FloatingPointError:
            diverged, value = step, float("nan")
            break
        if step % config.eval_every == 0 or step == config.max_steps:
            value = score()
            curve.append([step, value])
            if spec.solved(value):
                solved_at = step
    return {"task": task, "cell": cell, "length": int(length), "seed": int(seed),
            "solved": solved_at is not None, "steps_to_solve": solved_at, "steps": step,
            "test_metric": None if np.isnan(value) else value, "metric": spec.metric, "curve": curve,
            "diverged": diverged, "wall_time": round(time.perf_counter() - started, 3)}


def _run_job(job):
    """run_one on a (task, cell, length, seed, config dict) tuple: what crosses to a worker is plain data."""
    return run_one(*job)


def grid_jobs(task, cells, lengths, seeds, config=RunConfig()):
    """The runs of the grid, in grid order (cell, then length, then seed), as plain tuples."""
    check_grid(task, cells, lengths, seeds)
    config = asdict(config.validate())
    return [(task, cell, int(length), int(seed), config) for cell in cells for length in lengths for seed in seeds]


def check_grid(task, cells, lengths, seeds):
    for name, values in (("cells", cells), ("lengths", lengths), ("seeds", seeds)):
        if len(values) == 0:
            raise ValueError(f"{name} must not be empty.")
        if len(set(values)) != len(values):
            raise ValueError(f"{name} holds a value twice: {list(values)}.")
    for cell in cells:
        for length in lengths:
            for seed in seeds:
                check_run(task, cell, length, seed)


def run_grid(task, cells=("rnn", "lstm", "gru"), lengths=None, seeds=(0, 1, 2), config=RunConfig(),
             workers=None, cluster=None, on_result=None):
    """Run every (cell, length, seed) of the grid and return the result dicts of `run_one` in grid order.

    `workers`: local worker processes (default: the CPUs this process may use); `cluster`: a Dask scheduler address
    ("tcp://host:8786") or a `distributed.Client`, which replaces the local processes. `lengths` defaults to the
    task's default lengths. `on_result(result)` is called as each run finishes (in completion order).
    The results do not depend on `workers` or on the cluster: each run is a pure function of its arguments.
    Local workers are started with 'spawn', which imports the caller's main module again: a script that calls
    run_grid must do so under `if __name__ == "__main__":` (the `lstmkit` command does).
    """
    lengths = tuple(get_task(task).default_lengths if lengths is None else lengths)
    jobs = grid_jobs(task, tuple(cells), lengths, tuple(seeds), config)
    order = sorted(range(len(jobs)), key=lambda i: -jobs[i][2] * CELL_COST[jobs[i][1]])   # longest first
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, (int, np.integer))
                                or workers < 1):
        raise ValueError(f"workers must be a positive integer, got {workers!r}.")
    return map_jobs(_run_job, jobs, workers=workers, cluster=cluster, order=order,
                    on_result=None if on_result is None else lambda i, result: on_result(result))


def summarize(results, task):
    """One row per (cell, length), in grid order: solved count, runs, median steps to solve over the solved
    seeds, median final test metric, mean wall time per run."""
    spec = get_task(task)
    groups = {}
    for r in results:
        groups.setdefault((r["cell"], r["length"]), []).append(r)
    rows = []
    for (cell, length), runs in groups.items():
        steps = [r["steps_to_solve"] for r in runs if r["solved"]]
        metrics = [np.nan if r["test_metric"] is None else r["test_metric"] for r in runs]
        rows.append({"cell": cell, "length": length, "solved": sum(r["solved"] for r in runs), "runs": len(runs),
                     "median_steps_to_solve": float(np.median(steps)) if steps else None,
                     "median_test_metric": float(np.nanmedian(metrics)) if not np.all(np.isnan(metrics)) else None,
                     "mean_wall_time": float(np.mean([r["wall_time"] for r in runs])), "metric": spec.metric})
    return rows


def untrained_gradient_norms(task, cells, length, seed=0, config=RunConfig(), n=32):
    """||dL/dh_t|| against t for each cell before training, on `n` test sequences of `task` at `length`, with
    the same initial weights as `run_one(task, cell, length, seed)`, computed in float64 (the Elman RNN's values
    fall below float32's range within a few dozen steps): {cell: array (T,)}, from
    `lstmkit.training.diagnostics.gradient_norms(model, x, y)`."""
    from ...training import diagnostics

    spec = get_task(task)
    test_ss, _, model_ss = _seeds(task, length, seed)
    x, y, _ = generate(task, n, length, np.random.default_rng(test_ss))
    norms = {}
    for cell in cells:
        check_run(task, cell, length, seed)
        model = build_model(spec, cell, config, int(model_ss.generate_state(1)[0])).build(x.shape[1:])
        for layer in model.layers:
            layer.to("float64")
        norms[cell] = np.asarray(diagnostics.gradient_norms(model, x.astype(np.float64), y), dtype=float)
    return norms


def write_results(out, task, results, config=RunConfig(), wall_time=None, workers=None, cluster=None,
                  gradient_norms=None):
    """Write the run folder: results.json (settings, summary rows, every run), metric_vs_length.png,
    learning_curves.png and, when `gradient_norms` ({cell: (T,)}) is given, gradient_norms.png. Returns the
    paths written."""
    import json

    from ... import __version__
    from .plots import plot_gradient_norms, plot_learning_curves, plot_metric_vs_length

    spec = get_task(task)
    os.makedirs(out, exist_ok=True)
    document = {
        "task": task, "metric": spec.metric, "threshold": spec.threshold, "higher_is_better": spec.higher_is_better,
        "baseline": spec.baseline, "baseline_note": spec.baseline_note, "length_note": spec.length_note,
        "cells": list(dict.fromkeys(r["cell"] for r in results)),
        "lengths": sorted({r["length"] for r in results}), "seeds": sorted({r["seed"] for r in results}),
        "config": asdict(config), "workers": workers,
        "cluster": cluster if cluster is None or isinstance(cluster, str) else repr(cluster),
        "wall_time": None if wall_time is None else round(wall_time, 2), "lstmkit_version": __version__,
        "summary": summarize(results, task), "runs": results,
    }
    if gradient_norms is not None:
        document["gradient_norms"] = {cell: [float(v) for v in values] for cell, values in gradient_norms.items()}
    paths = {"results": os.path.join(out, "results.json"),
             "metric_vs_length": os.path.join(out, "metric_vs_length.png"),
             "learning_curves": os.path.join(out, "learning_curves.png")}
    with open(paths["results"], "w") as f:
        json.dump(document, f, indent=1)
    plot_metric_vs_length(paths["metric_vs_length"], results, spec)
    plot_learning_curves(paths["learning_curves"], results, spec)
    if gradient_norms is not None:
        paths["gradient_norms"] = os.path.join(out, "gradient_norms.png")
        steps = len(next(iter(gradient_norms.values())))
        plot_gradient_norms(paths["gradient_norms"], gradient_norms,
                            f"{task}: ||dL/dh_t|| of untrained networks, {steps} steps")
    return paths
