"""The long-time-lag experiments: the four task generators (layout, dtypes, seeds, baselines, the Reber grammar),
a run as a pure function of its arguments, the grid identical on 1 and 2 worker processes and on a Dask
LocalCluster, and a tiny `lstmkit experiment` writing results.json and its figures."""

import argparse
import json
import re

import numpy as np
import pytest

from lstmkit.cli import experiment as experiment_cli
from lstmkit.apps.experiments import RunConfig, run_grid, run_one, summarize, tasks
from lstmkit.apps.experiments.tasks import ORDER_SYMBOLS, REBER_SYMBOLS

TINY = RunConfig(hidden=8, batch_size=8, max_steps=20, eval_every=10, test_size=32)


def without_wall_time(results):
    return [{k: v for k, v in r.items() if k != "wall_time"} for r in results]


# ---- generators ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, length, x_shape, y_shape, y_kind", [
    ("adding", 30, (5, 30, 2), (5, 1), "f"),
    ("temporal-order", 30, (5, 30, 8), (5,), "i"),
    ("copy", 30, (5, 50, 10), (5, 50), "i"),
    ("reber", 30, (5, 30, 7), (5, 30, 7), "f"),
])
def test_shapes_dtypes_and_task_fields(name, length, x_shape, y_shape, y_kind):
    x, y, task = tasks.generate(name, 5, length, seed=0)
    assert x.shape == x_shape and x.dtype == np.float32
    assert y.shape == y_shape and y.dtype.kind == y_kind
    assert task is tasks.TASKS[name] and task.name == name
    assert task.loss in ("mse", "sparse_categorical_crossentropy", "binary_crossentropy")
    good = task.threshold if task.higher_is_better else 0.99 * task.threshold     # adding: MSE strictly below
    assert task.solved(good) and not task.solved(task.baseline) and not task.solved(float("nan"))


@pytest.mark.parametrize("name", list(tasks.GENERATORS))
def test_same_seed_same_data_other_seed_other_data(name):
    a, b, c = (tasks.generate(name, 16, 20, seed=s) for s in (3, 3, 4))
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.x, c.x)
    g = tasks.generate(name, 16, 20, seed=np.random.default_rng(3))        # a Generator is used as given
    assert np.array_equal(g.x, a.x)


def test_adding_layout_and_mean_predictor_baseline():
    x, y, task = tasks.adding(100_000, 20, seed=0)
    markers = x[:, :, 1]
    assert np.all(markers.sum(axis=1) == 2)
    assert np.all(markers[:, :10].sum(axis=1) == 1) and np.all(markers[:, 10:].sum(axis=1) == 1)
    assert np.allclose(y[:, 0], (x[:, :, 0] * markers).sum(axis=1))
    assert 0.0 <= x[:, :, 0].min() and x[:, :, 0].max() < 1.0
    mean_mse = np.mean((1.0 - y) ** 2)
    assert mean_mse == pytest.approx(1 / 6, abs=0.003) and task.baseline == pytest.approx(0.1667, abs=1e-4)


def test_temporal_order_layout_and_class_balance():
    x, y, _task = tasks.temporal_order(20_000, 100, seed=0)
    ids = x.argmax(axis=-1)
    assert np.all(x.sum(axis=-1) == 1)
    assert np.all(ids[:, 0] == ORDER_SYMBOLS.index("E")) and np.all(ids[:, -1] == ORDER_SYMBOLS.index("B"))
    relevant = ids >= ORDER_SYMBOLS.index("X")
    relevant[:, [0, -1]] = False
    rows, where = np.nonzero(relevant)
    assert np.all(np.bincount(rows) == 2)
    t1, t2 = where[0::2], where[1::2]
    assert t1.min() == 10 and t1.max() == 20 and t2.min() == 50 and t2.max() == 60    # the paper's positions
    first = ids[np.arange(len(y)), t1] - ORDER_SYMBOLS.index("X")
    second = ids[np.arange(len(y)), t2] - ORDER_SYMBOLS.index("X")
    assert np.array_equal(y, 2 * first + second)
    assert np.allclose(np.bincount(y) / len(y), 0.25, atol=0.015)


