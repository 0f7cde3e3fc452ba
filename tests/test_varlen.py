"""Variable-length batches (issue 8): a right-padded mask takes the fast path of the driver (rows sorted by length,
step t runs only the live[t] sequences still going, the GEMMs over all steps take only the live rows). Its outputs,
final states, dx, every parameter gradient and the initial states' gradients equal the general masked path (forced
here by switching the detection off) and running each sequence alone, in float64 to 1e-12 relative."""

import numpy as np
import pytest

from lstmkit.layers import GRU, LSTM, SimpleRNN
from lstmkit.layers.recurrent import Recurrent

B, T, I, H = 5, 7, 3, 4                     # batch, time, input features, hidden units
TOL = 1e-12

CASES = {                                   # id -> (class, constructor options)
    "LSTM": (LSTM, {}),
    "LSTM-peephole": (LSTM, {"peephole": True}),
    "LSTM-proj": (LSTM, {"proj_size": 2}),
    "LSTM-layernorm": (LSTM, {"layer_norm": True}),
    "GRU": (GRU, {}),
    "SimpleRNN": (SimpleRNN, {}),
}


def make(name, num_layers=2, bidirectional=True, seed=3, **extra):
    cls, options = CASES[name]
    layer = cls(H, num_layers=num_layers, bidirectional=bidirectional, return_sequences=True, return_state=True,
                dtype="float64", **options, **extra)
    return layer.build((T, I), np.random.default_rng(seed))


def mask_of(lengths):
    return np.arange(T)[None, :] < np.asarray(lengths)[:, None]          # (B, T) right-padded


def states_of(layer, batch, rng):
    shape = (layer.num_layers * layer.num_directions, batch)
    parts = [rng.standard_normal(shape + (size,)) for size in layer.state_sizes]
    return parts[0] if len(parts) == 1 else tuple(parts)


def run(layer, x, mask, state0, dy, dstate, training=False):
    """Forward and backward once; every result as a flat list of arrays (dy and dstate shaped like forward's)."""
    out, final = layer.forward(x, initial_state=state0, mask=mask, training=training)
    dx = layer.backward((dy, dstate))
    finals = list(final) if isinstance(final, tuple) else [final]
    d0 = layer.dinitial_state
    d0 = list(d0) if isinstance(d0, tuple) else [d0]
    return [out] + finals + [dx] + d0 + [layer.grads[k].copy() for k in sorted(layer.grads)]


def upstream(layer, batch, rng):
    dy = rng.standard_normal((batch, T, layer.num_directions * layer.state_sizes[0]))
    return dy, states_of(layer, batch, rng)


def assert_same(got, want):
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.shape == b.shape
        err = np.max(np.abs(a - b), initial=0.0) / max(np.max(np.abs(b), initial=0.0), 1e-12)
        assert err < TOL, err


@pytest.fixture
def general_path(monkeypatch):
    """Within the test, turn the right-padding detection off: every mask takes the general (u_t = m_t) path."""
    def use():
        monkeypatch.setattr(Recurrent, "_packing", staticmethod(lambda mask: None))
    return use


LENGTHS = {
    "unsorted": [3, 7, 1, 5, 4],            # unsorted, with a length-1 row and a full-length row
    "ties": [4, 2, 4, 7, 2],
    "full": [T] * B,                        # all rows full length
    "short": [2, 1, 3, 2, 1],               # no row reaches T: the last steps run no sequence at all
    "empty-row": [3, 0, 6, 1, 2],           # a row with no real step keeps its initial state
}


