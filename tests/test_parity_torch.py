"""Parity with PyTorch: every converted layer's outputs AND gradients (input, every parameter, initial states) equal
torch autograd's, to a relative error max|a - b| / max(max|b|, 1e-12) of 1e-10 in float64 and 1e-5 in float32.

Each test builds a torch module, converts it with `lk.interop.from_torch`, runs both on the same data and pulls the
same random upstream gradients back through both. Run with `pytest -s` to print the largest error per module.
"""

import itertools
from collections import defaultdict

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from lstmkit.formats.interop import from_torch  # noqa: E402

TOL = {"float32": 1e-5, "float64": 1e-10}
TORCH_DTYPE = {"float32": torch.float32, "float64": torch.float64}
B, T, I, H = 3, 5, 4, 6                  # batch, time, input features, hidden units
MAX_ERROR = defaultdict(float)           # (module, dtype) -> largest relative error seen


@pytest.fixture(scope="module", autouse=True)
def report_errors():
    yield
    print("\nlargest relative error against PyTorch:")
    for (name, dtype), err in sorted(MAX_ERROR.items()):
        print(f"  {name:12s} {dtype}: {err:.2e}")


def check_close(name, got, want, dtype, what):
    """Assert lstmkit's `got` equals torch's `want` (a tensor) to the dtype's tolerance; record the error."""
    want = want.detach().numpy()
    assert got.shape == want.shape, f"{name} {what}: shape {got.shape} != torch's {want.shape}"
    assert got.dtype == want.dtype, f"{name} {what}: dtype {got.dtype} != torch's {want.dtype}"
    err = float(np.max(np.abs(got - want), initial=0.0)) / max(float(np.max(np.abs(want), initial=0.0)), 1e-12)
    MAX_ERROR[name, dtype] = max(MAX_ERROR[name, dtype], err)
    assert err <= TOL[dtype], f"{name} {what}: relative error {err:.3e} > {TOL[dtype]:.0e} ({dtype})"


def tensor(a, requires_grad=False):
    return torch.tensor(a).requires_grad_(requires_grad)


def check_param_grads(name, layer, module, dtype):
    for pname, p in module.named_parameters():
        check_close(name, layer.grads[pname], p.grad, dtype, f"grad of {pname}")


# ---- Linear and Embedding -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("sequence", [False, True], ids=["step", "sequence"])
def test_linear_parity(dtype, bias, sequence):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    module = nn.Linear(I, H, bias=bias, dtype=TORCH_DTYPE[dtype])
    layer = from_torch(module)
    shape = (B, T, I) if sequence else (B, I)
    x = rng.standard_normal(shape).astype(dtype)
    dy = rng.standard_normal(shape[:-1] + (H,)).astype(dtype)

    x_t = tensor(x, requires_grad=True)
    y_t = module(x_t)
    (y_t * tensor(dy)).sum().backward()
    y = layer.forward(x)
    dx = layer.backward(dy)

    check_close("Linear", y, y_t, dtype, "output")
    check_close("Linear", dx, x_t.grad, dtype, "dx")
    check_param_grads("Linear", layer, module, dtype)


TORCH_ACTIVATION = {"sigmoid": torch.sigmoid, "softmax": lambda z: torch.softmax(z, dim=-1), "tanh": torch.tanh,
                    "relu": torch.relu}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", list(TORCH_ACTIVATION))
