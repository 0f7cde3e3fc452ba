"""Hand-derived backward passes against central finite differences (float64, `lk.gradcheck`) for every layer and
every option that changes the recurrent math, plus constant-weight golden values computed here by a slow,
obvious per-step loop written from the equations of DESIGN.md section 2 (these run without torch).

Shapes stay tiny (B <= 3, T <= 5, H <= 4): gradcheck costs 2 * (#params + #inputs) forward passes.
Run with `pytest -s` to print the largest finite-difference error per layer type.
"""

import itertools
from collections import defaultdict

import numpy as np
import pytest

import lstmkit as lk
from lstmkit.layers import GRU, LSTM, Dense, Dropout, Embedding, SimpleRNN

TOL = 1e-6
B, T, I, H = 2, 4, 3, 3                 # batch, time, input features, hidden units
MAX_ERROR = defaultdict(float)          # layer type -> largest gradcheck error seen


@pytest.fixture(scope="module", autouse=True)
def report_errors():
    yield
    print("\nlargest gradcheck error per layer type:")
    for name, err in sorted(MAX_ERROR.items()):
        print(f"  {name:16s} {err:.2e}")


def data(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def expected_recurrent_names(num_layers, bidirectional):
    """PyTorch's state_dict keys, written out independently of the library."""
    names = set()
    for k in range(num_layers):
        for suffix in ([f"_l{k}", f"_l{k}_reverse"] if bidirectional else [f"_l{k}"]):
            names |= {w + suffix for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    return names


def check(layer, x, label, expected_names=None, **kwargs):
    """Run gradcheck on a seeded, built layer; assert every parameter was checked and all errors are small."""
    if not layer.built:
        layer.build(np.shape(x)[1:], np.random.default_rng(1))
    names = set(layer.params)
    if expected_names is not None:
        assert names == set(expected_names)
    result = lk.gradcheck(layer, x, **kwargs)
    assert names <= set(result.errors), f"unchecked parameters: {names - set(result.errors)}"
    if np.asarray(x).dtype.kind == "f":
        assert "input" in result.errors
    MAX_ERROR[label] = max(MAX_ERROR[label], result.max_error)
    worst = max(result.errors, key=result.errors.get)
    assert result.max_error < TOL, f"{label}: worst {worst} error {result.max_error:.3e} ({result.errors})"
    assert result.passed(TOL)
    return result


# ---- feed-forward layers ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(B, I), (B, T, I)], ids=["2d", "3d"])
@pytest.mark.parametrize("use_bias", [True, False])
def test_dense(shape, use_bias):
    layer = Dense(4, use_bias=use_bias)
    check(layer, data(*shape), "Dense", expected_names={"weight", "bias"} if use_bias else {"weight"})


@pytest.mark.parametrize("shape", [(B,), (B, T)], ids=["1d", "2d"])
def test_embedding(shape):
    ids = np.random.default_rng(0).integers(0, 5, size=shape)
    ids.flat[0] = ids.flat[-1]                           # a repeated id: its row's gradient is a sum
    result = check(Embedding(5, 3), ids, "Embedding", expected_names={"weight"})
    assert "input" not in result.errors                  # token ids have no gradient


def test_embedding_padding_row_gets_exactly_zero_gradient():
    layer = Embedding(6, 3, padding_idx=2, dtype="float64")
    ids = np.array([[2, 1, 2, 0], [3, 2, 2, 5]])
    out = layer.forward(ids)
    assert np.all(out[ids == 2] == 0.0)                  # the padding row starts at zero
    layer.backward(data(*out.shape))
    grad = layer.grads["weight"]
    assert np.all(grad[2] == 0.0)
    for used in (0, 1, 3, 5):
        assert np.any(grad[used] != 0.0)
    assert np.all(grad[4] == 0.0)                        # an unused id gets no gradient either
    # every other row gets the sum of the output gradients at its positions
    dy = data(*out.shape)
    layer.backward(dy)
    np.testing.assert_allclose(layer.grads["weight"][3], dy[1, 0], rtol=0, atol=0)


def test_embedding_negative_padding_idx_means_from_the_end():
    layer = Embedding(4, 2, padding_idx=-1, dtype="float64")
    ids = np.array([[3, 0, 3]])
    layer.forward(ids)
    layer.backward(np.ones((1, 3, 2)))
    assert np.all(layer.grads["weight"][3] == 0.0) and np.all(layer.grads["weight"][0] == 1.0)


@pytest.mark.parametrize("shape", [(B, I), (B, T, I)], ids=["2d", "3d"])
def test_dropout_training_mode_with_replayed_mask(shape):
    layer = Dropout(0.5)
    layer.build(shape[1:], np.random.default_rng(3))
    check(layer, data(*shape), "Dropout", training=True)


def test_dropout_backward_uses_the_forward_mask():
    layer = Dropout(0.5, dtype="float64").build((10,), np.random.default_rng(0))
    x = data(4, 10) + 5.0                                # no zeros in x: zeros in y are dropped units
    y = layer.forward(x, training=True)
    dropped = y == 0.0
    assert dropped.any() and (~dropped).any()
    np.testing.assert_allclose(y[~dropped], 2.0 * x[~dropped], rtol=1e-15)   # inverted dropout: x / (1 - rate)
    dx = layer.backward(np.ones_like(x))
    assert np.all(dx[dropped] == 0.0) and np.all(dx[~dropped] == 2.0)
    np.testing.assert_array_equal(layer.forward(x, training=False), x)       # identity at inference


# ---- recurrent layers: every option combination that changes the math --------------------------------------------
CELLS = {
    "SimpleRNN-tanh": lambda **kw: SimpleRNN(H, nonlinearity="tanh", **kw),
    "SimpleRNN-relu": lambda **kw: SimpleRNN(H, nonlinearity="relu", **kw),
    "LSTM": lambda **kw: LSTM(H, **kw),
    "GRU": lambda **kw: GRU(H, **kw),
}
STRUCTURE = list(itertools.product([False, True], [1, 2], [False, True]))   # bidirectional, num_layers, return_seq


def structure_id(case):
    bidirectional, num_layers, return_sequences = case
    return f"{'bi' if bidirectional else 'uni'}-L{num_layers}-{'seq' if return_sequences else 'last'}"


def relu_safe_input(cell):
    """For relu, positive inputs keep every pre-activation away from the kink at 0 (finite differences of a
    kink are meaningless); the data are otherwise the same."""
    x = data(B, T, I)
    return np.abs(x) + 0.5 if cell.endswith("relu") else x


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("structure", STRUCTURE, ids=structure_id)
def test_recurrent_structure(cell, structure):
    bidirectional, num_layers, return_sequences = structure
    layer = CELLS[cell](num_layers=num_layers, bidirectional=bidirectional, return_sequences=return_sequences)
    check(layer, relu_safe_input(cell), cell, expected_names=expected_recurrent_names(num_layers, bidirectional))


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
def test_recurrent_final_states_and_initial_state(cell, bidirectional, return_sequences):
    """return_state=True: the gradient check's loss weighs the final states too, so gradients flow into them;
    the given initial state's gradient (`dinitial_state`) is checked as `initial_state[i]`."""
    layer = CELLS[cell](num_layers=2, bidirectional=bidirectional, return_sequences=return_sequences,
                        return_state=True)
    shape = (2 * (2 if bidirectional else 1), B, H)
    n_states = 2 if cell == "LSTM" else 1
    state = tuple(0.5 * data(*shape, seed=10 + i) for i in range(n_states))
    if cell.endswith("relu"):
        state = tuple(np.abs(s) for s in state)
    result = check(layer, relu_safe_input(cell), cell, initial_state=state if cell == "LSTM" else state[0])
    assert {f"initial_state[{i}]" for i in range(n_states)} <= set(result.errors)


@pytest.mark.parametrize("cell", list(CELLS))
def test_recurrent_final_states_only(cell):
    """Gradients reach the parameters and the input through the final states alone (h_n and c_n weighted, the
    output's gradient given as None)."""
    layer = CELLS[cell](num_layers=2, return_state=True)
    layer.build((T, I), np.random.default_rng(0))
    layer.to("float64")
    x = relu_safe_input(cell)
    _, state = layer.forward(x)
    dstate = (data(*state[0].shape), data(*state[1].shape)) if cell == "LSTM" else data(*state.shape)
    dx = layer.backward((None, dstate))
    assert dx.shape == x.shape and np.any(dx != 0.0)
    assert all(np.any(g != 0.0) for g in layer.grads.values())
    # the same result through gradcheck's weighted loss over (output, states)
    check(layer, x, cell)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_recurrent_dropout_between_layers_in_training(cell, bidirectional):
    layer = CELLS[cell](num_layers=2, bidirectional=bidirectional, dropout=0.5, return_sequences=True)
    layer.build((T, I), np.random.default_rng(5))
    x = relu_safe_input(cell)
    # the mask really drops something: training output differs from inference output
    layer64 = CELLS[cell](num_layers=2, bidirectional=bidirectional, dropout=0.5, return_sequences=True,
                          dtype="float64").build((T, I), np.random.default_rng(5))
    assert not np.allclose(layer64.forward(x, training=True), layer64.forward(x, training=False))
    check(layer, x, cell, training=True)


MASK = np.array([[True, True, True, True],            # full length
                 [True, True, False, False]])         # right padding: length 2


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("structure", [(False, 1, True), (True, 2, False), (True, 1, True), (False, 2, False)],
                         ids=structure_id)
def test_recurrent_masked_right_padding(cell, structure):
    bidirectional, num_layers, return_sequences = structure
    layer = CELLS[cell](num_layers=num_layers, bidirectional=bidirectional, return_sequences=return_sequences,
                        return_state=True)
    shape = (num_layers * (2 if bidirectional else 1), B, H)
    state = tuple(np.abs(data(*shape, seed=20 + i)) for i in range(2 if cell == "LSTM" else 1))
    result = check(layer, relu_safe_input(cell), cell, mask=MASK,
                   initial_state=state if cell == "LSTM" else state[0])
    assert "initial_state[0]" in result.errors


def test_masked_steps_get_zero_input_gradient():
    layer = LSTM(H, bidirectional=True, return_sequences=True, dtype="float64")
    layer.build((T, I), np.random.default_rng(0))
    x = data(B, T, I)
    out = layer.forward(x, mask=MASK)
    dx = layer.backward(data(*out.shape))
    assert np.all(dx[~MASK] == 0.0)
    assert np.all(dx[MASK] != 0.0)


@pytest.mark.parametrize("forget_bias", [1.0, -2.0])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_lstm_forget_bias(forget_bias, bidirectional):
    layer = LSTM(H, num_layers=2, bidirectional=bidirectional, forget_bias=forget_bias, return_sequences=True)
    layer.build((T, I), np.random.default_rng(0))
    for name, p in layer.params.items():
        if name.startswith("bias_ih"):
            assert np.all(p[H:2 * H] == np.float32(forget_bias))
        elif name.startswith("bias_hh"):
            assert np.all(p[H:2 * H] == 0.0)
    check(layer, data(B, T, I), "LSTM")


def test_gradcheck_detects_a_wrong_backward():
    """The checker itself can fail: a layer whose backward is off by a factor shows a large error."""

    class BrokenDense(Dense):
        def backward(self, dy):
            dx = super().backward(dy)
            self.grads["weight"] *= 1.01
            return dx

    layer = BrokenDense(3)
    result = lk.gradcheck(layer, data(B, I))
    assert result.errors["weight"] > 1e-3
    assert result.errors["bias"] < TOL
    assert not result.passed(TOL)


def max_relative_error(layer, x, name, eps=1e-6):
    """The criterion gradcheck used before: max|a - n| / max(max|a|, max|n|) over one parameter array, written
    out here with its own central differences of L = <R, out>."""
    out = layer.forward(x)
    weights = data(*out.shape, seed=7)
    layer.backward(weights)
    analytic, p = layer.grads[name].copy(), layer.params[name]
    numeric = np.zeros_like(p)
    for j in np.ndindex(p.shape):
        saved = p[j]
        p[j] = saved + eps
        up = np.sum(layer.forward(x) * weights)
        p[j] = saved - eps
        numeric[j] = (up - np.sum(layer.forward(x) * weights)) / (2 * eps)
        p[j] = saved
    return np.abs(analytic - numeric).max() / max(np.abs(analytic).max(), np.abs(numeric).max())


def test_gradcheck_catches_a_wrong_small_entry_that_a_max_relative_error_hides():
    """Input feature 0 is ~1e-6, so column 0 of dW_ih is ~1e-6 while the rest reaches ~0.3. A backward that gets
    that column 10% wrong is off by ~1e-7: under 1e-6 of the array's largest entry (the old criterion passes it),
    but over atol + rtol * |n| = 1e-8 + 1e-6 * 1e-6 (the per-entry criterion fails it)."""

    class SmallEntryOff(LSTM):
        def backward(self, dout):
            dx = super().backward(dout)
            self.grads["weight_ih_l0"][:, 0] *= 1.1
            return dx

    x = data(B, T, I)
    x[..., 0] *= 1e-6
    honest, broken = (cls(H, return_sequences=True, dtype="float64").build((T, I), np.random.default_rng(1))
                      for cls in (LSTM, SmallEntryOff))
    assert lk.gradcheck(honest, x).passed(TOL)
    assert max_relative_error(broken, x, "weight_ih_l0") < TOL                  # the old criterion: passed
    result = lk.gradcheck(broken, x)
    assert result.errors["weight_ih_l0"] > 4 * TOL                              # |a - n| > 4 * atol
    assert max(v for k, v in result.errors.items() if k != "weight_ih_l0") < TOL
    assert not result.passed(TOL)


# ---- golden values: a slow, obvious reference written from DESIGN.md section 2 ------------------------------------
def sigma(v):
    return 1.0 / (1.0 + np.exp(-v))


def reference(cell, params, x, h0=None, c0=None):
    """One layer, one direction, per step and per sample, with plain matrix-vector products.

    Returns the outputs (B, T, H), h_T and (for the LSTM) c_T."""
    W_ih, W_hh, b_ih, b_hh = (params[n] for n in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"))
    Hn = W_hh.shape[1]
    Bn, Tn, _ = x.shape
    ys, hs, cs = np.zeros((Bn, Tn, Hn)), np.zeros((Bn, Hn)), np.zeros((Bn, Hn))
    for b in range(Bn):
        h = np.zeros(Hn) if h0 is None else h0[b].copy()
        c = np.zeros(Hn) if c0 is None else c0[b].copy()
        for t in range(Tn):
            if cell == "SimpleRNN":
                h = np.tanh(W_ih @ x[b, t] + b_ih + W_hh @ h + b_hh)
            elif cell == "LSTM":
                Ht = W_ih @ x[b, t] + b_ih + W_hh @ h + b_hh
                i = sigma(Ht[:Hn])
                f = sigma(Ht[Hn:2 * Hn])
                g = np.tanh(Ht[2 * Hn:3 * Hn])
                o = sigma(Ht[3 * Hn:])
                c = f * c + i * g
                h = o * np.tanh(c)
            else:   # GRU, PyTorch form
                xp, a = W_ih @ x[b, t] + b_ih, W_hh @ h + b_hh
                r = sigma(xp[:Hn] + a[:Hn])
                z = sigma(xp[Hn:2 * Hn] + a[Hn:2 * Hn])
                n = np.tanh(xp[2 * Hn:] + r * a[2 * Hn:])
                h = (1.0 - z) * n + z * h
            ys[b, t] = h
        hs[b], cs[b] = h, c
    return ys, hs, cs


GOLDEN_X = np.array([[[1.0, 2.0], [0.5, -1.0], [-2.0, 0.25]],
                     [[0.0, 0.0], [3.0, 1.0], [-0.5, -0.5]]])        # (B=2, T=3, I=2)
LAYERS = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}


def constant_layer(cell, hidden, weight=0.1, bias=0.0, **kwargs):
    layer = LAYERS[cell](hidden, return_sequences=True, return_state=True, dtype="float64", **kwargs)
    layer.build((None, GOLDEN_X.shape[-1]))
    for name in layer.params:
        layer.params[name][...] = weight if name.startswith("weight") else bias
    return layer


@pytest.mark.parametrize("cell", list(LAYERS))
@pytest.mark.parametrize("weight,bias", [(0.1, 0.0), (0.3, -0.2)])
def test_golden_constant_weights(cell, weight, bias):
    layer = constant_layer(cell, 2, weight, bias)
    out, state = layer.forward(GOLDEN_X)
    ys, h_T, c_T = reference(cell, {k: v.copy() for k, v in layer.params.items()}, GOLDEN_X)
    np.testing.assert_allclose(out, ys, rtol=0, atol=1e-12)
    h_n = state[0] if cell == "LSTM" else state
    np.testing.assert_allclose(h_n[0], h_T, rtol=0, atol=1e-12)
    if cell == "LSTM":
        np.testing.assert_allclose(state[1][0], c_T, rtol=0, atol=1e-12)


@pytest.mark.parametrize("cell", list(LAYERS))
def test_golden_first_step_closed_form(cell):
    """Step one from a zero state, all weights 0.1, biases 0, x = (1, 2): every pre-activation is 0.3."""
    layer = constant_layer(cell, 2)
    out, _ = layer.forward(GOLDEN_X[:1, :1])
    s, th = 1.0 / (1.0 + np.exp(-0.3)), np.tanh(0.3)
    want = {"SimpleRNN": th,
            "LSTM": s * np.tanh(s * th),           # c = i g, h = o tanh(c)
            "GRU": (1.0 - s) * np.tanh(0.3)}[cell]  # r * a_n = 0, h_prev = 0
    np.testing.assert_allclose(out[0, 0], [want, want], rtol=0, atol=1e-15)


@pytest.mark.parametrize("cell", list(LAYERS))
def test_golden_random_weights_and_initial_state(cell):
    """The fast path against the slow reference on random weights, with an initial state."""
    layer = LAYERS[cell](3, return_sequences=True, return_state=True, dtype="float64")
    layer.build((None, 2), np.random.default_rng(4))
    h0, c0 = data(1, 2, 3, seed=5), data(1, 2, 3, seed=6)
    out, state = layer.forward(GOLDEN_X, initial_state=(h0, c0) if cell == "LSTM" else h0)
    ys, h_T, c_T = reference(cell, layer.params, GOLDEN_X, h0[0], c0[0] if cell == "LSTM" else None)
    np.testing.assert_allclose(out, ys, rtol=0, atol=1e-12)
    np.testing.assert_allclose((state[0] if cell == "LSTM" else state)[0], h_T, rtol=0, atol=1e-12)
    if cell == "LSTM":
        np.testing.assert_allclose(state[1][0], c_T, rtol=0, atol=1e-12)


def test_golden_lstm_forget_bias_and_bidirectional_reverse():
    """The reverse direction is the reference run on the time-reversed input; forget_bias enters f only."""
    layer = LSTM(2, bidirectional=True, return_sequences=True, forget_bias=1.0, dtype="float64")
    layer.build((None, 2))
    for name, p in layer.params.items():
        p[...] = 0.1 if name.startswith("weight") else 0.0
    layer.params["bias_ih_l0"][2:4] = 1.0                # the forget slice of the forward direction
    layer.params["bias_ih_l0_reverse"][2:4] = 1.0
    out = layer.forward(GOLDEN_X)
    fwd = reference("LSTM", {k: layer.params[k] for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0",
                                                           "bias_hh_l0")}, GOLDEN_X)[0]
    rev_params = {k.replace("_reverse", ""): v for k, v in layer.params.items() if k.endswith("_reverse")}
    bwd = reference("LSTM", rev_params, GOLDEN_X[:, ::-1])[0][:, ::-1]
    np.testing.assert_allclose(out, np.concatenate([fwd, bwd], axis=-1), rtol=0, atol=1e-12)


# ---- dtypes -------------------------------------------------------------------------------------------------------
ALL_LAYERS = {
    "Dense": (lambda **kw: Dense(3, **kw), data(B, T, I)),
    "Embedding": (lambda **kw: Embedding(5, 3, **kw), np.array([[0, 1, 4], [2, 3, 0]])),
    "Dropout": (lambda **kw: Dropout(0.3, **kw), data(B, T, I)),
    "SimpleRNN": (lambda **kw: SimpleRNN(H, **kw), data(B, T, I)),
    "LSTM": (lambda **kw: LSTM(H, **kw), data(B, T, I)),
    "GRU": (lambda **kw: GRU(H, **kw), data(B, T, I)),
}


@pytest.mark.parametrize("name", list(ALL_LAYERS))
def test_default_dtype_is_float32(name):
    make, x = ALL_LAYERS[name]
    layer = make()
    out = layer.forward(x)                               # float64 (or int) data in, float32 out
    assert out.dtype == np.float32
    assert all(p.dtype == np.float32 for p in layer.params.values())
    out_train = layer.forward(x, training=True)
    assert out_train.dtype == np.float32
    dx = layer.backward(np.ones_like(out_train))
    assert all(g.dtype == np.float32 for g in layer.grads.values())
    if dx is not None:
        assert dx.dtype == np.float32


@pytest.mark.parametrize("name", list(ALL_LAYERS))
def test_float64_on_request(name):
    make, x = ALL_LAYERS[name]
    layer = make(dtype="float64")
    out = layer.forward(np.asarray(x, dtype=np.float32) if x.dtype.kind == "f" else x)
    assert out.dtype == np.float64
    assert all(p.dtype == np.float64 for p in layer.params.values())
    dx = layer.backward(np.ones_like(out))
    assert all(g.dtype == np.float64 for g in layer.grads.values())
    if dx is not None:
        assert dx.dtype == np.float64


def test_to_float64_converts_and_keeps_values():
    layer = LSTM(H, return_state=True)
    out32, _ = layer.forward(data(B, T, I))
    before = {k: v.copy() for k, v in layer.params.items()}
    layer.to("float64")
    out64, (h64, c64) = layer.forward(data(B, T, I))
    assert out64.dtype == h64.dtype == c64.dtype == np.float64
    for k, v in layer.params.items():
        assert v.dtype == np.float64
        np.testing.assert_array_equal(v, before[k].astype(np.float64))
    np.testing.assert_allclose(out64, out32, rtol=1e-5, atol=1e-6)


def test_float32_gradients_agree_with_float64():
    x = data(B, T, I)
    grads = {}
    for dtype in ("float32", "float64"):
        layer = GRU(H, num_layers=2, bidirectional=True, dtype=dtype).build((T, I), np.random.default_rng(0))
        out = layer.forward(x)
        layer.backward(np.ones_like(out))
        grads[dtype] = layer.grads
    for k in grads["float64"]:
        np.testing.assert_allclose(grads["float32"][k], grads["float64"][k], rtol=1e-4, atol=1e-5)


# ---- the slow reference loop and the fast path agree (when the layer offers both) ---------------------------------


@pytest.mark.parametrize("cell", list(CELLS))
def test_reference_implementation_gradcheck(cell):
    layer = CELLS[cell](num_layers=2, bidirectional=True, return_sequences=True, return_state=True,
                        implementation="reference")
    shape = (4, B, H)
    state = tuple(np.abs(data(*shape, seed=30 + i)) for i in range(2 if cell == "LSTM" else 1))
    check(layer, relu_safe_input(cell), cell, mask=MASK, initial_state=state if cell == "LSTM" else state[0])


@pytest.mark.parametrize("cell", list(CELLS))
def test_reference_and_compiled_agree(cell):
    results = []
    x = relu_safe_input(cell)
    for implementation in ("reference", "compiled"):
        layer = CELLS[cell](num_layers=2, bidirectional=True, return_sequences=True, return_state=True,
                            dropout=0.3, implementation=implementation, dtype="float64")
        layer.build((T, I), np.random.default_rng(8))
        state = tuple(data(4, B, H, seed=40 + i) for i in range(2 if cell == "LSTM" else 1))
        out, final = layer.forward(x, initial_state=state if cell == "LSTM" else state[0], mask=MASK,
                                   training=True)
        finals = final if cell == "LSTM" else (final,)
        dx = layer.backward((data(*out.shape, seed=50), tuple(data(*f.shape, seed=60 + i)
                                                              for i, f in enumerate(finals))
                             if cell == "LSTM" else data(*final.shape, seed=60)))
        results.append((out, finals, dx, dict(layer.grads), states_tuple(layer.dinitial_state)))
    (out_r, fin_r, dx_r, g_r, ds_r), (out_c, fin_c, dx_c, g_c, ds_c) = results
    np.testing.assert_allclose(out_c, out_r, rtol=1e-12, atol=1e-13)
    for a, b in zip(fin_c, fin_r):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dx_c, dx_r, rtol=1e-11, atol=1e-12)
    for k in g_r:
        np.testing.assert_allclose(g_c[k], g_r[k], rtol=1e-11, atol=1e-12, err_msg=k)
    for a, b in zip(ds_c, ds_r):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)


def states_tuple(state):
    return state if isinstance(state, tuple) else (state,)
