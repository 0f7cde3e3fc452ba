"""lk.interop.from_keras / to_keras: parity with Keras 3 itself (on its torch backend) for outputs, final states AND
gradients (input, every weight), round trips both ways, whole Sequential models, and a clear error for every
Keras layer or option lstmkit cannot represent. Tolerances and error measure as in test_parity_torch.py: relative
error max|a - b| / max|b| of 1e-5 in float32, 1e-10 in float64. Run with `pytest -s` to print the largest errors.
"""

import os
from collections import defaultdict

os.environ.setdefault("KERAS_BACKEND", "torch")     # must precede the first import of keras

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")

import lstmkit as lk  # noqa: E402
from lstmkit import layers  # noqa: E402
from lstmkit.formats.interop import from_keras, to_keras  # noqa: E402
from lstmkit.layers.reshape import RepeatVector  # noqa: E402

kl = keras.layers
# Keras' own numpy conversion of torch tensors trips numpy 2's __array__(copy=...) deprecation; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")
TOL = {"float32": 1e-5, "float64": 1e-10}
# Keras' torch backend rounds keras.ops.matmul results to float32 even for float64 inputs (result_type demotes
# float64 on non-TensorFlow backends), so its float64 Dense and SimpleRNN are only float32-accurate; its LSTM and
# GRU run torch's own float64 kernels and meet 1e-10
KERAS_FLOAT64_TOL = {"Dense": 1e-6, "SimpleRNN": 1e-6}
B, T, I, H = 3, 5, 4, 6                  # batch, time, input features, hidden units
MAX_ERROR = defaultdict(float)           # (case, dtype) -> largest relative error seen
torch_backend = pytest.mark.skipif(keras.backend.backend() != "torch",
                                   reason="gradients are read through torch autograd (KERAS_BACKEND=torch)")

RECURRENT = {
    "SimpleRNN": lambda dt, **kw: kl.SimpleRNN(H, dtype=dt, **kw),
    "SimpleRNN-relu": lambda dt, **kw: kl.SimpleRNN(H, activation="relu", dtype=dt, **kw),
    "LSTM": lambda dt, **kw: kl.LSTM(H, dtype=dt, **kw),
    "LSTM-nobias": lambda dt, **kw: kl.LSTM(H, use_bias=False, dtype=dt, **kw),
    "GRU": lambda dt, **kw: kl.GRU(H, dtype=dt, **kw),
    "GRU-nobias": lambda dt, **kw: kl.GRU(H, use_bias=False, dtype=dt, **kw),
    "Bi-SimpleRNN": lambda dt, **kw: kl.Bidirectional(kl.SimpleRNN(H, dtype=dt, **kw), dtype=dt),
    "Bi-LSTM": lambda dt, **kw: kl.Bidirectional(kl.LSTM(H, dtype=dt, **kw), dtype=dt),
    "Bi-GRU": lambda dt, **kw: kl.Bidirectional(kl.GRU(H, dtype=dt, **kw), dtype=dt),
}
OUTPUTS = {"last": dict(), "seq+state": dict(return_sequences=True, return_state=True)}


@pytest.fixture(scope="module", autouse=True)
def report_errors():
    yield
    print("\nlargest relative error against Keras (outputs, states and gradients):")
    for (name, dtype), err in sorted(MAX_ERROR.items()):
        print(f"  {name:24s} {dtype}: {err:.2e}")


def check_close(name, got, want, dtype, what):
    want = np.asarray(want)
    assert got.shape == want.shape, f"{name} {what}: shape {got.shape} != Keras' {want.shape}"
    err = float(np.max(np.abs(got - want), initial=0.0)) / max(float(np.max(np.abs(want), initial=0.0)), 1e-12)
    MAX_ERROR[name, dtype] = max(MAX_ERROR[name, dtype], err)
    tol = TOL[dtype]
    if dtype == "float64":
        tol = max([tol] + [t for layer, t in KERAS_FLOAT64_TOL.items() if layer in name])
    assert err <= tol, f"{name} {what}: relative error {err:.3e} > {tol:.0e} ({dtype})"


def randomize(layer, rng, scale=0.5):
    """Random weights everywhere (Keras' default zero biases and orthogonal kernels would hide gate mix-ups)."""
    layer.set_weights([scale * rng.standard_normal(w.shape) for w in layer.get_weights()])


def numpy_of(t):
    return keras.ops.convert_to_numpy(t)


def lstmkit_outputs(out):
    """Flatten lstmkit's (y, h_n) / (y, (h_n, c_n)) to [y, h_n, c_n] with states (D, B, H)."""
    if not isinstance(out, tuple):
        return [out]
    y, state = out
    return [y] + (list(state) if isinstance(state, tuple) else [state])


def keras_outputs(out, n_states, D):
    """Keras' [y, h_f, (c_f), h_b, (c_b)] as [y, h_n, (c_n)] with states stacked (D, B, H), as lstmkit's."""
    if not isinstance(out, (list, tuple)):
        return [out]
    y, states = out[0], list(out[1:])
    per_direction = [states[d * n_states:(d + 1) * n_states] for d in range(D)]
    return [y] + [torch.stack([per_direction[d][j] for d in range(D)]) for j in range(n_states)]


