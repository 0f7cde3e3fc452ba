"""Losses: gradients against central finite differences and torch autograd, values against
torch.nn.functional (the pinball loss against its formula in torch), stability at extreme logits, the target shape
rule, and the pinball loss's quantiles: hand-computed values, the layout, and the coverage of a trained model."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import lstmkit as lk
from lstmkit.training import losses
from lstmkit.layers import Dense

B, T, C = 4, 3, 5


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def make_case(name, shape=(B, C)):
    """Float64 logits/predictions and matching targets for the loss `name`, away from MAE's and pinball's kink.
    For pinball (Q = 5 default quantiles) the last axis C = 5 is H * Q with H = 1, so targets are (..., 1)."""
    rng = np.random.default_rng(0)
    y_pred = rng.standard_normal(shape)
    if name == "pinball":
        Q = len(losses.Pinball().quantiles)
        y_true = rng.standard_normal(shape[:-1] + (shape[-1] // Q,))                  # (..., H)
        gap = rng.choice([-1, 1], size=y_true.shape + (Q,)) * rng.uniform(0.1, 1, size=y_true.shape + (Q,))
        return (y_true[..., None] + gap).reshape(shape), y_true                        # |u| >= 0.1 everywhere
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


def torch_pinball(torch, z, y, quantiles):
    """The pinball loss by its formula (torch has none): mean of max(q u, (q - 1) u), u = y - z as (..., H, Q)."""
    q = torch.tensor(quantiles, dtype=z.dtype)
    u = y[..., None] - z.reshape(tuple(y.shape) + (len(quantiles),))
    return torch.maximum(q * u, (q - 1) * u).mean()


def torch_reference(torch, name, y_pred, y_true):
    """The same loss in torch.nn.functional (pinball by formula); classes move to axis 1 for cross_entropy."""
    F = torch.nn.functional
    z = torch.tensor(y_pred, requires_grad=True)
    y = torch.tensor(y_true)
    if name == "pinball":
        value = torch_pinball(torch, z, y, losses.Pinball().quantiles)
    elif name == "mse":
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
    if name == "pinball":                                            # three quantiles of one target (H = 1)
        y_true = np.array([[0.0], [1.0]])
    loss = losses.Pinball((0.1, 0.5, 0.9)) if name == "pinball" else losses.get(name)
    value, dy_pred = loss.value_and_grad(y_pred, y_true)
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
                     "categorical_crossentropy": "softmax", "sparse_categorical_crossentropy": "softmax",
                     "pinball": None}


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


# ---- pinball (quantile) loss ---------------------------------------------------------------------------------------
def test_pinball_value_and_gradient_by_hand():
    """Quantiles (0.1, 0.9), H = 2 steps, one sample: y_pred (1, 4) is (1, H, Q) = [[1, 3], [2, 2]], y = [2, 0].
    u = y - f = [[1, -1], [-2, -2]];  rho = max(q u, (q - 1) u) = [[0.1, 0.1], [1.8, 0.2]];  L = 2.2 / 4 = 0.55.
    dl/df = -q (u > 0), 1 - q (u < 0) = [[-0.1, 0.1], [0.9, 0.1]], over N = 4: [-0.025, 0.025, 0.225, 0.025]."""
    loss = losses.Pinball((0.1, 0.9))
    for dtype in (np.float64, np.float32):
        value, grad = loss.value_and_grad(np.array([[1.0, 3.0, 2.0, 2.0]], dtype), np.array([[2.0, 0.0]]))
        assert value == pytest.approx(0.55, rel=1e-6)
        np.testing.assert_allclose(grad, [[-0.025, 0.025, 0.225, 0.025]], rtol=1e-6)
        assert grad.dtype == dtype


def test_pinball_subgradient_at_the_kink():
    """At u == 0 dl/df = 1/2 - q, the mean of the two one-sided slopes -q and 1 - q: (0.4, 0, -0.4) / 3 here."""
    loss = losses.Pinball((0.1, 0.5, 0.9))
    value, grad = loss.value_and_grad(np.array([[1.0, 1.0, 1.0]]), np.array([1.0]))
    assert value == 0.0
    np.testing.assert_allclose(grad, [[0.4 / 3, 0.0, -0.4 / 3]], atol=1e-15)


def test_pinball_subgradient_at_the_kink_matches_torch(torch):
    """torch.maximum splits a tie's gradient evenly, which gives the same 1/2 - q; ties mixed with non-ties."""
    quantiles = (0.5, 0.1, 0.9, 0.025, 0.975)
    y_true = np.array([[0.0, 1.0], [2.0, -1.0]])                     # (B, H)
    y_pred = np.repeat(y_true, len(quantiles), axis=-1)              # (B, H * Q): every u == 0
    y_pred[0, :3] += [0.5, -0.5, 0.0]
    value, grad = losses.Pinball(quantiles).value_and_grad(y_pred, y_true)
    z = torch.tensor(y_pred, requires_grad=True)
    want = torch_pinball(torch, z, torch.tensor(y_true), quantiles)
    want.backward()
    assert value == pytest.approx(want.item(), abs=1e-15)
    np.testing.assert_allclose(grad, z.grad.numpy(), atol=1e-15)


