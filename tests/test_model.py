"""Sequential end to end: forecasting a noisy sine with LSTM, GRU and SimpleRNN, a token classification task, the
History / validation / EarlyStopping contract of `fit`, seeded reproducibility, `predict` / `evaluate` /
`summary`, and the errors a user can run into (with the divergence report of a run that blows up)."""

import numpy as np
import pytest

import lstmkit as lk
from lstmkit.layers import GRU, LSTM, Dense, Dropout, Embedding, SimpleRNN, TimeDistributed

WINDOW = 20


@pytest.fixture(scope="module")
def sine():
    """~1000 windows of a noisy sine (period 25 steps, noise std 0.1) and the value after each window."""
    rng = np.random.default_rng(0)
    n = 1000
    t = np.arange(n + WINDOW)
    series = np.sin(2 * np.pi * t / 25) + 0.1 * rng.standard_normal(len(t))
    x = np.lib.stride_tricks.sliding_window_view(series[:-1], WINDOW)[:n, :, None]   # (n, WINDOW, 1)
    y = series[WINDOW:WINDOW + n, None]                                                 # (n, 1)
    return np.ascontiguousarray(x), y, float(series.var())


def small_regression(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4, 2))
    return x, x.sum(axis=(1, 2))[:, None] * 0.3


def model(layers=None, seed=0, lr=1e-2, **compile_kwargs):
    m = lk.Sequential(layers if layers is not None else [LSTM(4), Dense(1)], seed=seed)
    m.compile(loss=compile_kwargs.pop("loss", "mse"), optimizer=lk.optim.Adam(lr=lr), **compile_kwargs)
    return m


# ---- learning -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", [LSTM, GRU, SimpleRNN], ids=lambda c: c.__name__)
def test_learns_a_noisy_sine(sine, cell):
    x, y, variance = sine
    m = model([cell(16), Dense(1)])
    history = m.fit(x, y, epochs=3, batch_size=32, validation_split=0.2, verbose=0)
    assert len(history.history["loss"]) == len(history.history["val_loss"]) == 3
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["val_loss"][-1] < 0.1 * variance, history.history
    # the validation loss is the loss on the last 20% of the samples, in inference mode
    assert m.evaluate(x[-200:], y[-200:])["loss"] == pytest.approx(history.history["val_loss"][-1], rel=1e-6)
    pred = m.predict(x[-200:])
    assert pred.shape == (200, 1) and pred.dtype == np.float32
    assert np.mean((pred - y[-200:]) ** 2) < 0.1 * variance