# ---- parity: outputs, states and gradients ------------------------------------------------------------------------
@torch_backend
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("outputs", list(OUTPUTS))
@pytest.mark.parametrize("name", list(RECURRENT))
def test_recurrent_parity(name, outputs, dtype):
    """from_keras gives the same outputs and final states as the Keras layer, and lstmkit's backward pass the
    same gradients of the input and of every Keras weight as torch autograd through Keras."""
    rng = np.random.default_rng(0)
    case = f"{name}/{outputs}"
    k = RECURRENT[name](dtype, **OUTPUTS[outputs])
    k.build((None, None, I))
    randomize(k, rng)
    layer = from_keras(k)
    assert layer.dtype == dtype and layer.bidirectional == name.startswith("Bi-")
    D, n_states = layer.num_directions, len(layer.STATES)

    x = rng.standard_normal((B, T, I)).astype(dtype)
    x_t = torch.tensor(x, requires_grad=True)
    want = keras_outputs(k(x_t), n_states, D)
    got = lstmkit_outputs(layer.forward(x))
    assert len(got) == len(want)
    for j, (g, w) in enumerate(zip(got, want)):
        check_close(case, g, w.detach().numpy(), dtype, f"output {j}")

    upstream = [rng.standard_normal(g.shape).astype(dtype) for g in got]
    sum(torch.sum(w * torch.tensor(u)) for w, u in zip(want, upstream)).backward()
    dout = upstream[0] if len(upstream) == 1 else \
        (upstream[0], upstream[1] if n_states == 1 else tuple(upstream[1:]))
    dx = layer.backward(dout)
    check_close(case, dx, x_t.grad.numpy(), dtype, "grad of x")

    # Keras' weight gradients in lstmkit's layout: load them into the Keras layer as if they were weights and
    # convert (the mapping itself is what the output parity above proves right)
    k.set_weights([v.value.grad.numpy() for v in k.weights])
    keras_grads = from_keras(k).params
    for pname, grad in layer.grads.items():
        if "bias" in pname and "nobias" in name:
            continue                                          # Keras has no bias to compare with
        if pname.startswith("bias_hh") and "GRU" not in name:
            pname = pname.replace("bias_hh", "bias_ih")       # one Keras bias feeds both lstmkit biases
        check_close(case, grad, keras_grads[pname], dtype, f"grad of {pname}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dense_embedding_dropout_parity(dtype):
    rng = np.random.default_rng(1)
    for use_bias in (True, False):
        k = kl.Dense(3, use_bias=use_bias, dtype=dtype)
        k.build((None, I))
        randomize(k, rng)
        layer = from_keras(k)
        for shape in ((B, I), (B, T, I)):
            x = rng.standard_normal(shape).astype(dtype)
            check_close("Dense", layer.forward(x), numpy_of(k(x)), dtype, f"output {shape}")
    k = kl.Embedding(9, 4, dtype=dtype)
    k.build()
    ids = rng.integers(0, 9, (B, T))
    layer = from_keras(k)
    assert (layer.num_embeddings, layer.embedding_dim, layer.dtype) == (9, 4, dtype)
    check_close("Embedding", layer.forward(ids), numpy_of(k(ids)), dtype, "output")
    drop = from_keras(kl.Dropout(0.3))
    assert type(drop) is layers.Dropout and drop.rate == 0.3


def test_sequential_both_ways():
    """A whole keras.Sequential (Embedding, Bidirectional LSTM, GRU, Dropout, Dense) converts to an lk.Sequential
    with the same predictions, and back."""
    rng = np.random.default_rng(2)
    km = keras.Sequential([keras.Input((None,), dtype="int64"), kl.Embedding(9, 4),
                           kl.Bidirectional(kl.LSTM(5, return_sequences=True)), kl.GRU(3), kl.Dropout(0.2),
                           kl.Dense(2)])
    for layer in km.layers:
        randomize(layer, rng)
    ids = rng.integers(0, 9, (B, 7))
    model = from_keras(km)
    assert isinstance(model, lk.Sequential) and model.input_shape == (None,)
    want = km.predict(ids, verbose=0)
    check_close("Sequential", model.predict(ids), want, "float32", "from_keras")
    back = to_keras(model)
    assert isinstance(back, keras.Sequential)
    check_close("Sequential", back.predict(ids, verbose=0), want, "float32", "to_keras")


# ---- round trips ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("outputs", ["last", "seq+state"])
@pytest.mark.parametrize("name", ["SimpleRNN-relu", "LSTM", "GRU", "Bi-LSTM", "Bi-GRU"])
def test_round_trip_from_keras(name, outputs):
    """Keras -> lstmkit -> Keras: the same class, options and weights, bit for bit."""
    k = RECURRENT[name]("float32", **OUTPUTS[outputs])
    k.build((None, None, I))
    randomize(k, np.random.default_rng(3))
    back = to_keras(from_keras(k))
    assert type(back) is type(k)
    inner, inner_back = (k.forward_layer, back.forward_layer) if name.startswith("Bi-") else (k, back)
    for key in ("units", "activation", "return_sequences", "return_state", "use_bias"):
        assert inner_back.get_config()[key] == inner.get_config()[key], key
    if isinstance(k, kl.GRU):
        assert back.reset_after
    for w, w_back in zip(k.get_weights(), back.get_weights(), strict=True):
        np.testing.assert_array_equal(w_back, w)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_from_lstmkit(dtype):
    """lstmkit -> Keras -> lstmkit: the same weights (the LSTM's and Elman RNN's two biases come back summed in
    bias_ih) and the same outputs."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((B, T, I)).astype(dtype)
    built = [layers.Dense(3, dtype=dtype), layers.Dense(3, use_bias=False, dtype=dtype),
             layers.SimpleRNN(H, nonlinearity="relu", return_sequences=True, dtype=dtype),
             layers.LSTM(H, bidirectional=True, return_state=True, dtype=dtype),
             layers.GRU(H, bidirectional=True, return_sequences=True, dtype=dtype)]
    for layer in built:
        layer.build((None, I), rng)
        k = to_keras(layer)
        back = from_keras(k)
        assert type(back) is type(layer) and back.get_config() == layer.get_config()
        for pname, value in layer.params.items():
            if pname.startswith("bias") and type(layer) in (layers.LSTM, layers.SimpleRNN):
                summed = layer.params[pname.replace("_hh", "_ih")] + layer.params[pname.replace("_ih", "_hh")]
                np.testing.assert_array_equal(back.params[pname], summed if "_ih" in pname else 0 * summed)
            else:
                np.testing.assert_array_equal(back.params[pname], value)
        for g, w in zip(lstmkit_outputs(back.forward(x)), lstmkit_outputs(layer.forward(x))):
            check_close(f"round trip {type(layer).__name__}", g, w, dtype, "output")
    emb = layers.Embedding(9, 4, dtype=dtype).build((None,), rng)
    np.testing.assert_array_equal(from_keras(to_keras(emb)).params["weight"], emb.params["weight"])
    assert isinstance(to_keras(layers.Dropout(0.25)), kl.Dropout)


# ---- what cannot convert ----------------------------------------------------------------------------------------
def built(k, shape=(None, None, I)):
    k.build(shape)
    return k


@pytest.mark.parametrize("make, match", [
    (lambda: built(kl.GRU(H, reset_after=False)), "reset_after=False"),
    (lambda: built(kl.LSTM(H, activation="relu")), "activation='relu'"),
    (lambda: built(kl.LSTM(H, recurrent_activation="hard_sigmoid")), "recurrent_activation"),
    (lambda: built(kl.SimpleRNN(H, activation="sigmoid")), "activation='sigmoid'"),
    (lambda: built(kl.LSTM(H, go_backwards=True)), "go_backwards"),
    (lambda: built(kl.LSTM(H, stateful=True), (B, T, I)), "stateful"),
    (lambda: built(kl.Bidirectional(kl.LSTM(H), merge_mode="sum")), "merge_mode='sum'"),
    (lambda: built(kl.Bidirectional(kl.LSTM(H), backward_layer=kl.LSTM(H + 1, go_backwards=True))),
     f"units={H} forward and {H + 1} backward"),
    (lambda: built(kl.Dense(3, activation="gelu"), (None, I)), "activation='gelu'"),
    (lambda: built(kl.LSTM(H, dtype="mixed_float16")), "mixed_float16"),
    (lambda: kl.LSTM(H), "not built"),
    (lambda: built(kl.Conv1D(3, 2)), "supported Keras layers"),
])
def test_from_keras_refuses(make, match):
    with pytest.raises(ValueError, match=match):
        from_keras(make())


def test_from_keras_type_error():
    with pytest.raises(TypeError, match="must be a Keras 3 layer"):
        from_keras(layers.LSTM(H))


def test_from_keras_warns_on_what_it_drops():
    with pytest.warns(UserWarning, match="recurrent_dropout=0.2 are dropped"):
        from_keras(built(kl.LSTM(H, dropout=0.1, recurrent_dropout=0.2)))
    km = keras.Sequential([keras.Input((None,), dtype="int64"), kl.Embedding(9, 4, mask_zero=True), kl.LSTM(3)])
    assert from_keras(km).layers[0].mask_zero                 # converts (test_interop.py checks the outputs)


@pytest.mark.parametrize("make, match", [
    (lambda: layers.LSTM(H, num_layers=2).build((None, I)), "num_layers=2"),
    (lambda: layers.LSTM(H, peephole=True).build((None, I)), "peephole=True"),
    (lambda: layers.LSTM(H, coupled=True).build((None, I)), "coupled=True"),
    (lambda: layers.GRU(H), "not built"),
    (lambda: RepeatVector(3).build((I,)), "supported layers"),
])
def test_to_keras_refuses(make, match):
    with pytest.raises(ValueError, match=match):
        to_keras(make())
