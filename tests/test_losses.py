"""Losses: gradients against central finite differences and torch autograd, values against
torch.nn.functional, stability at extreme logits, and the target shape rule."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lstmkit import losses

B, T, C = 4, 3, 5


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def make_case(name, shape=(B, C)):
    """Float64 logits/predictions and matching targets for the loss `name`, away from MAE's kink."""
    rng = np.random.default_rng(0)
    y_pred = rng.standard_normal(shape)
    if name == "sparse_categorical_crossentropy":
        return y_pred, rng.integers(0, shape[-1], size=shape[:-1])
    if name == "categorical_crossentropy":
        return y_pred, rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
    if name == "binary_crossentropy":
        return y_pred, rng.uniform(0, 1, size=shape)
    return y_pred, y_pred + rng.choice([-1, 1], size=shape) * rng.uniform(0.1, 1, size=shape)


def finite_difference(loss, y_pred, y_true, h=1e-5):
    """dL/dy_pred by central differences, (L(y + h e_i) - L(y - h e_i)) / 2h, one element at a time."""
    grad = np.zeros_like(y_pred)
    for i in np.ndindex(y_pred.shape):
        old = y_pred[i]
        y_pred[i] = old + h
        up = loss(y_pred, y_true)
        y_pred[i] = old - h
        down = loss(y_pred, y_true)
        y_pred[i] = old
        grad[i] = (up - down) / (2 * h)
    return grad


def rel_error(a, b):
    """max |a - b| relative to the largest gradient entry (element-wise ratios blow up where a gradient is ~0)."""
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
@pytest.mark.parametrize("shape", [(B, C), (B, T, C)])
def test_gradient_matches_finite_differences(name, shape):
    loss = losses.get(name)
    y_pred, y_true = make_case(name, shape)
    value, dy_pred = loss.value_and_grad(y_pred, y_true)
    assert value == loss(y_pred, y_true)
    assert dy_pred.shape == y_pred.shape and dy_pred.dtype == np.float64
    err = rel_error(dy_pred, finite_difference(loss, y_pred, y_true))
    print(f"{name} {shape}: max relative error vs finite differences {err:.2e}")
    assert err < 1e-7


def torch_reference(torch, name, y_pred, y_true):
    """The same loss in torch.nn.functional; classes move to axis 1 for cross_entropy."""
    F = torch.nn.functional
    z = torch.tensor(y_pred, requires_grad=True)
    y = torch.tensor(y_true)
    if name == "mse":
        value = F.mse_loss(z, y)
    elif name == "mae":
        value = F.l1_loss(z, y)
    elif name == "binary_crossentropy":
        value = F.binary_cross_entropy_with_logits(z, y)
    else:                                                            # (B, C) or (B, T, C) -> (B, C) or (B, C, T)
        target = y if name == "sparse_categorical_crossentropy" else torch.movedim(y, -1, 1)
        value = F.cross_entropy(torch.movedim(z, -1, 1), target)
    value.backward()
    return value.item(), z.grad.numpy()


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
@pytest.mark.parametrize("shape", [(B, C), (B, T, C)])
def test_matches_torch(torch, name, shape):
    y_pred, y_true = make_case(name, shape)
    value, dy_pred = losses.get(name).value_and_grad(y_pred, y_true)
    want_value, want_grad = torch_reference(torch, name, y_pred, y_true)
    err = float(np.max(np.abs(dy_pred - want_grad)))
    print(f"{name} {shape}: |value - torch| {abs(value - want_value):.1e}, max |grad - torch| {err:.1e}")
    assert abs(value - want_value) < 1e-10
    assert err < 1e-10


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_logits_are_finite(name, dtype):
    y_pred = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 1000.0]], dtype=dtype)
    y_true = {"sparse_categorical_crossentropy": np.array([1, 0]),
              "categorical_crossentropy": np.array([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]])}.get(
        name, np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.5]]))
    value, dy_pred = losses.get(name).value_and_grad(y_pred, y_true)
    assert np.isfinite(value) and np.all(np.isfinite(dy_pred))
    assert dy_pred.dtype == dtype
    if "crossentropy" in name:
        assert value > 100                                           # confidently wrong logits cost ~1000


