"""lk.interop: round trips between PyTorch modules and lstmkit layers, batch_first=False modules, copies not views,
and a clear error for every unsupported module, option or dtype. Numerical parity lives in test_parity_torch.py."""

import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from lstmkit import layers  # noqa: E402
from lstmkit.formats.interop import from_torch, to_torch  # noqa: E402
from test_parity_torch import MAX_ERROR, as_tuple, check_close, check_param_grads, tensor  # noqa: E402

MODULES = {
    "Linear": lambda dt: nn.Linear(4, 3, dtype=dt),
    "Linear-nobias": lambda dt: nn.Linear(4, 3, bias=False, dtype=dt),
    "Embedding": lambda dt: nn.Embedding(9, 4, dtype=dt),
    "Embedding-pad": lambda dt: nn.Embedding(9, 4, padding_idx=-2, dtype=dt),
    "RNN-tanh": lambda dt: nn.RNN(4, 5, dtype=dt),
    "RNN-relu-L2-bi": lambda dt: nn.RNN(4, 5, num_layers=2, nonlinearity="relu", bidirectional=True, dtype=dt),
    "LSTM": lambda dt: nn.LSTM(4, 5, batch_first=True, dtype=dt),
    "LSTM-L3-bi-dropout": lambda dt: nn.LSTM(4, 5, num_layers=3, bidirectional=True, dropout=0.25, dtype=dt),
    "LSTM-proj-L2-bi": lambda dt: nn.LSTM(4, 5, num_layers=2, bidirectional=True, proj_size=3, dtype=dt),
    "GRU-L2": lambda dt: nn.GRU(4, 5, num_layers=2, batch_first=True, dtype=dt),
    "GRU-bi": lambda dt: nn.GRU(4, 5, bidirectional=True, dtype=dt),
}
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def sample_input(module, rng, dtype):
    """A batch for `module` in its own layout: token ids, (B, I), or (B, T, I) / (T, B, I) by batch_first."""
    if isinstance(module, nn.Embedding):
        return torch.from_numpy(rng.integers(0, module.num_embeddings, (3, 6)))
    if isinstance(module, nn.Linear):
        return torch.from_numpy(rng.standard_normal((3, module.in_features)).astype(dtype))
    return torch.from_numpy(rng.standard_normal((3, 6, module.input_size)).astype(dtype))


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("name", list(MODULES))
def test_round_trip_from_torch_to_torch(name, dtype):
    """from_torch then to_torch: the same state_dict (keys, dtypes, values bit for bit) and the same outputs."""
    torch.manual_seed(0)
    module = MODULES[name](DTYPES[dtype]).eval()
    layer = from_torch(module)
    assert layer.built and layer.dtype == dtype
    back = to_torch(layer).eval()
    assert type(back) is type(module)

    sd, sd_back = module.state_dict(), back.state_dict()
    assert list(sd) == list(sd_back)
    for key in sd:
        assert sd_back[key].dtype == sd[key].dtype
        assert torch.equal(sd_back[key], sd[key]), key

    x = sample_input(module, np.random.default_rng(0), dtype)
    with torch.no_grad():
        if isinstance(module, nn.RNNBase):
            assert back.batch_first
            assert back.dropout == module.dropout
            assert (back.num_layers, back.bidirectional) == (module.num_layers, module.bidirectional)
            x_back = x if module.batch_first else x.transpose(0, 1)
            out, state = module(x)
            out_back, state_back = back(x_back)
            assert torch.equal(out_back, out if module.batch_first else out.transpose(0, 1))
            for s, s_back in zip(state if isinstance(state, tuple) else (state,),
                                 state_back if isinstance(state_back, tuple) else (state_back,)):
                assert torch.equal(s_back, s)
        else:
            assert torch.equal(back(x), module(x))


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_round_trip_from_lstmkit(dtype):
    """to_torch then from_torch gives back the same parameters and configuration."""
    rng = np.random.default_rng(0)
    built = [
        layers.Dense(3, dtype=dtype).build((4,), rng),
        layers.Dense(3, use_bias=False, dtype=dtype).build((4,), rng),
        layers.Embedding(8, 3, padding_idx=1, dtype=dtype).build((None,), rng),
        layers.SimpleRNN(5, num_layers=2, nonlinearity="relu", dtype=dtype).build((None, 4), rng),
        layers.LSTM(5, num_layers=2, bidirectional=True, dropout=0.3, forget_bias=1.0, dtype=dtype).build((None, 4),
                                                                                                          rng),
        layers.GRU(5, bidirectional=True, dtype=dtype).build((None, 4), rng),
        layers.LSTM(5, num_layers=2, bidirectional=True, proj_size=2, dtype=dtype).build((None, 4), rng),
    ]
    for layer in built:
        again = from_torch(to_torch(layer))
        assert type(again) is type(layer)
        assert again.dtype == dtype
        assert list(again.params) == list(layer.params)
        for key, value in layer.params.items():
            assert again.params[key].dtype == value.dtype
            np.testing.assert_array_equal(again.params[key], value, err_msg=key)
        # forget_bias is an initialiser, not a weight; return_sequences has no torch counterpart
        skip = ("forget_bias", "return_sequences")
        config = {k: v for k, v in layer.get_config().items() if k not in skip}
        assert {k: v for k, v in again.get_config().items() if k not in skip} == config


