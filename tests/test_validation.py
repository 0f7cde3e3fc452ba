"""Input validation at the public entry points: every bad shape, dtype, NaN, empty batch or out-of-range setting is
one ValueError or TypeError that names the argument and says what was expected (never a raw NumPy error), and a
rejected call leaves the model as it was."""

import numpy as np
import pytest

import lstmkit as lk
from lstmkit import data
from lstmkit.training import losses
from lstmkit.apps.forecast import ForecastConfig
from lstmkit.layers import GRU, LSTM, Dense, Dropout, Embedding, SimpleRNN

X = np.random.default_rng(0).standard_normal((10, 5, 3))
Y = X.sum(axis=(1, 2))[:, None]


def model(layers=None, loss="mse", seed=0):
    return lk.Sequential(layers or [LSTM(4), Dense(1)], seed=seed).compile(loss=loss, optimizer="adam")


def fit(m=None, x=X, y=Y, **kwargs):
    return (m or model()).fit(x, y, **{"batch_size": 2, "verbose": 0, **kwargs})


def nan_like(a):
    a = np.array(a, dtype=float)
    a.flat[1] = np.nan
    return a


# ---- Sequential.fit -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, error, fragments", [
    (lambda: fit(x=X[:, :, 0]), ValueError, ["fit x", "(10, 5)", "3D"]),
    (lambda: fit(x=X[..., None]), ValueError, ["fit x", "(10, 5, 3, 1)", "3D"]),
    (lambda: fit(x=np.full(X.shape, "a")), TypeError, ["fit x", "numeric"]),
    (lambda: fit(x=3.0), ValueError, ["fit x", "batch axis"]),
    (lambda: fit(x=[[1.0, 2.0], [3.0]]), TypeError, ["fit x", "numeric array"]),
    (lambda: fit(x=nan_like(X)), ValueError, ["fit x", "NaN"]),
    (lambda: fit(x=np.where(X > 2, np.inf, X)), ValueError, ["fit x", "inf"]),
    (lambda: fit(y=nan_like(Y)), ValueError, ["fit y", "NaN"]),
    (lambda: fit(x=X[:0], y=Y[:0]), ValueError, ["fit x", "empty"]),
    (lambda: fit(y=Y[:9]), ValueError, ["fit x and y", "10 and 9"]),
    (lambda: fit(y=np.zeros((10, 2))), ValueError, ["fit y", "(10, 2)", "(10, 1)"]),
    (lambda: fit(y=np.zeros((10, 1, 1))), ValueError, ["fit y", "(10, 1, 1)", "(10, 1)"]),
    (lambda: fit(batch_size=11), ValueError, ["batch_size=11", "10 training samples", "batch_size <= 10"]),
    (lambda: fit(batch_size=9, validation_split=0.2), ValueError, ["batch_size=9", "8 training samples"]),
    (lambda: fit(batch_size=0), ValueError, ["batch_size", "positive integer"]),
    (lambda: fit(batch_size=2.0), ValueError, ["batch_size", "positive integer"]),
    (lambda: fit(batch_size=True), ValueError, ["batch_size", "positive integer"]),
    (lambda: fit(epochs=0), ValueError, ["epochs", "positive integer"]),
    (lambda: fit(epochs=2.5), ValueError, ["epochs", "positive integer"]),
    (lambda: fit(validation_split=1.0), ValueError, ["validation_split", "[0, 1)"]),
    (lambda: fit(validation_split="0.2"), ValueError, ["validation_split", "[0, 1)"]),
    (lambda: fit(validation_split=0.01), ValueError, ["validation_split=0.01", "0 of 10"]),
    (lambda: fit(validation_split=0.2, validation_data=(X, Y)), ValueError, ["validation_split or validation_data"]),
    (lambda: fit(validation_data=X), ValueError, ["validation_data", "pair"]),
    (lambda: fit(validation_data=(X[..., :2], Y)), ValueError, ["validation_data x", "(10, 5, 2)", "features"]),
    (lambda: fit(validation_data=(X, Y[:, 0, None, None])), ValueError, ["validation_data y", "(10, 1, 1)"]),
    (lambda: fit(validation_data=(X, nan_like(Y))), ValueError, ["validation_data y", "NaN"]),
    (lambda: fit(early_stopping="yes"), TypeError, ["early_stopping", "EarlyStopping"]),
    (lambda: fit(early_stopping=-1, validation_split=0.2), ValueError, ["patience", ">= 0"]),
    (lambda: fit(early_stopping=3), ValueError, ["val_loss", "validation_split or validation_data"]),
    (lambda: fit(early_stopping=lk.EarlyStopping(monitor="accuracy", patience=1)), ValueError, ["accuracy", "logged"]),
    (lambda: fit(checkpoint=5), TypeError, ["checkpoint", "folder path"]),
    (lambda: fit(checkpoint="ck", checkpoint_every=0), ValueError, ["checkpoint_every", "positive integer"]),
    (lambda: fit(resume=True), ValueError, ["resume=True", "checkpoint="]),
    (lambda: lk.Sequential([Dense(1)]).fit(X[:, 0], Y), ValueError, ["compile", "before fit"]),
])
def test_fit_rejects(call, error, fragments):
    with pytest.raises(error) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