@pytest.mark.parametrize("sequence", [False, True], ids=["step", "sequence"])
def test_dense_activation_parity(dtype, activation, sequence):
    """Dense(activation=a) against torch's a(nn.Linear(x)): output, dx, dW, db (softmax over the units)."""
    from lstmkit.layers import Dense
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    module = nn.Linear(I, H, dtype=TORCH_DTYPE[dtype])
    layer = Dense(H, activation=activation, dtype=dtype).build((I,))
    for name, p in module.named_parameters():
        layer.params[name][...] = p.detach().numpy()
    shape = (B, T, I) if sequence else (B, I)
    x = rng.standard_normal(shape).astype(dtype)
    dy = rng.standard_normal(shape[:-1] + (H,)).astype(dtype)

    x_t = tensor(x, requires_grad=True)
    y_t = TORCH_ACTIVATION[activation](module(x_t))
    (y_t * tensor(dy)).sum().backward()
    y = layer.forward(x)
    dx = layer.backward(dy)

    name = f"Dense {activation}"
    check_close(name, y, y_t, dtype, "output")
    check_close(name, dx, x_t.grad, dtype, "dx")
    check_param_grads(name, layer, module, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_parity(dtype, padding_idx):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    V, E = 7, 5
    module = nn.Embedding(V, E, padding_idx=padding_idx, dtype=TORCH_DTYPE[dtype])
    layer = from_torch(module)
    ids = rng.integers(0, V, (B, T))
    ids[0, :2] = module.padding_idx if padding_idx is not None else 0    # the padding row is surely used
    ids[1, 0] = ids[2, 0] = 3                                          # and a repeated id accumulates
    dy = rng.standard_normal((B, T, E)).astype(dtype)

    y_t = module(torch.from_numpy(ids))
    (y_t * tensor(dy)).sum().backward()
    y = layer.forward(ids)
    layer.backward(dy)

    check_close("Embedding", y, y_t, dtype, "output")
    check_param_grads("Embedding", layer, module, dtype)
    if padding_idx is not None:
        assert not layer.grads["weight"][module.padding_idx].any()


# ---- recurrent layers ---------------------------------------------------------------------------------------------
RECURRENT = {
    "RNN-tanh": lambda **kw: nn.RNN(nonlinearity="tanh", **kw),
    "RNN-relu": lambda **kw: nn.RNN(nonlinearity="relu", **kw),
    "LSTM": lambda **kw: nn.LSTM(**kw),
    "GRU": lambda **kw: nn.GRU(**kw),
}


def make_module(kind, dtype, num_layers, bidirectional, dropout=0.0, seed=0):
    torch.manual_seed(seed)
    return RECURRENT[kind](input_size=I, hidden_size=H, num_layers=num_layers, bidirectional=bidirectional,
                           dropout=dropout, batch_first=True, dtype=TORCH_DTYPE[dtype])


def random_state(rng, kind, shape, dtype):
    """An initial state (or final-state gradient) in the form the layer takes: h, or (h, c) for the LSTM."""
    n = 2 if kind == "LSTM" else 1
    parts = tuple(rng.standard_normal(shape).astype(dtype) for _ in range(n))
    return parts if kind == "LSTM" else parts[0]


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


def run_pair(kind, module, layer, x, dtype, rng, initial_state=False, lengths=None):
    """Run torch and lstmkit on x, pull the same random upstream gradients of the output and of the final states
    back through both, and compare outputs, final states and every gradient."""
    L, D = module.num_layers, 2 if module.bidirectional else 1
    state_shape = (L * D, x.shape[0], H)
    state0 = random_state(rng, kind, state_shape, dtype) if initial_state else None
    mask = None if lengths is None else np.arange(x.shape[1])[None, :] < np.asarray(lengths)[:, None]   # (B, T)

    # torch
    x_t = tensor(x, requires_grad=True)
    state0_t = None if state0 is None else tuple(tensor(s, requires_grad=True) for s in as_tuple(state0))
    hx = None if state0_t is None else (state0_t if kind == "LSTM" else state0_t[0])
    if lengths is None:
        out_t, final_t = module(x_t, hx)
    else:
        packed = nn.utils.rnn.pack_padded_sequence(x_t, torch.tensor(lengths), batch_first=True,
                                                   enforce_sorted=False)
        out_packed, final_t = module(packed, hx)
        out_t, _ = nn.utils.rnn.pad_packed_sequence(out_packed, batch_first=True, total_length=x.shape[1])
    final_t = as_tuple(final_t)
    if not layer.return_sequences:                               # top layer's final h, directions concatenated
        out_t = torch.cat([final_t[0][-D + d] for d in range(D)], dim=-1)

    # lstmkit
    out, final = layer.forward(x, initial_state=state0, mask=mask)
    final = as_tuple(final)
    check_close(kind, out, out_t, dtype, "output")
    for name, got, want in zip(("h_n", "c_n"), final, final_t):
        check_close(kind, got, want, dtype, name)

    dout = rng.standard_normal(out.shape).astype(dtype)
    dfinal = random_state(rng, kind, state_shape, dtype)
    loss = (out_t * tensor(dout)).sum()
    for f_t, g in zip(final_t, as_tuple(dfinal)):
        loss = loss + (f_t * tensor(g)).sum()
    loss.backward()
    dx = layer.backward((dout, dfinal))

    check_close(kind, dx, x_t.grad, dtype, "dx")
    check_param_grads(kind, layer, module, dtype)
    if state0 is None:
        assert layer.dinitial_state is None
    else:
        for name, got, s_t in zip(("dh_0", "dc_0"), as_tuple(layer.dinitial_state), state0_t):
            check_close(kind, got, s_t.grad, dtype, name)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("return_sequences", [True, False], ids=["seq", "last"])
@pytest.mark.parametrize("initial_state", [False, True], ids=["zero-state", "initial-state"])
@pytest.mark.parametrize("num_layers,bidirectional", list(itertools.product([1, 2], [False, True])),
                         ids=["L1", "L1-bi", "L2", "L2-bi"])
@pytest.mark.parametrize("kind", list(RECURRENT))
def test_recurrent_parity(kind, num_layers, bidirectional, initial_state, return_sequences, dtype):
    """Outputs, h_n (c_n), dx, every parameter gradient and the initial-state gradients; the final states also
    receive an upstream gradient, through return_state."""
    rng = np.random.default_rng(1)
    module = make_module(kind, dtype, num_layers, bidirectional)
    layer = from_torch(module, return_sequences=return_sequences, return_state=True)
    x = rng.standard_normal((B, T, I)).astype(dtype)
    run_pair(kind, module, layer, x, dtype, rng, initial_state=initial_state)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["RNN-tanh", "LSTM", "GRU"])