def test_copy_layout():
    T = 7
    x, y, task = tasks.copy_memory(500, T, seed=0)
    ids = x.argmax(axis=-1)                                   # (N, T + 20)
    assert ids.shape == (500, T + 20) and np.all(x.sum(axis=-1) == 1)
    data = ids[:, :10]
    assert data.min() == 1 and data.max() == 8
    assert np.all(ids[:, 10:10 + T - 1] == 0) and np.all(ids[:, 10 + T - 1] == 9) and np.all(ids[:, -10:] == 0)
    assert np.all(y[:, :-10] == 0) and np.array_equal(y[:, -10:], data)
    logits = np.eye(task.output_size)[y] * 5.0                # a perfect read-out
    assert task.score(logits, y) == 1.0
    assert task.score(np.zeros_like(logits), y) == pytest.approx(0.0)   # ties pick the blank: never a data symbol


EMBEDDED_REBER = re.compile(r"B(?:TB(?P<t>{0})ET|PB(?P<p>{0})EP)E".format(
    r"(?:TS*X(?:XT*VP)*(?:S|XT*VV)|PT*V(?:V|P(?:XT*VP)*(?:S|XT*VV)))"))


def test_reber_strings_are_accepted_by_the_grammar_and_targets_are_the_legal_successors():
    rng = np.random.default_rng(0)
    for _ in range(2000):
        string, successors = tasks.embedded_reber_string(rng)
        assert EMBEDDED_REBER.fullmatch(string), string
        assert all(string[t + 1] in successors[t] for t in range(len(string) - 1))
        assert successors[-3] == {string[1]} and successors[-2] == {"E"} and successors[-1] == set()
    x, y, _task = tasks.reber(300, 12, seed=0)
    lengths = x.sum(axis=(1, 2)).astype(int)
    assert lengths.min() >= 9 and lengths.max() <= 12
    for xi, yi, n in zip(x, y, lengths):
        string = "".join(REBER_SYMBOLS[i] for i in xi[:n].argmax(axis=-1))
        assert EMBEDDED_REBER.fullmatch(string)
        assert not xi[n:].any() and not yi[n - 1:].any()


def test_reber_score_perfect_and_memoryless_baseline():
    x, y, task = tasks.reber(2000, 40, seed=1)
    assert task.score(np.where(y > 0.5, 3.0, -3.0), y) == 1.0
    memoryless = np.where(y > 0.5, 3.0, -3.0)
    lengths = x.sum(axis=(1, 2)).astype(int)
    rows = np.arange(len(y))
    memoryless[rows, lengths - 3] = -3.0          # after the inner E, having forgotten the second symbol: guess T
    memoryless[rows, lengths - 3, REBER_SYMBOLS.index("T")] = 3.0
    assert task.score(memoryless, y) == pytest.approx(task.baseline, abs=0.03)


@pytest.mark.parametrize("name", list(tasks.GENERATORS))
def test_generators_reject_bad_arguments(name):
    with pytest.raises(ValueError, match="length must be an integer >="):
        tasks.generate(name, 4, 0)
    with pytest.raises(ValueError, match="n must be"):
        tasks.generate(name, 0, 20)
    with pytest.raises(ValueError, match="unknown task"):
        tasks.generate("addition", 4, 20)


# ---- runs ---------------------------------------------------------------------------------------------------------
def test_run_is_a_pure_function_of_its_arguments():
    a = run_one("temporal-order", "gru", 12, 0, TINY)
    b = run_one("temporal-order", "gru", 12, 0, TINY)
    c = run_one("temporal-order", "gru", 12, 1, TINY)
    assert without_wall_time([a]) == without_wall_time([b]) and a["curve"] != c["curve"]
    assert a["steps"] == 20 and [s for s, _ in a["curve"]] == [0, 10, 20]
    json.dumps(a, allow_nan=False)                            # JSON-safe


def test_gru_solves_short_adding_problem():
    result = run_one("adding", "gru", 10, 0, RunConfig(max_steps=800, eval_every=50, test_size=200))
    assert result["solved"] and result["test_metric"] < 0.01 and result["steps_to_solve"] <= 800