@pytest.mark.parametrize("lengths", list(LENGTHS), ids=list(LENGTHS))
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("name", list(CASES))
def test_fast_path_equals_general_path(name, bidirectional, lengths, general_path):
    rng = np.random.default_rng(0)
    layer = make(name, bidirectional=bidirectional)
    x = rng.standard_normal((B, T, I))
    state0 = states_of(layer, B, rng)
    dy, dstate = upstream(layer, B, rng)
    mask = mask_of(LENGTHS[lengths])
    assert layer._packing(mask) is not None
    fast = run(layer, x, mask, state0, dy, dstate)
    general_path()
    assert layer._packing(mask) is None
    assert_same(fast, run(layer, x, mask, state0, dy, dstate))


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("name", ["LSTM", "LSTM-proj", "GRU", "SimpleRNN"])
def test_fast_path_equals_each_sequence_alone(name, bidirectional):
    """Row b of the masked batch equals a batch of one holding x[b, :l_b] (no mask); parameter gradients sum."""
    rng = np.random.default_rng(1)
    lengths = LENGTHS["unsorted"]
    layer = make(name, bidirectional=bidirectional)
    x = rng.standard_normal((B, T, I))
    state0 = states_of(layer, B, rng)
    dy, dstate = upstream(layer, B, rng)
    dy = dy * mask_of(lengths)[:, :, None]                     # padded outputs are zeros: no gradient there
    out, final, dx, d0, grads = split(layer, run(layer, x, mask_of(lengths), state0, dy, dstate))
    sums = {k: np.zeros_like(g) for k, g in grads.items()}
    for b, n in enumerate(lengths):
        s0 = tuple(s[:, b:b + 1] for s in state0) if isinstance(state0, tuple) else state0[:, b:b + 1]
        ds = tuple(s[:, b:b + 1] for s in dstate) if isinstance(dstate, tuple) else dstate[:, b:b + 1]
        o, f = layer.forward(x[b:b + 1, :n], initial_state=s0)
        d = layer.backward((dy[b:b + 1, :n], ds))
        assert_same([out[b:b + 1, :n], np.zeros_like(out[b, n:]), dx[b:b + 1, :n], np.zeros_like(dx[b, n:])],
                    [o, out[b, n:], d, dx[b, n:]])
        f = f if isinstance(f, tuple) else (f,)
        g0 = layer.dinitial_state if isinstance(layer.dinitial_state, tuple) else (layer.dinitial_state,)
        assert_same([s[:, b:b + 1] for s in final] + [s[:, b:b + 1] for s in d0], list(f) + list(g0))
        for k in sums:
            sums[k] += layer.grads[k]
    assert_same([grads[k] for k in sorted(grads)], [sums[k] for k in sorted(sums)])


def split(layer, results):
    """run()'s flat list -> (out, finals, dx, initial-state grads, {name: grad})."""
    n = len(layer.STATES)
    out, finals, dx, d0 = results[0], results[1:1 + n], results[1 + n], results[2 + n:2 + 2 * n]
    return out, finals, dx, d0, dict(zip(sorted(layer.grads), results[2 + 2 * n:]))


@pytest.mark.parametrize("name, zoneout", [("LSTM", (0.3, 0.5)), ("GRU", 0.4), ("SimpleRNN", 0.4)])
@pytest.mark.parametrize("training", [True, False])
def test_zoneout_and_dropout_equal_general_path(name, zoneout, training, general_path):
    """Zoneout, recurrent, input and between-layer dropout draw the same numbers on both paths (training)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((B, T, I))
    mask = mask_of(LENGTHS["unsorted"])
    options = {"zoneout": zoneout, "recurrent_dropout": 0.3, "input_dropout": 0.2, "dropout": 0.25}
    results = []
    for path in ("fast", "general"):
        if path == "general":
            general_path()
        layer = make(name, seed=7, **options)                  # the same weights and the same generator
        state0 = states_of(layer, B, np.random.default_rng(4))
        dy, dstate = upstream(layer, B, np.random.default_rng(5))
        results.append(run(layer, x, mask, state0, dy, dstate, training=training))
    assert_same(*results)


def test_other_masks_take_the_general_path():
    """A mask with a hole or left padding is not right-padded: no Packing, and the layer still runs."""
    holes = np.ones((B, T), bool)
    holes[1, 2] = False
    left = mask_of([3, 7, 1, 5, 4])[:, ::-1]
    for mask in (holes, left):
        assert Recurrent._packing(mask) is None
    layer = make("GRU")
    out, _ = layer.forward(np.ones((B, T, I)), mask=holes)
    assert np.all(out[1, 2] == 0.0)


def test_packing_layout():
    pack = Recurrent._packing(mask_of([3, 7, 1, 5, 4]))
    assert pack.order.tolist() == [1, 3, 4, 0, 2]
    assert pack.lengths.tolist() == [7, 5, 4, 3, 1]
    assert pack.live.tolist() == [5, 4, 4, 3, 2, 1, 1]
    assert len(pack.rows) == 20
    assert pack.rev[:, 3].tolist() == [2, 1, 0, 3, 4, 5, 6]    # length 3: reversed within, identity after
