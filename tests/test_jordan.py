"""JordanRNN: finite differences for every option, constant-weight golden values computed by hand, a slow
per-sample loop written from the equations, the compiled kernel against the NumPy reference, masking, argument
checks, and a model that can only fit its task through the output feedback.

Shapes stay tiny (B = 2, T = 4, I = 3, H = 3, O = 2): gradcheck costs 2 * (#params + #inputs) forward passes.
"""

import math

import numpy as np
import pytest

import lstmkit as lk
from lstmkit.layers import Dense
from lstmkit.layers.jordan import JordanRNN

TOL = 1e-6
B, T, I, H, O = 2, 4, 3, 3, 2           # batch, time, input features, hidden units, outputs
ACTIVATIONS = [None, "tanh", "sigmoid"]
MASK = np.array([[True, True, True, True], [True, True, False, False]])     # the second sequence has 2 steps
NAMES = {"weight_ih_l0": (H, I), "weight_ho_l0": (H, O), "bias_ih_l0": (H,), "weight_hy_l0": (O, H),
         "bias_hy_l0": (O,)}


def data(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def sigma(v):
    return 1.0 / (1.0 + np.exp(-v))


def slow_reference(params, x, activation, y0=None, mask=None):
    """One sample and one step at a time, matrix-vector products, straight from the equations.
    Returns the outputs (B, T, O) (zeros on padded steps) and y_T (B, O) (y at each sequence's last real step)."""
    W_ih, W_ho, b, W_hy, b_hy = (params[n] for n in NAMES)
    phi = {None: lambda z: z, "tanh": np.tanh, "sigmoid": sigma}[activation]
    Bn, Tn, _ = x.shape
    On = W_hy.shape[0]
    outs, finals = np.zeros((Bn, Tn, On)), np.zeros((Bn, On))
    for s in range(Bn):
        y = np.zeros(On) if y0 is None else y0[0, s].copy()
        for t in range(Tn):
            if mask is not None and not mask[s, t]:
                continue                                 # padded: output 0, context unchanged
            h = np.tanh(W_ih @ x[s, t] + W_ho @ y + b)
            y = phi(W_hy @ h + b_hy)
            outs[s, t] = y
        finals[s] = y
    return outs, finals


def built(activation=None, seed=1, **kwargs):
    layer = JordanRNN(H, O, output_activation=activation, dtype="float64", **kwargs)
    return layer.build((T, I), np.random.default_rng(seed))


# ---- finite differences -------------------------------------------------------------------------------------------
EXTRAS = {
    "plain": {},
    "initial_state": {"initial_state": data(1, B, O, seed=2)},
    "mask": {"mask": MASK},
    "all": {"initial_state": data(1, B, O, seed=2), "mask": MASK},
}


@pytest.mark.parametrize("extras", list(EXTRAS))
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradcheck(activation, return_sequences, extras):
    layer = built(activation, return_sequences=return_sequences, return_state=extras == "all")
    # Seen only through y_T, y_0 acts through T - 1 products W_hy diag(1 - h^2) W_ho diag(phi'): over 4 steps
    # dL/dy_0 is about 1e-7 (sigmoid), below what central differences resolve to 1e-6; 2 steps keep it visible.
    steps = 2 if extras == "initial_state" and not return_sequences else T
    result = lk.gradcheck(layer, data(B, steps, I), **EXTRAS[extras])
    assert set(NAMES) | {"input"} <= set(result.errors)
    if "initial_state" in EXTRAS[extras]:
        assert "initial_state[0]" in result.errors
    assert result.passed(TOL), result.errors


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradcheck_reference_implementation(activation, return_sequences):
    layer = built(activation, return_sequences=return_sequences, return_state=True, implementation="reference")
    result = lk.gradcheck(layer, data(B, T, I), **EXTRAS["all"])
    assert result.passed(TOL), result.errors


# ---- golden values ------------------------------------------------------------------------------------------------
def constant_layer(activation):
    """I = 1, H = 2, O = 1; W_ih = 0.5, W_ho = -1, b = 0.1, W_hy = 0.5, b_hy = 0.2: both hidden units are equal,
    h_t = tanh(0.5 x_t - y_{t-1} + 0.1), and y_t = phi(2 * 0.5 h_t + 0.2) = phi(h_t + 0.2)."""
    layer = JordanRNN(2, 1, output_activation=activation, return_sequences=True, return_state=True,
                      dtype="float64").build((None, 1))
    for name, value in (("weight_ih_l0", 0.5), ("weight_ho_l0", -1.0), ("bias_ih_l0", 0.1),
                        ("weight_hy_l0", 0.5), ("bias_hy_l0", 0.2)):
        layer.params[name][...] = value
    return layer


GOLDEN_X = np.array([[[1.0], [2.0], [-1.0]]])            # (B=1, T=3, I=1)


@pytest.mark.parametrize("implementation", ["compiled", "reference"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_golden_constant_weights(activation, implementation):
    phi = {None: lambda z: z, "tanh": math.tanh, "sigmoid": lambda z: 1.0 / (1.0 + math.exp(-z))}[activation]
    y1 = phi(math.tanh(0.5 * 1.0 + 0.1) + 0.2)          # y_0 = 0
    y2 = phi(math.tanh(0.5 * 2.0 - y1 + 0.1) + 0.2)
    y3 = phi(math.tanh(0.5 * -1.0 - y2 + 0.1) + 0.2)
    layer = constant_layer(activation)
    layer.implementation = implementation
    out, y_n = layer.forward(GOLDEN_X)
    np.testing.assert_allclose(out[0, :, 0], [y1, y2, y3], rtol=0, atol=1e-15)
    np.testing.assert_allclose(y_n, [[[y3]]], rtol=0, atol=1e-15)


def test_golden_literals_linear_output():
    """The same three steps, numbers written out: y_1 = tanh(0.6) + 0.2, y_2 = tanh(1.1 - y_1) + 0.2, ..."""
    out, _ = constant_layer(None).forward(GOLDEN_X)
    np.testing.assert_allclose(out[0, :, 0], [0.7370495669980353, 0.5478102041712236, -0.5387900776313237],
                               rtol=0, atol=1e-15)


def test_golden_one_step_gradients_by_hand():
    """One step from y_0 = 0 with the constant weights, L = y_1: dL/dz = 1, dL/dW_hy = h = tanh(0.6) for both
    hidden units, dL/da = 0.5 (1 - h^2), dL/dW_ih = x dL/da, dL/dW_ho = y_0 dL/da = 0, dL/dx = 2 * 0.5 dL/da."""
    layer = constant_layer(None)
    layer.forward(GOLDEN_X[:, :1], initial_state=np.zeros((1, 1, 1)))
    dx = layer.backward((np.ones((1, 1, 1)), None))
    h = math.tanh(0.6)
    da = 0.5 * (1.0 - h * h)
    g = layer.grads
    np.testing.assert_allclose(g["bias_hy_l0"], [1.0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(g["weight_hy_l0"], [[h, h]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(g["bias_ih_l0"], [da, da], rtol=0, atol=1e-15)
    np.testing.assert_allclose(g["weight_ih_l0"], [[da], [da]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(g["weight_ho_l0"], [[0.0], [0.0]], rtol=0, atol=0)
    np.testing.assert_allclose(dx, [[[2 * 0.5 * da]]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(layer.dinitial_state, [[[-1.0 * 2 * da]]], rtol=0, atol=1e-15)   # W_ho = -1


@pytest.mark.parametrize("implementation", ["compiled", "reference"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_matches_slow_reference_with_state_and_mask(activation, implementation):
    layer = built(activation, seed=4, return_sequences=True, return_state=True, implementation=implementation)
    x, y0 = data(B, T, I, seed=5), data(1, B, O, seed=6)
    out, y_n = layer.forward(x, initial_state=y0, mask=MASK)
    want, final = slow_reference(layer.params, x, activation, y0, MASK)
    np.testing.assert_allclose(out, want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(y_n[0], final, rtol=0, atol=1e-12)
    layer.return_sequences = False
    np.testing.assert_allclose(layer.forward(x, initial_state=y0, mask=MASK)[0], final, rtol=0, atol=1e-12)


# ---- the compiled kernel against the NumPy reference --------------------------------------------------------------
def run_both(activation, dtype, masked, return_sequences=True):
    results = []
    for implementation in ("reference", "compiled"):
        layer = JordanRNN(H, O, output_activation=activation, return_sequences=return_sequences,
                          return_state=True, implementation=implementation, dtype=dtype)
        layer.build((T, I), np.random.default_rng(8))
        out, y_n = layer.forward(data(B, T, I, seed=9), initial_state=data(1, B, O, seed=10),
                                 mask=MASK if masked else None)
        dx = layer.backward((data(*out.shape, seed=11), data(*y_n.shape, seed=12)))
        results.append((out, y_n, dx, layer.dinitial_state, dict(layer.grads)))
    return results


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_compiled_equals_reference_float64(activation, masked, return_sequences):
    ref, fast = run_both(activation, "float64", masked, return_sequences)
    for a, b in zip(fast[:4], ref[:4]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    for name in NAMES:
        np.testing.assert_allclose(fast[4][name], ref[4][name], rtol=0, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_compiled_close_to_reference_float32(activation):
    ref, fast = run_both(activation, "float32", masked=True)
    for a, b in zip(fast[:4], ref[:4]):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
    for name in NAMES:
        assert fast[4][name].dtype == np.float32
        np.testing.assert_allclose(fast[4][name], ref[4][name], rtol=0, atol=1e-5, err_msg=name)


# ---- parameters, shapes, masking ----------------------------------------------------------------------------------
def test_parameter_names_shapes_and_initialisation():
    layer = JordanRNN(50, 4).build((None, 6), np.random.default_rng(0))
    assert {k: v.shape for k, v in layer.params.items()} == {
        "weight_ih_l0": (50, 6), "weight_ho_l0": (50, 4), "bias_ih_l0": (50,), "weight_hy_l0": (4, 50),
        "bias_hy_l0": (4,)}
    bound = 1.0 / math.sqrt(50)
    for name, p in layer.params.items():
        assert p.dtype == np.float32
        assert np.abs(p).max() <= bound, name
        if p.size >= 50:
            assert np.abs(p).max() > 0.9 * bound and abs(p.mean()) < 0.2 * bound, name
    assert layer.grads.keys() == layer.params.keys()
    assert layer.num_params() == 50 * 6 + 50 * 4 + 50 + 4 * 50 + 4


def test_output_shapes_and_dtype():
    x = data(B, T, I)
    layer = JordanRNN(H, O)
    out = layer.forward(x)
    assert out.shape == (B, O) and out.dtype == np.float32
    assert layer.output_shape((T, I)) == (O,)
    seq = JordanRNN(H, O, return_sequences=True, return_state=True)
    out, y_n = seq.forward(x)
    assert out.shape == (B, T, O) and y_n.shape == (1, B, O)
    assert seq.output_shape((T, I)) == (T, O)
    np.testing.assert_array_equal(y_n[0], out[:, -1])
    dx = seq.backward(np.ones_like(out))                  # the output gradient alone, with return_state
    assert dx.shape == (B, T, I) and dx.dtype == np.float32
    assert seq.dinitial_state is None                     # no initial_state was given
    assert all(g.dtype == np.float32 for g in seq.grads.values())


def test_state_gradient_none_counts_as_zero():
    layer = built("tanh", return_sequences=True, return_state=True)
    x = data(B, T, I)
    out, _ = layer.forward(x)
    dy = data(*out.shape, seed=3)
    dx_alone = layer.backward(dy)
    grads_alone = {k: v.copy() for k, v in layer.grads.items()}
    dx_tuple = layer.backward((dy, None))
    np.testing.assert_array_equal(dx_alone, dx_tuple)
    for name, grad in grads_alone.items():
        np.testing.assert_array_equal(grad, layer.grads[name])


@pytest.mark.parametrize("implementation", ["compiled", "reference"])
def test_padded_steps_change_nothing(implementation):
    """A right-padded sequence gives what its real steps alone give; padded outputs are zeros, and the
    gradient of the padded input is zero."""
    layer = built("sigmoid", return_sequences=True, return_state=True, implementation=implementation)
    x = data(B, T, I, seed=13)
    out, y_n = layer.forward(x, mask=MASK)
    assert np.all(out[1, 2:] == 0.0)
    short, short_n = layer.forward(x[1:, :2])
    np.testing.assert_allclose(out[1, :2], short[0], rtol=0, atol=1e-14)
    np.testing.assert_allclose(y_n[0, 1], short_n[0, 0], rtol=0, atol=1e-14)
    layer.forward(x, mask=MASK)
    dx = layer.backward((data(B, T, O, seed=14), data(1, B, O, seed=15)))
    assert np.all(dx[1, 2:] == 0.0) and np.all(dx[1, :2] != 0.0)


def test_config_round_trip_and_repr():
    layer = JordanRNN(5, 2, output_activation="sigmoid", return_sequences=True, implementation="reference",
                      dtype="float64")
    config = layer.get_config()
    assert config == {"hidden_size": 5, "output_size": 2, "output_activation": "sigmoid",
                      "return_sequences": True, "return_state": False, "implementation": "reference",
                      "dtype": "float64"}
    assert JordanRNN(**config).get_config() == config
    assert repr(layer).startswith("JordanRNN(hidden_size=5, output_size=2, output_activation='sigmoid'")


# ---- argument checks ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,match", [
    ({"hidden_size": 0}, "hidden_size must be a positive integer"),
    ({"output_size": 2.5}, "output_size must be a positive integer"),
    ({"output_activation": "relu"}, "output_activation must be None"),
    ({"implementation": "fast"}, "implementation must be 'compiled' or 'reference'"),
    ({"dtype": "int32"}, "dtype must be 'float32' or 'float64'"),
])
def test_bad_constructor_arguments(kwargs, match):
    args = {"hidden_size": H, "output_size": O, **kwargs}
    with pytest.raises(ValueError, match=match):
        JordanRNN(**args)


def test_bad_forward_and_backward_arguments():
    layer = JordanRNN(H, O, return_state=True)
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(np.zeros((B, O)))
    with pytest.raises(ValueError, match="x must be a 3D array"):
        layer.forward(data(B, I))
    x = data(B, T, I)
    layer.forward(x)
    with pytest.raises(ValueError, match="built for 3"):
        layer.forward(data(B, T, I + 1))
    bad = x.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        layer.forward(bad)
    with pytest.raises(ValueError, match=r"\(1, B, output_size\) = \(1, 2, 2\), got \(1, 2, 3\)"):
        layer.forward(x, initial_state=np.zeros((1, B, H)))
    with pytest.raises(ValueError, match=r"mask must have shape \(B, T\)"):
        layer.forward(x, mask=MASK[:, :2])
    with pytest.raises(TypeError, match="mask must be a bool array"):
        layer.forward(x, mask=MASK.astype(int))
    layer.forward(x)
    with pytest.raises(ValueError, match=r"dout must have the shape of the forward output, \(2, 2\)"):
        layer.backward(np.zeros((B, T, O)))
    with pytest.raises(ValueError, match="gradient of y_n"):
        layer.backward((np.zeros((B, O)), np.zeros((B, O))))
    with pytest.raises(ValueError, match=r"dout must be \(d_output, d_y_n\)"):
        layer.backward((np.zeros((B, O)),))


# ---- a model that needs the output feedback -----------------------------------------------------------------------
def echo_task(n=256, steps=16, seed=0):
    """y_t = 0.5 x_t - 0.8 y_{t-1}: each target repeats the previous one, sign flipped and damped, plus the new
    input. From x_t alone the best prediction leaves a * var(y_{t-1}) unexplained (the floor returned)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, (n, steps, 1))
    y = np.zeros_like(x)
    prev = np.zeros((n, 1))
    for t in range(steps):
        prev = 0.5 * x[:, t] - 0.8 * prev
        y[:, t] = prev
    A = np.c_[x.reshape(-1), np.ones(x.size)]               # least squares on (x_t, 1): no memory at all
    coef = np.linalg.lstsq(A, y.reshape(-1), rcond=None)[0]
    floor = float(np.mean((A @ coef - y.reshape(-1)) ** 2))
    return x, y, floor


def test_learns_a_task_that_needs_its_own_previous_output():
    x, y, floor = echo_task()
    model = lk.Sequential([JordanRNN(8, 1, return_sequences=True)], seed=0)
    model.compile(loss="mse", optimizer=lk.optim.Adam(lr=1e-2))
    history = model.fit(x, y, epochs=40, batch_size=32, verbose=0)
    loss = model.evaluate(x, y)["loss"]
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert loss < 0.02 * floor, (loss, floor)             # about 0.0007 against a floor of 0.13
    model.layers[0].params["weight_ho_l0"][...] = 0.0     # cut the feedback: back to (or above) the floor
    assert model.evaluate(x, y)["loss"] > 0.5 * floor


def test_save_and_load(tmp_path):
    x, y, _ = echo_task(n=32, steps=6)
    model = lk.Sequential([JordanRNN(4, 2, output_activation="tanh", return_sequences=True), Dense(1)], seed=0)
    model.compile(loss="mse", optimizer=lk.optim.Adam(lr=1e-2))
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    model.save(tmp_path / "jordan.lstmkit")
    same = lk.load(tmp_path / "jordan.lstmkit")
    assert type(same.layers[0]).__name__ == "JordanRNN"
    assert same.layers[0].get_config() == model.layers[0].get_config()
    np.testing.assert_array_equal(same.predict(x), model.predict(x))
