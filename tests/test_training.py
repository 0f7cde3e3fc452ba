"""The one training loop (lstmkit.training): the learning rate reduced on a plateau (and replayed on resume), the CSV
log, `fit` / `predict` with `mask=`, and every fit of the library running through Trainer.run."""

import csv

import numpy as np
import pytest

import lstmkit as lk
from lstmkit.layers import LSTM, Dense, Embedding
from lstmkit.training import CSVLogger, EarlyStopping, ReduceLROnPlateau, Trainer


def data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6, 2))
    return x, (x.sum(axis=(1, 2)) * 0.3)[:, None]


def net(seed=1, lr=1e-2):
    return lk.Sequential([LSTM(4), Dense(1)], seed=seed).compile(loss="mse", optimizer=lk.optim.Adam(lr=lr))


def test_reduce_lr_on_plateau_halves_the_rate_after_patience_epochs_without_improvement():
    x, y = data()
    # min_delta=1e9: no epoch after the first counts as an improvement, so the rate halves every 2 epochs
    plateau = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, min_delta=1e9, min_lr=2e-3)
    m = net()
    history = m.fit(x, y, epochs=7, batch_size=8, callbacks=[plateau], verbose=0)
    assert history.history["lr"] == [1e-2, 1e-2, 1e-2, 5e-3, 5e-3, 2.5e-3, 2.5e-3]
    assert m.optimizer.lr == 2e-3                                   # 1.25e-3 is below min_lr


def test_a_reduced_rate_changes_the_training():
    x, y = data()
    a, b = net(), net()
    a.fit(x, y, epochs=3, batch_size=8, verbose=0)
    history = b.fit(x, y, epochs=3, batch_size=8, verbose=0,
                    callbacks=[ReduceLROnPlateau(monitor="loss", patience=0, min_delta=1e9)])
    assert history.history["lr"] == [1e-2, 1e-2, 5e-3]          # the first epoch always improves
    assert not np.array_equal(a.parameters()["0.weight_ih_l0"], b.parameters()["0.weight_ih_l0"])


@pytest.mark.parametrize("stop_after", [1, 3])
def test_resume_replays_the_schedule_bit_identical(tmp_path, stop_after):
    x, y = data()
    kwargs = dict(epochs=6, batch_size=8, validation_split=0.2, verbose=0,
                  callbacks=[ReduceLROnPlateau(patience=1, min_delta=1e9)])
    reference = net()
    want = reference.fit(x, y, **kwargs)
    net().fit(x, y, checkpoint=tmp_path, **{**kwargs, "epochs": stop_after})
    m = net()
    got = m.fit(x, y, checkpoint=tmp_path, resume=True, **kwargs)
    assert got.history == want.history
    assert m.optimizer.lr == reference.optimizer.lr < 1e-2
    for key, p in reference.parameters().items():
        np.testing.assert_array_equal(m.parameters()[key], p, err_msg=key)


def test_csv_logger_writes_every_epoch_also_across_a_resume(tmp_path):
    x, y = data()
    path = tmp_path / "log.csv"
    kwargs = dict(epochs=4, batch_size=8, validation_split=0.2, verbose=0)
    net().fit(x, y, checkpoint=tmp_path / "run", callbacks=[ReduceLROnPlateau(), CSVLogger(path)],
              **{**kwargs, "epochs": 2})
    history = net().fit(x, y, checkpoint=tmp_path / "run", resume=True,
                        callbacks=[ReduceLROnPlateau(), CSVLogger(path)], **kwargs)
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2", "3", "4"]
    assert set(rows[0]) == {"epoch", "loss", "val_loss", "lr"}
    np.testing.assert_allclose([float(r["val_loss"]) for r in rows], history.history["val_loss"], rtol=1e-12)


def test_callback_errors():
    x, y = data()
    with pytest.raises(ValueError, match="ReduceLROnPlateau on 'val_loss' needs validation_split"):
        net().fit(x, y, callbacks=[ReduceLROnPlateau()], verbose=0)
    with pytest.raises(ValueError, match="monitors 'val_mae', which is not among the logged values"):
        net().fit(x, y, validation_split=0.2, callbacks=[ReduceLROnPlateau(monitor="val_mae")], verbose=0)
    with pytest.raises(ValueError, match="factor must be in \\(0, 1\\)"):
        ReduceLROnPlateau(factor=2)
    with pytest.raises(TypeError, match="callbacks must be a list of lstmkit.training callbacks"):
        net().fit(x, y, callbacks=ReduceLROnPlateau(monitor="loss"), verbose=0)
    with pytest.raises(ValueError, match="at most one EarlyStopping"):
        net().fit(x, y, validation_split=0.2, early_stopping=3, callbacks=[EarlyStopping()], verbose=0)