def test_learns_to_classify_the_first_token():
    rng = np.random.default_rng(1)
    V, n, T = 6, 600, 5
    ids = rng.integers(0, V, (n, T))
    labels = ids[:, 0]
    m = model([Embedding(V, 8), LSTM(16), Dense(V)], loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = m.fit(ids, labels, epochs=15, batch_size=32, validation_split=0.2, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.history["val_accuracy"][-1] > 0.9, history.history["val_accuracy"]
    logits = m.predict(ids[-120:])
    assert logits.shape == (120, V)
    assert np.mean(np.argmax(logits, axis=-1) == labels[-120:]) == pytest.approx(history.history["val_accuracy"][-1])


def test_many_to_many_with_dense_on_every_step():
    """return_sequences=True then Dense: a per-step read-out (here, the running sum of the input)."""
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, (256, 6, 1))
    y = np.cumsum(x, axis=1) * 0.5
    m = model([GRU(12, return_sequences=True), Dense(1)])
    history = m.fit(x, y, epochs=20, batch_size=32, verbose=0)
    assert m.predict(x).shape == (256, 6, 1)
    assert history.history["loss"][-1] < 0.1 * float(np.var(y))


# ---- fit's contract -------------------------------------------------------------------------------------------------
def test_history_lists_have_one_entry_per_epoch():
    x, y = small_regression()
    history = model().fit(x, y, epochs=4, batch_size=16, validation_split=0.25, verbose=0)
    assert isinstance(history, lk.History)
    assert history.epoch == [0, 1, 2, 3]
    assert len(history.history["loss"]) == len(history.history["val_loss"]) == 4
    assert all(isinstance(v, float) and np.isfinite(v) for v in history.history["loss"])
    assert history.stopped_epoch is None
    no_val = model().fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert set(no_val.history) == {"loss"}


def test_validation_split_holds_out_the_last_samples():
    x, y = small_regression()
    a = model()
    ha = a.fit(x, y, epochs=2, batch_size=12, validation_split=0.25, verbose=0)
    b = model()
    hb = b.fit(x[:36], y[:36], epochs=2, batch_size=12, validation_data=(x[36:], y[36:]), verbose=0)
    assert ha.history == hb.history                       # the same split, the same training
    assert ha.history["val_loss"][-1] == pytest.approx(a.evaluate(x[36:], y[36:])["loss"], rel=1e-6)


def test_validation_data_and_split_together_raise():
    x, y = small_regression()
    with pytest.raises(ValueError, match="not both"):
        model().fit(x, y, validation_split=0.2, validation_data=(x, y), verbose=0)


def test_training_metrics_and_evaluate():
    x, y = small_regression()
    m = model(metrics=["mae", "rmse"])
    history = m.fit(x, y, epochs=2, batch_size=16, validation_data=(x[:8], y[:8]), verbose=0)
    assert {"loss", "mae", "rmse", "val_loss", "val_mae", "val_rmse"} <= set(history.history)
    result = m.evaluate(x, y)
    assert isinstance(result, dict) and set(result) == {"loss", "mae", "rmse"}
    pred = m.predict(x).astype(np.float64)
    assert result["loss"] == pytest.approx(np.mean((pred - y) ** 2), rel=1e-5)
    assert result["mae"] == pytest.approx(np.mean(np.abs(pred - y)), rel=1e-5)
    assert result["rmse"] == pytest.approx(np.sqrt(result["loss"]), rel=1e-5)
    assert all(isinstance(v, float) for v in result.values())


def test_fit_changes_weights_and_reduces_loss():
    x, y = small_regression()
    m = model()
    m.build(x.shape[1:])
    before = {k: v.copy() for k, v in m.parameters().items()}
    loss_before = m.compile(loss="mse", optimizer=lk.optim.Adam(lr=1e-2)).evaluate(x, y)["loss"]
    m.fit(x, y, epochs=10, batch_size=8, verbose=0)
    assert all(not np.array_equal(before[k], v) for k, v in m.parameters().items())
    assert m.evaluate(x, y)["loss"] < 0.5 * loss_before


# ---- early stopping -------------------------------------------------------------------------------------------------
def test_early_stopping_int_patience_stops_when_nothing_improves():
    """With a learning rate far below float32 resolution the weights never change, so val_loss never improves:
    training stops after `patience` epochs without improvement."""
    x, y = small_regression()
    m = lk.Sequential([LSTM(4), Dense(1)], seed=0)
    m.compile(loss="mse", optimizer=lk.optim.SGD(lr=1e-30))
    history = m.fit(x, y, epochs=10, batch_size=16, validation_split=0.25, early_stopping=2, verbose=0)
    assert len(history.history["val_loss"]) == 3
    assert len(set(history.history["val_loss"])) == 1
    assert history.stopped_epoch == 2


def weights_after(epochs, seed=0, **fit_kwargs):
    x, y = small_regression()
    m = model(seed=seed)
    history = m.fit(x, y, epochs=epochs, batch_size=12, validation_split=0.25, verbose=0, **fit_kwargs)
    return {k: v.copy() for k, v in m.parameters().items()}, history


def test_early_stopping_dataclass_restores_best_weights():
    # min_delta so large that no epoch after the first counts as an improvement: the best epoch is the first
    stop = lk.EarlyStopping(monitor="val_loss", patience=1, min_delta=1e9, restore_best_weights=True)
    restored, history = weights_after(10, early_stopping=stop)
    assert len(history.history["loss"]) == 2 and history.stopped_epoch == 1
    after_one, _ = weights_after(1)
    after_two, _ = weights_after(2)
    for k in restored:
        np.testing.assert_array_equal(restored[k], after_one[k])
        assert not np.array_equal(restored[k], after_two[k])


def test_early_stopping_without_restore_keeps_last_weights():
    stop = lk.EarlyStopping(patience=1, min_delta=1e9, restore_best_weights=False)
    kept, history = weights_after(10, early_stopping=stop)
    assert history.stopped_epoch == 1
    after_two, _ = weights_after(2)
    for k in kept:
        np.testing.assert_array_equal(kept[k], after_two[k])


def test_early_stopping_on_val_loss_needs_validation_data():
    x, y = small_regression()
    with pytest.raises(ValueError, match="validation"):
        model().fit(x, y, epochs=3, early_stopping=2, verbose=0)
    history = model().fit(x, y, epochs=3, batch_size=16, verbose=0,
                          early_stopping=lk.EarlyStopping(monitor="loss", patience=5))
    assert len(history.history["loss"]) == 3


def first_token_fit(early_stopping, metrics=("accuracy",)):
    """A short, seeded classification fit whose validation accuracy goes up and down (0.24 ... 0.68 ... 0.58)."""
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 6, (200, 5))
    labels = ids[:, 0]
    m = model([Embedding(6, 4), LSTM(8), Dense(6)], lr=0.1, loss="sparse_categorical_crossentropy",
              metrics=list(metrics))
    history = m.fit(ids, labels, epochs=12, batch_size=20, validation_split=0.25, verbose=0,
                    early_stopping=early_stopping)
    return lk.metrics.accuracy(m.predict(ids[-50:]), labels[-50:]), history        # of the weights fit ended with


