"""The layer contract of DESIGN.md section 3: output and state shapes for every option, PyTorch parameter names
and shapes, live `params`, masking semantics (a padded sequence behaves as the unpadded one alone), input
validation with messages that name the problem, and seeded determinism."""

import itertools

import numpy as np
import pytest

import lstmkit as lk
from lstmkit.layers import GRU, LSTM, Dense, Dropout, Embedding, SimpleRNN

B, T, I, H = 3, 5, 4, 6
RECURRENT = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}
GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}


def data(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def built(cls, *args, seed=0, input_shape=(T, I), **kwargs):
    return cls(*args, **kwargs).build(input_shape, np.random.default_rng(seed))


# ---- shapes -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", list(RECURRENT))
@pytest.mark.parametrize("bidirectional,num_layers,return_sequences,return_state",
                         list(itertools.product([False, True], [1, 2], [False, True], [False, True])))
def test_output_shapes(cell, bidirectional, num_layers, return_sequences, return_state):
    D = 2 if bidirectional else 1
    layer = RECURRENT[cell](H, num_layers=num_layers, bidirectional=bidirectional,
                            return_sequences=return_sequences, return_state=return_state)
    result = layer.forward(data(B, T, I))
    want = (B, T, D * H) if return_sequences else (B, D * H)
    assert layer.output_shape((T, I)) == want[1:]
    if not return_state:
        assert isinstance(result, np.ndarray) and result.shape == want
        return
    out, state = result
    assert out.shape == want
    if cell == "LSTM":
        h_n, c_n = state
        assert c_n.shape == (num_layers * D, B, H)
    else:
        h_n = state
        assert isinstance(h_n, np.ndarray)
    assert h_n.shape == (num_layers * D, B, H)
    # the last layer's final states are the output's last step (forward) / first step (reverse)
    top = (num_layers - 1) * D
    if return_sequences:
        np.testing.assert_array_equal(out[:, -1, :H], h_n[top])
        if bidirectional:
            np.testing.assert_array_equal(out[:, 0, H:], h_n[top + 1])
    else:
        np.testing.assert_array_equal(out, np.concatenate([h_n[top + d] for d in range(D)], axis=-1))


@pytest.mark.parametrize("cell", list(RECURRENT))
def test_backward_fills_grads_with_params_keys_and_shapes(cell):
    layer = built(RECURRENT[cell], H, num_layers=2, bidirectional=True, return_sequences=True)
    x = data(B, T, I)
    out = layer.forward(x)
    dx = layer.backward(np.ones_like(out))
    assert dx.shape == x.shape
    assert set(layer.grads) == set(layer.params)
    for name, p in layer.params.items():
        assert layer.grads[name].shape == p.shape and layer.grads[name].dtype == p.dtype
        assert np.any(layer.grads[name] != 0.0)


def test_dense_and_embedding_shapes():
    assert Dense(7).forward(data(B, I)).shape == (B, 7)
    assert Dense(7).forward(data(B, T, I)).shape == (B, T, 7)
    assert Dense(7).output_shape((T, I)) == (T, 7)
    emb = Embedding(10, 5)
    assert emb.forward(np.zeros((B, T), int)).shape == (B, T, 5)
    assert emb.output_shape((T,)) == (T, 5)
    assert Dropout(0.2).forward(data(B, T, I), training=True).shape == (B, T, I)


# ---- Dense activations ------------------------------------------------------------------------------------------
DENSE_ACTIVATIONS = {None: lambda z: z, "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
                     "softmax": lambda z: np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True),
                     "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0)}


@pytest.mark.parametrize("activation", list(DENSE_ACTIVATIONS))
@pytest.mark.parametrize("shape", [(B, I), (B, T, I)], ids=["step", "sequence"])
def test_dense_activation_forward_and_finite_differences(activation, shape):
    """y = act(x W^T + b), written out here in plain NumPy; the hand-derived backward (softmax's as the
    Jacobian-vector product) against finite differences in float64."""
    x = data(*shape)
    layer = built(Dense, 3, activation=activation, dtype="float64", input_shape=shape[1:])
    z = x @ layer.params["weight"].T + layer.params["bias"]
    np.testing.assert_allclose(layer.forward(x), DENSE_ACTIVATIONS[activation](z), rtol=1e-12, atol=1e-15)
    result = lk.gradcheck(layer, x)
    assert result.passed(1e-6), result.errors


def test_dense_probability_activations_and_config():
    x = 20 * data(B, T, I)                                         # large logits: the stable forms stay finite
    p = Dense(4, activation="softmax").forward(x)
    assert np.all(np.isfinite(p)) and np.allclose(p.sum(axis=-1), 1.0, atol=1e-6)
    s = Dense(1, activation="sigmoid").forward(x)
    assert np.all((s >= 0) & (s <= 1))
    layer = Dense(4, use_bias=False, activation="tanh")
    assert layer.get_config() == {"units": 4, "use_bias": False, "activation": "tanh", "dtype": "float32"}
    assert Dense(**layer.get_config()).activation == "tanh"
    assert Dense(2).activation is None


# ---- parameter names and shapes: PyTorch's -----------------------------------------------------------------------
@pytest.mark.parametrize("cell", list(RECURRENT))
@pytest.mark.parametrize("bidirectional,num_layers", [(False, 1), (True, 1), (False, 3), (True, 2)])
def test_param_names_and_shapes_written_out(cell, bidirectional, num_layers):
    layer = built(RECURRENT[cell], H, num_layers=num_layers, bidirectional=bidirectional)
    G, D = GATES[cell], 2 if bidirectional else 1
    want = {}
    for k in range(num_layers):
        for suffix in ["", "_reverse"][:D]:
            s = f"_l{k}{suffix}"
            want["weight_ih" + s] = (G * H, I if k == 0 else D * H)
            want["weight_hh" + s] = (G * H, H)
            want["bias_ih" + s] = (G * H,)
            want["bias_hh" + s] = (G * H,)
    assert {k: v.shape for k, v in layer.params.items()} == want
    expected_count = sum(int(np.prod(s)) for s in want.values())
    assert layer.num_params() == expected_count


TORCH_MODULE = {"SimpleRNN": "RNN", "LSTM": "LSTM", "GRU": "GRU"}


@pytest.mark.parametrize("cell", list(RECURRENT))
@pytest.mark.parametrize("bidirectional,num_layers", [(False, 1), (True, 2)])
def test_param_names_and_shapes_equal_torch(cell, bidirectional, num_layers):
    torch = pytest.importorskip("torch")
    module = getattr(torch.nn, TORCH_MODULE[cell])(I, H, num_layers=num_layers, bidirectional=bidirectional,
                                                   batch_first=True)
    want = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    layer = built(RECURRENT[cell], H, num_layers=num_layers, bidirectional=bidirectional)
    assert {k: v.shape for k, v in layer.params.items()} == want


def test_dense_and_embedding_params_equal_torch():
    torch = pytest.importorskip("torch")
    want = {k: tuple(v.shape) for k, v in torch.nn.Linear(I, 7).state_dict().items()}
    assert {k: v.shape for k, v in built(Dense, 7, input_shape=(I,)).params.items()} == want
    want = {k: tuple(v.shape) for k, v in torch.nn.Linear(I, 7, bias=False).state_dict().items()}
    assert {k: v.shape for k, v in built(Dense, 7, use_bias=False, input_shape=(I,)).params.items()} == want
    want = {k: tuple(v.shape) for k, v in torch.nn.Embedding(10, 5).state_dict().items()}
    assert {k: v.shape for k, v in built(Embedding, 10, 5, input_shape=(T,)).params.items()} == want


def test_initialisation_range_is_torchs():
    layer = built(LSTM, 16)
    bound = 1.0 / np.sqrt(16)
    for p in layer.params.values():
        assert np.all(np.abs(p) <= bound)
        assert np.abs(p).max() > 0.8 * bound              # uniform over the whole range, not a narrower one
    assert Dropout(0.5).build((3,)).params == {}


# ---- params are live ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", list(RECURRENT))
@pytest.mark.parametrize("name", ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"])
def test_writing_into_params_in_place_changes_output(cell, name):
    layer = built(RECURRENT[cell], H, dtype="float64")
    x = data(B, T, I)
    before = layer.forward(x)
    layer.params[name][...] = 0.5
    after = layer.forward(x)
    assert not np.allclose(before, after)
    again = built(RECURRENT[cell], H, dtype="float64")
    for k, v in layer.params.items():
        again.params[k][...] = v
    np.testing.assert_array_equal(again.forward(x), after)


def test_writing_into_dense_and_embedding_params():
    dense = built(Dense, 2, input_shape=(I,), dtype="float64")
    dense.params["weight"][...] = 0.0
    dense.params["bias"][...] = [1.0, -1.0]
    np.testing.assert_array_equal(dense.forward(data(B, I)), np.tile([1.0, -1.0], (B, 1)))
    emb = built(Embedding, 4, 2, input_shape=(T,))
    emb.params["weight"][2] = [3.0, 4.0]
    np.testing.assert_array_equal(emb.forward(np.array([[2]])), [[[3.0, 4.0]]])


# ---- masking ------------------------------------------------------------------------------------------------------
LENGTHS = np.array([5, 3, 1])
MASK = np.arange(T)[None, :] < LENGTHS[:, None]          # (B, T) right padding


def states_of(cell, state):
    return state if cell == "LSTM" else (state,)


@pytest.mark.parametrize("cell", list(RECURRENT))
@pytest.mark.parametrize("bidirectional,num_layers", [(False, 1), (True, 1), (True, 2)])
def test_padded_sequence_equals_unpadded_alone(cell, bidirectional, num_layers):
    kwargs = {"num_layers": num_layers, "bidirectional": bidirectional, "return_state": True, "dtype": "float64"}
    seq = built(RECURRENT[cell], H, return_sequences=True, **kwargs)
    last = built(RECURRENT[cell], H, return_sequences=False, **kwargs)
    x = data(B, T, I)
    x[~MASK] = 1e3                                       # garbage on padded steps must not matter
    out, state = seq.forward(x, mask=MASK)
    out_last, state_last = last.forward(x, mask=MASK)
    for b, n in enumerate(LENGTHS):
        alone, alone_state = seq.forward(x[b:b + 1, :n])
        np.testing.assert_allclose(out[b, :n], alone[0], rtol=1e-12, atol=1e-12)
        assert np.all(out[b, n:] == 0.0), "padded positions of the output must be zero"
        for s, s_alone, s_last in zip(states_of(cell, state), states_of(cell, alone_state),
                                      states_of(cell, state_last)):
            np.testing.assert_allclose(s[:, b], s_alone[:, 0], rtol=1e-12, atol=1e-12)
            np.testing.assert_array_equal(s_last[:, b], s[:, b])
        alone_last, _ = last.forward(x[b:b + 1, :n])
        np.testing.assert_allclose(out_last[b], alone_last[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", list(RECURRENT))
def test_all_true_mask_equals_no_mask(cell):
    layer = built(RECURRENT[cell], H, bidirectional=True, return_sequences=True, dtype="float64")
    x = data(B, T, I)
    np.testing.assert_allclose(layer.forward(x, mask=np.ones((B, T), bool)), layer.forward(x),
                               rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("cell", list(RECURRENT))
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_padding_changes_no_gradient(cell, bidirectional):
    """One sequence of length 3 padded to T=5 (with garbage in x and in the output gradient on padded steps)
    gives the same parameter, input and initial-state gradients as the sequence alone."""
    n = 3
    layer = built(RECURRENT[cell], H, num_layers=2, bidirectional=bidirectional, return_sequences=True,
                  return_state=True, dtype="float64")
    D = 2 if bidirectional else 1
    x = data(1, T, I)
    x[:, n:] = 7.0
    h0 = tuple(data(2 * D, 1, H, seed=3 + i) for i in range(2 if cell == "LSTM" else 1))
    h0 = h0 if cell == "LSTM" else h0[0]
    dy = data(1, T, D * H, seed=1)
    dstate = tuple(data(2 * D, 1, H, seed=5 + i) for i in range(2 if cell == "LSTM" else 1))
    dstate = dstate if cell == "LSTM" else dstate[0]

    layer.forward(x, initial_state=h0, mask=np.arange(T)[None] < n)
    dx_padded = layer.backward((dy, dstate))
    grads_padded = {k: g.copy() for k, g in layer.grads.items()}
    dh0_padded = states_of(cell, layer.dinitial_state)

    layer.forward(x[:, :n], initial_state=h0)
    dx_alone = layer.backward((dy[:, :n], dstate))
    np.testing.assert_allclose(dx_padded[:, :n], dx_alone, rtol=1e-10, atol=1e-12)
    assert np.all(dx_padded[:, n:] == 0.0)
    for k, g in layer.grads.items():
        np.testing.assert_allclose(grads_padded[k], g, rtol=1e-10, atol=1e-12, err_msg=k)
    for a, b in zip(dh0_padded, states_of(cell, layer.dinitial_state)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# ---- initial state ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", list(RECURRENT))
def test_initial_state_is_used_and_zero_state_is_the_default(cell):
    layer = built(RECURRENT[cell], H, num_layers=2, return_state=True, dtype="float64")
    x = data(B, T, I)
    zero = tuple(np.zeros((2, B, H)) for _ in range(2 if cell == "LSTM" else 1))
    given = zero if cell == "LSTM" else zero[0]
    np.testing.assert_array_equal(layer.forward(x)[0], layer.forward(x, initial_state=given)[0])
    ones = tuple(np.ones((2, B, H)) for _ in range(2 if cell == "LSTM" else 1))
    assert not np.allclose(layer.forward(x)[0], layer.forward(x, initial_state=ones if cell == "LSTM"
                                                               else ones[0])[0])
    # chaining: running T steps equals running 2 then T-2 from the returned state
    full, _ = layer.forward(x)
    _, mid = layer.forward(x[:, :2])
    rest, _ = layer.forward(x[:, 2:], initial_state=mid)
    np.testing.assert_allclose(full, rest, rtol=1e-12, atol=1e-12)


def test_dinitial_state_is_none_without_initial_state():
    layer = built(GRU, H, return_state=True)
    out, _ = layer.forward(data(B, T, I))
    layer.backward(np.ones_like(out))
    assert layer.dinitial_state is None


# ---- validation ---------------------------------------------------------------------------------------------------
def raises(exc, fragment, fn, *args, **kwargs):
    with pytest.raises(exc) as info:
        fn(*args, **kwargs)
    assert fragment.lower() in str(info.value).lower(), str(info.value)
    return info.value


@pytest.mark.parametrize("cell", list(RECURRENT))
def test_bad_x_for_recurrent_layers(cell):
    layer = RECURRENT[cell](H)
    raises(ValueError, "3D", layer.forward, data(B, I))
    raises(ValueError, "3D", layer.forward, data(B, T, I, 2))
    raises(ValueError, "empty", layer.forward, np.zeros((0, T, I)))
    raises(TypeError, "numeric", layer.forward, np.full((B, T, I), "a"))
    raises(TypeError, "numeric", layer.forward, [[["a", "b"]]])
    bad = data(B, T, I)
    bad[1, 2, 3] = np.nan
    raises(ValueError, "NaN", layer.forward, bad)
    bad[1, 2, 3] = np.inf
    raises(ValueError, "inf", layer.forward, bad)
    layer.forward(data(B, T, I))                         # builds for I features
    err = raises(ValueError, "features", layer.forward, data(B, T, I + 1))
    assert str(I) in str(err) and str(I + 1) in str(err)
    layer.forward(data(1, T + 3, I))                     # another batch and length are fine


def test_bad_x_for_dense_dropout_embedding():
    raises(ValueError, "2D or 3D", Dense(2).forward, data(B))
    dense = Dense(2)
    dense.forward(data(B, I))
    raises(ValueError, "features", dense.forward, data(B, I + 2))
    raises(ValueError, "NaN", Dense(2).forward, np.full((B, I), np.nan))
    raises(TypeError, "numeric", Dropout(0.1).forward, np.array([["x"]]))
    raises(ValueError, "empty", Dropout(0.1).forward, np.zeros((0, 3)))
    raises(TypeError, "integer", Embedding(5, 2).forward, np.array([[0.5, 1.0]]))
    raises(TypeError, "numeric", Embedding(5, 2).forward, np.array([["a"]]))


@pytest.mark.parametrize("ids,bad", [([[0, 5]], "5"), ([[1, -1]], "-1"), ([[100]], "100")])
def test_embedding_ids_out_of_range(ids, bad):
    err = raises(ValueError, "token id", Embedding(5, 2).forward, np.array(ids))
    assert bad in str(err) and "[0, 5)" in str(err)


@pytest.mark.parametrize("cell", list(RECURRENT))
def test_bad_initial_state(cell):
    layer = RECURRENT[cell](H, num_layers=2, bidirectional=True)
    x = data(B, T, I)
    right = np.zeros((4, B, H))
    wrong = np.zeros((2, B, H))                          # forgot num_directions
    if cell == "LSTM":
        raises(ValueError, "(h_0, c_0)", layer.forward, x, initial_state=right)   # one array for two states
        raises(ValueError, "(h_0, c_0)", layer.forward, x, initial_state=(right,))
        raises(ValueError, "(h_0, c_0)", layer.forward, x, initial_state=(right, right, right))
        err = raises(ValueError, "shape", layer.forward, x, initial_state=(right, wrong))
        assert "c_0" in str(err) and "(4, 3, 6)" in str(err)
        raises(ValueError, "3D", layer.forward, x, initial_state=(right, np.zeros((B, H))))
        raises(ValueError, "NaN", layer.forward, x, initial_state=(right, np.full((4, B, H), np.nan)))
        layer.forward(x, initial_state=[right, right])   # a list is a fine pair
    else:
        err = raises(ValueError, "shape", layer.forward, x, initial_state=wrong)
        assert "(4, 3, 6)" in str(err)
        raises(ValueError, "shape", layer.forward, x, initial_state=np.zeros((4, B + 1, H)))
        raises(ValueError, "3D", layer.forward, x, initial_state=np.zeros((B, H)))
        raises(ValueError, "", layer.forward, x, initial_state=(right, right))
        raises(TypeError, "numeric", layer.forward, x, initial_state=np.full((4, B, H), "s"))


@pytest.mark.parametrize("cell", list(RECURRENT))
def test_bad_mask(cell):
    layer = RECURRENT[cell](H)
    x = data(B, T, I)
    err = raises(ValueError, "mask", layer.forward, x, mask=np.ones((B, T - 1), bool))
    assert "(3, 5)" in str(err)
    raises(ValueError, "mask", layer.forward, x, mask=np.ones((T, B), bool))
    raises(ValueError, "mask", layer.forward, x, mask=np.ones((B, T, 1), bool))
    raises(TypeError, "bool", layer.forward, x, mask=np.ones((B, T), int))
    raises(TypeError, "bool", layer.forward, x, mask=np.ones((B, T), float))


@pytest.mark.parametrize("make,fragment", [
    (lambda: LSTM(0), "hidden_size"),
    (lambda: GRU(-3), "hidden_size"),
    (lambda: SimpleRNN(2.5), "hidden_size"),
    (lambda: LSTM(True), "hidden_size"),
    (lambda: LSTM(4, num_layers=0), "num_layers"),
    (lambda: LSTM(4, dropout=1.5), "dropout"),
    (lambda: GRU(4, dropout=-0.1), "dropout"),
    (lambda: SimpleRNN(4, dropout=1.0), "dropout"),
    (lambda: SimpleRNN(4, nonlinearity="sigmoid"), "nonlinearity"),
    (lambda: LSTM(4, dtype="float16"), "dtype"),
    (lambda: LSTM(4, dtype="int32"), "dtype"),
    (lambda: Dense(0), "units"),
    (lambda: Dense(2, activation="gelu"), "activation must be one of (None, 'sigmoid', 'softmax', 'tanh', 'relu')"),
    (lambda: Dense(2, activation="Sigmoid"), "activation"),
    (lambda: Dropout(1.5), "rate"),
    (lambda: Dropout(-0.5), "rate"),
    (lambda: Embedding(0, 3), "num_embeddings"),
    (lambda: Embedding(5, 0), "embedding_dim"),
    (lambda: Embedding(5, 3, padding_idx=5), "padding_idx"),
])
def test_bad_constructor_args(make, fragment):
    raises(ValueError, fragment, make)


@pytest.mark.parametrize("make", [lambda: LSTM(H), lambda: GRU(H), lambda: SimpleRNN(H), lambda: Dense(2),
                                  lambda: Embedding(5, 2), lambda: Dropout(0.5)],
                         ids=["LSTM", "GRU", "SimpleRNN", "Dense", "Embedding", "Dropout"])
def test_backward_before_forward(make):
    layer = make()
    raises(RuntimeError, "before forward", layer.backward, np.ones((B, H)))


@pytest.mark.parametrize("cell,return_sequences,wrong", [
    ("LSTM", False, "features"), ("LSTM", True, "features"), ("LSTM", True, "time"), ("LSTM", False, "time"),
    ("GRU", False, "batch"), ("SimpleRNN", True, "batch")])
def test_backward_rejects_a_dout_of_the_wrong_shape(cell, return_sequences, wrong):
    """A dout that does not match the output is a user error, not something to slice or broadcast silently."""
    layer = RECURRENT[cell](H, return_sequences=return_sequences)
    out = layer.forward(data(B, T, I))
    shape = list(out.shape)
    if wrong == "features":
        shape[-1] += 2
    elif wrong == "batch":
        shape[0] += 1
    elif return_sequences:
        shape[1] -= 2
    else:
        shape.insert(1, T)                               # a sequence gradient for a last-step output
    raises(ValueError, "dout", layer.backward, np.ones(shape))


def test_constructor_stores_its_arguments_as_config():
    layer = LSTM(4, num_layers=2, bidirectional=True, dropout=0.25, return_sequences=True, forget_bias=1.0)
    config = layer.get_config()
    given = {"hidden_size": 4, "num_layers": 2, "bidirectional": True, "dropout": 0.25,
             "return_sequences": True, "return_state": False, "forget_bias": 1.0, "dtype": "float32"}
    assert {k: config[k] for k in given} == given
    assert type(layer)(**config).get_config() == config
    assert SimpleRNN(3, nonlinearity="relu").get_config()["nonlinearity"] == "relu"
    assert Embedding(5, 2, padding_idx=-1).get_config()["padding_idx"] == 4


# ---- determinism --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda: LSTM(H, num_layers=2, bidirectional=True), lambda: GRU(H),
                                  lambda: SimpleRNN(H), lambda: Dense(3), lambda: Embedding(7, 3)],
                         ids=["LSTM", "GRU", "SimpleRNN", "Dense", "Embedding"])
def test_same_seed_same_params(make):
    shape = (T,) if isinstance(make(), Embedding) else (T, I)
    a = make().build(shape, np.random.default_rng(42))
    b = make().build(shape, np.random.default_rng(42))
    c = make().build(shape, np.random.default_rng(43))
    assert set(a.params) == set(b.params) == set(c.params)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
        assert not np.array_equal(a.params[k], c.params[k])


def test_same_seed_same_dropout_masks():
    outs = []
    for seed in (1, 1, 2):
        layer = LSTM(H, num_layers=2, dropout=0.5, return_sequences=True).build((T, I), np.random.default_rng(seed))
        outs.append(layer.forward(data(B, T, I), training=True))
    np.testing.assert_array_equal(outs[0], outs[1])
    assert not np.array_equal(outs[0], outs[2])


def test_sequential_seed_fixes_every_layer():
    def make(seed):
        model = lk.Sequential([LSTM(H, return_sequences=True), GRU(H), Dense(2)], seed=seed)
        model.build((T, I))
        return model.parameters()
    a, b, c = make(0), make(0), make(1)
    assert set(a) == set(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
        assert not np.array_equal(a[k], c[k])


def test_inference_is_deterministic_and_leaves_input_untouched():
    layer = built(LSTM, H, num_layers=2, dropout=0.5, bidirectional=True)
    x = data(B, T, I).astype(np.float32)
    x_copy = x.copy()
    np.testing.assert_array_equal(layer.forward(x), layer.forward(x))
    out = layer.forward(x, training=True)
    layer.backward(np.ones_like(out))
    np.testing.assert_array_equal(x, x_copy)
