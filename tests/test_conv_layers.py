"""The LSTM-FCN layers: Conv1D, BatchNorm, global pooling, Activation and Concatenate.

- float64 finite differences (`lk.gradcheck`) of every parameter and the input, masked and in training mode;
- Conv1D's fast path against its slow reference loop (hypothesis over shapes, kernels, dilations, paddings);
- PyTorch parity of outputs, every gradient and BatchNorm's running statistics (relative error
  max|a - b| / max|b| of 1e-10 in float64, 1e-5 in float32, as tests/test_parity_torch.py);
- masking: a right-padded batch gives, on its real steps, what each series gives alone;
- model files and training checkpoints keep the buffers (running statistics), under the checksums;
- one clear ValueError / TypeError for each bad input.
Run with `pytest -s` to print the largest errors.
"""

import copy
import json
from collections import defaultdict
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.numpy import load_file, save_file

import lstmkit as lk
import lstmkit.formats.modelfile as lkio
from lstmkit.formats import checkpoint as ckpt
from lstmkit.layers import (
    LSTM,
    Activation,
    BatchNorm,
    Concatenate,
    Conv1D,
    Dense,
    Dropout,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    Masking,
    get_class,
)
from lstmkit.layers.conv import conv1d_reference

TOL = 1e-6                               # gradcheck, per entry
PARITY = {"float32": 1e-5, "float64": 1e-10}
B, T, C = 2, 6, 3                        # batch, time, channels
GRADCHECK = defaultdict(float)           # layer -> largest gradcheck error
TORCH = defaultdict(float)               # (module, dtype) -> largest relative error against PyTorch


@pytest.fixture(scope="module", autouse=True)
def report_errors():
    yield
    print("\nlargest gradcheck error per layer:")
    for name, err in sorted(GRADCHECK.items()):
        print(f"  {name:28s} {err:.2e}")
    print("largest relative error against PyTorch:")
    for (name, dtype), err in sorted(TORCH.items()):
        print(f"  {name:28s} {dtype}: {err:.2e}")


def data(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def right_padded(lengths, T):
    """(B, T) mask of real steps for series of the given lengths, padded at the end."""
    return np.arange(T)[None, :] < np.asarray(lengths)[:, None]


MASK = right_padded([T, 4], T)


def check(layer, x, label, **kwargs):
    """gradcheck a seeded layer; every param and the input must be checked, every entry within TOL."""
    if not layer.built:
        layer.build(np.shape(x)[1:], np.random.default_rng(1))
    result = lk.gradcheck(layer, x, **kwargs)
    assert set(layer.params) | {"input"} <= set(result.errors)
    GRADCHECK[label] = max(GRADCHECK[label], result.max_error)
    worst = max(result.errors, key=result.errors.get)
    assert result.passed(TOL), f"{label}: worst {worst} error {result.max_error:.3e} ({result.errors})"
    return result


# ---- finite differences -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kernel_size, dilation", [(1, 1), (2, 1), (3, 1), (4, 2), (3, 2)])
@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("masked", [False, True], ids=["full", "masked"])
def test_conv1d_gradients(kernel_size, dilation, padding, masked):
    layer = Conv1D(2, kernel_size, padding=padding, dilation=dilation)
    check(layer, data(B, 8, C), "Conv1D", mask=right_padded([8, 6], 8) if masked else None)


def test_conv1d_without_bias_gradients():
    layer = Conv1D(2, 3, use_bias=False)
    check(layer, data(B, T, C), "Conv1D")
    assert set(layer.params) == {"weight"}


@pytest.mark.parametrize("shape", [(4, C), (B, T, C)], ids=["2d", "3d"])
@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
def test_batchnorm_gradients(shape, training):
    layer = BatchNorm().build(shape[1:])
    layer.params["weight"][...] = 1.0 + 0.5 * data(C, seed=2)             # away from the ones / zeros defaults
    layer.params["bias"][...] = data(C, seed=3)
    layer.buffers["running_mean"][...] = data(C, seed=4)
    layer.buffers["running_var"][...] = 0.5 + data(C, seed=5) ** 2
    check(layer, data(*shape), "BatchNorm", training=training)


@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
def test_batchnorm_masked_gradients(training):
    check(BatchNorm(), data(B, T, C), "BatchNorm", mask=MASK, training=training)


@pytest.mark.parametrize("pool", [GlobalAveragePooling1D, GlobalMaxPooling1D])
@pytest.mark.parametrize("masked", [False, True], ids=["full", "masked"])
def test_pooling_gradients(pool, masked):
    check(pool(), data(B, T, C), pool.__name__, mask=MASK if masked else None)


@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid", "softmax", "linear"])
@pytest.mark.parametrize("shape", [(B, C), (B, T, C)], ids=["2d", "3d"])
def test_activation_gradients(name, shape):
    check(Activation(name), data(*shape), "Activation")


def lstm_fcn(n_lstm=2, filters=(3, 2), dropout=0.0, dtype="float32"):
    """A small LSTM-FCN body: an LSTM branch and a conv branch (Conv1D, BatchNorm, ReLU blocks, average pool)."""
    conv = []
    for f, k in zip(filters, (3, 2)):
        conv += [Conv1D(f, k, dtype=dtype), BatchNorm(dtype=dtype), Activation("relu", dtype=dtype)]
    lstm = [LSTM(n_lstm, dtype=dtype)] + ([Dropout(dropout, dtype=dtype)] if dropout else [])
    return Concatenate(lstm, conv + [GlobalAveragePooling1D(dtype=dtype)])


@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
@pytest.mark.parametrize("masked", [False, True], ids=["full", "masked"])
def test_concatenate_gradients(training, masked):
    layer = lstm_fcn(dropout=0.3 if training else 0.0)
    result = check(layer, data(B, T, C), "Concatenate", training=training, mask=MASK if masked else None)
    assert {"0.0.weight_ih_l0", "1.0.weight", "1.1.weight", "1.3.bias"} <= set(result.errors)


def test_concatenate_of_sequences_gradients():
    layer = Concatenate([LSTM(2, return_sequences=True)], Conv1D(3, 3))
    check(layer, data(B, T, C), "Concatenate", mask=MASK)
    assert layer.output_shape((T, C)) == (T, 5)


# ---- Conv1D against its reference loop --------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(T=st.integers(1, 9), C=st.integers(1, 3), F=st.integers(1, 3), K=st.integers(1, 5),
       dilation=st.integers(1, 3), padding=st.sampled_from(["same", "valid"]), seed=st.integers(0, 2**16))
