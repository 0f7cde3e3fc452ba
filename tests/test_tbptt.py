"""Truncated BPTT in fit: TBPTT(k1, k2) with carried states; k >= T equals full BPTT exactly."""

import numpy as np
import pytest

import lstmkit as lk
from lstmkit.layers import GRU, LSTM, Dense, SimpleRNN

rng = np.random.default_rng(0)
X = rng.standard_normal((8, 12, 2))
Y_SEQ = np.cumsum(X[..., :1], axis=1) * 0.3            # per-step targets that need memory
Y_LAST = Y_SEQ[:, -1]


def model(cell=LSTM, sequence=True, seed=0, dtype="float64"):
    m = lk.Sequential([cell(5, return_sequences=sequence, dtype=dtype), Dense(1, dtype=dtype)], seed=seed)
    return m.compile(loss="mse", optimizer=lk.optim.SGD(lr=0.1))


def weights(m):
    return {k: v.copy() for k, v in m.parameters().items()}


@pytest.mark.parametrize("cell", [SimpleRNN, LSTM, GRU])
@pytest.mark.parametrize("sequence", [True, False])
@pytest.mark.parametrize("k", [12, 50, (12, 12), (12, 40)])
def test_k_at_least_T_equals_full_bptt(cell, sequence, k):
    y = Y_SEQ if sequence else Y_LAST
    full, cut = model(cell, sequence), model(cell, sequence)
    h_full = full.fit(X, y, epochs=2, batch_size=4, verbose=0)
    h_cut = cut.fit(X, y, epochs=2, batch_size=4, verbose=0, tbptt=k)
    assert h_full.history["loss"] == h_cut.history["loss"]
    for name, value in weights(full).items():
        np.testing.assert_array_equal(cut.parameters()[name], value)


def manual_tbptt(m, x, y, k):
    """Chunks of k with the state carried by hand through initial_state: the reference for tbptt=k."""
    lstm, dense = m.layers
    state = None
    for start in range(0, x.shape[1], k):
        xs, ys = x[:, start:start + k], y[:, start:start + k]
        lstm.return_state = True
        out, state = lstm.forward(xs, initial_state=state, training=True)
        lstm.return_state = False
        pred = dense.forward(out)
        _, dpred = m.loss.value_and_grad(pred, ys)
        lstm.backward(dense.backward(dpred))
        m.optimizer.step(m.parameters(), m.gradients())


@pytest.mark.parametrize("k", [3, 5])
def test_chunks_carry_the_state_and_cut_the_gradient(k):
    auto, manual = model(), model()
    auto.fit(X, Y_SEQ, epochs=1, batch_size=8, shuffle=False, verbose=0, tbptt=k)
    manual.build(X.shape[1:])
    manual_tbptt(manual, X, Y_SEQ, k)
    for name, value in weights(manual).items():
        np.testing.assert_allclose(auto.parameters()[name], value, rtol=1e-12, atol=1e-14)
    assert all(layer.states is None for layer in auto.layers if hasattr(layer, "states"))


def test_longer_backprop_window_differs_from_chunks():
    """TBPTT(3, 6) reaches further back than TBPTT(3, 3): different weights, both finite and learning."""
    a, b = model(), model()
    ha = a.fit(X, Y_SEQ, epochs=3, batch_size=8, verbose=0, tbptt=(3, 3))
    hb = b.fit(X, Y_SEQ, epochs=3, batch_size=8, verbose=0, tbptt=(3, 6))
    assert not np.array_equal(a.parameters()["0.weight_hh_l0"], b.parameters()["0.weight_hh_l0"])
    assert hb.history["loss"][-1] < hb.history["loss"][0] and ha.history["loss"][-1] < ha.history["loss"][0]


def test_streaming_training_learns():
    x = rng.standard_normal((16, 200, 1))
    y = np.roll(x, 2, axis=1)                                   # output the input of two steps ago
    m = lk.Sequential([LSTM(12, return_sequences=True), Dense(1)], seed=0)
    m.compile(loss="mse", optimizer=lk.optim.Adam(lr=1e-2))
    history = m.fit(x, y, epochs=8, batch_size=16, verbose=0, tbptt=20)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]


def test_bad_tbptt_arguments():
    with pytest.raises(ValueError, match="tbptt"):
        model().fit(X, Y_SEQ, batch_size=4, verbose=0, tbptt=0)
    with pytest.raises(ValueError, match="tbptt"):
        model().fit(X, Y_SEQ, batch_size=4, verbose=0, tbptt=(2, 3, 4))
    bi = lk.Sequential([LSTM(3, bidirectional=True, return_sequences=True), Dense(1)]).compile(loss="mse")
    with pytest.raises(ValueError, match="bidirectional"):
        bi.fit(X, Y_SEQ, batch_size=4, verbose=0, tbptt=4)


def test_fit_with_rtrl_learns_online():
    x = rng.standard_normal((16, 30, 1))
    y = np.roll(x, 1, axis=1)
    m = lk.Sequential([GRU(8, return_sequences=True), Dense(1)], seed=0)
    m.compile(loss="mse", optimizer=lk.optim.Adam(lr=1e-2))
    history = m.fit(x, y, epochs=3, batch_size=8, verbose=0, algorithm="rtrl")
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    with pytest.raises(ValueError, match="algorithm"):
        m.fit(x, y, batch_size=8, verbose=0, algorithm="adjoint")
    with pytest.raises(ValueError, match="RTRL"):
        m.fit(x, y, batch_size=8, verbose=0, algorithm="rtrl", tbptt=5)


def test_streaming_character_model_trains_with_tbptt():
    """A char-level LSTM on one long text stream cut into batch rows, trained with TBPTT(10, 20)."""
    from lstmkit.layers import Embedding
    text = "the cat sat on the mat. the dog sat on the log. " * 20
    vocab = sorted(set(text))
    ids = np.array([vocab.index(ch) for ch in text])
    rows = ids[: (len(ids) - 1) // 8 * 8 + 1]
    x = rows[:-1].reshape(8, -1)
    y = rows[1:].reshape(8, -1)
    m = lk.Sequential([Embedding(len(vocab), 8), LSTM(32, return_sequences=True), Dense(len(vocab))], seed=0)
    m.compile(loss="sparse_categorical_crossentropy", optimizer=lk.optim.Adam(lr=1e-2), metrics=["accuracy"])
    history = m.fit(x, y, epochs=15, batch_size=8, verbose=0, tbptt=(10, 20))
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.6
