"""Layer-normalised LSTM (Ba et al. 2016, haste's LayerNormLSTM): finite differences on both paths, compiled ==
reference, the equations checked against a plain NumPy loop, masking, training, and the model file round trip."""

import numpy as np
import pytest

import lstmkit as lk
from lstmkit.layers import LSTM

rng = np.random.default_rng(0)
X = rng.standard_normal((2, 4, 3))
MASK = np.array([[True] * 4, [True, True, True, False]])
VARIANTS = [{}, {"peephole": True, "proj_size": 2}, {"coupled": True}, {"forget_gate": False, "peephole": True}]


def _states(proj=3, n=4):
    return rng.standard_normal((n, 2, proj)), rng.standard_normal((n, 2, 3))


@pytest.mark.parametrize("implementation", ["compiled", "reference"])
def test_gradients_match_finite_differences(implementation):
    layer = LSTM(3, num_layers=2, bidirectional=True, return_state=True, layer_norm=True,
                 implementation=implementation)
    result = lk.gradcheck(layer, X, mask=MASK, initial_state=_states(), training=True)
    assert result.max_error < 1e-6, result.errors
    checked = {"weight_ln_ih_l1_reverse", "weight_ln_hh_l0", "weight_ln_c_l1", "bias_ln_c_l0_reverse"}
    assert checked <= set(result.errors)


