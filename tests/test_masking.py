"""Masking in a Sequential model: padded steps change neither outputs, states, gradients nor the loss; with feature
vectors through a Masking layer, with token ids through Embedding(mask_zero=True)."""

import re

import numpy as np
import pytest

import lstmkit as lk
from lstmkit.layers import GRU, LSTM, Dense, Embedding, Masking

rng = np.random.default_rng(0)
LENGTHS = np.array([7, 4, 2, 6])


def padded(feature=3, T=7):
    x = rng.standard_normal((len(LENGTHS), T, feature))
    for b, n in enumerate(LENGTHS):
        x[b, n:] = 0.0
    return x


def test_masking_layer_zeroes_and_derives_the_mask():
    x = padded()
    layer = Masking()
    out = layer.forward(x)
    np.testing.assert_array_equal(layer.compute_mask(x), np.arange(7)[None] < LENGTHS[:, None])
    np.testing.assert_array_equal(out, x.astype(np.float32))
    dy = rng.standard_normal(x.shape)
    keep = (np.arange(7)[None] < LENGTHS[:, None])[..., None]
    np.testing.assert_array_equal(layer.backward(dy), (dy * keep).astype(np.float32))   # the mask is a constant


@pytest.mark.parametrize("cell", [LSTM, GRU])
def test_padded_batch_equals_each_sequence_alone(cell):
    x = padded()
    model = lk.Sequential([Masking(), cell(5, dtype="float64"), Dense(2, dtype="float64")], seed=0).build((7, 3))
    out = model.predict(x)
    for b, n in enumerate(LENGTHS):
        alone = model.predict(x[b:b + 1, :n])
        np.testing.assert_allclose(out[b], alone[0], rtol=1e-12)


def test_loss_and_gradients_ignore_padded_steps():
    """A per-step model: garbage targets on padded steps change nothing."""
    x = padded()
    y = rng.standard_normal((4, 7, 1))
    y_other = y.copy()
    y_other[np.arange(7)[None] >= LENGTHS[:, None]] = 1e3
    grads = []
    for target in (y, y_other):
        model = lk.Sequential([Masking(), LSTM(4, return_sequences=True, dtype="float64"),
                               Dense(1, dtype="float64")], seed=0)
        model.compile(loss="mse", optimizer="sgd")
        loss = model._gradients(model._check_x(x, "x"), target)
        grads.append((loss, {k: g.copy() for k, g in model.gradients().items()}))
        assert model.evaluate(x, target)["loss"] == pytest.approx(loss, rel=1e-9)
    assert grads[0][0] == grads[1][0]
    for k in grads[0][1]:
        np.testing.assert_array_equal(grads[0][1][k], grads[1][1][k])


def test_masked_model_trains_and_saves(tmp_path):
    x = padded()
    y = np.array([x[b, :n, 0].sum() for b, n in enumerate(LENGTHS)])[:, None]
    model = lk.Sequential([Masking(), GRU(8), Dense(1)], seed=0)
    model.compile(loss="mse", optimizer=lk.optim.Adam(lr=1e-2))
    history = model.fit(x, y, epochs=30, batch_size=4, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.save(tmp_path / "m.lstmkit")
    np.testing.assert_array_equal(lk.load(tmp_path / "m.lstmkit").predict(x), model.predict(x))


def test_bad_mask_value():
    with pytest.raises(ValueError, match="mask_value"):
        Masking(float("nan"))


# ---- token ids: Embedding(mask_zero=True) ------------------------------------------------------------------------
V, E, H = 10, 4, 5                       # vocabulary (id 0 is padding), embedding size, hidden units
SEQS = [np.random.default_rng(1).integers(1, V, n) for n in (5, 2, 7, 1)]
RECURRENT = {"LSTM": lambda rs: LSTM(H, return_sequences=rs, dtype="float64"),
             "LSTM-2-bidirectional": lambda rs: LSTM(H, num_layers=2, bidirectional=True, return_sequences=rs,
                                                     dtype="float64"),
             "GRU": lambda rs: GRU(H, return_sequences=rs, dtype="float64")}


def token_model(cell, return_sequences, **embedding_options):
    return lk.Sequential([Embedding(V, E, mask_zero=True, dtype="float64", **embedding_options),
                          RECURRENT[cell](return_sequences)], seed=0)


def real_steps(T, n, padding):
    """The positions of a sequence of n real steps in a row of T padded to the `padding` side."""
    return slice(T - n, T) if padding == "pre" else slice(0, n)


def forward_backward(model, x, dy):
    out = model.forward(x)
    model.backward(dy)
    return out, {k: g.copy() for k, g in model.gradients().items()}


@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "sequences"])
@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("cell", list(RECURRENT))
def test_padded_token_batch_equals_each_sequence_alone(cell, padding, return_sequences):
    """Outputs and the gradients of every weight (the embedding table included) of a padded batch equal those of
    the unpadded sequences run one by one, summed."""
    x = lk.data.pad_sequences(SEQS, maxlen=9, padding=padding)            # (B, T), two extra pad steps
    T = x.shape[1]
    model = token_model(cell, return_sequences)
    out_shape = model.build((T,)).predict(x).shape
    dy = np.random.default_rng(2).standard_normal(out_shape)
    out, grads = forward_backward(model, x, dy)
    np.testing.assert_array_equal(model.output_mask, (x != 0) if return_sequences else None)
    alone_grads = {k: np.zeros_like(g) for k, g in grads.items()}
    for b, seq in enumerate(SEQS):
        real = real_steps(T, len(seq), padding)
        dy_b = dy[b:b + 1, real] if return_sequences else dy[b:b + 1]
        out_b, grads_b = forward_backward(model, seq[None], dy_b)
        if return_sequences:
            np.testing.assert_allclose(out[b, real], out_b[0], rtol=0, atol=1e-12)
            assert not np.any(np.delete(out[b], np.arange(T)[real], axis=0))   # padded steps output zeros
        else:
            np.testing.assert_allclose(out[b], out_b[0], rtol=0, atol=1e-12)
        for k in alone_grads:
            alone_grads[k] += grads_b[k]
    assert np.any(grads["0.weight"][1:])
    for k in grads:
        np.testing.assert_allclose(grads[k], alone_grads[k], rtol=0, atol=1e-12, err_msg=k)


