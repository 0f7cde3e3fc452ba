"""Real-time recurrent learning (lk.rtrl): the gradient carried forward in time equals BPTT's for every cell, in
float64, to 1e-13 (relative to the largest gradient entry of each parameter; the README states this figure),
from zero and from nonzero initial states; the dense reference agrees; a model trained with update="sequence" moves exactly as BPTT's
`train_on_batch`; online learning (update="step") learns a delayed copy; the sensitivities take the documented
B * S * |theta| numbers; unsupported layers fail with a clear error.

Run with `pytest -s` to print the largest RTRL-vs-BPTT error per cell.
"""

from collections import defaultdict

import numpy as np
import pytest

import lstmkit as lk
from lstmkit.layers import GRU, LSTM, Dense, SimpleRNN
from lstmkit.training.rtrl import RTRL, OnlineLearner, fit_online, reference_gradients, sensitivity_nbytes

TOL = 1e-13                             # largest measured: 1.5e-15 (rnn-tanh)
B, T, I, H = 3, 6, 4, 5                 # batch, time, input features, hidden units
MAX_ERROR = defaultdict(float)          # cell -> largest relative RTRL-vs-BPTT error seen

CELLS = {
    "rnn-tanh": lambda hidden=H, **kw: SimpleRNN(hidden, **kw),
    "rnn-relu": lambda hidden=H, **kw: SimpleRNN(hidden, nonlinearity="relu", **kw),
    "lstm": lambda hidden=H, **kw: LSTM(hidden, **kw),
    "lstm-peephole": lambda hidden=H, **kw: LSTM(hidden, peephole=True, **kw),
    "lstm-1997": lambda hidden=H, **kw: LSTM(hidden, forget_gate=False, **kw),
    "lstm-cifg-peephole": lambda hidden=H, **kw: LSTM(hidden, coupled=True, peephole=True, **kw),
    "gru": lambda hidden=H, **kw: GRU(hidden, **kw),
}


@pytest.fixture(scope="module", autouse=True)
def report_errors():
    yield
    print("\nlargest RTRL-vs-BPTT relative error per cell (float64):")
    for name, err in sorted(MAX_ERROR.items()):
        print(f"  {name:18s} {err:.2e}")


def random_layer(cell, seed=0, **kw):
    """A built float64 layer with weights ~ N(0, 0.6^2): large enough that every gate works away from 0."""
    layer = CELLS[cell](return_sequences=True, dtype="float64", **kw).build((T, I), np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 1)
    for p in layer.params.values():
        p[...] = 0.6 * rng.standard_normal(p.shape)
    return layer


def random_initial_state(layer, rng):
    h0 = rng.standard_normal((1, B, H))
    return (h0, rng.standard_normal((1, B, H))) if isinstance(layer, LSTM) else h0


def bptt_gradients(layer, x, R, initial_state=None):
    """The gradient of L = sum_t <R_t, h_t> from the layer's own forward + backward."""
    layer.forward(x, initial_state=initial_state)
    layer.backward(R)
    return {name: g.copy() for name, g in layer.grads.items()}


def rtrl_gradients(layer, x, R, initial_state=None):
    layer.zero_grad()
    rtrl = RTRL(layer).reset(len(x), initial_state)
    for t in range(x.shape[1]):
        rtrl.step(x[:, t], R[:, t])              # dL/dh_t = R_t
    return {name: g.copy() for name, g in layer.grads.items()}


def relative_errors(got, want):
    return {name: float(np.max(np.abs(got[name] - want[name])) / np.max(np.abs(want[name]))) for name in want}


@pytest.mark.parametrize("initial", ["zero", "random"])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_rtrl_equals_bptt(cell, initial):
    rng = np.random.default_rng(2)
    layer = random_layer(cell)
    x, R = rng.standard_normal((B, T, I)), rng.standard_normal((B, T, H))
    state0 = random_initial_state(layer, rng) if initial == "random" else None
    want = bptt_gradients(layer, x, R, state0)
    errors = relative_errors(rtrl_gradients(layer, x, R, state0), want)
    MAX_ERROR[cell] = max(MAX_ERROR[cell], max(errors.values()))
    assert set(errors) == set(layer.params)
    assert max(errors.values()) < TOL, errors
    assert max(relative_errors(reference_gradients(layer, x, R, state0), want).values()) < TOL


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_rtrl_state_equals_forward(cell):
    """The hidden states RTRL produces step by step are the layer's own outputs."""
    rng = np.random.default_rng(3)
    layer = random_layer(cell)
    x = rng.standard_normal((B, T, I))
    out = layer.forward(x)
    rtrl = RTRL(layer).reset(B)
    steps = np.stack([rtrl.step(x[:, t]).copy() for t in range(T)], axis=1)
    np.testing.assert_allclose(steps, out, rtol=0, atol=1e-13)