def test_to_torch_module_settings_and_outputs():
    """to_torch builds batch_first=True, in the layer's dtype, in torch's default train mode; in eval mode its
    output equals the layer's forward."""
    rng = np.random.default_rng(1)
    layer = layers.LSTM(5, num_layers=2, dropout=0.2, return_sequences=True, dtype="float64").build((None, 4), rng)
    module = to_torch(layer)
    assert isinstance(module, nn.LSTM)
    assert module.batch_first and module.training and module.dropout == 0.2
    assert module.weight_ih_l0.dtype == torch.float64
    x = rng.standard_normal((2, 7, 4))
    with torch.no_grad():
        out, _ = module.eval()(torch.from_numpy(x))
    np.testing.assert_allclose(layer.forward(x), out.numpy(), rtol=0, atol=1e-12)


def test_recurrent_defaults_follow_torch():
    """A converted recurrent module returns the whole sequence by default, and no state unless asked."""
    module = nn.GRU(4, 5, bidirectional=True)
    layer = from_torch(module)
    assert layer.return_sequences and not layer.return_state
    x = np.zeros((2, 7, 4), np.float32)
    assert layer.forward(x).shape == (2, 7, 10)
    layer = from_torch(module, return_sequences=False, return_state=True)
    out, h_n = layer.forward(x)
    assert out.shape == (2, 10) and h_n.shape == (2, 2, 5)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_batch_first_false_module_with_transposed_input(kind):
    """A batch_first=False module converts as is; fed its input transposed to (B, T, I), the layer gives the
    module's outputs transposed and the same final states."""
    torch.manual_seed(0)
    module = getattr(nn, kind)(4, 5, num_layers=2, bidirectional=True, dtype=torch.float64)
    assert not module.batch_first
    layer = from_torch(module, return_state=True)
    x_tbi = np.random.default_rng(0).standard_normal((7, 3, 4))          # (T, B, I), the module's layout
    with torch.no_grad():
        out_t, state_t = module(torch.from_numpy(x_tbi))
    out, state = layer.forward(x_tbi.transpose(1, 0, 2))                # (B, T, I) for lstmkit
    np.testing.assert_allclose(out, out_t.numpy().transpose(1, 0, 2), rtol=0, atol=1e-12)
    for s, s_t in zip(state if kind == "LSTM" else (state,), state_t if kind == "LSTM" else (state_t,)):
        np.testing.assert_allclose(s, s_t.numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (1, True), (2, False), (2, True)],
                         ids=["L1", "L1-bi", "L2", "L2-bi"])