def test_conv1d_matches_the_reference_loop(T, C, F, K, dilation, padding, seed):
    if padding == "valid" and T < dilation * (K - 1) + 1:
        return
    layer = Conv1D(F, K, padding=padding, dilation=dilation, dtype="float64")
    x = data(2, T, C, seed=seed)
    y = layer.forward(x)
    want = conv1d_reference(x, layer.params["weight"], layer.params["bias"], padding, dilation)
    np.testing.assert_allclose(y, want, rtol=0, atol=1e-12)
    assert y.shape == (2,) + layer.output_shape((T, C))


def test_conv1d_golden_values():
    """Constant weights, by hand: a (1, 1, 3) kernel [1, 2, 3] over 1, 2, 3, 4 with 'same' zero edges."""
    layer = Conv1D(1, 3, dtype="float64").build((4, 1))
    layer.params["weight"][...] = [[[1.0, 2.0, 3.0]]]
    layer.params["bias"][...] = 0.5
    y = layer.forward(np.array([[[1.0], [2.0], [3.0], [4.0]]]))
    # y_t = 1 x_{t-1} + 2 x_t + 3 x_{t+1} + 0.5
    np.testing.assert_array_equal(y[0, :, 0], [0 + 2 + 6 + 0.5, 1 + 4 + 9 + 0.5, 2 + 6 + 12 + 0.5, 3 + 8 + 0 + 0.5])


# ---- PyTorch parity -------------------------------------------------------------------------------------------------
torch_marks = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")


def close(name, got, want, dtype, what, scale=None):
    """Relative error against max|want| (or `scale`, for a gradient that is zero but for rounding)."""
    want = want.detach().numpy() if hasattr(want, "detach") else np.asarray(want)
    assert got.shape == want.shape, f"{name} {what}: shape {got.shape} != torch's {want.shape}"
    assert got.dtype == want.dtype, f"{name} {what}: dtype {got.dtype} != torch's {want.dtype}"
    scale = float(np.max(np.abs(want), initial=0.0)) if scale is None else scale
    err = float(np.max(np.abs(got - want), initial=0.0)) / max(scale, 1e-12)
    TORCH[name, dtype] = max(TORCH[name, dtype], err)
    assert err <= PARITY[dtype], f"{name} {what}: relative error {err:.3e} > {PARITY[dtype]:.0e}"