def test_sparse_labels_out_of_range_are_refused_before_training():
    ids = np.random.default_rng(0).integers(0, 5, (12, 4))
    m = model([Embedding(5, 3), GRU(4), Dense(3)], loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"fit y: .*label 4 .* 3 classes"):
        fit(m, x=ids, y=ids[:, 0])
    with pytest.raises(TypeError, match="fit x must hold integer indices"):
        fit(m, x=ids + 0.5, y=ids[:, 0] % 3)
    with pytest.raises(ValueError, match=r"fit x has shape \(12, 4, 1\)"):
        fit(m, x=ids[..., None], y=ids[:, 0] % 3)
    fit(m, x=ids, y=ids[:, 0] % 3, epochs=1)


def test_a_rejected_fit_leaves_the_model_unbuilt():
    m = model()
    with pytest.raises(ValueError, match="3D"):
        fit(m, x=X[:, :, 0])
    assert not m.built and all(not layer.built for layer in m.layers)
    history = fit(m, epochs=1)                      # the right data still work afterwards
    assert m.input_shape == (5, 3) and len(history.epoch) == 1


def test_a_rejected_fit_does_not_change_the_weights():
    m = model()
    fit(m, epochs=1)
    before = {k: p.copy() for k, p in m.parameters().items()}
    for bad in (dict(x=X[..., :2]), dict(y=np.zeros((10, 2))), dict(y=nan_like(Y)), dict(batch_size=20)):
        with pytest.raises(ValueError):
            fit(m, **bad)
    for key, p in m.parameters().items():
        np.testing.assert_array_equal(p, before[key])


# ---- predict, evaluate, train_on_batch ----------------------------------------------------------------------------
@pytest.mark.parametrize("call, error, fragments", [
    (lambda m: m.predict(X[:, 0]), ValueError, ["x has shape (10, 3)", "3D"]),
    (lambda m: m.predict(X[..., :2]), ValueError, ["x has shape (10, 5, 2)", "2 features", "3 features"]),
    (lambda m: m.predict(nan_like(X)), ValueError, ["x contains", "NaN"]),
    (lambda m: m.predict(X[:0]), ValueError, ["x is empty"]),
    (lambda m: m.predict(np.full(X.shape, "a")), TypeError, ["x must be numeric"]),
    (lambda m: m.predict(X, batch_size=0), ValueError, ["batch_size", "positive integer"]),
    (lambda m: m.predict(X, batch_size=2.5), ValueError, ["batch_size", "positive integer"]),
    (lambda m: m.evaluate(X, np.zeros((10, 3))), ValueError, ["evaluate y", "(10, 3)", "(10, 1)"]),
    (lambda m: m.evaluate(X, nan_like(Y)), ValueError, ["evaluate y", "NaN"]),
    (lambda m: m.evaluate(X[:0], Y[:0]), ValueError, ["evaluate x is empty"]),
    (lambda m: m.evaluate(X, Y[:3]), ValueError, ["evaluate x and y", "10 and 3"]),
    (lambda m: m.evaluate(X, Y, batch_size=-1), ValueError, ["batch_size", "positive integer"]),
    (lambda m: m.train_on_batch(X, np.zeros((10, 2))), ValueError, ["train_on_batch y", "(10, 2)"]),
    (lambda m: m.train_on_batch(nan_like(X), Y), ValueError, ["train_on_batch x", "NaN"]),
])
def test_inference_rejects(call, error, fragments):
    m = model()
    fit(m, epochs=1)
    with pytest.raises(error) as info:
        call(m)
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