def test_column_targets_are_reshaped_explicitly():
    rng = np.random.default_rng(1)
    y_pred = rng.standard_normal((B, 1))
    y_true = rng.standard_normal(B)
    value, dy_pred = losses.MSE().value_and_grad(y_pred, y_true)
    assert value == pytest.approx(np.mean((y_pred[:, 0] - y_true) ** 2))   # not the (B, B) broadcast
    assert dy_pred.shape == (B, 1)
    logits = rng.standard_normal((B, C))
    labels = np.array([0, 4, 2, 1])
    scce = losses.SparseCategoricalCrossentropy()
    assert scce(logits, labels[:, None]) == scce(logits, labels)


@pytest.mark.parametrize("name, y_pred_shape, y_true_shape", [
    ("mse", (B, 1), (B, 2)),
    ("mse", (B,), (B, 1)),
    ("mse", (B, 3), (B,)),
    ("binary_crossentropy", (B, T, 1), (B,)),
    ("categorical_crossentropy", (B, C), (B,)),
    ("sparse_categorical_crossentropy", (B, T, C), (B,)),
    ("sparse_categorical_crossentropy", (B, C), (B, C)),
])
def test_shape_mismatch_raises(name, y_pred_shape, y_true_shape):
    with pytest.raises(ValueError, match=r"y_true has shape .*, but the model output has shape"):
        losses.get(name)(np.zeros(y_pred_shape), np.zeros(y_true_shape))


@pytest.mark.parametrize("bad", [C, -1])
def test_bad_label_raises(bad):
    labels = np.array([[0, 1, 2], [3, bad, 0], [1, 1, 1], [0, 0, 0]])
    with pytest.raises(ValueError, match=rf"label {bad} at index \(1, 1\).*valid labels are 0..{C - 1}"):
        losses.SparseCategoricalCrossentropy()(np.zeros((B, T, C)), labels)


def test_binary_targets_outside_unit_interval_raise():
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        losses.BinaryCrossentropy()(np.zeros((B, 1)), np.array([0, 1, 2, 1]))


def test_get():
    assert isinstance(losses.get("mean_squared_error"), losses.MSE)
    assert isinstance(losses.get("MAE"), losses.MAE)
    mse = losses.MSE()
    assert losses.get(mse) is mse
    for name, cls in losses.LOSSES.items():
        assert cls.name == name
    with pytest.raises(ValueError, match="Unknown loss 'crossentropy'; valid names are"):
        losses.get("crossentropy")
    with pytest.raises(TypeError):
        losses.get(3)


def test_link_says_which_losses_take_logits():
    """`link` is what a loss from logits applies itself (Sequential.compile refuses a model that applies it too;
    predict_proba applies it to predict's logits); None for the losses on values."""
    links = {name: cls.link for name, cls in losses.LOSSES.items()}
    assert links == {"mse": None, "mae": None, "binary_crossentropy": "sigmoid",
                     "categorical_crossentropy": "softmax", "sparse_categorical_crossentropy": "softmax"}


logits = arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(2, 6)),
                elements=st.floats(-50, 50, allow_nan=False))


@settings(max_examples=50, deadline=None)
@given(z=logits, data=st.data())
def test_crossentropy_is_nonnegative_and_gradient_sums_to_zero(z, data):
    labels = data.draw(arrays(np.int64, z.shape[:1], elements=st.integers(0, z.shape[1] - 1)))
    onehot = np.eye(z.shape[1])[labels]
    value, dz = losses.CategoricalCrossentropy().value_and_grad(z, onehot)
    assert value >= 0
    np.testing.assert_allclose(dz.sum(axis=-1), 0.0, atol=1e-12)     # softmax - y sums to 1 - 1 per position
    sparse_value, sparse_dz = losses.SparseCategoricalCrossentropy().value_and_grad(z, labels)
    assert sparse_value == pytest.approx(value, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(sparse_dz, dz, atol=1e-15)
