"""The BLAS thread policy (cpus.py): the count follows the CPUs other processes keep busy, a fixed count wins, the
counters are read for this process's CPUs only, and a real spinning process is seen."""

import multiprocessing as mp
import os
import time

import numpy as np
import pytest

import lstmkit as lk
from lstmkit.runtime import cpus


@pytest.fixture
def policy(monkeypatch):
    """A BLAS of 2 threads, no fixed count read yet, no previous reading, no waiting."""
    monkeypatch.setattr(cpus, "_state", {"most": 2, "fixed": None, "reading": None})
    monkeypatch.delenv("LSTMKIT_BLAS_THREADS", raising=False)
    monkeypatch.setattr(cpus.time, "sleep", lambda s: None)


def readings(monkeypatch, *values):
    it = iter(values)
    monkeypatch.setattr(cpus, "read_cpu_seconds", lambda: next(it))


@pytest.mark.parametrize("most, busy, want", [(2, 0.0, 2), (2, 0.4, 2), (2, 0.6, 1), (2, 1.0, 1), (2, 3.0, 1),
                                              (8, 2.6, 5), (1, 0.0, 1)])
def test_threads_for_leaves_the_busy_cpus(most, busy, want):
    assert cpus.threads_for(most, busy) == want


def test_busy_elsewhere_subtracts_this_process():
    assert cpus.busy_elsewhere((0.0, 10.0, 1.0), (2.0, 13.0, 2.0)) == pytest.approx(1.0)    # 3 busy s, 1 ours
    assert cpus.busy_elsewhere((0.0, 10.0, 1.0), (1.0, 11.0, 2.5)) == 0.0                    # never negative


def test_choose_measures_and_then_reuses_the_last_reading(policy, monkeypatch):
    readings(monkeypatch, (0.0, 0.0, 0.0), (0.1, 0.2, 0.1), (0.6, 0.7, 0.6))
    assert cpus.choose_blas_threads() == 1          # first call: waits SAMPLE_S, another process held 1 CPU
    assert cpus.choose_blas_threads() == 2          # second: since the last reading, only this process ran


def test_a_fixed_count_wins(policy, monkeypatch):
    readings(monkeypatch, (0.0, 0.0, 0.0), (0.1, 0.2, 0.0))
    monkeypatch.setenv("LSTMKIT_BLAS_THREADS", "2")
    assert cpus.choose_blas_threads() == 2
    cpus.set_blas_threads("auto")
    assert cpus.choose_blas_threads() == 1
    cpus.set_blas_threads(3)
    assert cpus.choose_blas_threads() == 3


def test_an_empty_variable_means_auto(policy, monkeypatch):
    readings(monkeypatch, (0.0, 0.0, 0.0), (0.1, 0.2, 0.1))
    monkeypatch.setenv("LSTMKIT_BLAS_THREADS", "")              # as LSTMKIT_NUM_THREADS= means its default
    assert cpus.choose_blas_threads() == 1


def test_a_bad_fixed_count_is_named(policy, monkeypatch):
    monkeypatch.setenv("LSTMKIT_BLAS_THREADS", "many")
    with pytest.raises(ValueError, match="LSTMKIT_BLAS_THREADS"):
        cpus.choose_blas_threads()
    with pytest.raises(ValueError, match="number of BLAS threads"):
        cpus.set_blas_threads(0)


def test_no_counters_leaves_the_count(policy, monkeypatch):
    readings(monkeypatch, None)
    assert cpus.choose_blas_threads() is None


def test_read_counts_only_this_process_cpus(tmp_path, monkeypatch):
    stat = tmp_path / "stat"
    stat.write_text("cpu  900 0 100 5000 10 0 0 0 0 0\n"
                    "cpu0 300 0 50 1000 5 0 0 0 0 0\n"
                    "cpu1 100 20 30 2000 5 1 2 3 0 0\n"
                    "cpu7 500 0 20 2000 0 0 0 0 0 0\n")
    monkeypatch.setattr(cpus.os, "sched_getaffinity", lambda pid: {0, 1})
    _, busy, _ = cpus.read_cpu_seconds(stat)
    assert busy == pytest.approx((300 + 50 + 100 + 20 + 30 + 1 + 2 + 3) / cpus._TICK)


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="reads Linux's /proc/stat")
def test_a_spinning_process_is_seen():
    spinner = mp.get_context("spawn").Process(target=_spin, daemon=True)
    spinner.start()
    try:
        time.sleep(1.0)                                            # the interpreter has started and spins
        before = cpus.read_cpu_seconds()
        time.sleep(0.5)
        after = cpus.read_cpu_seconds()
    finally:
        spinner.terminate()
    assert cpus.busy_elsewhere(before, after) > 0.5


def _spin():
    while True:
        pass


def test_fit_trains_on_the_chosen_count_and_restores_the_count_after(policy, monkeypatch, tmp_path):
    from lstmkit.formats.checkpoint import read_checkpoint
    if cpus.get_blas_threads() is None:
        pytest.skip("this BLAS has no thread control")
    readings(monkeypatch, (0.0, 0.0, 0.0), (0.1, 0.2, 0.1))     # another process held one of 2 CPUs
    model = lk.Sequential([lk.layers.LSTM(4), lk.layers.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer=lk.optim.Adam())
    before = cpus.get_blas_threads()
    try:
        cpus.apply_blas_threads(2)
        model.fit(np.zeros((4, 3, 2)), np.zeros((4, 1)), epochs=1, batch_size=4, verbose=0, checkpoint=tmp_path)
        assert read_checkpoint(tmp_path)[1]["position"]["blas_threads"] == 1          # trained on 1 thread
        assert cpus.get_blas_threads() == 2                                            # and gave the 2 back
    finally:
        cpus.apply_blas_threads(before)


def test_a_resumed_run_keeps_the_count_its_checkpoint_recorded(policy, monkeypatch, tmp_path):
    from lstmkit.formats.checkpoint import read_checkpoint
    if cpus.get_blas_threads() is None:
        pytest.skip("this BLAS has no thread control")
    x, y = np.zeros((4, 3, 2)), np.zeros((4, 1))
    model = lk.Sequential([lk.layers.LSTM(4), lk.layers.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer=lk.optim.Adam())
    before = cpus.get_blas_threads()
    try:
        cpus.apply_blas_threads(2)
        readings(monkeypatch, (0.0, 0.0, 0.0), (0.1, 0.2, 0.1))             # busy: 1 thread
        model.fit(x, y, epochs=1, batch_size=4, verbose=0, checkpoint=tmp_path)
        readings(monkeypatch, (20.0, 0.2, 0.1), (20.1, 0.2, 0.1))           # idle now, but the run goes on as it was
        model.fit(x, y, epochs=2, batch_size=4, verbose=0, checkpoint=tmp_path, resume=True)
        assert read_checkpoint(tmp_path)[1]["position"] == {"epoch": 2, "batch": 0, "loss_sum": 0.0, "seen": 0,
                                                            "blas_threads": 1}
    finally:
        cpus.apply_blas_threads(before)


def test_an_old_reading_is_not_averaged_over(policy, monkeypatch):
    readings(monkeypatch, (0.0, 0.0, 0.0), (0.1, 0.1, 0.1), (30.0, 30.0, 29.9), (30.1, 30.2, 29.9))
    assert cpus.choose_blas_threads() == 2          # idle
    assert cpus.choose_blas_threads() == 1          # 30 s later: measured afresh, another process holds a CPU