def test_evaluate_needs_compile_and_predict_needs_layers():
    with pytest.raises(ValueError, match="compile"):
        lk.Sequential([Dense(1)]).evaluate(X[:, 0], Y)
    with pytest.raises(ValueError, match="no layers"):
        lk.Sequential().predict(X)


def test_a_float64_model_keeps_float64_inputs():
    """x is converted to the first layer's dtype, not rounded through float32 on the way in."""
    m = lk.Sequential([Dense(3, dtype="float64"), Dense(1, dtype="float64")], seed=0)
    x = np.array([[1 + 1e-12, 2.0, 3.0]] * 4)
    out = m.predict(x)
    assert out.dtype == np.float64
    expected = m.layers[1].forward(m.layers[0].forward(x))
    np.testing.assert_array_equal(out, expected)


# ---- Sequential construction and compile --------------------------------------------------------------------------
@pytest.mark.parametrize("call, error, fragment", [
    (lambda: lk.Sequential([Dense(1)], seed="a"), ValueError, "seed must be None or an integer"),
    (lambda: lk.Sequential([Dense(1)], seed=-1), ValueError, "seed must be None or an integer"),
    (lambda: lk.Sequential(Dense(1)), TypeError, "layers must be a list"),
    (lambda: lk.Sequential([3]), TypeError, "lstmkit layers, got int"),
    (lambda: lk.Sequential([LSTM(2, return_state=True)]), ValueError, "return_state"),
    (lambda: lk.Sequential([Dense(1)]).build("ab"), ValueError, "input_shape must be a tuple"),
    (lambda: lk.Sequential([Dense(1)]).build((3, 0)), ValueError, "input_shape must be a tuple"),
    (lambda: lk.Sequential([Dense(1)]).compile(metrics="mae"), TypeError, "metrics must be a list"),
    (lambda: lk.Sequential([Dense(1)]).compile(metrics=["f1"]), ValueError, "Unknown metric 'f1'"),
    (lambda: lk.Sequential([Dense(1)]).compile(loss="hinge"), ValueError, "Unknown loss 'hinge'"),
    (lambda: lk.Sequential([Dense(1)]).compile(optimizer="adamx"), ValueError, "Unknown optimizer 'adamx'"),
    (lambda: lk.optim.Adam(lr=-1), ValueError, "lr must be a positive number"),
    (lambda: lk.optim.SGD(lr=0.1, clipnorm=0), ValueError, "clipnorm"),
])
def test_model_construction_rejects(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


def test_a_metric_function_is_logged_under_its_name():
    def max_error(y_pred, y_true):
        return float(np.max(np.abs(y_pred - y_true)))

    m = lk.Sequential([LSTM(3), Dense(1)], seed=0).compile(metrics=["mae", max_error])
    history = fit(m, epochs=1)
    assert set(history.history) == {"loss", "mae", "max_error"}


# ---- layers -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", [LSTM, GRU, SimpleRNN], ids=lambda c: c.__name__)
def test_recurrent_forward_rejects(cell):
    layer = cell(4)
    layer.forward(X)
    state = (np.zeros((1, 10, 4)), np.zeros((1, 10, 4))) if cell is LSTM else np.zeros((1, 10, 4))
    wrong_state = (np.zeros((1, 9, 4)), np.zeros((1, 9, 4))) if cell is LSTM else np.zeros((1, 9, 4))
    cases = [
        (dict(x=X[:, 0]), ValueError, ["x must be a 3D array", "(10, 3)"]),
        (dict(x=nan_like(X)), ValueError, ["x contains", "NaN"]),
        (dict(x=X[:0]), ValueError, ["x is empty"]),
        (dict(x=np.full(X.shape, "a")), TypeError, ["x must be numeric"]),
        (dict(x=X[..., :2]), ValueError, ["2 features", "built for 3"]),
        (dict(x=X, mask=np.ones((10, 4), bool)), ValueError, ["mask must have shape (B, T) = (10, 5)", "(10, 4)"]),
        (dict(x=X, mask=np.ones((10, 5))), TypeError, ["mask must be a bool array"]),
        (dict(x=X, initial_state=wrong_state), ValueError, ["initial_state h_0", "(1, 10, 4)", "(1, 9, 4)"]),
        (dict(x=X, initial_state=nan_like(state[0]) if cell is LSTM else nan_like(state)), ValueError,
         ["initial_state"]),
    ]
    for kwargs, error, fragments in cases:
        with pytest.raises(error) as info:
            layer.forward(kwargs.pop("x"), **kwargs)
        for fragment in fragments:
            assert fragment in str(info.value), (fragment, str(info.value))


@pytest.mark.parametrize("call, error, fragments", [
    (lambda: Dense(2).forward(np.zeros(3)), ValueError, ["x must be a 2D or 3D array", "(3,)"]),
    (lambda: Dense(2).forward(np.zeros((2, 3, 4, 5))), ValueError, ["x must be a 2D or 3D array"]),
    (lambda: Dense(2).forward(np.full((2, 3), np.inf)), ValueError, ["x contains", "inf"]),
    (lambda: Embedding(5, 2).forward(np.array([[0.5]])), TypeError, ["x must hold integer indices"]),
    (lambda: Embedding(5, 2).forward(np.array([[7]])), ValueError, ["token id 7", "[0, 5)"]),
    (lambda: Embedding(5, 2).forward(np.zeros((2, 2, 2), int)), ValueError, ["x must be a 1D or 2D array"]),
    (lambda: Dropout(0.5).forward(np.array([[np.nan]])), ValueError, ["x contains", "NaN"]),
    (lambda: LSTM(0), ValueError, ["hidden_size must be a positive integer"]),
    (lambda: GRU(2.5), ValueError, ["hidden_size must be a positive integer"]),
    (lambda: SimpleRNN(3, num_layers=0), ValueError, ["num_layers must be a positive integer"]),
    (lambda: LSTM(3, dropout=1.0), ValueError, ["dropout", "[0, 1)"]),
    (lambda: Dense(0), ValueError, ["units must be a positive integer"]),
    (lambda: Embedding(0, 2), ValueError, ["num_embeddings must be a positive integer"]),
    (lambda: Dropout(-0.1), ValueError, ["rate", "[0, 1)"]),
    (lambda: Dense(2, dtype="int32"), ValueError, ["dtype must be 'float32' or 'float64'"]),
])
def test_layers_reject(call, error, fragments):
    with pytest.raises(error) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


# ---- losses -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, y_pred, y_true, error, fragments", [
    ("mse", np.zeros((3, 2)), np.zeros((3, 3)), ValueError, ["y_true has shape (3, 3)", "(3, 2)"]),
    ("mae", np.zeros((3, 1)), nan_like(np.zeros((3, 1))), ValueError, ["y_true contains", "NaN"]),
    ("mse", np.zeros((0, 1)), np.zeros((0, 1)), ValueError, ["empty"]),
    ("mse", np.array(["a"]), np.zeros(1), TypeError, ["y_pred must be a numeric array"]),
    ("mse", 1.0, 1.0, TypeError, ["y_pred", "batch axis"]),
    ("categorical_crossentropy", np.zeros((3, 4)), np.zeros((3, 3)), ValueError, ["y_true has shape (3, 3)"]),
    ("sparse_categorical_crossentropy", np.zeros((3, 4)), np.array([0.5, 1, 2]), TypeError, ["integer"]),
    ("sparse_categorical_crossentropy", np.zeros((3, 4)), np.array([0, 1, 4]), ValueError, ["label 4", "4 classes"]),
    ("binary_crossentropy", np.zeros((3, 1)), np.full((3, 1), 2.0), ValueError, ["[0, 1]"]),
])
def test_losses_reject(name, y_pred, y_true, error, fragments):
    for call in (losses.get(name), lambda p, t: losses.get(name).value_and_grad(p, t)):
        with pytest.raises(error) as info:
            call(y_pred, y_true)
        for fragment in fragments:
            assert fragment in str(info.value), (fragment, str(info.value))


