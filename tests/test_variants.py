"""LSTM variants: peepholes, no forget gate (1997), coupled input-forget gate (CIFG); finite differences on both
paths, compiled == reference, and the defining equation of each variant checked directly."""

import numpy as np
import pytest

import lstmkit as lk
from lstmkit.layers import LSTM

VARIANTS = [dict(peephole=True), dict(forget_gate=False), dict(coupled=True),
            dict(coupled=True, peephole=True), dict(forget_gate=False, peephole=True)]
rng = np.random.default_rng(0)
X = rng.standard_normal((2, 4, 3))
MASK = np.array([[True] * 4, [True, True, True, False]])


@pytest.mark.parametrize("implementation", ["compiled", "reference"])
@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: ",".join(v))
def test_gradients_match_finite_differences(variant, implementation):
    layer = LSTM(3, num_layers=2, bidirectional=True, return_state=True, implementation=implementation, **variant)
    state = (rng.standard_normal((4, 2, 3)), rng.standard_normal((4, 2, 3)))
    result = lk.gradcheck(layer, X, mask=MASK, initial_state=state)
    assert result.max_error < 1e-6, result.errors
    assert ("weight_peephole_l1_reverse" in result.errors) == variant.get("peephole", False)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: ",".join(v))
def test_compiled_equals_reference(variant):
    results = []
    for implementation in ("reference", "compiled"):
        layer = LSTM(3, return_sequences=True, implementation=implementation, dtype="float64", **variant)
        layer.build((4, 3), np.random.default_rng(5))
        out = layer.forward(X, mask=MASK)
        dx = layer.backward(np.cos(out))
        results.append([out, dx] + [layer.grads[k] for k in sorted(layer.grads)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)


def _layer(**variant):
    layer = LSTM(2, return_sequences=True, return_state=True, dtype="float64", **variant)
    return layer.build((None, 1), np.random.default_rng(1))


def test_parameter_layout():
    assert _layer().params["weight_ih_l0"].shape == (8, 1)
    assert _layer(forget_gate=False).params["weight_hh_l0"].shape == (6, 2)
    assert _layer(coupled=True).params["bias_ih_l0"].shape == (6,)
    assert _layer(peephole=True).params["weight_peephole_l0"].shape == (3, 2)
    assert _layer(coupled=True, peephole=True).params["weight_peephole_l0"].shape == (2, 2)


def _gates(layer):
    return layer.last_sweep().record.gates[:, 0]            # (T, G*H) of batch row 0


def test_without_forget_gate_the_cell_state_only_accumulates():
    """f = 1: c_t = c_{t-1} + i_t g_t exactly (the constant error carousel)."""
    layer = _layer(forget_gate=False)
    x = rng.standard_normal((1, 6, 1))
    _, (_, c_n) = layer.forward(x)
    gates = _gates(layer)
    i, g = gates[:, :2], gates[:, 2:4]
    np.testing.assert_allclose(c_n[0, 0], np.sum(i * g, axis=0), rtol=1e-12)


def test_coupled_forget_gate_is_one_minus_input_gate():
    layer = _layer(coupled=True)
    x = rng.standard_normal((1, 5, 1))
    layer.forward(x)
    rec = layer.last_sweep()
    i, g = _gates(layer)[:, :2], _gates(layer)[:, 2:4]
    c = rec.states[1][:, 0]                                  # (T+1, H)
    np.testing.assert_allclose(c[1:], (1 - i) * c[:-1] + i * g, rtol=1e-12)


def test_output_peephole_sees_the_new_cell_state():
    layer = _layer(peephole=True)
    x = rng.standard_normal((1, 5, 1))
    layer.forward(x)
    P = layer.params["weight_peephole_l0"]
    H_t = x[0] @ layer.params["weight_ih_l0"].T + layer.params["bias_ih_l0"] + layer.params["bias_hh_l0"]
    rec = layer.last_sweep()
    h_prev, c = rec.states[0][:-1, 0], rec.states[1][:, 0]
    pre_o = H_t[:, 6:8] + h_prev @ layer.params["weight_hh_l0"][6:8].T + P[2] * c[1:]
    np.testing.assert_allclose(_gates(layer)[:, 6:8], 1 / (1 + np.exp(-pre_o)), rtol=1e-12)


@pytest.mark.parametrize("variant, forget", [({}, None), ({"forget_gate": False}, lambda i: np.ones_like(i)),
                                             ({"coupled": True}, lambda i: 1.0 - i)], ids=["standard", "1997", "CIFG"])
def test_last_gates_split_the_record(variant, forget):
    """last_gates gives i, f, g, o (T, B, H) from the record at gate_offsets; f = 1 without a forget gate,
    1 - i with the coupled gate."""
    layer = _layer(**variant)
    with pytest.raises(RuntimeError, match="call forward first"):
        layer.last_sweep()
    layer.forward(rng.standard_normal((3, 5, 1)))
    gates = layer.last_sweep().record.gates                  # (T, B, G*H)
    i, f, g, o = layer.last_gates()
    oi, of, og, oo = layer.gate_offsets()
    assert i.shape == (5, 3, 2)
    for got, at in ((i, oi), (g, og), (o, oo)):
        np.testing.assert_array_equal(got, gates[..., at:at + 2])
    np.testing.assert_array_equal(f, gates[..., of:of + 2] if forget is None else forget(i))
    with pytest.raises(ValueError, match="depth"):
        layer.last_sweep(depth=1)


def test_invalid_combinations_are_rejected():
    with pytest.raises(ValueError, match="cannot be combined"):
        LSTM(2, coupled=True, forget_gate=False)
    with pytest.raises(ValueError, match="forget_bias"):
        LSTM(2, coupled=True, forget_bias=1.0)


def test_variants_save_and_load(tmp_path):
    model = lk.Sequential([LSTM(3, peephole=True, coupled=True), lk.layers.Dense(1)], seed=0).build((5, 2))
    x = rng.standard_normal((4, 5, 2))
    model.save(tmp_path / "m.lstmkit")
    np.testing.assert_array_equal(lk.load(tmp_path / "m.lstmkit").predict(x), model.predict(x))


# ---- proj_size: LSTM with a projected hidden state, as torch.nn.LSTM ---------------------------------------------
@pytest.mark.parametrize("implementation", ["compiled", "reference"])
@pytest.mark.parametrize("variant", [dict(proj_size=2), dict(proj_size=2, peephole=True, coupled=True)],
                         ids=["proj", "proj,peephole,coupled"])
def test_projection_gradients(variant, implementation):
    layer = LSTM(3, num_layers=2, bidirectional=True, return_state=True, implementation=implementation, **variant)
    state = (rng.standard_normal((4, 2, 2)), rng.standard_normal((4, 2, 3)))
    result = lk.gradcheck(layer, X, mask=MASK, initial_state=state)
    assert result.max_error < 1e-6, result.errors
    assert "weight_hr_l1_reverse" in result.errors


@pytest.mark.parametrize("implementation", ["compiled", "reference"])
@pytest.mark.parametrize("dtype, tol", [("float64", 1e-10), ("float32", 1e-5)])
def test_projection_matches_pytorch(implementation, dtype, tol):
    torch = pytest.importorskip("torch")
    layer = LSTM(5, num_layers=2, bidirectional=True, proj_size=3, return_sequences=True, return_state=True,
                 implementation=implementation, dtype=dtype).build((4, 3), np.random.default_rng(1))
    module = torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=3, batch_first=True)
    module = module.double() if dtype == "float64" else module.float()
    assert {k: tuple(v.shape) for k, v in module.state_dict().items()} == \
        {k: v.shape for k, v in layer.params.items()}
    with torch.no_grad():
        for name, value in layer.params.items():
            getattr(module, name).copy_(torch.from_numpy(value))
    x = X.astype(dtype)
    xt = torch.tensor(x, requires_grad=True)
    out, (h_n, c_n) = layer.forward(x)
    t_out, (t_h, t_c) = module(xt)
    grads = [rng.standard_normal(a.shape).astype(dtype) for a in (out, h_n, c_n)]
    sum((t * torch.from_numpy(g)).sum() for t, g in zip((t_out, t_h, t_c), grads)).backward()
    dx = layer.backward((grads[0], (grads[1], grads[2])))

    def close(a, b):
        b = b.detach().numpy()
        assert np.abs(a - b).max() <= tol * max(np.abs(b).max(), 1e-12)
    for a, b in ((out, t_out), (h_n, t_h), (c_n, t_c), (dx, xt.grad)):
        close(a, b)
    for name in layer.params:
        close(layer.grads[name], getattr(module, name).grad)


def test_projection_shapes_and_errors():
    layer = LSTM(4, proj_size=2, num_layers=2, return_state=True).build((None, 3), np.random.default_rng(0))
    out, (h_n, c_n) = layer.forward(np.zeros((5, 6, 3)))
    assert out.shape == (5, 2) and h_n.shape == (2, 5, 2) and c_n.shape == (2, 5, 4)
    assert layer.params["weight_hh_l1"].shape == (16, 2) and layer.params["weight_ih_l1"].shape == (16, 2)
    with pytest.raises(ValueError, match="proj_size"):
        LSTM(4, proj_size=4)
