"""Variational dropout (Gal & Ghahramani 2016): `recurrent_dropout` on h_{t-1} before W_hh and `input_dropout` on
x_t, one mask per sequence, layer and direction. Finite differences with the mask replayed on both paths,
compiled == reference, the equations checked against the plain layer, identity at inference, training, files."""

import numpy as np
import pytest

import lstmkit as lk
from lstmkit.layers import GRU, LSTM, SimpleRNN

rng = np.random.default_rng(0)
X = rng.standard_normal((2, 4, 3))
MASK = np.array([[True] * 4, [True, True, True, False]])
CELLS = [SimpleRNN, LSTM, GRU]
DROP = {"recurrent_dropout": 0.3, "input_dropout": 0.4}


def _state(cls, n, width=3):
    h = rng.standard_normal((n, 2, width))
    return (h, rng.standard_normal((n, 2, 3))) if cls is LSTM else h


@pytest.mark.parametrize("implementation", ["compiled", "reference"])
@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_gradients_match_finite_differences(cls, implementation):
    layers = 2 if cls is LSTM else 1
    layer = cls(3, num_layers=layers, bidirectional=True, return_state=True, dropout=0.2,
                implementation=implementation, **DROP)
    result = lk.gradcheck(layer, X, mask=MASK, initial_state=_state(cls, 2 * layers), training=True)
    assert result.max_error < 1e-6, result.errors


@pytest.mark.parametrize("implementation", ["compiled", "reference"])
def test_projected_lstm_matches_finite_differences(implementation):
    """With proj_size the recurrent mask is (B, P), on the projected h_{t-1}."""
    layer = LSTM(3, proj_size=2, return_sequences=True, return_state=True, implementation=implementation, **DROP)
    result = lk.gradcheck(layer, X, mask=MASK, initial_state=_state(LSTM, 1, 2), training=True)
    assert result.max_error < 1e-6, result.errors


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_compiled_equals_reference(cls):
    results = []
    for implementation in ("reference", "compiled"):
        layer = cls(3, num_layers=2, bidirectional=True, return_sequences=True, dropout=0.2,
                    implementation=implementation, dtype="float64", **DROP)
        layer.build((4, 3), np.random.default_rng(5))               # the same weights and the same masks
        out = layer.forward(X, mask=MASK, training=True)
        dx = layer.backward(np.cos(out))
        results.append([out, dx] + [layer.grads[k] for k in sorted(layer.grads)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("implementation", ["compiled", "reference"])
@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_equations_against_the_plain_layer(cls, implementation):
    """Row b of the output is the plain layer run on x_b * keep_x[b] with W_hh's columns scaled by keep_h[b]:
    only W_hh h_{t-1} sees the mask (not the LSTM's c_{t-1}, not the GRU's z * h_{t-1}), the same at every step."""
    layer = cls(5, return_sequences=True, implementation=implementation, dtype="float64", **DROP)
    layer.build((6, 3), np.random.default_rng(1))
    x = rng.standard_normal((4, 6, 3))
    out = layer.forward(x, training=True)
    sweep = layer.last_sweep()
    for keep, p, shape in ((sweep.keep_x, 0.4, (4, 3)), (sweep.keep_h, 0.3, (4, 5))):
        assert keep.shape == shape
        assert set(np.unique(keep)) <= {0.0, 1 / (1 - p)}
    plain = cls(5, return_sequences=True, dtype="float64").build((6, 3), np.random.default_rng(1))
    for b in range(4):
        plain.params = dict(layer.params, weight_hh_l0=layer.params["weight_hh_l0"] * sweep.keep_h[b])
        want = plain.forward(x[b:b + 1] * sweep.keep_x[b])
        np.testing.assert_allclose(out[b:b + 1], want, rtol=0, atol=1e-13)


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_identity_at_inference(cls):
    layer = cls(4, num_layers=2, bidirectional=True, return_sequences=True, **DROP)
    layer.build((5, 3), np.random.default_rng(2))
    plain = cls(4, num_layers=2, bidirectional=True, return_sequences=True).build((5, 3), np.random.default_rng(2))
    x = rng.standard_normal((3, 5, 3))
    np.testing.assert_array_equal(layer.forward(x), plain.forward(x))
    assert not np.array_equal(layer.forward(x, training=True), plain.forward(x))


def test_masks_are_per_sequence_layer_and_direction():
    layer = LSTM(4, num_layers=2, bidirectional=True, **DROP).build((5, 3), np.random.default_rng(3))
    layer.forward(rng.standard_normal((16, 5, 3)), training=True)
    keeps = [layer.last_sweep(k, d).keep_h for k in range(2) for d in range(2)]
    assert len({k.tobytes() for k in keeps}) == 4
    shapes = [layer.last_sweep(k, d).keep_x.shape for k in range(2) for d in range(2)]
    assert shapes == [(16, 3), (16, 3), (16, 8), (16, 8)]
    assert abs(np.mean(np.concatenate(keeps) == 0) - 0.3) < 0.1


def test_masked_steps_change_nothing():
    layer = GRU(3, return_sequences=True, return_state=True, dtype="float64", **DROP)
    layer.build((4, 3), np.random.default_rng(1))
    out, h_n = layer.forward(X, mask=MASK, training=True)
    np.testing.assert_array_equal(out[1, 3], 0.0)
    np.testing.assert_array_equal(h_n[0, 1], out[1, 2])


def test_rates_are_checked():
    with pytest.raises(ValueError, match="recurrent_dropout"):
        LSTM(3, recurrent_dropout=1.0)
    with pytest.raises(ValueError, match="input_dropout"):
        GRU(3, input_dropout=-0.5)


def test_a_small_model_trains(tmp_path):
    x = np.random.default_rng(0).standard_normal((512, 10, 4))
    y = (x[:, :, 0].sum(1) / 3 + x[:, -1, 1] * x[:, -2, 2])[:, None]
    for layer in (LSTM(16, recurrent_dropout=0.2, input_dropout=0.1), GRU(16, recurrent_dropout=0.2)):
        model = lk.Sequential([layer, lk.layers.Dense(1)], seed=0)
        model.compile(loss="mse", optimizer=lk.optim.Adam(lr=1e-2))
        before = model.evaluate(x, y)["loss"]
        model.fit(x, y, epochs=10, batch_size=32, verbose=0)
        assert model.evaluate(x, y)["loss"] < 0.35 * before
        model.save(tmp_path / "dropout.lstmkit")
        loaded = lk.load(tmp_path / "dropout.lstmkit")
        assert loaded.layers[0].get_config() == model.layers[0].get_config()
        np.testing.assert_array_equal(loaded.predict(x[:5]), model.predict(x[:5]))