def test_rtrl_float32_close_to_bptt():
    rng = np.random.default_rng(4)
    layer = LSTM(H, return_sequences=True).build((T, I), np.random.default_rng(0))      # float32, PyTorch init
    x, R = rng.standard_normal((B, T, I)).astype("float32"), rng.standard_normal((B, T, H)).astype("float32")
    errors = relative_errors(rtrl_gradients(layer, x, R), bptt_gradients(layer, x, R))
    assert max(errors.values()) < 1e-4, errors


def test_reset_starts_afresh():
    """Two sequences run one after the other, with reset between, sum to the gradient of both."""
    rng = np.random.default_rng(5)
    layer = random_layer("gru")
    x, R = rng.standard_normal((B, T, I)), rng.standard_normal((B, T, H))
    want = bptt_gradients(layer, x, R)
    layer.zero_grad()
    rtrl = RTRL(layer)
    for b in range(B):                                      # one sequence at a time, grads accumulate
        rtrl.reset(1)
        for t in range(T):
            rtrl.step(x[b:b + 1, t], R[b:b + 1, t])
    assert max(relative_errors(layer.grads, want).values()) < TOL


@pytest.mark.parametrize("rs", [True, False], ids=["per-step-targets", "last-step-target"])
@pytest.mark.parametrize("cell", ["rnn-tanh", "lstm", "gru"])
def test_sequence_update_is_bptt_train_on_batch(cell, rs):
    """update="sequence": RTRL through a Dense read-out gives BPTT's step, so the weights after one
    train_on_batch agree to rounding."""
    rng = np.random.default_rng(6)
    models = []
    for _ in range(2):
        model = lk.Sequential([CELLS[cell](return_sequences=rs, dtype="float64"), Dense(2, dtype="float64")], seed=0)
        model.compile(loss="mse", optimizer=lk.optim.SGD(lr=0.5))
        models.append(model)
    x = rng.standard_normal((B, T, I))
    y = rng.standard_normal((B, T, 2) if rs else (B, 2))
    loss_bptt = models[0].train_on_batch(x, y)
    loss_rtrl = OnlineLearner(models[1], update="sequence").train_on_batch(x, y)
    assert loss_rtrl == pytest.approx(loss_bptt, rel=1e-12)
    before = lk.Sequential([CELLS[cell](return_sequences=rs, dtype="float64"), Dense(2, dtype="float64")], seed=0)
    before.build((T, I))
    moved = 0.0
    for name, p in models[0].parameters().items():
        np.testing.assert_allclose(models[1].parameters()[name], p, rtol=0, atol=1e-12)
        moved = max(moved, np.max(np.abs(p - before.parameters()[name])))
    assert moved > 1e-3                                     # the step really changed the weights


@pytest.mark.parametrize("loss", ["mse", "sparse_categorical_crossentropy"])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_learner_gradients_equal_model_backward(cell, loss):
    """OnlineLearner.gradients fills every layer's grads with the model's BPTT gradient and leaves the weights."""
    rng = np.random.default_rng(7)
    model = lk.Sequential([CELLS[cell](return_sequences=True, dtype="float64"), Dense(3, dtype="float64")], seed=0)
    model.compile(loss=loss, optimizer="sgd")
    x = rng.standard_normal((B, T, I))
    y = rng.integers(0, 3, (B, T)) if loss.startswith("sparse") else rng.standard_normal((B, T, 3))
    out = model.forward(x)
    want_loss, dout = model.loss.value_and_grad(out, y)
    model.backward(dout)
    want = {k: g.copy() for k, g in model.gradients().items()}
    weights = {k: p.copy() for k, p in model.parameters().items()}
    got_loss = OnlineLearner(model, update="sequence").gradients(x, y)
    assert got_loss == pytest.approx(want_loss, rel=1e-12)
    errors = relative_errors(model.gradients(), want)
    assert max(errors.values()) < TOL, errors
    for k, p in model.parameters().items():
        np.testing.assert_array_equal(p, weights[k])