@pytest.mark.parametrize("shape, H", [((B, 3 * 5), 3), ((B, T, 2 * 5), 2)])
def test_pinball_gradient_matches_finite_differences_and_torch(torch, shape, H):
    """Several steps per sample (H > 1), float64, every |u| >= 0.1 so no difference straddles the kink."""
    rng = np.random.default_rng(3)
    loss = losses.Pinball()
    Q = len(loss.quantiles)
    y_true = rng.standard_normal(shape[:-1] + (H,))
    gap = rng.choice([-1, 1], size=y_true.shape + (Q,)) * rng.uniform(0.1, 1, size=y_true.shape + (Q,))
    y_pred = (y_true[..., None] + gap).reshape(shape)
    value, grad = loss.value_and_grad(y_pred, y_true)
    err = rel_error(grad, finite_difference(loss, y_pred, y_true))
    z = torch.tensor(y_pred, requires_grad=True)
    want = torch_pinball(torch, z, torch.tensor(y_true), loss.quantiles)
    want.backward()
    print(f"pinball {shape}: rel error vs finite differences {err:.1e}, "
          f"max |grad - torch| {np.max(np.abs(grad - z.grad.numpy())):.1e}")
    assert err < 1e-7
    assert value == pytest.approx(want.item(), abs=1e-12)
    np.testing.assert_allclose(grad, z.grad.numpy(), atol=1e-15)


def test_pinball_split_and_interval_read_the_layout():
    """y_pred (B, H * Q) with the quantile index fastest: column h * Q + j is quantile j of step h."""
    loss = losses.Pinball((0.5, 0.1, 0.9, 0.025, 0.975))
    H, Q = 3, 5
    y_pred = np.arange(2 * H * Q, dtype=np.float32).reshape(2, H * Q)
    parts = loss.split(y_pred)
    assert list(parts) == [0.5, 0.1, 0.9, 0.025, 0.975]
    for j, q in enumerate(loss.quantiles):
        assert parts[q].shape == (2, H) and parts[q].dtype == np.float32
        np.testing.assert_array_equal(parts[q], y_pred[:, j::Q])
    lower, upper = loss.interval(y_pred, 0.8)                        # (1 - 0.8) / 2 is 0.09999999999999998
    np.testing.assert_array_equal(lower, parts[0.1])
    np.testing.assert_array_equal(upper, parts[0.9])
    lower, upper = loss.interval(y_pred[None], 0.95)                 # any leading axes: (1, 2, H * Q)
    np.testing.assert_array_equal(upper, parts[0.975][None])
    with pytest.raises(ValueError, match=r"a 50% interval needs the 0.25 quantile"):
        loss.interval(y_pred, 0.5)
    with pytest.raises(ValueError, match=r"level must be a number strictly between 0 and 1"):
        loss.interval(y_pred, 80)
    with pytest.raises(ValueError, match=r"needs a last axis of H \* 5"):
        loss.split(np.zeros((2, 7)))


@pytest.mark.parametrize("y_pred_shape, y_true_shape, message", [
    ((B, 7), (B, 1), r"needs a last axis of H \* 5 .*end the model with Dense\(H \* 5\)"),
    ((B, 10), (B, 10), r"y_true has shape \(4, 10\), but the model output has shape \(4, 10\).*shaped \(4, 2\)"),
    ((B, 10), (B, 3), r"y_true has shape \(4, 3\), .*reads that as 2 targets per sample"),
    ((B, 10), (B,), r"shaped \(4, 2\)"),
    ((B, 10), (1, 2), r"shaped \(4, 2\) \(they are never broadcast\)"),
    ((B, T, 5), (B, 1), r"shaped \(4, 3, 1\)"),
])
def test_pinball_shape_mismatch_raises(y_pred_shape, y_true_shape, message):
    with pytest.raises(ValueError, match=message):
        losses.Pinball()(np.zeros(y_pred_shape), np.zeros(y_true_shape))