def test_reber_and_copy_runs_train_sequence_outputs():
    for name, length in (("reber", 12), ("copy", 3)):
        result = run_one(name, "lstm", length, 0, TINY)
        assert 0.0 <= result["test_metric"] <= 1.0 and result["metric"] == tasks.TASKS[name].metric


def test_results_do_not_depend_on_the_number_of_workers():
    grid = {"task": "adding", "cells": ("rnn", "lstm"), "lengths": (6, 9), "seeds": (0, 1), "config": TINY}
    seen = []
    one = run_grid(**grid, workers=1, on_result=seen.append)
    two = run_grid(**grid, workers=2)
    assert len(seen) == 8
    assert without_wall_time(one) == without_wall_time(two)
    assert [(r["cell"], r["length"], r["seed"]) for r in one] == \
        [(c, t, s) for c in ("rnn", "lstm") for t in (6, 9) for s in (0, 1)]          # grid order
    rows = summarize(one, "adding")
    assert [(r["cell"], r["length"], r["runs"]) for r in rows] == [("rnn", 6, 2), ("rnn", 9, 2), ("lstm", 6, 2),
                                                                   ("lstm", 9, 2)]


def test_dask_cluster_gives_the_same_results():
    distributed = pytest.importorskip("distributed")
    grid = {"task": "adding", "cells": ("rnn", "gru"), "lengths": (6,), "seeds": (0, 1), "config": TINY}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        remote = run_grid(**grid, cluster=cluster.scheduler_address)
    local = [run_one("adding", c, 6, s, TINY) for c in ("rnn", "gru") for s in (0, 1)]
    assert without_wall_time(remote) == without_wall_time(local)


@pytest.mark.parametrize("grid, message", [
    ({"cells": ("lstm", "transformer")}, "unknown cell"),
    ({"lengths": (1, 10)}, "length must be an integer >= 2"),
    ({"seeds": (0, 0)}, "seeds holds a value twice"),
    ({"cells": ()}, "cells must not be empty"),
    ({"workers": 0}, "workers must be a positive integer"),
])
def test_grid_errors(grid, message):
    args = {"task": "adding", "cells": ("rnn",), "lengths": (10,), "seeds": (0,), "config": TINY}
    with pytest.raises(ValueError, match=message):
        run_grid(**{**args, **grid})


# ---- command line -------------------------------------------------------------------------------------------------
def run_cli(argv):
    parser = argparse.ArgumentParser(prog="lstmkit")
    experiment_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_command_writes_results_and_plots(tmp_path, capsys):
    out = tmp_path / "run"
    run_cli(["experiment", "adding", "--cells", "rnn,lstm", "--lengths", "6,9", "--seeds", "1", "--workers", "2",
             "--hidden", "8", "--batch-size", "8", "--max-steps", "20", "--eval-every", "10", "--test-size", "32",
             "--out", str(out)])
    printed = capsys.readouterr()
    assert "steps to solve" in printed.out and "4 runs in" in printed.out
    assert "[4/4]" in printed.err
    results = json.loads((out / "results.json").read_text())
    assert results["task"] == "adding" and results["lengths"] == [6, 9] and results["cells"] == ["rnn", "lstm"]
    assert results["config"]["max_steps"] == 20 and results["workers"] == 2 and len(results["runs"]) == 4
    assert len(results["summary"]) == 4 and results["baseline"] == pytest.approx(1 / 6)
    assert len(results["gradient_norms"]["rnn"]) == 9
    for name in ("metric_vs_length.png", "learning_curves.png", "gradient_norms.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_command_errors(tmp_path, monkeypatch, capsys):
    with pytest.raises(ValueError, match="comma-separated integers"):
        run_cli(["experiment", "adding", "--lengths", "10,fifty", "--out", str(tmp_path)])
    monkeypatch.setitem(__import__("sys").modules, "distributed", None)      # as if Dask were not installed
    assert run_cli(["experiment", "adding", "--cluster", "tcp://localhost:8786", "--out", str(tmp_path)]) == 2
    assert 'pip install "lstmkit[cluster]"' in capsys.readouterr().err