def test_early_stopping_on_val_accuracy_restores_the_highest_accuracy():
    """Issue 17: monitor="val_accuracy" used to be minimised, so restore_best_weights restored the worst epoch."""
    accuracy, history = first_token_fit(lk.EarlyStopping(monitor="val_accuracy", patience=3))
    val = history.history["val_accuracy"]
    assert max(val) > val[0] and max(val) > min(val)                  # the test means something
    assert accuracy == pytest.approx(max(val))
    assert history.stopped_epoch == int(np.argmax(val)) + 3


def test_early_stopping_explicit_mode_overrides_the_name():
    def hit_rate(y_pred, y_true):                                       # a higher-is-better name "auto" cannot know
        return lk.metrics.accuracy(y_pred, y_true)
    accuracy, history = first_token_fit(lk.EarlyStopping(monitor="val_hit_rate", patience=3, mode="max"),
                                        metrics=[hit_rate])
    assert accuracy == pytest.approx(max(history.history["val_hit_rate"]))
    accuracy, history = first_token_fit(lk.EarlyStopping(monitor="val_accuracy", patience=3, mode="min"))
    val = history.history["val_accuracy"]
    assert accuracy == pytest.approx(min(val)) and min(val) < max(val)


@pytest.mark.parametrize("monitor, mode, direction", [
    ("val_loss", "auto", "min"), ("loss", "auto", "min"), ("val_mae", "auto", "min"), ("rmse", "auto", "min"),
    ("val_accuracy", "auto", "max"), ("acc", "auto", "max"), ("val_token_accuracy", "auto", "max"),
    ("val_exact_match", "auto", "max"), ("val_loss", "max", "max"), ("val_accuracy", "min", "min")])
def test_early_stopping_direction(monitor, mode, direction):
    stop = lk.EarlyStopping(monitor=monitor, mode=mode, min_delta=0.1)
    assert stop.direction == direction
    better, worse = (1.0, 2.0) if direction == "min" else (2.0, 1.0)
    assert stop.improved(better, stop.score(worse)) and not stop.improved(worse, stop.score(better))
    slightly_better = better + (0.05 if direction == "max" else -0.05)  # by less than min_delta
    assert not stop.improved(slightly_better, stop.score(better))
    assert stop.improved(better, np.inf)


