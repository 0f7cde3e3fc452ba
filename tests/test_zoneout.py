"""Zoneout (Krueger et al. 2017) through the driver's update gate: finite differences with a replayed mask on both
paths, compiled == reference, Krueger's expectation at inference, the keep-or-update rule in training (checked
against the plain layer, one step at a time), masking, training, and the model file round trip."""

import numpy as np
import pytest

import lstmkit as lk
from lstmkit.layers import GRU, LSTM, SimpleRNN

rng = np.random.default_rng(0)
X = rng.standard_normal((2, 4, 3))
MASK = np.array([[True] * 4, [True, True, True, False]])


@pytest.mark.parametrize("implementation", ["compiled", "reference"])
@pytest.mark.parametrize("cls, zoneout", [(LSTM, (0.3, 0.5)), (GRU, 0.4), (SimpleRNN, 0.4)],
                         ids=["LSTM", "GRU", "SimpleRNN"])
def test_gradients_match_finite_differences(cls, zoneout, implementation):
    layers = 2 if cls is LSTM else 1
    layer = cls(3, num_layers=layers, bidirectional=True, return_sequences=True, return_state=True,
                zoneout=zoneout, implementation=implementation)
    shape = (2 * layers, 2, 3)
    state = (rng.standard_normal(shape), rng.standard_normal(shape)) if cls is LSTM else rng.standard_normal(shape)
    for training in (True, False):
        result = lk.gradcheck(layer, X, mask=MASK, initial_state=state, training=training)
        assert result.max_error < 1e-6, (training, result.errors)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("cls, options", [(LSTM, {"zoneout": (0.3, 0.5), "proj_size": 2}), (GRU, {"zoneout": 0.4}),
                                          (SimpleRNN, {"zoneout": 0.4})], ids=["LSTM", "GRU", "SimpleRNN"])