def delayed_copy(n, T, delay=2, seed=0):
    """x_t = +-1 at random, y_t = x_{t-delay} (0 before): the network must remember two steps."""
    x = np.random.default_rng(seed).choice([-1.0, 1.0], (n, T, 1)).astype("float32")
    y = np.zeros_like(x)
    y[:, delay:] = x[:, :-delay]
    return x, y


@pytest.mark.parametrize("cell", ["rnn-tanh", "lstm", "gru"])
def test_online_learning_learns_delayed_copy(cell):
    """One stream of 600 steps, an Adam update after every step, no stored history."""
    model = lk.Sequential([CELLS[cell](8, return_sequences=True), Dense(1)], seed=0)
    model.compile(loss="mse", optimizer=lk.optim.Adam(lr=0.03))
    x_val, y_val = delayed_copy(16, 20, seed=1)
    model.build((None, 1))
    before = model.evaluate(x_val, y_val)["loss"]
    learner = OnlineLearner(model)
    x, y = delayed_copy(1, 600, seed=2)
    learner.reset(1)
    losses = [learner.step(x[:, t], y[:, t])[1] for t in range(600)]
    after = model.evaluate(x_val, y_val)["loss"]
    assert after < 0.1 * before, (before, after)
    assert np.mean(losses[-100:]) < 0.2 * np.mean(losses[:100])


def test_fit_online_reduces_loss():
    model = lk.Sequential([GRU(8, return_sequences=True), Dense(1)], seed=0)
    model.compile(loss="mse", optimizer=lk.optim.Adam(lr=0.01))
    x, y = delayed_copy(20, 12, delay=1, seed=3)
    history = fit_online(model, x, y, epochs=3, batch_size=4)
    assert len(history.history["loss"]) == 3
    assert history.history["loss"][-1] < 0.6 * history.history["loss"][0]


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_sensitivity_memory_formula(cell):
    """P takes B * S * |theta| numbers: S = 2H for the LSTM (h and c), H otherwise; |theta| = G*H*(I + H + 2),
    plus R*H peepholes (R = 3, or 2 without a forget-gate block)."""
    layer = random_layer(cell)
    G = {"lstm": 4, "lstm-peephole": 4, "lstm-1997": 3, "lstm-cifg-peephole": 3, "gru": 3}.get(cell, 1)
    S = 2 * H if cell.startswith("lstm") else H
    n_theta = G * H * (I + H + 2) + {"lstm-peephole": 3 * H, "lstm-cifg-peephole": 2 * H}.get(cell, 0)
    assert n_theta == layer.num_params()
    rtrl = RTRL(layer).reset(B)
    assert rtrl.P.shape == (B, S, n_theta)
    assert rtrl.nbytes == sensitivity_nbytes(layer, B) == B * S * n_theta * 8


def test_unsupported_layers_are_refused():
    with pytest.raises(ValueError, match="single-layer, unidirectional"):
        RTRL(LSTM(H, num_layers=2).build((T, I)))
    with pytest.raises(ValueError, match="single-layer, unidirectional"):
        RTRL(GRU(H, bidirectional=True).build((T, I)))
    with pytest.raises(ValueError, match="built"):
        RTRL(LSTM(H))
    with pytest.raises(TypeError, match="SimpleRNN, LSTM or GRU"):
        RTRL(Dense(H).build((I,)))
    model = lk.Sequential([Dense(H), LSTM(H)])
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(TypeError, match="first layer"):
        OnlineLearner(model)
    with pytest.raises(ValueError, match="compile"):
        OnlineLearner(lk.Sequential([LSTM(H), Dense(1)]))


def test_bad_shapes_are_refused():
    layer = random_layer("lstm")
    rtrl = RTRL(layer).reset(B)
    with pytest.raises(ValueError, match=r"x_t must have shape"):
        rtrl.step(np.zeros((B, I + 1)))
    rtrl.step(np.zeros((B, I)))
    with pytest.raises(ValueError, match=r"dh .* must have shape"):
        rtrl.accumulate(np.zeros((B, H + 1)))
    with pytest.raises(ValueError, match="initial_state"):
        rtrl.reset(B, np.zeros((1, B, H)))                  # the LSTM needs (h_0, c_0)
    model = lk.Sequential([GRU(H, return_sequences=True), Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match="a target for every step"):
        OnlineLearner(model).train_on_batch(np.zeros((B, T, I)), np.zeros((B, 1)))