@torch_marks
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kernel_size, dilation, padding", [(1, 1, "same"), (3, 1, "same"), (4, 1, "same"),
                                                            (4, 2, "same"), (5, 3, "same"), (3, 1, "valid"),
                                                            (2, 3, "valid")])
@pytest.mark.parametrize("bias", [True, False])
def test_conv1d_parity(dtype, kernel_size, dilation, padding, bias):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    module = torch.nn.Conv1d(C, 4, kernel_size, padding=padding, dilation=dilation, bias=bias,
                             dtype=getattr(torch, dtype))
    layer = Conv1D(4, kernel_size, padding=padding, dilation=dilation, use_bias=bias, dtype=dtype).build((9, C))
    for name, p in module.named_parameters():
        layer.params[name][...] = p.detach().numpy()
    x = rng.standard_normal((3, 9, C)).astype(dtype)
    x_t = torch.tensor(x.transpose(0, 2, 1), requires_grad=True)              # (B, C, T)
    y_t = module(x_t).transpose(1, 2)                                         # (B, T', F)
    dy = rng.standard_normal(tuple(y_t.shape)).astype(dtype)
    (y_t * torch.tensor(dy)).sum().backward()
    y = layer.forward(x)
    dx = layer.backward(dy)
    close("Conv1d", y, y_t, dtype, "output")
    close("Conv1d", dx, x_t.grad.transpose(1, 2), dtype, "dx")
    for name, p in module.named_parameters():
        close("Conv1d", layer.grads[name], p.grad, dtype, f"grad of {name}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sequence", [False, True], ids=["(B, C)", "(B, T, C)"])