@pytest.mark.parametrize("implementation", ["compiled", "reference"])
@pytest.mark.parametrize("variant", VARIANTS[1:], ids=lambda v: ",".join(v))
def test_variants_match_finite_differences(variant, implementation):
    layer = LSTM(3, return_sequences=True, return_state=True, layer_norm=True, implementation=implementation,
                 **variant)
    layer.build((4, 3), np.random.default_rng(3))
    for name, p in layer.params.items():                  # move the gains and shifts away from 1 and 0
        if "_ln_" in name:
            p += 0.3 * rng.standard_normal(p.shape)
    result = lk.gradcheck(layer, X, mask=MASK, initial_state=_states(variant.get("proj_size", 3), 1))
    assert result.max_error < 1e-6, result.errors


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: ",".join(v) or "plain")
def test_compiled_equals_reference(variant):
    results = []
    for implementation in ("reference", "compiled"):
        layer = LSTM(3, num_layers=2, bidirectional=True, return_sequences=True, layer_norm=True,
                     implementation=implementation, dtype="float64", **variant)
        layer.build((4, 3), np.random.default_rng(5))
        for name, p in layer.params.items():
            if "_ln_" in name:
                p += 0.3 * np.random.default_rng(6).standard_normal(p.shape)
        out = layer.forward(X, mask=MASK)
        dx = layer.backward(np.cos(out))
        results.append([out, dx] + [layer.grads[k] for k in sorted(layer.grads)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def _ln(z, gain, shift=0.0):
    """LN over the last axis, written out: (z - mean) / sqrt(var + 1e-5) * gain + shift."""
    return (z - z.mean(-1, keepdims=True)) / np.sqrt(z.var(-1, keepdims=True) + 1e-5) * gain + shift


def _sigma(v):
    return 1.0 / (1.0 + np.exp(-v))


@pytest.mark.parametrize("implementation", ["compiled", "reference"])
def test_equations(implementation):
    """H_t = LN_ih(W_ih x_t) + b_ih + LN_hh(W_hh h_{t-1}) + b_hh; c_t = f c_{t-1} + i g; h_t = o tanh(LN_c(c_t))."""
    layer = LSTM(4, return_sequences=True, return_state=True, layer_norm=True, implementation=implementation,
                 dtype="float64").build((5, 3), np.random.default_rng(2))
    p = {k: v + 0.2 * rng.standard_normal(v.shape) if "_ln_" in k else v for k, v in layer.params.items()}
    layer.params.update(p)
    x = rng.standard_normal((3, 5, 3))
    out, (_, c_n) = layer.forward(x)
    h, c = np.zeros((3, 4)), np.zeros((3, 4))
    for t in range(5):
        pre = (_ln(x[:, t] @ p["weight_ih_l0"].T, p["weight_ln_ih_l0"]) + p["bias_ih_l0"]
               + _ln(h @ p["weight_hh_l0"].T, p["weight_ln_hh_l0"]) + p["bias_hh_l0"])
        i, f, g, o = _sigma(pre[:, :4]), _sigma(pre[:, 4:8]), np.tanh(pre[:, 8:12]), _sigma(pre[:, 12:])
        c = f * c + i * g
        h = o * np.tanh(_ln(c, p["weight_ln_c_l0"], p["bias_ln_c_l0"]))
        np.testing.assert_allclose(out[:, t], h, rtol=0, atol=1e-13)
    np.testing.assert_allclose(c_n[0], c, rtol=0, atol=1e-13)


def test_parameters_and_initialisation():
    layer = LSTM(5, num_layers=2, bidirectional=True, layer_norm=True).build((None, 2), np.random.default_rng(0))
    assert layer.params["weight_ln_ih_l1_reverse"].shape == (20,)
    assert layer.params["weight_ln_hh_l0"].shape == (20,)
    assert layer.params["weight_ln_c_l0"].shape == (5,) and layer.params["bias_ln_c_l1"].shape == (5,)
    np.testing.assert_array_equal(layer.params["weight_ln_hh_l1"], 1.0)
    np.testing.assert_array_equal(layer.params["bias_ln_c_l0_reverse"], 0.0)
    coupled = LSTM(5, layer_norm=True, coupled=True).build((None, 2), np.random.default_rng(0))
    assert coupled.params["weight_ln_ih_l0"].shape == (15,)
    assert "weight_ln_ih_l0" not in LSTM(5).build((None, 2)).params


def test_float32_compiled_is_close_to_float64():
    layer = LSTM(8, return_sequences=True, layer_norm=True).build((6, 3), np.random.default_rng(0))
    x = rng.standard_normal((4, 6, 3))
    out32 = layer.forward(x.astype(np.float32))
    dx32 = layer.backward(np.ones_like(out32))
    layer.to("float64")
    out64 = layer.forward(x)
    dx64 = layer.backward(np.ones_like(out64))
    np.testing.assert_allclose(out32, out64, atol=2e-6)
    np.testing.assert_allclose(dx32, dx64, rtol=1e-5, atol=2e-5)      # float32 rounding, FMA-contracted


def test_masked_steps_change_nothing():
    """A right-padded sequence gives the outputs and final states of the unpadded one, zeros on its pads."""
    layer = LSTM(3, bidirectional=True, return_sequences=True, return_state=True, layer_norm=True,
                 dtype="float64").build((4, 3), np.random.default_rng(1))
    out, (h_n, c_n) = layer.forward(X, mask=MASK)
    short, (h_s, c_s) = layer.forward(X[1:, :3])
    np.testing.assert_allclose(out[1, :3], short[0], rtol=0, atol=1e-14)
    np.testing.assert_array_equal(out[1, 3], 0.0)
    np.testing.assert_allclose(h_n[:, 1], h_s[:, 0], rtol=0, atol=1e-14)
    np.testing.assert_allclose(c_n[:, 1], c_s[:, 0], rtol=0, atol=1e-14)


def test_a_small_model_trains(tmp_path):
    """A sum over time and a product of two late inputs, from 4 features (with one feature, LN_ih(W_ih x_t)
    would keep only the sign of x_t)."""
    x = np.random.default_rng(0).standard_normal((512, 10, 4))
    y = (x[:, :, 0].sum(1) / 3 + x[:, -1, 1] * x[:, -2, 2])[:, None]
    model = lk.Sequential([LSTM(16, layer_norm=True), lk.layers.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer=lk.optim.Adam(lr=1e-2))
    before = model.evaluate(x, y)["loss"]
    model.fit(x, y, epochs=10, batch_size=32, verbose=0)
    assert model.evaluate(x, y)["loss"] < 0.35 * before
    model.save(tmp_path / "ln.lstmkit")
    loaded = lk.load(tmp_path / "ln.lstmkit")
    assert loaded.layers[0].layer_norm is True
    assert loaded.layers[0].get_config() == model.layers[0].get_config()
    np.testing.assert_array_equal(loaded.predict(x[:5]), model.predict(x[:5]))
