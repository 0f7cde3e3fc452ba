"""lk.diagnostics: dL/dh_t per step equals PyTorch's gradient of each step's hidden state (a cell loop with
retain_grad), and the untrained Elman RNN's gradient vanishes with the distance from the loss far faster than
the LSTM's with forget_bias=1."""

import numpy as np
import pytest

import lstmkit as lk
from lstmkit.training.diagnostics import gradient_norms, state_gradients
from lstmkit.layers import GRU, LSTM, Dense, SimpleRNN

B, T, I, H = 2, 6, 3, 4


def torch_state_gradients(model, x, y):
    """dL/dh_t from a torch cell loop over the same weights, each h_t kept with retain_grad (MSE loss)."""
    torch = pytest.importorskip("torch")
    layer, dense = model.layers
    cell = {SimpleRNN: torch.nn.RNNCell, LSTM: torch.nn.LSTMCell, GRU: torch.nn.GRUCell}[type(layer)](I, H).double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(torch.tensor(layer.params[name + "_l0"]))
    W, b = torch.tensor(dense.params["weight"]), torch.tensor(dense.params["bias"])
    xt = torch.tensor(x)
    h = c = torch.zeros(B, H, dtype=torch.float64)
    hs = []
    for t in range(T):
        if isinstance(layer, LSTM):
            h, c = cell(xt[:, t], (h, c))
        else:
            h = cell(xt[:, t], h)
        h.retain_grad()
        hs.append(h)
    out = (torch.stack(hs, 1) if layer.return_sequences else hs[-1]) @ W.T + b
    ((out - torch.tensor(y)) ** 2).mean().backward()
    return np.stack([h.grad.numpy() for h in hs], axis=1)


@pytest.mark.parametrize("rs", [True, False], ids=["per-step-loss", "last-step-loss"])
@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_state_gradients_match_torch(cls, rs):
    rng = np.random.default_rng(0)
    model = lk.Sequential([cls(H, return_sequences=rs, dtype="float64"), Dense(2, dtype="float64")], seed=0)
    model.compile(loss="mse")
    x = rng.standard_normal((B, T, I))
    y = rng.standard_normal((B, T, 2) if rs else (B, 2))
    got = state_gradients(model, x, y)
    want = torch_state_gradients(model, x, y)
    assert got.shape == (B, T, H)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * np.abs(want).max())
    np.testing.assert_allclose(gradient_norms(model, x, y), np.linalg.norm(want, axis=-1).mean(axis=0), rtol=1e-10)


def test_elman_gradient_vanishes_faster_than_lstm():
    """Untrained, loss on the last step: over 20 steps back the Elman RNN's ||dL/dh_t|| falls by orders of
    magnitude more than the LSTM's (forget gate near sigma(1) = 0.73)."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 40, 2)), rng.standard_normal((8, 1))
    decay = {}
    for layer in (SimpleRNN(32), LSTM(32, forget_bias=1.0)):
        model = lk.Sequential([layer, Dense(1)], seed=0)
        model.compile(loss="mse")
        norms = gradient_norms(model, x, y)
        assert norms.shape == (40,) and np.all(norms > 0)
        decay[type(layer).__name__] = norms[-21] / norms[-1]          # 20 steps back from the loss
    assert decay["SimpleRNN"] < 1e-3 < decay["LSTM"], decay
    assert decay["LSTM"] > 30 * decay["SimpleRNN"], decay


def test_unsupported_models_are_refused():
    model = lk.Sequential([LSTM(H, num_layers=2), Dense(1)])
    model.compile(loss="mse")
    with pytest.raises(ValueError, match="single-layer"):
        gradient_norms(model, np.zeros((B, T, I)), np.zeros((B, 1)))
    model = lk.Sequential([Dense(H), Dense(1)])
    model.compile(loss="mse")
    with pytest.raises(TypeError, match="first layer"):
        gradient_norms(model, np.zeros((B, T, I)), np.zeros((B, T, 1)))
    with pytest.raises(ValueError, match="compile"):
        gradient_norms(lk.Sequential([GRU(H), Dense(1)]), np.zeros((B, T, I)), np.zeros((B, 1)))


def test_stateful_layer_keeps_its_carried_states():
    rng = np.random.default_rng(1)
    model = lk.Sequential([LSTM(H, stateful=True), Dense(1)], seed=0)
    model.compile(loss="mse")
    x, y = rng.standard_normal((B, T, I)), rng.standard_normal((B, 1))
    model.build((T, I))
    model.layers[0].forward(x)                                        # the layer now carries states
    carried = tuple(s.copy() for s in model.layers[0].states)
    norms = gradient_norms(model, x, y)
    assert norms.shape == (T,)
    for before, after in zip(carried, model.layers[0].states):
        np.testing.assert_array_equal(before, after)