# ---- data ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, error, fragments", [
    (lambda: data.sliding_windows(np.zeros((3, 3, 3)), 1), ValueError, ["values must be a 1D or 2D array"]),
    (lambda: data.sliding_windows(np.array([1.0, np.nan, 2, 3]), 1), ValueError, ["values contains", "NaN"]),
    (lambda: data.sliding_windows(np.zeros(0), 1), ValueError, ["values is empty"]),
    (lambda: data.sliding_windows(np.zeros((5, 0)), 1), ValueError, ["no feature columns"]),
    (lambda: data.sliding_windows(np.zeros(10), 0), ValueError, ["window must be a positive integer"]),
    (lambda: data.sliding_windows(np.zeros(10), 2, horizon=2.0), ValueError, ["horizon must be a positive integer"]),
    (lambda: data.sliding_windows(np.zeros(3), 5), ValueError, ["3 values", "window=5"]),
    (lambda: data.sliding_windows(["a", "b"], 1), TypeError, ["values must be numeric"]),
    (lambda: data.chronological_split(0, 1), ValueError, ["n must be a positive integer"]),
    (lambda: data.chronological_split(10, 10), ValueError, ["leave no training steps"]),
    (lambda: data.chronological_split(10, 1.5), ValueError, ["test_size"]),
    (lambda: data.chronological_split(10, 2, val_size=-1), ValueError, ["val_size"]),
    (lambda: data.StandardScaler().fit(np.array([1.0, np.nan])), ValueError, ["contains", "NaN"]),
    (lambda: data.StandardScaler().fit(np.zeros(0)), ValueError, ["empty"]),
    (lambda: data.StandardScaler().transform(np.zeros(3)), ValueError, ["not fitted", "fit("]),
    (lambda: data.MinMaxScaler().fit(np.zeros((5, 2))).transform(np.zeros((5, 3))), ValueError,
     ["fitted on 2 features"]),
    (lambda: data.scaler_from_dict({"kind": "x"}), ValueError, ["'class'"]),
    (lambda: data.load_csv("/nonexistent/s.csv"), ValueError, ["no such file"]),
    (lambda: data.load_dataset("nope"), ValueError, ["unknown dataset 'nope'"]),
])
def test_data_functions_reject(call, error, fragments):
    with pytest.raises(error) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


