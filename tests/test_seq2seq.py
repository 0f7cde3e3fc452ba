"""Sequence shapes and the encoder-decoder: RepeatVector and TimeDistributed (finite differences, one-to-many and
many-to-many models that train, save/load), and Seq2Seq (the gradient of the whole loss wrt every parameter
against finite differences in float64, teacher-forced training, greedy decoding, files, every cell type,
stacked and bidirectional encoders, the three bridges) and the digit-string tasks."""

from collections import defaultdict

import numpy as np
import pytest

import lstmkit as lk
from lstmkit.data import digits
from lstmkit.layers import GRU, LSTM, Dense, Dropout, Embedding, SimpleRNN
from lstmkit.layers.reshape import RepeatVector, TimeDistributed
from lstmkit.seq2seq import Seq2Seq

MAX_ERROR = defaultdict(float)          # case -> largest finite-difference error seen


@pytest.fixture(scope="module", autouse=True)
def report_errors():
    yield
    print("\nlargest finite-difference error:")
    for name, err in sorted(MAX_ERROR.items()):
        print(f"  {name:40s} {err:.2e}")


def data(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ---- RepeatVector and TimeDistributed ---------------------------------------------------------------------------
def test_repeat_vector_forward_backward():
    x = data(2, 3)
    layer = RepeatVector(4)
    y = layer.forward(x)
    assert y.shape == (2, 4, 3) and np.array_equal(y[:, 2], x.astype(np.float32))
    assert layer.output_shape((3,)) == (4, 3)
    dy = data(2, 4, 3, seed=1)
    assert np.allclose(layer.backward(dy), dy.sum(axis=1))
    err = lk.gradcheck(RepeatVector(4), x).max_error
    MAX_ERROR["RepeatVector"] = err
    assert err < 1e-8


WRAPPED = {                                   # inner layer, input (B, T, ...)
    "Dense": (lambda: Dense(2), data(2, 4, 3)),
    "LSTM over inner sequences": (lambda: LSTM(2), data(2, 3, 4, 3)),
    "GRU return_sequences": (lambda: GRU(2, return_sequences=True), data(2, 2, 3, 3)),
    "RepeatVector": (lambda: RepeatVector(2), data(2, 3, 3)),
    "Dropout (training)": (lambda: Dropout(0.5), data(2, 3, 4)),
}


@pytest.mark.parametrize("name", list(WRAPPED))
def test_time_distributed_gradcheck(name):
    make, x = WRAPPED[name]
    layer = TimeDistributed(make())
    result = lk.gradcheck(layer, x, training=name.startswith("Dropout"))
    MAX_ERROR[f"TimeDistributed({name})"] = result.max_error
    assert result.max_error < 1e-7, result.errors


def test_time_distributed_embedding_ids():
    ids = np.random.default_rng(0).integers(0, 5, (2, 3, 4))               # (B, words, characters)
    layer = TimeDistributed(Embedding(5, 2))
    assert layer.takes_indices
    assert layer.forward(ids).shape == (2, 3, 4, 2)
    assert layer.backward(np.ones((2, 3, 4, 2))) is None
    assert lk.gradcheck(layer, ids).passed()                    # per entry: 6.7e-9 measured


def test_time_distributed_dense_equals_dense():
    x = data(3, 5, 4)
    dense = Dense(2).build((5, 4), np.random.default_rng(0))
    wrapped = TimeDistributed(Dense(2).build((4,), np.random.default_rng(0)))
    assert np.allclose(wrapped.forward(x), dense.forward(x))
    dy = data(3, 5, 2, seed=1)
    assert np.allclose(wrapped.backward(dy), dense.backward(dy))
    assert np.allclose(wrapped.grads["weight"], dense.grads["weight"], atol=1e-5)
    assert wrapped.params is wrapped.layer.params                           # the inner layer's own dicts


def test_time_distributed_lstm_encodes_each_inner_sequence():
    x = data(2, 3, 4, 5)                                                    # (B, T, T2, I)
    lstm = LSTM(6).build((4, 5), np.random.default_rng(0))
    wrapped = TimeDistributed(lstm)
    y = wrapped.forward(x)
    assert y.shape == (2, 3, 6) and wrapped.output_shape((3, 4, 5)) == (3, 6)
    assert np.allclose(y[1, 2], lstm.forward(x[1:2, 2])[0], atol=1e-6)


def test_time_distributed_config_and_errors():
    wrapped = TimeDistributed(LSTM(3, num_layers=2))
    config = wrapped.get_config()
    assert config == {"layer": {"class": "LSTM", "config": LSTM(3, num_layers=2).get_config()}}
    rebuilt = TimeDistributed(**config)
    assert isinstance(rebuilt.layer, LSTM) and rebuilt.layer.num_layers == 2
    assert repr(rebuilt).startswith("TimeDistributed(LSTM(")
    with pytest.raises(TypeError, match="wraps an lstmkit layer"):
        TimeDistributed("Dense")
    with pytest.raises(ValueError, match="return_state=True"):
        TimeDistributed(LSTM(3, return_state=True))
    with pytest.raises(ValueError, match="at least 3 axes"):
        TimeDistributed(Dense(2)).forward(data(2, 3))
    with pytest.raises(ValueError, match="n .* must be a positive integer"):
        RepeatVector(0)


def test_one_to_many_model_trains():
    """One vector in, a sequence out: (a, b) -> the ramp a + b t / T, t = 0 .. T-1."""
    rng = np.random.default_rng(0)
    ab = rng.uniform(-1, 1, (256, 2))
    T = 6
    y = (ab[:, :1] + ab[:, 1:] * np.arange(T) / T)[..., None]               # (N, T, 1)
    model = lk.Sequential([Dense(16), RepeatVector(T), LSTM(16, return_sequences=True), TimeDistributed(Dense(1))],
                          seed=0)
    model.compile(loss="mse", optimizer=lk.optim.Adam(lr=1e-2))
    assert model.predict(ab[:2]).shape == (2, T, 1)
    before = model.evaluate(ab, y)["loss"]
    model.fit(ab, y, epochs=30, batch_size=32, verbose=0)
    after = model.evaluate(ab, y)["loss"]
    assert after < 0.05 * before


def test_many_to_many_model_trains_and_round_trips(tmp_path):
    """Same length in and out: y_t = x_t + x_{t-1} (a running pair sum), read out by TimeDistributed(Dense)."""
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (256, 8, 1))
    y = x + np.concatenate([np.zeros((256, 1, 1)), x[:, :-1]], axis=1)
    model = lk.Sequential([LSTM(16, return_sequences=True), TimeDistributed(Dense(1))], seed=0)
    model.compile(loss="mse", optimizer=lk.optim.Adam(lr=1e-2))
    before = model.evaluate(x, y)["loss"]
    model.fit(x, y, epochs=20, batch_size=32, verbose=0)
    assert model.evaluate(x, y)["loss"] < 0.05 * before

    model.save(tmp_path / "m.lstmkit")
    loaded = lk.load(tmp_path / "m.lstmkit")
    assert isinstance(loaded.layers[1], TimeDistributed)
    assert np.array_equal(loaded.predict(x[:5]), model.predict(x[:5]))