# ---- mask= --------------------------------------------------------------------------------------------------------
def padded(seed=0):
    """Right-padded series of lengths 2..6 with their (N, T) mask; the padding holds noise."""
    rng = np.random.default_rng(seed)
    x, y = data(30)
    lengths = rng.integers(2, 7, len(x))
    mask = np.arange(6)[None] < lengths[:, None]
    x = np.where(mask[..., None], x, rng.standard_normal(x.shape) * 100)
    return x, y, mask


def test_fit_and_predict_with_mask_ignore_the_padding():
    """Two runs whose padding differs end with the same weights, bit for bit, and predict the same."""
    x1, y, mask = padded(0)
    x2, _, _ = padded(1)
    x2[mask] = x1[mask]
    runs = []
    for x in (x1, x2):
        m = net()
        h = m.fit(x[:24], y[:24], mask=mask[:24], validation_data=(x[24:], y[24:], mask[24:]), epochs=3,
                  batch_size=8, verbose=0)
        runs.append((m, h, m.predict(x, mask=mask)))
    (a, ha, pa), (b, hb, pb) = runs
    for key, p in a.parameters().items():
        np.testing.assert_array_equal(b.parameters()[key], p, err_msg=key)
    assert ha.history == hb.history
    np.testing.assert_array_equal(pa, pb)
    unmasked = a.predict(x1)                                 # without the mask the noise reaches the output
    assert np.abs(unmasked - pa).max() > 1e-3


def test_mask_for_per_step_outputs_scores_the_real_steps_only():
    x, _, mask = padded()
    m = lk.Sequential([LSTM(4, return_sequences=True), Dense(1)], seed=0).compile(loss="mse")
    y = x[..., :1].copy()
    y_noisy = np.where(mask[..., None], y, 1e6)                # targets on padded steps must not count
    assert m.evaluate(x, y, mask=mask) == m.evaluate(x, y_noisy, mask=mask)


def test_token_ids_take_a_mask_too():
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 9, (10, 5))
    mask = np.arange(5)[None] < rng.integers(1, 6, 10)[:, None]
    m = lk.Sequential([Embedding(9, 3), LSTM(4), Dense(2)], seed=0)
    m.compile(loss="sparse_categorical_crossentropy")
    m.fit(ids, rng.integers(0, 2, 10), mask=mask, epochs=1, batch_size=5, verbose=0)
    other = np.where(mask, ids, 7)
    np.testing.assert_array_equal(m.predict(ids, mask=mask), m.predict(other, mask=mask))


@pytest.mark.parametrize("mask, message", [
    (np.ones((40, 5), bool), "mask must be shaped \\(samples, steps\\) = \\(40, 6\\)"),
    (np.full((40, 6), 0.5), "mask must hold True for real steps and False for padding"),
    (np.eye(40, 6, dtype=bool), "mask row 6 has no real step"),
])
def test_bad_masks(mask, message):
    x, y = data()
    with pytest.raises(ValueError, match=message):
        net().fit(x, y, mask=mask, verbose=0)


def test_mask_with_tbptt_is_refused():
    x, y = data()
    with pytest.raises(ValueError, match="mask= works with full BPTT"):
        net().fit(x, y, mask=np.ones((40, 6), bool), tbptt=3, verbose=0)


# ---- one loop -----------------------------------------------------------------------------------------------------
def test_every_fit_runs_through_the_trainer(monkeypatch, tmp_path):
    calls = []
    run = Trainer.run

    def counted(self, epochs, state=None):
        calls.append(type(self.model).__name__)
        return run(self, epochs, state)
    monkeypatch.setattr(Trainer, "run", counted)
    x, y = data()
    net().fit(x, y, verbose=0)
    online = lk.Sequential([LSTM(3, return_sequences=True), Dense(1)], seed=0).compile(loss="mse")
    lk.rtrl.fit_online(online, x[:4], np.zeros((4, 6, 1)), epochs=1, batch_size=2)
    s2s = lk.Seq2Seq(LSTM(3), LSTM(3), src_vocab_size=6, embedding_dim=2, seed=0).compile()
    s2s.fit(np.array([[3, 4], [4, 5]]), np.array([[3, 2], [4, 2]]), epochs=1, batch_size=2, verbose=0)
    from lstmkit.apps.classify import ClassifyConfig, train_classifier
    train_classifier(ClassifyConfig(hidden=3, filters=2, epochs=1, ensemble=2), verbose=False, workers=0)
    assert calls == ["Sequential", "Sequential", "Seq2Seq", "Sequential", "Sequential"]