@pytest.mark.parametrize("momentum", [0.1, 0.5])
def test_batchnorm_parity(dtype, sequence, momentum):
    """Three training steps (outputs, every gradient, running statistics and the batch count after each), then
    inference on the running statistics."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    module = torch.nn.BatchNorm1d(C, momentum=momentum, eps=1e-5, dtype=getattr(torch, dtype))
    with torch.no_grad():
        module.weight[:] = torch.tensor(rng.uniform(0.5, 1.5, C))
        module.bias[:] = torch.tensor(rng.standard_normal(C))
    layer = BatchNorm(momentum=momentum, epsilon=1e-5, dtype=dtype).build((T, C) if sequence else (C,))
    for name, p in module.named_parameters():
        layer.params[name][...] = p.detach().numpy()

    def run(x, training):
        module.train(training)
        module.zero_grad()
        x_t = torch.tensor(x.transpose(0, 2, 1) if sequence else x, requires_grad=True)
        y_t = module(x_t)
        y_t = y_t.transpose(1, 2) if sequence else y_t
        dy = rng.standard_normal(tuple(y_t.shape)).astype(dtype)
        (y_t * torch.tensor(dy)).sum().backward()
        y = layer.forward(x, training=training)
        dx = layer.backward(dy)
        what = "training" if training else "inference"
        close("BatchNorm1d", y, y_t, dtype, f"{what} output")
        close("BatchNorm1d", dx, x_t.grad.transpose(1, 2) if sequence else x_t.grad, dtype, f"{what} dx")
        for name, p in module.named_parameters():
            close("BatchNorm1d", layer.grads[name], p.grad, dtype, f"{what} grad of {name}")
        for name, b in module.named_buffers():
            if name == "num_batches_tracked":
                assert layer.buffers[name].dtype == np.int64 and layer.buffers[name].shape == ()
                assert int(layer.buffers[name]) == int(b)
            else:
                close("BatchNorm1d", layer.buffers[name], b, dtype, f"{name} after {what}")

    for step in range(3):
        x = (2.0 + 3.0 * rng.standard_normal((4, T, C) if sequence else (5, C))).astype(dtype)
        run(x, training=True)
    run((1.0 + rng.standard_normal((4, T, C) if sequence else (5, C))).astype(dtype), training=False)
    assert int(layer.buffers["num_batches_tracked"]) == 3


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("pool, torch_name", [(GlobalAveragePooling1D, "adaptive_avg_pool1d"),
                                              (GlobalMaxPooling1D, "adaptive_max_pool1d")])
def test_pooling_parity(dtype, pool, torch_name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 7, C)).astype(dtype)
    x_t = torch.tensor(x.transpose(0, 2, 1), requires_grad=True)
    y_t = getattr(torch.nn.functional, torch_name)(x_t, 1)[..., 0]           # (B, C)
    dy = rng.standard_normal((3, C)).astype(dtype)
    (y_t * torch.tensor(dy)).sum().backward()
    layer = pool(dtype=dtype)
    close(pool.__name__, layer.forward(x), y_t, dtype, "output")
    close(pool.__name__, layer.backward(dy), x_t.grad.transpose(1, 2), dtype, "dx")


@torch_marks
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lstm_fcn_parity(dtype):
    """The whole body, Concatenate(LSTM | Conv1D-BatchNorm-ReLU x 2 - average pool), in training: outputs and the
    gradients of the input and of every parameter equal torch's, and so do the running statistics."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    tdt = getattr(torch, dtype)
    torch.manual_seed(3)
    t_lstm = nn.LSTM(C, 2, batch_first=True, dtype=tdt)
    t_conv = [nn.Conv1d(C, 3, 3, padding="same", dtype=tdt), nn.BatchNorm1d(3, dtype=tdt),
              nn.Conv1d(3, 2, 2, padding="same", dtype=tdt), nn.BatchNorm1d(2, dtype=tdt)]
    layer = lstm_fcn(dtype=dtype).build((T, C), np.random.default_rng(0))
    torch_params = {f"0.0.{n}": p for n, p in t_lstm.named_parameters()}
    for j, m in zip((0, 1, 3, 4), t_conv):
        torch_params.update({f"1.{j}.{n}": p for n, p in m.named_parameters()})
    assert set(torch_params) == set(layer.params)
    for name, p in torch_params.items():
        layer.params[name][...] = p.detach().numpy()

    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, T, C)).astype(dtype)
    x_t = torch.tensor(x, requires_grad=True)
    h = x_t.transpose(1, 2)                                                   # (B, C, T)
    for j in range(0, 4, 2):
        h = torch.relu(t_conv[j + 1](t_conv[j](h)))
    y_t = torch.cat([t_lstm(x_t)[1][0][0], h.mean(dim=2)], dim=1)              # (B, 2 + 2)
    dy = rng.standard_normal(tuple(y_t.shape)).astype(dtype)
    (y_t * torch.tensor(dy)).sum().backward()

    y = layer.forward(x, training=True)
    dx = layer.backward(dy)
    close("LSTM-FCN", y, y_t, dtype, "output")
    close("LSTM-FCN", dx, x_t.grad, dtype, "dx")
    for name, p in torch_params.items():
        # a conv bias before a training-mode BatchNorm has a zero gradient (the batch mean removes it): both are
        # rounding noise, measured against the scale of the conv's weight gradient
        zero = name in ("1.0.bias", "1.3.bias")
        scale = float(torch_params[name[:-4] + "weight"].grad.abs().max()) if zero else None
        close("LSTM-FCN", layer.grads[name], p.grad, dtype, f"grad of {name}", scale)
    for j, m in ((1, t_conv[1]), (4, t_conv[3])):
        close("LSTM-FCN", layer.buffers[f"1.{j}.running_var"], m.running_var, dtype, "running_var")
        close("LSTM-FCN", layer.buffers[f"1.{j}.running_mean"], m.running_mean, dtype, "running_mean")


# ---- masking ------------------------------------------------------------------------------------------------------
LENGTHS = [7, 4, 5]


def padded_batch(seed=0, T_max=7):
    """Right-padded series of LENGTHS (padding is garbage, not zeros: a mask must make it irrelevant)."""
    x = data(len(LENGTHS), T_max, C, seed=seed)
    mask = right_padded(LENGTHS, T_max)
    x[~mask] = 99.0
    return x, mask


@pytest.mark.parametrize("padding, kernel_size, dilation", [("same", 3, 1), ("same", 4, 2), ("valid", 3, 1),
                                                            ("valid", 2, 2)])
def test_conv1d_padded_batch_equals_each_series_alone(padding, kernel_size, dilation):
    layer = Conv1D(4, kernel_size, padding=padding, dilation=dilation, dtype="float64")
    x, mask = padded_batch()
    y = layer.forward(x, mask=mask)
    out_mask = layer.output_mask(x, mask)
    for b, n in enumerate(LENGTHS):
        alone = layer.forward(x[b:b + 1, :n])
        assert out_mask[b].sum() == alone.shape[1]                             # the real outputs
        np.testing.assert_allclose(y[b, out_mask[b]], alone[0], rtol=0, atol=1e-13)
        assert np.all(y[b, ~out_mask[b]] == 0.0)                              # padded outputs are zero