def test_early_stopping_bad_mode():
    with pytest.raises(ValueError, match=r"mode must be 'auto', 'min' or 'max', got 'maximum'"):
        lk.EarlyStopping(monitor="val_accuracy", mode="maximum")
    stop = lk.EarlyStopping()
    stop.mode = "up"                                                    # changed after construction: fit refuses
    x, y = small_regression()
    with pytest.raises(ValueError, match="mode must be"):
        model().fit(x, y, epochs=2, batch_size=16, validation_split=0.25, early_stopping=stop, verbose=0)


# ---- probabilities: predict returns logits, predict_proba applies the loss's link ------------------------------
def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def binary_task(n=96):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, 4, 2))
    return x, (x[:, :, 0].sum(axis=1) > 0).astype(float)[:, None]


def test_predict_proba_binary_from_logits():
    """Issue 17: a Keras user thresholding predict at 0.5 reads logits as probabilities; predict_proba gives them."""
    x, y = binary_task()
    m = model(loss="binary_crossentropy", metrics=["accuracy"])
    m.fit(x, y, epochs=3, batch_size=16, verbose=0)
    logits, p = m.predict(x), m.predict_proba(x)
    assert p.shape == logits.shape == (len(x), 1) and p.dtype == np.float32
    np.testing.assert_allclose(p, sigmoid(logits.astype(np.float64)), rtol=1e-6)
    assert np.all((p > 0) & (p < 1))
    assert np.mean((p > 0.5) == (y == 1)) == pytest.approx(m.evaluate(x, y)["accuracy"])


@pytest.mark.parametrize("loss, y", [("sparse_categorical_crossentropy", np.array([0, 1, 2, 1])),
                                     ("categorical_crossentropy", np.eye(3)[[0, 1, 2, 1]])])
def test_predict_proba_softmax_from_logits(loss, y):
    x = np.random.default_rng(0).standard_normal((4, 5, 2))
    m = model([GRU(4), Dense(3)], loss=loss)
    m.fit(x, y, epochs=1, batch_size=4, verbose=0)
    p = m.predict_proba(x, batch_size=3)
    np.testing.assert_allclose(p, softmax(m.predict(x).astype(np.float64)), rtol=1e-6)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-6)


def test_predict_proba_of_a_model_that_ends_in_probabilities_is_predict():
    x = np.random.default_rng(0).standard_normal((6, 5, 2))
    for m in (lk.Sequential([LSTM(4), Dense(3, activation="softmax")], seed=0),            # not compiled
              model([LSTM(4), Dense(1, activation="sigmoid")], loss="mse")):                # trained on values
        np.testing.assert_array_equal(m.predict_proba(x), m.predict(x))


def test_predict_proba_errors():
    x, y = small_regression()
    with pytest.raises(ValueError, match="compiled with 'mse', a loss on values, not logits .* use predict"):
        model().predict_proba(x)
    with pytest.raises(ValueError, match=r"not compiled .* call model.compile\(loss=...\) first"):
        lk.Sequential([LSTM(4), Dense(1)]).predict_proba(x)


@pytest.mark.parametrize("units, activation, loss", [
    (1, "sigmoid", "binary_crossentropy"), (3, "softmax", "sparse_categorical_crossentropy"),
    (3, "softmax", lk.losses.CategoricalCrossentropy()), (1, "softmax", "binary_crossentropy")])
def test_loss_from_logits_refuses_an_output_activation(units, activation, loss):
    """A cross-entropy from logits applies sigmoid / softmax itself: a last Dense that applies it too is refused."""
    last = Dense(units, activation=activation)
    m = lk.Sequential([LSTM(4), last])
    with pytest.raises(ValueError, match=r"outputs probabilities, but the loss .* takes logits .* Drop the "
                                         r"activation .*predict_proba"):
        m.compile(loss=loss)
    assert m.loss is None                                            # the refused compile changed nothing
    x = np.zeros((2, 5, 2))
    m = lk.Sequential([LSTM(4)]).compile(loss=loss)
    m.add(last)                                                      # after compile: refused when it is used
    with pytest.raises(ValueError, match="outputs probabilities"):
        m.fit(x, np.zeros((2, units)), epochs=1, batch_size=2, verbose=0)
    with pytest.raises(ValueError, match="outputs probabilities"):
        m.predict_proba(x)