def test_pinball_takes_flat_targets_for_one_step():
    """H = 1: (B,) targets for a (B, Q) output, the one explicit reshape of the module's shape rule."""
    rng = np.random.default_rng(4)
    y_pred, y_true = rng.standard_normal((B, 3)), rng.standard_normal(B)
    loss = losses.Pinball((0.1, 0.5, 0.9))
    assert loss(y_pred, y_true) == loss(y_pred, y_true[:, None])


@pytest.mark.parametrize("quantiles, error, message", [
    ((), ValueError, r"quantiles is empty"),
    ((0.1, 0.0, 0.9), ValueError, r"strictly between 0 and 1, got \[0.0\]"),
    ((0.5, 1), ValueError, r"strictly between 0 and 1, got \[1.0\]"),
    ((-0.1, 1.5), ValueError, r"got \[-0.1, 1.5\]"),
    ((0.5, float("nan")), ValueError, r"strictly between 0 and 1, got \[nan\]"),
    ((0.1, 0.5, 0.1), ValueError, r"distinct, got 0.1 more than once"),
    (0.5, TypeError, r"pass a one-element tuple such as \(0.5,\)"),
    ("0.5", TypeError, r"sequence of numbers"),
    ((0.5, None), TypeError, r"sequence of numbers"),
])
def test_pinball_bad_quantiles_raise(quantiles, error, message):
    with pytest.raises(error, match=message):
        losses.Pinball(quantiles)


def test_get_pinball_has_the_default_quantiles():
    loss = losses.get("pinball")
    assert isinstance(loss, losses.Pinball) and loss.link is None
    assert loss.quantiles == (0.5, 0.1, 0.9, 0.025, 0.975)
    assert repr(losses.Pinball(np.array([0.25, 0.75]))) == "Pinball(quantiles=(0.25, 0.75))"


def test_pinball_is_smallest_at_the_sample_quantile():
    """Over samples y, the mean pinball loss of a constant forecast f is smallest at y's q-quantile."""
    rng = np.random.default_rng(5)
    y = rng.standard_normal(1001)
    quantiles = (0.1, 0.5, 0.9)
    loss = losses.Pinball(quantiles)
    best = np.quantile(y, quantiles, method="inverted_cdf")          # a sample value: an exact minimiser
    for shift in (-0.05, -0.01, 0.01, 0.05):
        for j in range(len(quantiles)):
            moved = best.copy()
            moved[j] += shift
            assert loss(np.tile(best, (len(y), 1)), y) < loss(np.tile(moved, (len(y), 1)), y)


def test_pinball_trains_a_model_whose_interval_covers_the_nominal_share():
    """y = x + N(0, 1): a Dense(3) trained with quantiles (0.1, 0.5, 0.9) should learn x - 1.28, x, x + 1.28, and
    its 0.1-0.9 band should hold about 80% of fresh data."""
    rng = np.random.default_rng(6)
    x = rng.uniform(-2, 2, size=(2000, 1))
    y = x + rng.standard_normal((2000, 1))
    loss = losses.Pinball((0.1, 0.5, 0.9))
    m = lk.Sequential([Dense(3)], seed=0)
    m.compile(loss=loss, optimizer=lk.optim.Adam(lr=0.05))
    history = m.fit(x, y, epochs=30, batch_size=100, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    x_new = rng.uniform(-2, 2, size=(5000, 1))
    y_new = x_new + rng.standard_normal((5000, 1))
    lower, upper = loss.interval(m.predict(x_new), 0.8)
    coverage = float(np.mean((lower <= y_new) & (y_new <= upper)))
    below = float(np.mean(y_new < loss.split(m.predict(x_new))[0.5]))
    print(f"coverage of the 80% band {coverage:.3f}, share below the median {below:.3f}")
    assert 0.7 < coverage < 0.9
    assert 0.4 < below < 0.6
    assert m.evaluate(x_new, y_new)["loss"] == pytest.approx(loss(m.predict(x_new), y_new), rel=1e-5)