@pytest.mark.parametrize("pool", [GlobalAveragePooling1D, GlobalMaxPooling1D])
def test_pooling_padded_batch_equals_each_series_alone(pool):
    layer = pool(dtype="float64")
    x, mask = padded_batch()
    y = layer.forward(x, mask=mask)
    assert layer.output_mask(x, mask) is None
    for b, n in enumerate(LENGTHS):
        np.testing.assert_allclose(y[b], layer.forward(x[b:b + 1, :n])[0], rtol=1e-15)


def test_pooling_without_any_real_step_gives_zeros():
    x, mask = padded_batch()
    mask[1] = False
    for pool in (GlobalAveragePooling1D(dtype="float64"), GlobalMaxPooling1D(dtype="float64")):
        y = pool.forward(x, mask=mask)
        assert np.all(y[1] == 0.0) and np.all(np.isfinite(y))
        assert np.all(pool.backward(np.ones_like(y))[1] == 0.0)


def test_batchnorm_masked_statistics_are_those_of_the_real_steps():
    x, mask = padded_batch()
    masked, rows = BatchNorm(dtype="float64"), BatchNorm(dtype="float64")
    y = masked.forward(x, mask=mask, training=True)
    y_rows = rows.forward(x[mask], training=True)                             # (n, C): only the real steps
    np.testing.assert_allclose(y[mask], y_rows, rtol=1e-13, atol=1e-13)
    assert np.all(y[~mask] == 0.0)
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(masked.buffers[name], rows.buffers[name], rtol=1e-13)
    dy = data(*y.shape, seed=5)
    dx, dx_rows = masked.backward(dy), rows.backward(dy[mask])
    np.testing.assert_allclose(dx[mask], dx_rows, rtol=1e-12, atol=1e-13)
    assert np.all(dx[~mask] == 0.0)
    np.testing.assert_allclose(masked.grads["weight"], rows.grads["weight"], rtol=1e-12)


def test_lstm_fcn_padded_batch_equals_each_series_alone():
    """Masking starts the mask in a Sequential; Concatenate passes it through both branches (LSTM skips the
    padding, Conv1D reads it as zeros, BatchNorm at inference, the pool averages real steps only)."""
    model = lk.Sequential([Masking(dtype="float64"), lstm_fcn(n_lstm=3, dtype="float64"), Dense(2, dtype="float64")],
                          seed=0)
    x, mask = padded_batch()
    x[~mask] = 0.0                                                            # Masking's padding value
    model.build(x.shape[1:])
    for name, b in model.layers[1].buffers.items():                          # running statistics off their start
        if b.dtype.kind == "f":
            b[...] = 0.5 + data(*b.shape, seed=len(name)) ** 2
    y = model.predict(x)
    for b, n in enumerate(LENGTHS):
        np.testing.assert_allclose(y[b], model.predict(x[b:b + 1, :n])[0], rtol=1e-12, atol=1e-13)


def test_concatenate_output_mask_follows_the_branches():
    x, mask = padded_batch()
    same = Concatenate([Conv1D(2, 3)], [LSTM(2, return_sequences=True)])
    same.forward(x, mask=mask)
    np.testing.assert_array_equal(same.output_mask(x, mask), mask)
    pooled = Concatenate([GlobalMaxPooling1D()], [LSTM(2)])
    pooled.forward(x, mask=mask)
    assert pooled.output_mask(x, mask) is None


# ---- state: buffers, devices and dtypes, the optimizer --------------------------------------------------------------
def test_buffers_follow_to_and_stay_out_of_the_optimizer():
    layer = BatchNorm().build((T, C))
    assert set(layer.buffers) == {"running_mean", "running_var", "num_batches_tracked"}
    assert set(layer.params) == {"weight", "bias"}
    layer.to("float64")
    assert layer.buffers["running_mean"].dtype == np.float64
    assert layer.buffers["num_batches_tracked"].dtype == np.int64 and layer.buffers["num_batches_tracked"].shape == ()
    model = lk.Sequential([lstm_fcn(), Dense(1)], seed=0).compile(loss="mse", optimizer="adam")
    x = data(8, T, C)
    model.fit(x, x.sum(axis=(1, 2))[:, None], epochs=2, batch_size=4, verbose=0)
    assert not set(model.parameters()) & set(lkio.model_buffers(model))
    assert set(model.optimizer.state_dict()["slots"]) == set(model.parameters())
    assert int(model.layers[0].buffers["1.1.num_batches_tracked"]) == 4
    model.to("float64")
    assert all(b.dtype == (np.int64 if name.endswith("tracked") else np.float64)
               for name, b in lkio.model_buffers(model).items())