def test_restored_best_epoch_brings_its_batchnorm_statistics_back():
    """Early stopping keeps the best epoch's buffers with its weights: the model ends as it was after epoch 1."""
    from lstmkit.layers import BatchNorm, Conv1D, GlobalAveragePooling1D
    x, y = data()

    def conv_net():
        return lk.Sequential([Conv1D(3, 2), BatchNorm(), GlobalAveragePooling1D(), Dense(1)], seed=0).compile(
            loss="mse", optimizer=lk.optim.Adam(lr=1e-2))
    first = conv_net()
    first.fit(x, y, epochs=1, batch_size=8, verbose=0)
    stopped = conv_net()
    stopped.fit(x, y, epochs=5, batch_size=8, verbose=0,
                early_stopping=EarlyStopping(monitor="loss", patience=2, min_delta=1e9))
    assert stopped.layers[1].buffers["running_mean"].any()
    for a, b in ((first.parameters(), stopped.parameters()),
                 ({k: v for k, v in first.layers[1].buffers.items()}, stopped.layers[1].buffers)):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_a_checkpoint_of_a_time_distributed_lstm_resumes(tmp_path):
    from lstmkit.layers import TimeDistributed
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((12, 3, 4, 2)), rng.standard_normal((12, 3, 1))

    def td():
        return lk.Sequential([TimeDistributed(LSTM(3, dropout=0.2)), Dense(1)], seed=0).compile(loss="mse")
    want = td()
    want.fit(x, y, epochs=3, batch_size=4, verbose=0)
    td().fit(x, y, epochs=1, batch_size=4, verbose=0, checkpoint=tmp_path)
    got = td()
    got.fit(x, y, epochs=3, batch_size=4, verbose=0, checkpoint=tmp_path, resume=True)
    for key, p in want.parameters().items():
        np.testing.assert_array_equal(got.parameters()[key], p, err_msg=key)


def test_a_second_ctrl_c_inside_a_forward_leaves_batchnorm_as_the_checkpoint_says(tmp_path):
    """Ctrl-C twice inside a training forward: the checkpoint is written with the BatchNorm statistics from before
    the interrupted batch, so the resumed run ends bit-identical to one never interrupted."""
    import signal

    from lstmkit.layers import Activation, BatchNorm, Conv1D, GlobalAveragePooling1D
    x, y = data()

    def conv_net():
        return lk.Sequential([Conv1D(3, 2), BatchNorm(), Activation("relu"), GlobalAveragePooling1D(), Dense(1)],
                             seed=0).compile(loss="mse")
    want = conv_net()
    want.fit(x, y, epochs=2, batch_size=8, verbose=0)
    interrupted = conv_net()
    act, calls = interrupted.layers[2], []

    def press_twice(z, training=False):
        calls.append(training)
        if training and len(calls) == 7:                         # epoch 2, batch 2, after BatchNorm's forward
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGINT)
        return Activation.forward(act, z, training=training)
    act.forward = press_twice
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT is handled by someone else here, so fit does not defer it")
    with pytest.raises(KeyboardInterrupt, match="checkpoint saved"):
        interrupted.fit(x, y, epochs=2, batch_size=8, verbose=0, checkpoint=tmp_path)
    got = conv_net()
    got.fit(x, y, epochs=2, batch_size=8, verbose=0, checkpoint=tmp_path, resume=True)
    for layer_want, layer_got in zip(want.layers, got.layers):
        for name, value in {**layer_want.params, **layer_want.buffers}.items():
            np.testing.assert_array_equal({**layer_got.params, **layer_got.buffers}[name], value, err_msg=name)


def test_a_resume_keeps_the_rate_the_run_reached(tmp_path):
    x, y = data()
    net().fit(x, y, epochs=3, batch_size=8, verbose=0, checkpoint=tmp_path,
              callbacks=[ReduceLROnPlateau(monitor="loss", patience=0, min_delta=1e9)])
    m = net()
    m.fit(x, y, epochs=4, batch_size=8, verbose=0, checkpoint=tmp_path, resume=True)   # without the schedule
    assert m.optimizer.lr == 2.5e-3                                  # 1e-2 halved after epochs 2 and 3


def test_callbacks_are_checked_with_one_clear_message():
    x, y = data()
    m = net()
    with pytest.raises(TypeError, match="EarlyStopping monitor must be a logged name"):
        m.fit(x, y, early_stopping=EarlyStopping(monitor=None), verbose=0)
    with pytest.raises(ValueError, match="patience must be an integer >= 0"):
        m.fit(x, y, validation_split=0.2, early_stopping=EarlyStopping(patience=-1), verbose=0)
    s2s = lk.Seq2Seq(LSTM(3), LSTM(3), src_vocab_size=6, embedding_dim=2, seed=0).compile()
    with pytest.raises(TypeError, match="callbacks must be a list"):
        s2s.fit(np.array([[3, 4]]), np.array([[3, 2]]), batch_size=1, callbacks=ReduceLROnPlateau(monitor="loss"),
                verbose=0)