# ---- Seq2Seq: gradients -----------------------------------------------------------------------------------------
def tiny_batch():
    """Sources with padding (masked), targets of different lengths (END, then PAD ignored by the loss)."""
    src = np.array([[3, 4, 5], [4, 3, 0], [5, 0, 0]])
    tgt = np.array([[4, 3, 2], [3, 2, 0], [4, 2, 0]])
    return src, tgt


def finite_difference_error(model, src, tgt, eps=1e-5):
    """max over parameters of max|analytic - numeric| / max(max|analytic|, max|numeric|)."""
    model.value_and_grad(src, tgt)
    analytic = {k: g.copy() for k, g in model.gradients().items()}
    errors = {}
    for name, p in model.parameters().items():
        numeric = np.zeros_like(p)
        for j in range(p.size):
            saved = p.flat[j]
            p.flat[j] = saved + eps
            up = model.loss(src, tgt)
            p.flat[j] = saved - eps
            down = model.loss(src, tgt)
            p.flat[j] = saved
            numeric.flat[j] = (up - down) / (2 * eps)
        scale = max(np.abs(numeric).max(), np.abs(analytic[name]).max())
        errors[name] = 0.0 if scale == 0 else float(np.abs(numeric - analytic[name]).max() / scale)
    return errors


CASES = {
    "LSTM 2 layers bidirectional -> LSTM, dense": (lambda: LSTM(2, num_layers=2, bidirectional=True),
                                                   lambda: LSTM(3), "dense"),
    "LSTM bidirectional -> LSTM, concat": (lambda: LSTM(2, bidirectional=True), lambda: LSTM(4), "concat"),
    "GRU 2 layers bidirectional -> GRU 2 layers, sum": (lambda: GRU(2, num_layers=2, bidirectional=True),
                                                        lambda: GRU(2, num_layers=2), "sum"),
    "SimpleRNN -> SimpleRNN, concat (copy)": (lambda: SimpleRNN(3), lambda: SimpleRNN(3), "concat"),
    "GRU -> LSTM, dense": (lambda: GRU(2), lambda: LSTM(2), "dense"),
    "LSTM -> GRU, sum": (lambda: LSTM(2), lambda: GRU(2), "sum"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_seq2seq_gradient_matches_finite_differences(case):
    make_enc, make_dec, bridge = CASES[case]
    model = Seq2Seq(make_enc(), make_dec(), src_vocab_size=6, embedding_dim=2, bridge=bridge, seed=0)
    model.to("float64")
    errors = finite_difference_error(model, *tiny_batch())
    names = set(errors)
    assert {"src_embedding.weight", "tgt_embedding.weight", "readout.weight", "readout.bias",
            "encoder.weight_hh_l0", "decoder.weight_hh_l0"} <= names
    assert ("bridge.weight" in names) == (bridge == "dense")
    MAX_ERROR[f"Seq2Seq {case}"] = max(errors.values())
    assert max(errors.values()) < 1e-6, errors


def test_encoder_receives_the_decoders_initial_state_gradient(monkeypatch):
    """With the bridge 'concat' and one direction the decoder starts from the encoder's final states, so
    dL/d(encoder final state) is decoder.dinitial_state: checked entry by entry against finite differences of
    the loss in the encoder's final states."""
    model = Seq2Seq(LSTM(3), LSTM(3), src_vocab_size=6, embedding_dim=2, bridge="concat", seed=0).to("float64")
    src, tgt = tiny_batch()
    model.value_and_grad(src, tgt)
    analytic = [d.copy() for d in model.decoder.dinitial_state]                  # dh0, dc0, each (1, B, H)
    bridge, nudge = model._bridge_forward, {}

    def nudged_bridge(enc_states):
        states = [s.copy() for s in enc_states]
        if nudge:
            states[nudge["state"]].flat[nudge["j"]] += nudge["eps"]
        return bridge(tuple(states))

    monkeypatch.setattr(model, "_bridge_forward", nudged_bridge)
    eps = 1e-6
    for k, want in enumerate(analytic):
        numeric = np.zeros_like(want)
        for j in range(want.size):
            losses = []
            for sign in (1, -1):
                nudge.update(state=k, j=j, eps=sign * eps)
                losses.append(model.loss(src, tgt))
            numeric.flat[j] = (losses[0] - losses[1]) / (2 * eps)
        nudge.clear()
        assert np.abs(want).max() > 0
        np.testing.assert_allclose(want, numeric, rtol=1e-6, atol=1e-9)


# ---- Seq2Seq: behaviour -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reversal():
    return digits.split(digits.reversal(1000, 3, seed=0), 200, seed=0)


def reversal_model(cell=LSTM, hidden=32, **kwargs):
    model = Seq2Seq(cell(hidden, **kwargs), cell(hidden), src_vocab_size=digits.VOCAB_SIZE, embedding_dim=16, seed=0)
    return model.compile(optimizer=lk.optim.Adam(lr=1e-2, clipnorm=1.0))


@pytest.fixture(scope="module")
def trained(reversal):
    train, test = reversal
    model = reversal_model()
    history = model.fit(train.src, train.tgt, epochs=12, batch_size=32, verbose=0)
    return model, history


def test_small_task_reaches_a_clear_exact_match(trained, reversal):
    """Reversing 3-digit strings: held-out exact match well above chance (1/1000) within seconds."""
    model, history = trained
    _, test = reversal
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]
    scores = model.evaluate(test.src, test.tgt)
    assert scores["exact_match"] >= 0.9 and scores["token_accuracy"] >= 0.95
    assert digits.decode(model.predict(test.src[:1])) == [test.src_text[0][::-1]]


def test_greedy_decoding_shape_form_and_determinism(trained, reversal):
    model, _ = trained
    _, test = reversal
    a, b = model.predict(test.src), model.predict(test.src, batch_size=7)
    assert a.shape == test.tgt.shape and a.dtype == np.int64 and np.array_equal(a, b)
    assert model.predict(test.src[:3], max_length=2).shape == (3, 2)
    for row in a:                                  # tokens, END, then only PAD
        ends = np.flatnonzero(row == digits.END)
        if ends.size:
            assert np.all(row[ends[0] + 1:] == digits.PAD)


def test_greedy_decoding_matches_teacher_forcing_on_its_own_output(trained, reversal):
    """Stepping the decoder one token at a time from the previous state gives the logits of one full pass fed the
    same tokens: each greedy token is the argmax of the teacher-forced logits at its position."""
    model, _ = trained
    _, test = reversal
    predicted = model.predict(test.src[:50])
    logits = model.forward(test.src[:50], predicted)
    real = predicted != digits.PAD
    assert np.array_equal(np.argmax(logits, axis=-1)[real], predicted[real])


def test_source_padding_is_masked(trained):
    model, _ = trained
    src = digits.encode(["12", "345"], 3)
    longer = np.concatenate([src, np.zeros((2, 4), np.int64)], axis=1)    # more trailing PAD
    tgt = digits.encode(["21", "543"], 4, end=True)
    assert np.allclose(model.forward(src, tgt), model.forward(longer, tgt), atol=1e-6)


def test_save_load_identical_predictions(tmp_path, reversal):
    train, test = reversal
    model = Seq2Seq(GRU(8, num_layers=2, bidirectional=True), LSTM(8), src_vocab_size=digits.VOCAB_SIZE,
                    embedding_dim=4, seed=3)
    model.compile(optimizer="adam")
    model.fit(train.src[:64], train.tgt[:64], epochs=1, batch_size=32, verbose=0)
    path = tmp_path / "s2s.lstmkit"
    model.save(path, metadata={"task": "reversal"})
    loaded = Seq2Seq.load(path)
    assert loaded.metadata == {"task": "reversal"} and loaded.max_output_length == 4
    assert np.array_equal(loaded.predict(test.src), model.predict(test.src))
    assert np.array_equal(loaded.forward(test.src, test.tgt), model.forward(test.src, test.tgt))
    with pytest.raises(ValueError, match="not a readable"):
        path.write_bytes(b"garbage")
        Seq2Seq.load(path)


@pytest.mark.parametrize("cell, kwargs", [(GRU, {}), (SimpleRNN, {}), (LSTM, {"num_layers": 2}),
                                          (LSTM, {"bidirectional": True}), (GRU, {"num_layers": 2,
                                                                                 "bidirectional": True})])
def test_cells_and_encoders_train(cell, kwargs, reversal):
    train, _ = reversal
    model = reversal_model(cell, hidden=16, **kwargs)
    history = model.fit(train.src[:320], train.tgt[:320], epochs=3, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.75 * history.history["loss"][0]


def test_fit_validation_early_stopping_and_metrics(reversal):
    train, test = reversal
    model = reversal_model(hidden=8)
    model.compile(optimizer=lk.optim.Adam(lr=1e-2), metrics=["exact_match"])
    history = model.fit(train.src[:200], train.tgt[:200], epochs=3, batch_size=50, verbose=0,
                        validation_data=(test.src[:50], test.tgt[:50]),
                        early_stopping=lk.EarlyStopping(monitor="val_exact_match", patience=5))
    assert set(history.history) == {"loss", "exact_match", "val_loss", "val_token_accuracy", "val_exact_match"}
    assert len(history.epoch) == 3


def test_early_stopping_on_token_accuracy_restores_the_highest(reversal):
    """Seq2Seq.fit uses EarlyStopping's one rule (mode="auto": an accuracy is maximised)."""
    train, test = reversal
    model = Seq2Seq(LSTM(8), LSTM(8), src_vocab_size=digits.VOCAB_SIZE, embedding_dim=16, seed=0)
    model.compile(optimizer=lk.optim.Adam(lr=0.1, clipnorm=1.0))
    history = model.fit(train.src[:200], train.tgt[:200], epochs=8, batch_size=50, verbose=0,
                        validation_data=(test.src[:50], test.tgt[:50]),
                        early_stopping=lk.EarlyStopping(monitor="val_token_accuracy", patience=2))
    val = history.history["val_token_accuracy"]
    assert max(val) > val[0]
    assert model.evaluate(test.src[:50], test.tgt[:50])["token_accuracy"] == pytest.approx(max(val))


def test_argument_errors():
    with pytest.raises(ValueError, match="decoder cannot be bidirectional"):
        Seq2Seq(LSTM(4), LSTM(4, bidirectional=True), src_vocab_size=5)
    with pytest.raises(ValueError, match="bridge='concat' needs decoder hidden_size = 8"):
        Seq2Seq(LSTM(4, bidirectional=True), LSTM(4), src_vocab_size=5, bridge="concat")
    with pytest.raises(ValueError, match="needs state c"):
        Seq2Seq(GRU(4), LSTM(4), src_vocab_size=5, bridge="sum")
    with pytest.raises(ValueError, match="same num_layers"):
        Seq2Seq(GRU(4, num_layers=2), GRU(4), src_vocab_size=5, bridge="sum")
    with pytest.raises(ValueError, match="bridge must be one of"):
        Seq2Seq(GRU(4), GRU(4), src_vocab_size=5, bridge="attention")
    with pytest.raises(TypeError, match="recurrent layer"):
        Seq2Seq(Dense(4), GRU(4), src_vocab_size=5)
    with pytest.raises(ValueError, match="start_id must be a token id"):
        Seq2Seq(GRU(4), GRU(4), src_vocab_size=5, start_id=7)
    model = Seq2Seq(GRU(4), GRU(4), src_vocab_size=5, seed=0).compile()
    with pytest.raises(ValueError, match="tgt holds token id 9"):
        model.fit(np.array([[3, 4]]), np.array([[9, 2]]), verbose=0)
    with pytest.raises(ValueError, match="row 0 is all padding"):
        model.fit(np.array([[3, 4]]), np.array([[0, 0]]), verbose=0)
    with pytest.raises(ValueError, match="max_length must be a positive integer"):
        model.predict(np.array([[3, 4]]))


# ---- the digit tasks --------------------------------------------------------------------------------------------
def test_digit_tasks():
    task = digits.addition(500, 3, seed=0)
    assert task.src.shape == (500, 7) and task.tgt.shape == (500, 5)
    assert len(set(task.src_text)) == 500
    for s, t in zip(task.src_text, task.tgt_text):
        a, b = s.split("+")
        assert int(a) + int(b) == int(t)
    assert digits.decode(task.src[:3]) == task.src_text[:3] and digits.decode(task.tgt) == task.tgt_text
    assert np.array_equal(digits.addition(500, 3, seed=0).src, task.src)
    train, test = digits.split(task, 100)
    assert len(train) == 400 and len(test) == 100 and not set(train.src_text) & set(test.src_text)
    with pytest.raises(ValueError, match="only 100"):
        digits.addition(101, 1)
    rev = digits.reversal(10, 4, seed=1)
    assert all(t == s[::-1] for s, t in zip(rev.src_text, rev.tgt_text))