def test_concatenate_exposes_live_inner_arrays():
    layer = lstm_fcn().build((T, C))
    conv = layer.branches[1][0]
    layer.params["1.0.weight"][...] = 0.25                                   # writing in place changes the layer
    assert np.all(conv.params["weight"] == 0.25)
    layer.to("float64")
    assert layer.params["1.0.weight"] is conv.params["weight"] and conv.params["weight"].dtype == np.float64
    assert layer.num_params() == sum(inner.num_params() for inner in layer.layers)
    assert all(inner.rng is layer.rng for inner in layer.layers)              # one generator for all


def test_concatenate_config_round_trip_through_json():
    layer = Concatenate([LSTM(3), Dropout(0.2)], Conv1D(4, 5, padding="valid", dilation=2))
    config = json.loads(json.dumps(layer.get_config()))
    again = get_class("Concatenate")(**config)
    assert again.get_config() == layer.get_config()
    assert [type(inner) for inner in again.layers] == [LSTM, Dropout, Conv1D]
    for name in ("Activation", "BatchNorm", "Concatenate", "Conv1D", "GlobalAveragePooling1D", "GlobalMaxPooling1D"):
        assert get_class(name).__name__ == name and name in lk.layers.__all__


# ---- device ("cuda": the strict CuPy stand-in of tests/fake_device.py, and real CuPy where there is a GPU) ------
@pytest.mark.parametrize("make, kwargs", [
    (lambda: Conv1D(3, 4, dilation=2), {"mask": MASK}),
    (lambda: Conv1D(3, 2, padding="valid"), {"mask": MASK}),
    (lambda: BatchNorm(), {"mask": MASK, "training": True}),
    (lambda: BatchNorm(), {"training": False}),
    (lambda: GlobalAveragePooling1D(), {"mask": MASK}),
    (lambda: GlobalMaxPooling1D(), {"mask": MASK}),
    (lambda: Activation("sigmoid"), {}),          # softmax: ops.softmax's np.max, which the stand-in lacks
    (lambda: lstm_fcn(dropout=0.3), {"mask": MASK, "training": True}),
], ids=["conv-same", "conv-valid", "batchnorm-training", "batchnorm-inference", "average", "max", "activation",
        "lstm-fcn"])
def test_device_gives_the_cpus_numbers(cuda, make, kwargs):
    """Every array of the layer on the device, forward and backward equal to the CPU's (float64, 1e-10)."""
    from lstmkit.runtime import backend
    cpu, dev = make().build((T, C), np.random.default_rng(0)), make().build((T, C), np.random.default_rng(0))
    cpu.to("float64")
    dev.to("float64").to("cuda")
    assert all(backend.is_device_array(a) for a in [*dev.params.values(), *dev.buffers.values()])
    x = data(B, T, C)
    y = cpu.forward(x, **kwargs)
    y_dev = dev.forward(x, **kwargs)
    np.testing.assert_allclose(y_dev.get(), y, rtol=1e-10, atol=1e-12)
    dy = data(*y.shape, seed=1)
    np.testing.assert_allclose(dev.backward(dy).get(), cpu.backward(dy), rtol=1e-10, atol=1e-12)
    for name in cpu.params:
        np.testing.assert_allclose(dev.grads[name].get(), cpu.grads[name], rtol=1e-10, atol=1e-12, err_msg=name)
    for name in cpu.buffers:
        np.testing.assert_allclose(dev.buffers[name].get(), cpu.buffers[name], rtol=1e-10, err_msg=name)


# ---- model files and checkpoints ----------------------------------------------------------------------------------
def classifier(seed=0, dropout=0.3):
    model = lk.Sequential([lstm_fcn(n_lstm=3, dropout=dropout), Dense(3)], seed=seed)
    return model.compile(loss="sparse_categorical_crossentropy", optimizer=lk.optim.Adam(lr=1e-2))