def test_an_output_activation_inside_a_wrapper_is_refused():
    """TimeDistributed(Dense(3, activation="softmax")) ends in softmax as much as Dense(3, activation="softmax")."""
    last = TimeDistributed(Dense(3, activation="softmax"))
    with pytest.raises(ValueError, match=r"TimeDistributed\(Dense\(activation='softmax'\)\), outputs probabilities"):
        lk.Sequential([LSTM(4, return_sequences=True), last]).compile(loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).standard_normal((6, 5, 2))
    m = lk.Sequential([LSTM(4, return_sequences=True), last], seed=0)
    np.testing.assert_array_equal(m.predict_proba(x), m.predict(x))      # not softmax of probabilities
    np.testing.assert_allclose(m.predict_proba(x).sum(axis=-1), 1.0, rtol=1e-6)


def test_only_the_last_layer_is_checked_when_layers_come_after_compile():
    """A hidden sigmoid added after compile is not the output: the model trains with binary_crossentropy."""
    x, y = binary_task(16)
    m = lk.Sequential([LSTM(4)], seed=0).compile(loss="binary_crossentropy", metrics=["accuracy"])
    m.add(Dense(8, activation="sigmoid"))
    m.add(Dense(1))
    assert len(m.fit(x, y, epochs=1, batch_size=8, verbose=0).history["loss"]) == 1
    assert np.all((m.predict_proba(x) > 0) & (m.predict_proba(x) < 1))


def test_output_activations_a_loss_accepts():
    for last, loss in ((Dense(1, activation="sigmoid"), "mse"), (Dense(3, activation="softmax"), "mae"),
                       (Dense(1, activation="tanh"), "binary_crossentropy"),
                       (Dense(3, activation="relu"), "sparse_categorical_crossentropy")):
        assert lk.Sequential([LSTM(4), last]).compile(loss=loss).loss.name == loss
    lk.Sequential([LSTM(4), Dense(3, activation="softmax")]).compile(loss="mse", metrics=["accuracy"])
    with pytest.raises(ValueError, match="accuracy metric reads binary outputs as logits"):
        lk.Sequential([LSTM(4), Dense(1, activation="sigmoid")]).compile(loss="mse", metrics=["accuracy"])


def test_dense_activation_is_saved_and_loaded(tmp_path):
    x = np.random.default_rng(0).standard_normal((6, 5, 2))
    m = lk.Sequential([LSTM(4), Dense(3, activation="softmax")], seed=0)
    out = m.predict(x)
    m.save(tmp_path / "m.lstmkit")
    loaded = lk.load(tmp_path / "m.lstmkit")
    assert loaded.layers[-1].activation == "softmax"
    np.testing.assert_array_equal(loaded.predict(x), out)
    np.testing.assert_array_equal(loaded.predict_proba(x), out)


# ---- reproducibility ----------------------------------------------------------------------------------------------
def test_same_seed_bit_identical_weights_after_fit():
    def run(seed):
        x, y = small_regression()
        m = model([LSTM(4, return_sequences=True), Dropout(0.3), GRU(3), Dense(1)], seed=seed)
        history = m.fit(x, y, epochs=3, batch_size=8, verbose=0)
        return m.parameters(), history.history["loss"]
    a, loss_a = run(7)
    b, loss_b = run(7)
    c, loss_c = run(8)
    assert loss_a == loss_b and loss_a != loss_c
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
        assert not np.array_equal(a[k], c[k])


def test_predict_batching_matches_one_batch():
    x, _ = small_regression(n=50)
    m = model([LSTM(5, bidirectional=True, num_layers=2), Dense(2)])
    one = m.predict(x, batch_size=len(x))
    for batch_size in (1, 7, 16, 1000):
        np.testing.assert_allclose(m.predict(x, batch_size=batch_size), one, rtol=1e-6, atol=1e-7)
    assert one.shape == (50, 2)