def test_recurrent_parity_without_return_state(kind, dtype):
    """return_state=False: forward returns the bare output and backward takes the bare output gradient."""
    rng = np.random.default_rng(2)
    module = make_module(kind, dtype, num_layers=2, bidirectional=True)
    layer = from_torch(module)
    x = rng.standard_normal((B, T, I)).astype(dtype)
    dout = rng.standard_normal((B, T, 2 * H)).astype(dtype)

    x_t = tensor(x, requires_grad=True)
    out_t, _ = module(x_t)
    (out_t * tensor(dout)).sum().backward()
    out = layer.forward(x)
    dx = layer.backward(dout)

    check_close(kind, out, out_t, dtype, "output")
    check_close(kind, dx, x_t.grad, dtype, "dx")
    check_param_grads(kind, layer, module, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("initial_state", [False, True], ids=["zero-state", "initial-state"])
@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (1, True), (2, True)],
                         ids=["L1", "L1-bi", "L2-bi"])
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN-tanh"])
def test_masked_parity_with_packed_sequence(kind, num_layers, bidirectional, initial_state, dtype):
    """A right-padded batch with `mask` equals pack_padded_sequence(..., enforce_sorted=False): outputs on real
    steps (zeros on padded steps, as pad_packed_sequence gives), h_n (c_n), and every gradient."""
    rng = np.random.default_rng(3)
    module = make_module(kind, dtype, num_layers, bidirectional)
    layer = from_torch(module, return_state=True)
    lengths = [3, T, 1, 4]                                       # unsorted, one full-length, one of a single step
    x = rng.standard_normal((len(lengths), T, I)).astype(dtype)
    for b, n in enumerate(lengths):
        x[b, n:] = rng.standard_normal((T - n, I))               # padding holds junk, which must not matter
    run_pair(kind, module, layer, x, dtype, rng, initial_state=initial_state, lengths=lengths)
    out = layer.forward(x, mask=np.arange(T)[None, :] < np.asarray(lengths)[:, None])[0]
    for b, n in enumerate(lengths):
        assert not out[b, n:].any()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN-tanh"])
def test_masked_parity_last_step_output(kind, dtype):
    """return_sequences=False with a mask: the output is each sequence's state at its own last real step."""
    rng = np.random.default_rng(4)
    module = make_module(kind, dtype, num_layers=2, bidirectional=True)
    layer = from_torch(module, return_sequences=False, return_state=True)
    lengths = [2, T, 4]
    x = rng.standard_normal((len(lengths), T, I)).astype(dtype)
    run_pair(kind, module, layer, x, dtype, rng, initial_state=True, lengths=lengths)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", list(RECURRENT))
def test_dropout_between_layers_eval_parity(kind, dtype):
    """Dropout between stacked layers: torch in eval mode equals lstmkit with training=False (the default)."""
    rng = np.random.default_rng(5)
    module = make_module(kind, dtype, num_layers=3, bidirectional=True, dropout=0.5).eval()
    layer = from_torch(module, return_state=True)
    assert layer.dropout == 0.5
    x = rng.standard_normal((B, T, I)).astype(dtype)
    run_pair(kind, module, layer, x, dtype, rng, initial_state=True)
    out_train = layer.forward(x, training=True)[0]               # and dropout does act in training
    assert not np.allclose(out_train, layer.forward(x)[0])