def classes(n=24, seed=0):
    x = data(n, T, C, seed=seed)
    return x, (x[:, :, 0].mean(axis=1) > 0).astype(int) + (x[:, :, 1].mean(axis=1) > 0.3)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A trained classifier (running statistics away from their start), saved: (model, x, path)."""
    x, y = classes()
    model = classifier()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    path = tmp_path_factory.mktemp("model") / "lstm-fcn.lstmkit"
    model.save(path)
    return model, x, path


def test_model_file_round_trip_keeps_the_running_statistics(trained):
    model, x, path = trained
    loaded = lk.load(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    saved, restored = lkio.model_state(model), lkio.model_state(loaded)
    assert set(saved) == set(restored) and "0.1.1.running_var" in saved
    for key in saved:
        assert restored[key].dtype == saved[key].dtype and restored[key].shape == saved[key].shape
        np.testing.assert_array_equal(restored[key], saved[key], err_msg=key)
    assert int(restored["0.1.1.num_batches_tracked"]) == 6
    assert not np.allclose(restored["0.1.1.running_var"], 1.0)                # trained, not the initial ones
    tensors = load_file(str(path))
    assert set(tensors) == set(saved)


def test_damaged_running_statistic_is_refused(trained, tmp_path):
    _, _, path = trained
    tensors, meta = read_parts(path)
    tensors["0.1.1.running_mean"][0] += 1.0
    save_file(tensors, str(tmp_path / "damaged.lstmkit"), metadata=meta)
    with pytest.raises(ValueError, match="damaged.*tensors"):
        lk.load(tmp_path / "damaged.lstmkit")


def test_model_file_without_the_running_statistics_is_refused(trained, tmp_path):
    """A file (re-signed) that lacks a BatchNorm's buffers cannot give the model's predictions: one ValueError
    naming them."""
    _, _, path = trained
    tensors, meta = read_parts(path)
    tensors = {k: v for k, v in tensors.items() if "running" not in k and "tracked" not in k}
    meta.update(lkio.checksums(tensors, {k: meta[k] for k in ("config", "metadata")}))
    save_file(tensors, str(tmp_path / "stripped.lstmkit"), metadata=meta)
    with pytest.raises(ValueError, match="missing weights.*running_mean"):
        lk.load(tmp_path / "stripped.lstmkit")


def test_file_written_before_buffers_still_loads(tmp_path):
    """The layout of model files from before buffers: the parameters only, checksummed as then; it loads and
    predicts as saved."""
    model = lk.Sequential([LSTM(3), Dense(2)], seed=0).build((T, C))
    tensors = {name: np.ascontiguousarray(p) for name, p in model.parameters().items()}
    fields = {"config": json.dumps(model.get_config()), "metadata": "{}"}
    meta = {"format": "lstmkit", "format_version": "1", **fields, **lkio.checksums(tensors, fields)}
    save_file(tensors, str(tmp_path / "old.lstmkit"), metadata=meta)
    x = data(2, T, C)
    np.testing.assert_array_equal(lk.load(tmp_path / "old.lstmkit").predict(x), model.predict(x))


def read_parts(path):
    from safetensors import safe_open
    with safe_open(str(path), "np") as f:
        meta = dict(f.metadata())
    return load_file(str(path)), meta


def test_checkpoint_resume_is_bit_identical(tmp_path):
    """Dropout in the LSTM branch and BatchNorm's running statistics: a run stopped after epoch 2 and resumed
    ends with the very weights and buffers of an uninterrupted one."""
    x, y = classes()
    whole = classifier()
    history = whole.fit(x, y, epochs=4, batch_size=8, verbose=0)
    classifier().fit(x, y, epochs=2, batch_size=8, verbose=0, checkpoint=tmp_path)
    tensors, _, _ = ckpt.read_checkpoint(tmp_path)
    assert "model/0.1.1.running_mean" in tensors and "model/0.1.1.num_batches_tracked" in tensors
    resumed = classifier()
    resumed_history = resumed.fit(x, y, epochs=4, batch_size=8, verbose=0, checkpoint=tmp_path, resume=True)
    a, b = lkio.model_state(whole), lkio.model_state(resumed)
    assert set(a) == set(b)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert resumed_history.history == history.history


def test_checkpoint_keeps_best_weights_with_buffers(trained, tmp_path):
    """Best weights that include the buffers (a fit that keeps them) are saved and restored with them; a
    checkpoint without a buffer the model has is refused."""
    model, x, _ = trained
    x, y = classes()
    fit = ckpt.fingerprint(x, y, None, 8, True)
    history = SimpleNamespace(history={}, epoch=[], stopped_epoch=None)      # a History before its first epoch
    state = ckpt.TrainState(history=history, best_weights=copy.deepcopy(lkio.model_state(model)))
    ckpt.save_checkpoint(tmp_path, model, state, fit)
    restored = ckpt.restore_checkpoint(tmp_path, model, fit, lk.History)
    assert set(restored.best_weights) == set(lkio.model_state(model))
    path = tmp_path / ckpt.FILENAME
    tensors, meta = read_parts(path)
    del tensors["model/0.1.1.running_var"]
    meta.update(ckpt.checksums(tensors, {"checkpoint": meta["checkpoint"]}))
    save_file(tensors, str(path), metadata=meta)
    with pytest.raises(ValueError, match="missing.*running_var"):
        ckpt.restore_checkpoint(tmp_path, model, fit, lk.History)


# ---- bad input ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, x, message", [
    (lambda: Conv1D(2, 3), np.zeros((4, 5)), r"Conv1D expects x shaped \(B, T, C\).*x\[\.\.\., None\]"),
    (lambda: Conv1D(2, 3, padding="valid"), np.zeros((2, 2, 1)), r"reads 3 steps per output, but the series has 2"),
    (lambda: Conv1D(2, 2, padding="valid", dilation=3), np.zeros((2, 3, 1)), r"reads 4 steps.*padding='same'"),
    (lambda: BatchNorm(), np.zeros((2, 3, 4, 5)), r"BatchNorm normalises the last axis of \(B, C\) or \(B, T, C\)"),
    (lambda: GlobalAveragePooling1D(), np.zeros((2, 3)), r"expects x shaped \(B, T, C\)"),
    (lambda: GlobalMaxPooling1D(), np.zeros((2, 3, 4, 5)), r"expects x shaped \(B, T, C\)"),
    (lambda: Activation("relu"), np.zeros(3), r"Activation expects x with a batch axis"),
])
def test_bad_inputs(make, x, message):
    with pytest.raises(ValueError, match=message):
        make().forward(x)


@pytest.mark.parametrize("make, error, message", [
    (lambda: Conv1D(2, 0), ValueError, r"kernel_size must be a positive integer, got 0"),
    (lambda: Conv1D(0, 3), ValueError, r"filters must be a positive integer"),
    (lambda: Conv1D(2, 3, dilation=0), ValueError, r"dilation must be a positive integer"),
    (lambda: Conv1D(2, 3, padding="causal"), ValueError, r"padding must be 'same'.*or 'valid'.*got 'causal'"),
    (lambda: Activation("gelu"), ValueError, r"Activation takes one of 'relu', 'tanh'.*got 'gelu'"),
    (lambda: BatchNorm(momentum=1.5), ValueError, r"momentum must be a number in \[0, 1\]"),
    (lambda: BatchNorm(epsilon=0), ValueError, r"epsilon must be a positive number"),
    (lambda: Concatenate(), ValueError, r"at least one branch"),
    (lambda: Concatenate([LSTM(2)], []), ValueError, r"branch 1 is empty"),
    (lambda: Concatenate([LSTM(2)], ["relu"]), TypeError, r"branch 1 holds a str"),
    (lambda: Concatenate([LSTM(2, return_state=True)]), ValueError, r"return_state=True"),
    (lambda: Concatenate([Dense(2, dtype="float64")], [Dense(2)]), ValueError, r"share one dtype"),
])
def test_bad_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_shared_layer_is_refused():
    dense = Dense(2)
    with pytest.raises(ValueError, match="appears twice"):
        Concatenate([dense], [dense])


def test_branches_that_disagree_in_shape_are_refused_and_left_unbuilt():
    layer = Concatenate([LSTM(2)], [Conv1D(3, 3)])
    with pytest.raises(ValueError, match=r"agree on every other axis.*branch 0: \(batch, 2\); branch 1: "
                                         r"\(batch, 6, 3\)"):
        layer.forward(data(B, T, C))
    assert not any(inner.built for inner in layer.layers)
    model = lk.Sequential([Concatenate([LSTM(2)], [Conv1D(3, 3), GlobalMaxPooling1D()]), Dense(1)])
    assert model.predict(data(B, T, C)).shape == (B, 1)


def test_batchnorm_training_needs_two_values():
    with pytest.raises(ValueError, match="more than one value per channel.*got 1"):
        BatchNorm().forward(np.ones((1, C)), training=True)
    x, mask = padded_batch()
    mask[:] = False
    mask[0, 0] = True
    with pytest.raises(ValueError, match="got 1"):
        BatchNorm().forward(x, mask=mask, training=True)


def test_mask_must_fit():
    with pytest.raises(ValueError, match=r"mask must have shape \(B, T\)"):
        Conv1D(2, 3).forward(data(B, T, C), mask=np.ones((B, T + 1), bool))
    with pytest.raises(ValueError, match="a mask marks the real steps"):
        BatchNorm().forward(data(B, C), mask=np.ones((B, C), bool))
