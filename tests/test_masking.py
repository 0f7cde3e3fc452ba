"""Masking in a Sequential model: padded steps change neither outputs, states, gradients nor the loss."""

import numpy as np
import pytest

import lstmkit as lk
from lstmkit.layers import GRU, LSTM, Dense, Masking

rng = np.random.default_rng(0)
LENGTHS = np.array([7, 4, 2, 6])


def padded(feature=3, T=7):
    x = rng.standard_normal((len(LENGTHS), T, feature))
    for b, n in enumerate(LENGTHS):
        x[b, n:] = 0.0
    return x


def test_masking_layer_zeroes_and_derives_the_mask():
    x = padded()
    layer = Masking()
    out = layer.forward(x)
    np.testing.assert_array_equal(layer.compute_mask(x), np.arange(7)[None] < LENGTHS[:, None])
    np.testing.assert_array_equal(out, x.astype(np.float32))
    dy = rng.standard_normal(x.shape)
    keep = (np.arange(7)[None] < LENGTHS[:, None])[..., None]
    np.testing.assert_array_equal(layer.backward(dy), (dy * keep).astype(np.float32))   # the mask is a constant


@pytest.mark.parametrize("cell", [LSTM, GRU])
def test_padded_batch_equals_each_sequence_alone(cell):
    x = padded()
    model = lk.Sequential([Masking(), cell(5, dtype="float64"), Dense(2, dtype="float64")], seed=0).build((7, 3))
    out = model.predict(x)
    for b, n in enumerate(LENGTHS):
        alone = model.predict(x[b:b + 1, :n])
        np.testing.assert_allclose(out[b], alone[0], rtol=1e-12)


def test_loss_and_gradients_ignore_padded_steps():
    """A per-step model: garbage targets on padded steps change nothing."""
    x = padded()
    y = rng.standard_normal((4, 7, 1))
    y_other = y.copy()
    y_other[np.arange(7)[None] >= LENGTHS[:, None]] = 1e3
    grads = []
    for target in (y, y_other):
        model = lk.Sequential([Masking(), LSTM(4, return_sequences=True, dtype="float64"),
                               Dense(1, dtype="float64")], seed=0)
        model.compile(loss="mse", optimizer="sgd")
        loss = model._gradients(model._check_x(x, "x"), target)
        grads.append((loss, {k: g.copy() for k, g in model.gradients().items()}))
        assert model.evaluate(x, target)["loss"] == pytest.approx(loss, rel=1e-9)
    assert grads[0][0] == grads[1][0]
    for k in grads[0][1]:
        np.testing.assert_array_equal(grads[0][1][k], grads[1][1][k])


def test_masked_model_trains_and_saves(tmp_path):
    x = padded()
    y = np.array([x[b, :n, 0].sum() for b, n in enumerate(LENGTHS)])[:, None]
    model = lk.Sequential([Masking(), GRU(8), Dense(1)], seed=0)
    model.compile(loss="mse", optimizer=lk.optim.Adam(lr=1e-2))
    history = model.fit(x, y, epochs=30, batch_size=4, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.save(tmp_path / "m.lstmkit")
    np.testing.assert_array_equal(lk.load(tmp_path / "m.lstmkit").predict(x), model.predict(x))


def test_bad_mask_value():
    with pytest.raises(ValueError, match="mask_value"):
        Masking(float("nan"))