def test_mask_zero_with_padding_idx_zero_keeps_row_zero():
    x = lk.data.pad_sequences(SEQS, padding="post")
    model = token_model("LSTM", False, padding_idx=0)
    model.compile(loss="mse", optimizer=lk.optim.Adam(lr=1e-2))
    model.fit(x, np.ones((len(SEQS), H)), epochs=3, batch_size=2, verbose=0)
    assert not np.any(model.layers[0].params["weight"][0])
    for b, seq in enumerate(SEQS):
        np.testing.assert_allclose(model.predict(x)[b], model.predict(seq[None])[0], rtol=0, atol=1e-12)


def test_mask_zero_survives_save_and_load(tmp_path):
    x = lk.data.pad_sequences(SEQS)
    model = lk.Sequential([Embedding(V, E, mask_zero=True), LSTM(H, return_sequences=True), Dense(2)], seed=0)
    model.compile(loss="mse", optimizer="adam")
    model.fit(x, np.ones(x.shape + (2,)), epochs=1, batch_size=4, verbose=0)
    model.save(tmp_path / "m.lstmkit")
    loaded = lk.load(tmp_path / "m.lstmkit")
    assert loaded.layers[0].mask_zero is True and loaded.layers[0].get_config()["mask_zero"] is True
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    np.testing.assert_array_equal(loaded.output_mask, x != 0)


def test_mask_zero_is_off_by_default():
    layer = Embedding(V, E)
    assert layer.mask_zero is False and layer.compute_mask(np.array([[0, 1]])) is None
    model = lk.Sequential([layer, LSTM(H, return_sequences=True)], seed=0)
    model.predict(np.array([[0, 1, 2]]))
    assert model.output_mask is None


@pytest.mark.parametrize("make, error, words", [
    (lambda: Embedding(V, E, mask_zero=1), TypeError, "mask_zero must be True or False"),
    (lambda: Embedding(V, E, padding_idx=3, mask_zero=True), ValueError, "padding_idx=0"),
    (lambda: Embedding(V, E, mask_zero=True).forward(np.array([1, 0])), ValueError, "(batch, time)"),
])
def test_mask_zero_bad_input(make, error, words):
    with pytest.raises(error, match=re.escape(words)):
        make()


# ---- a Masking layer that cannot see the padding says so ---------------------------------------------------------
@pytest.mark.parametrize("embedding, mask_value", [({}, 0.0), ({"padding_idx": 0}, -1.0)],
                         ids=["no-padding-idx", "mask-value-not-0"])
def test_masking_after_embedding_names_the_fix(embedding, mask_value):
    with pytest.raises(ValueError, match=re.escape(f"Embedding({V}, {E}, mask_zero=True)")):
        Masking(mask_value).check_input_layer(Embedding(V, E, **embedding))


@pytest.mark.parametrize("previous", [lambda: Embedding(V, E, mask_zero=True), lambda: Embedding(V, E, padding_idx=0),
                                      lambda: Dense(3)], ids=["mask-zero", "padding-idx-0", "dense"])
def test_masking_that_sees_padding_is_accepted(previous):
    Masking().check_input_layer(previous())


def test_sequential_refuses_masking_after_embedding():
    with pytest.raises(ValueError, match="mask_zero=True"):
        lk.Sequential([Embedding(V, E), Masking(), LSTM(H)]).build((7,))