def test_compiled_equals_reference(cls, options, training):
    results = []
    for implementation in ("reference", "compiled"):
        layer = cls(3, num_layers=2, bidirectional=True, return_sequences=True, implementation=implementation,
                    dtype="float64", **options).build((4, 3), np.random.default_rng(5))   # the same draws
        out = layer.forward(X, mask=MASK, training=training)
        dx = layer.backward(np.cos(out))
        results.append([out, dx] + [layer.grads[k] for k in sorted(layer.grads)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def _pair(cls, zoneout, seed=1):
    """A zoneout layer and its plain twin with the same weights (float64, every step and the final states)."""
    layer = cls(6, return_sequences=True, return_state=True, zoneout=zoneout, dtype="float64")
    layer.build((None, 3), np.random.default_rng(seed))
    plain = cls(6, return_state=True, dtype="float64").build((None, 3), np.random.default_rng(seed))
    plain.params = layer.params
    return layer, plain


def _candidate(plain, x_t, state):
    """One plain step from the zoned state: the candidate (h_t,) or (h_t, c_t), each (B, H)."""
    _, final = plain.forward(x_t[:, None], initial_state=tuple(s[None] for s in state) if len(state) > 1
                             else state[0][None])
    return tuple(f[0] for f in final) if isinstance(final, tuple) else (final[0],)


@pytest.mark.parametrize("cls, zoneout", [(LSTM, (0.2, 0.7)), (GRU, 0.3)], ids=["LSTM", "GRU"])
def test_inference_is_the_expectation(cls, zoneout):
    """s_t = p s_{t-1} + (1 - p) cand_t for every state vector, no randomness."""
    layer, plain = _pair(cls, zoneout)
    rates = layer.zoneout_rates
    x = rng.standard_normal((3, 7, 3))
    out, final = layer.forward(x)
    np.testing.assert_array_equal(layer.forward(x)[0], out)
    state = tuple(np.zeros((3, 6)) for _ in rates)
    for t in range(7):
        cand = _candidate(plain, x[:, t], state)
        state = tuple(p * s + (1 - p) * c for p, s, c in zip(rates, state, cand))
        np.testing.assert_allclose(out[:, t], state[0], rtol=0, atol=1e-13)
    last = final if isinstance(final, tuple) else (final,)
    for got, want in zip(last, state):
        np.testing.assert_allclose(got[0], want, rtol=0, atol=1e-13)


@pytest.mark.parametrize("cls, zoneout", [(LSTM, (0.3, 0.6)), (GRU, 0.4)], ids=["LSTM", "GRU"])
def test_training_keeps_or_updates_each_unit(cls, zoneout):
    """In training every unit of every state either keeps s_{t-1} (probability p) or takes the candidate."""
    layer, plain = _pair(cls, zoneout, seed=2)
    x = rng.standard_normal((64, 20, 3))
    out, _ = layer.forward(x, training=True)
    sweep = layer.last_sweep()
    state = tuple(s[0] for s in sweep.states)
    for p, states in zip(layer.zoneout_rates, sweep.states):
        kept = np.isclose(states[1:], states[:-1], rtol=0, atol=0)
        assert abs(kept.mean() - p) < 0.03
    for t in range(20):
        cand = _candidate(plain, x[:, t], state)
        new = tuple(s[t + 1] for s in sweep.states)
        for s_prev, s_cand, s_new in zip(state, cand, new):
            kept = s_new == s_prev
            np.testing.assert_allclose(s_new[~kept], s_cand[~kept], rtol=0, atol=1e-13)
        state = new
    np.testing.assert_array_equal(out.transpose(1, 0, 2), sweep.states[0][1:])   # the output is the zoned h
    assert not np.array_equal(layer.forward(x, training=True)[0], out)          # a fresh mask every call


def test_zero_rate_is_the_plain_layer():
    layer, plain = _pair(LSTM, 0.0)
    x = rng.standard_normal((2, 5, 3))
    plain.return_sequences = True
    np.testing.assert_array_equal(layer.forward(x, training=True)[0], plain.forward(x)[0])


@pytest.mark.parametrize("training", [False, True])
def test_masked_steps_change_nothing(training):
    layer = LSTM(3, bidirectional=True, return_sequences=True, return_state=True, zoneout=(0.3, 0.2),
                 dtype="float64").build((4, 3), np.random.default_rng(1))
    out, (h_n, c_n) = layer.forward(X, mask=MASK, training=training)
    np.testing.assert_array_equal(out[1, 3], 0.0)
    np.testing.assert_array_equal(h_n[0, 1], out[1, 2, :3])      # forward direction: the state of the last real step
    if not training:                                            # a padded sequence is the short sequence itself
        short, (_, c_s) = layer.forward(X[1:, :3])
        np.testing.assert_allclose(out[1, :3], short[0], rtol=0, atol=1e-14)
        np.testing.assert_allclose(c_n[:, 1], c_s[:, 0], rtol=0, atol=1e-14)


def test_rates_are_checked():
    with pytest.raises(ValueError, match="one rate"):
        GRU(3, zoneout=(0.1, 0.2))
    with pytest.raises(ValueError, match="pair"):
        LSTM(3, zoneout=(0.1,))
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        LSTM(3, zoneout=(0.1, 1.0))
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        SimpleRNN(3, zoneout=-0.1)
    assert LSTM(3, zoneout=[0.1, 0.2]).zoneout == (0.1, 0.2)


def test_a_small_model_trains(tmp_path):
    x = np.random.default_rng(0).standard_normal((512, 10, 4))
    y = (x[:, :, 0].sum(1) / 3 + x[:, -1, 1] * x[:, -2, 2])[:, None]
    for layer in (LSTM(16, zoneout=(0.1, 0.05)), GRU(16, zoneout=0.1)):
        model = lk.Sequential([layer, lk.layers.Dense(1)], seed=0)
        model.compile(loss="mse", optimizer=lk.optim.Adam(lr=1e-2))
        before = model.evaluate(x, y)["loss"]
        model.fit(x, y, epochs=10, batch_size=32, verbose=0)
        assert model.evaluate(x, y)["loss"] < 0.35 * before
        model.save(tmp_path / "zoneout.lstmkit")
        loaded = lk.load(tmp_path / "zoneout.lstmkit")
        assert loaded.layers[0].get_config() == model.layers[0].get_config()
        np.testing.assert_array_equal(loaded.predict(x[:5]), model.predict(x[:5]))