def test_lstm_proj_size_round_trip(num_layers, bidirectional, dtype):
    """nn.LSTM(proj_size=P) -> from_torch: the output, h_n (L*D, B, P), c_n (L*D, B, H) and every gradient (x, the
    initial states, each parameter, weight_hr included) equal torch autograd's to test_parity_torch's tolerances
    (1e-10 relative in float64, 1e-5 in float32); to_torch gives back the same state_dict and identical outputs."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    B, T, I, H, P = 3, 6, 4, 5, 3
    D = 2 if bidirectional else 1
    module = nn.LSTM(I, H, num_layers=num_layers, bidirectional=bidirectional, proj_size=P, batch_first=True,
                     dtype=DTYPES[dtype])
    layer = from_torch(module, return_state=True)
    assert (layer.proj_size, layer.num_layers, layer.bidirectional) == (P, num_layers, bidirectional)
    assert set(layer.params) == set(module.state_dict())

    x = rng.standard_normal((B, T, I)).astype(dtype)
    state0 = (rng.standard_normal((num_layers * D, B, P)).astype(dtype),          # h_0: projected width P
              rng.standard_normal((num_layers * D, B, H)).astype(dtype))          # c_0: cell width H
    x_t = tensor(x, requires_grad=True)
    state0_t = tuple(tensor(s, requires_grad=True) for s in state0)
    out_t, final_t = module(x_t, state0_t)
    out, final = layer.forward(x, initial_state=state0)
    name = f"LSTM-proj-L{num_layers}{'-bi' if bidirectional else ''}"
    check_close(name, out, out_t, dtype, "output")                              # (B, T, D*P)
    for what, got, want in zip(("h_n", "c_n"), final, final_t):
        check_close(name, got, want, dtype, what)

    dout = rng.standard_normal(out.shape).astype(dtype)
    dfinal = tuple(rng.standard_normal(s.shape).astype(dtype) for s in final)
    loss = (out_t * tensor(dout)).sum()
    for f_t, g in zip(final_t, dfinal):
        loss = loss + (f_t * tensor(g)).sum()
    loss.backward()
    dx = layer.backward((dout, dfinal))
    check_close(name, dx, x_t.grad, dtype, "dx")
    check_param_grads(name, layer, module, dtype)
    for what, got, s_t in zip(("dh_0", "dc_0"), as_tuple(layer.dinitial_state), state0_t):
        check_close(name, got, s_t.grad, dtype, what)
    print(f"\n{name} {dtype}: largest relative error against torch {MAX_ERROR[name, dtype]:.2e}")

    back = to_torch(layer).eval()
    assert (back.proj_size, back.num_layers, back.bidirectional) == (P, num_layers, bidirectional)
    sd, sd_back = module.state_dict(), back.state_dict()
    assert list(sd_back) == list(sd)
    for key in sd:
        assert torch.equal(sd_back[key], sd[key]), key
    with torch.no_grad():
        out_back, final_back = back(x_t, state0_t)
        out_t, final_t = module(x_t, state0_t)
    assert torch.equal(out_back, out_t)
    for s_back, s_t in zip(final_back, final_t):
        assert torch.equal(s_back, s_t)


def test_conversions_copy_weights_not_share_them():
    module = nn.LSTM(3, 4)
    layer = from_torch(module)
    before = layer.params["weight_hh_l0"].copy()
    with torch.no_grad():
        module.weight_hh_l0.add_(1.0)
    np.testing.assert_array_equal(layer.params["weight_hh_l0"], before)

    back = to_torch(layer)
    layer.params["bias_ih_l0"][:] += 1.0                                # in place, as the contract allows
    assert not torch.equal(back.bias_ih_l0, torch.from_numpy(layer.params["bias_ih_l0"]))


# ---- errors ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("module,fragment", [
    (nn.LSTM(4, 5, bias=False), "bias=False is not supported yet"),
    (nn.GRU(4, 5, bias=False), "bias=False is not supported yet"),
    (nn.RNN(4, 5, bias=False), "bias=False is not supported yet"),
    (nn.Embedding(6, 3, max_norm=1.0), "max_norm=1.0"),
    (nn.Embedding(6, 3, sparse=True), "sparse=True"),
    (nn.Embedding(6, 3, scale_grad_by_freq=True), "scale_grad_by_freq=True"),
    (nn.Conv1d(4, 5, 3), "cannot convert Conv1d: supported modules are nn.Linear, nn.RNN, nn.LSTM, nn.GRU"),
    (nn.Sequential(nn.Linear(2, 2)), "cannot convert Sequential"),
    (nn.LSTMCell(4, 5), "cannot convert LSTMCell"),
    (nn.RNNBase("LSTM", 4, 5), "a bare nn.RNNBase"),
    (nn.LSTM(4, 5).half(), "parameters are float16"),
    (nn.Linear(4, 5).to(torch.bfloat16), "parameters are bfloat16"),
    (nn.ReLU(), "found no parameters"),
], ids=lambda v: v if isinstance(v, str) else type(v).__name__)
def test_from_torch_unsupported(module, fragment):
    with pytest.raises(ValueError, match=fragment):
        from_torch(module)


def test_from_torch_mixed_dtypes():
    module = nn.Linear(4, 5)
    module.bias.data = module.bias.data.double()
    with pytest.raises(ValueError, match="must all be float32 or all float64, found float32, float64"):
        from_torch(module)


def test_from_torch_rejects_non_modules_and_recurrent_options_elsewhere():
    with pytest.raises(TypeError, match="must be a torch.nn.Module"):
        from_torch(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="apply to recurrent modules"):
        from_torch(nn.Linear(4, 5), return_sequences=False)
    with pytest.raises(ValueError, match="apply to recurrent modules"):
        from_torch(nn.Embedding(4, 5), return_state=True)


def test_to_torch_unsupported():
    with pytest.raises(ValueError, match="not built yet"):
        to_torch(layers.LSTM(5))
    with pytest.raises(ValueError, match="cannot convert Dropout to PyTorch: supported layers are Dense"):
        to_torch(layers.Dropout(0.5).build((3,)))

    class VariantLSTM(layers.LSTM):                  # a variant with other equations must not pass as nn.LSTM
        pass

    with pytest.raises(ValueError, match="cannot convert VariantLSTM"):
        to_torch(VariantLSTM(5).build((None, 3)))


def test_missing_torch_gives_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)            # makes `import torch` raise ImportError
    with pytest.raises(ImportError, match=r"lk.interop needs PyTorch: pip install torch"):
        from_torch(object())
    with pytest.raises(ImportError, match=r"lk.interop needs PyTorch: pip install torch"):
        to_torch(layers.Dense(2))


# ---- Keras: masks and Dense activations -------------------------------------------------------------------------
def import_keras():
    import os
    os.environ.setdefault("KERAS_BACKEND", "torch")             # as test_keras.py: before keras is first imported
    return pytest.importorskip("keras")


@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")
@pytest.mark.parametrize("padding", ["pre", "post"])
def test_keras_mask_zero_and_softmax_round_trip(padding):
    """keras Embedding(mask_zero=True) + LSTM + Dense(softmax) on padded ids -> lk.Sequential (Embedding(mask_zero=
    True), Dense(activation="softmax")) -> keras.Sequential: the same outputs all three times, and each padded
    row's output is its unpadded sequence's."""
    import warnings

    from lstmkit.data import pad_sequences
    from lstmkit.formats.interop import from_keras, to_keras

    keras = import_keras()
    kl = keras.layers
    keras.utils.set_random_seed(0)
    km = keras.Sequential([keras.Input((6,), dtype="int64"), kl.Embedding(10, 4, mask_zero=True), kl.LSTM(5),
                           kl.Dense(3, activation="softmax")])
    ids = pad_sequences([[3, 1, 4, 1, 5, 9], [2, 6], [5, 3, 5], [8]], maxlen=6, padding=padding)   # (4, 6)
    want = keras.ops.convert_to_numpy(km(ids))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)                  # mask_zero converts: nothing to warn about
        m = from_keras(km)
    emb, lstm, dense = m.layers
    assert emb.mask_zero and dense.activation == "softmax"
    got = m.predict(ids)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m.predict(np.array([[2, 6]])), got[1:2], rtol=1e-5, atol=1e-6)   # padding is inert
    assert not np.allclose(lstm.forward(emb.forward(ids)), lstm.forward(emb.forward(ids), mask=ids != 0))

    back = to_keras(m)
    assert back.layers[0].mask_zero and back.layers[-1].get_config()["activation"] == "softmax"
    np.testing.assert_allclose(keras.ops.convert_to_numpy(back(ids)), want, rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")
@pytest.mark.parametrize("activation", ["sigmoid", "softmax", "tanh", "relu", "linear", None])
def test_keras_dense_activations_convert_both_ways(activation):
    from lstmkit.formats.interop import from_keras, to_keras

    keras = import_keras()
    k = keras.layers.Dense(3, activation=activation)
    k.build((None, 4))
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    layer = from_keras(k)
    assert layer.activation == (None if activation in ("linear", None) else activation)
    np.testing.assert_allclose(layer.forward(x), keras.ops.convert_to_numpy(k(x)), rtol=1e-5, atol=1e-6)
    back = to_keras(layer)
    assert back.get_config()["activation"] == (activation or "linear")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(back(x)), layer.forward(x), rtol=1e-5, atol=1e-6)


def test_keras_dense_other_activations_are_refused():
    from lstmkit.formats.interop import from_keras

    keras = import_keras()
    k = keras.layers.Dense(3, activation="gelu")
    k.build((None, 4))
    with pytest.raises(ValueError, match=r"activation='gelu' has no lstmkit counterpart: lstmkit's Dense takes "
                                         r"activation=None \(linear\), 'sigmoid', 'softmax', 'tanh' or 'relu'"):
        from_keras(k)