# ---- the forecasting job's settings -------------------------------------------------------------------------------
@pytest.mark.parametrize("changes, fragment", [
    (dict(hidden=0), "hidden must be at least 1"),
    (dict(epochs=True), "epochs must be an integer"),
    (dict(lr="0.1"), "lr must be a finite number"),
    (dict(lr=float("nan")), "lr must be a finite number"),
    (dict(forget_bias="1"), "forget_bias must be a finite number"),
    (dict(log="yes"), "log must be True or False"),
    (dict(data=3), "data must be a string or None"),
    (dict(cell="lstm2"), "cell must be one of lstm, gru, rnn"),
    (dict(checkpoint_every=-1), "checkpoint_every"),
])
def test_forecast_config_rejects(changes, fragment):
    with pytest.raises(ValueError, match=fragment):
        ForecastConfig(**changes).validate()


# ---- inputs that used to slip through ------------------------------------------------------------------------
def test_complex_input_is_refused():
    with pytest.raises(TypeError, match="x must be"):
        Dense(2).forward(np.zeros((2, 3), complex))


def test_zero_features_is_refused():
    with pytest.raises(ValueError, match="features"):
        Dense(2).forward(np.zeros((2, 0)))


def test_zero_time_steps_is_refused():
    with pytest.raises(ValueError, match=r"x has no time steps \(shape \(2, 0, 3\)\)"):
        LSTM(3).forward(np.zeros((2, 0, 3)))
    with pytest.raises(ValueError, match=r"x holds no token ids \(shape \(2, 0\)\)"):
        Embedding(5, 2).forward(np.zeros((2, 0), int))


def test_first_nonfinite_names_the_first_bad_array_and_ignores_an_overflowing_sum():
    from lstmkit.runtime.validation import first_nonfinite
    ok = np.ones((2, 3), np.float32)
    assert first_nonfinite({}) is None and first_nonfinite({"a": ok}) is None
    assert first_nonfinite({"a": ok, "b": np.array([1.0, np.nan]), "c": np.array([np.inf])}) == "b"
    assert first_nonfinite({"big": np.full(3, 1e308)}) is None          # the sum overflows, every value is finite