def test_predict_is_inference_mode():
    x, _ = small_regression()
    m = model([LSTM(4, return_sequences=True, num_layers=2, dropout=0.5), Dropout(0.5), LSTM(3), Dense(1)])
    np.testing.assert_array_equal(m.predict(x), m.predict(x))


# ---- summary ------------------------------------------------------------------------------------------------------
def test_summary_lists_layers_and_total_parameter_count():
    m = model([LSTM(16), Dropout(0.1), Dense(1)])
    m.build((WINDOW, 1))
    lines = []
    text = m.summary(print_fn=lines.append)
    lstm_params = 4 * 16 * (1 + 16) + 2 * 4 * 16            # weights plus the two bias vectors
    total = lstm_params + 16 + 1
    assert m.count_params() == total
    for fragment in ("LSTM", "Dropout", "Dense", f"{total:,}", f"{lstm_params:,}", "(None, 16)", "(None, 1)"):
        assert fragment in text, fragment
    assert lines and lines[0] == text


# ---- errors -------------------------------------------------------------------------------------------------------
def test_fit_before_compile():
    x, y = small_regression()
    with pytest.raises(ValueError, match="compile"):
        lk.Sequential([LSTM(4), Dense(1)]).fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="compile"):
        lk.Sequential([LSTM(4), Dense(1)]).evaluate(x, y)


def test_x_y_length_mismatch():
    x, y = small_regression()
    with pytest.raises(ValueError, match="same number of samples"):
        model().fit(x, y[:-1], verbose=0)
    with pytest.raises(ValueError, match="same number of samples"):
        model().fit(x, y, validation_data=(x[:5], y[:4]), verbose=0)


def test_batch_size_larger_than_the_data():
    x, y = small_regression(n=10)
    with pytest.raises(ValueError, match="batch_size"):
        model().fit(x, y, batch_size=11, verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        model().fit(x, y, batch_size=0, verbose=0)


def test_return_state_layer_inside_sequential():
    with pytest.raises(ValueError, match="return_state"):
        lk.Sequential([LSTM(4, return_state=True), Dense(1)])
    with pytest.raises(ValueError, match="return_state"):
        lk.Sequential().add(GRU(4, return_state=True))


def test_bad_targets_and_arguments():
    x, y = small_regression()
    bad = y.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model().fit(x, bad, verbose=0)
    with pytest.raises(ValueError, match="NaN"):
        model().fit(np.where(np.arange(x.size).reshape(x.shape) == 5, np.inf, x), y, verbose=0)
    with pytest.raises(ValueError, match="epochs"):
        model().fit(x, y, epochs=0, verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        model().fit(x, y, validation_split=1.5, verbose=0)
    with pytest.raises(ValueError, match="shape"):
        model().fit(x, y[:, :, None], verbose=0)          # targets are never broadcast
    with pytest.raises(TypeError, match="lstmkit layers"):
        lk.Sequential([LSTM(4), "Dense"])


def test_diverging_run_names_epoch_and_batch():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 5, 2))
    y = 1e6 * rng.standard_normal((64, 1))
    m = lk.Sequential([LSTM(4), Dense(1)], seed=0)
    m.compile(loss="mse", optimizer=lk.optim.SGD(lr=1e10))
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match=r"epoch 1, batch \d+") as info:
        m.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert "learning rate" in str(info.value)


def test_diverging_run_with_inf_activations_is_still_a_floating_point_error():
    """When the weights overflow to inf after one step, the NaN/inf shows up in the hidden activations before
    the loss; that is still the run diverging, not bad input data."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3))
    y = 1e6 * rng.standard_normal((64, 1))
    m = lk.Sequential([Dense(4), Dense(1)], seed=0)
    m.compile(loss="mse", optimizer=lk.optim.SGD(lr=1e38))
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match=r"epoch 1, batch \d+"):
        m.fit(x, y, epochs=3, batch_size=8, verbose=0)
