"""Batch rows on several threads (threads.py): the compiled sweeps give the same outputs, gradients and final
states on 1 and on several threads, for every cell and option that changes the sweeps' rows."""

import numpy as np
import pytest

from lstmkit.runtime import threads
from lstmkit.layers import GRU, LSTM, SimpleRNN

CASES = {
    "lstm": lambda: LSTM(6, return_sequences=True, return_state=True),
    "lstm-variants": lambda: LSTM(6, peephole=True, proj_size=3, layer_norm=True, return_sequences=True,
                                  zoneout=(0.2, 0.1), recurrent_dropout=0.3),
    "lstm-coupled-bidirectional": lambda: LSTM(5, coupled=True, bidirectional=True, num_layers=2,
                                               return_sequences=True, return_state=True),
    "gru": lambda: GRU(7, bidirectional=True, return_sequences=True, recurrent_dropout=0.2, return_state=True),
    "rnn": lambda: SimpleRNN(5, nonlinearity="relu", return_sequences=True, zoneout=0.3, return_state=True),
}


@pytest.fixture
def many_threads(monkeypatch):
    """Split every batch, however small, into up to 3 row ranges."""
    monkeypatch.setattr(threads, "MIN_WORK", 0)
    monkeypatch.setattr(threads, "MIN_ROWS", 1)
    monkeypatch.setattr(threads, "MAX_STEP_WORK", 1 << 62)
    before = threads.get_num_threads()
    yield
    threads.set_num_threads(before)


def _run(make, n_threads, x, mask, dtype):
    threads.set_num_threads(n_threads)
    layer = make().build(x.shape[1:], np.random.default_rng(1)).to(dtype)
    layer.rng = np.random.default_rng(2)                       # the same dropout and zoneout draws
    out, state = layer.forward(x.astype(dtype), mask=mask, training=True), None
    if isinstance(out, tuple):
        out, state = out
    dx = layer.backward(np.cos(np.arange(out.size)).reshape(out.shape).astype(dtype))
    return out, state, dx, {k: v.copy() for k, v in layer.grads.items()}


@pytest.mark.parametrize("mask_kind", ["none", "right-padded", "general"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_threads_give_the_same_results(many_threads, name, mask_kind):
    if threads._blas_threads() is None:
        pytest.skip("SciPy's BLAS has no thread control here, so sweeps never split rows")
    rng = np.random.default_rng(0)
    B, T = 7, 5
    x = rng.standard_normal((B, T, 3))
    mask = {"none": None,
            "right-padded": np.arange(T)[None, :] < np.array([5, 2, 4, 1, 5, 3, 4])[:, None],
            "general": rng.random((B, T)) < 0.7}[mask_kind]
    one = _run(CASES[name], 1, x, mask, "float64")
    threads.set_num_threads(3)
    assert len(threads.row_ranges(B, T, 1)) == 3               # the split really happens
    many = _run(CASES[name], 3, x, mask, "float64")
    for a, b in zip(one[:3], many[:3]):
        if a is not None:
            for part_a, part_b in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
                np.testing.assert_allclose(part_b, part_a, rtol=1e-12, atol=1e-13)
    assert one[3].keys() == many[3].keys()
    for key in one[3]:
        np.testing.assert_allclose(many[3][key], one[3][key], rtol=1e-12, atol=1e-13, err_msg=key)


def test_blas_threads_are_restored(many_threads):
    found = threads._blas_threads()
    if found is None:
        pytest.skip("SciPy's BLAS has no thread control here")
    get, _ = found
    before = get()
    threads.set_num_threads(2)
    layer = LSTM(4).build((3, 2), np.random.default_rng(0))
    layer.forward(np.ones((6, 3, 2)))
    assert get() == before


def test_row_ranges_cover_the_batch_once():
    before = threads.get_num_threads()
    threads.set_num_threads(3)
    try:
        for B in (1, 4, 12, 13, 100):
            ranges = threads.row_ranges(B, 1, threads.MIN_WORK)
            rows = [r for lo, hi in ranges for r in range(lo, hi)]
            assert rows == list(range(B))
            assert len(ranges) <= 3 and all(hi - lo >= threads.MIN_ROWS for lo, hi in ranges[1:] or [])
        assert threads.row_ranges(100, 1, threads.MIN_WORK - 1) == [(0, 100)]   # small work: one thread
        assert threads.row_ranges(100, 1, threads.MAX_STEP_WORK + 1) == [(0, 100)]   # large GEMMs: BLAS threads
    finally:
        threads.set_num_threads(before)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_set_num_threads_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="number of threads"):
        threads.set_num_threads(bad)


def test_thread_count_from_the_environment(monkeypatch):
    monkeypatch.setitem(threads._state, "threads", None)
    monkeypatch.setenv("LSTMKIT_NUM_THREADS", "3")
    assert threads.get_num_threads() == 3
    monkeypatch.setitem(threads._state, "threads", None)
    monkeypatch.setenv("LSTMKIT_NUM_THREADS", "two")
    with pytest.raises(ValueError, match="LSTMKIT_NUM_THREADS must be a positive integer, got 'two'"):
        threads.get_num_threads()
