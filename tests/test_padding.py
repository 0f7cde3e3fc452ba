"""lk.data.pad_sequences: Keras' keras.utils.pad_sequences results (checked against Keras itself when it is
installed), and a clear error for each bad input."""

import os
import re

import numpy as np
import pytest

import lstmkit as lk
from lstmkit.data import pad_sequences

SEQS = [[1, 2, 3], [4], [], [5, 6, 7, 8, 9]]
CASES = [{}, {"padding": "post"}, {"maxlen": 2}, {"maxlen": 3, "truncating": "post"},
         {"maxlen": 4, "padding": "post", "truncating": "post", "value": -1}, {"maxlen": 7, "dtype": "int64"},
         {"dtype": "float32", "value": 0.5}]


def test_defaults_pad_and_truncate_at_the_front():
    np.testing.assert_array_equal(pad_sequences([[1, 2, 3], [4, 5], [6, 7, 8, 9]], maxlen=3),
                                  [[1, 2, 3], [0, 4, 5], [7, 8, 9]])
    out = pad_sequences([[1], [2, 3]])
    assert out.dtype == np.int32 and lk.data.pad_sequences is pad_sequences


def test_post_padding_and_truncation():
    out = pad_sequences([[1, 2, 3, 4], [5]], maxlen=3, padding="post", truncating="post", value=9)
    np.testing.assert_array_equal(out, [[1, 2, 3], [5, 9, 9]])


def test_steps_of_features():
    """Sequences of vectors (n_i, F) pad to (N, T, F), ready for a Masking layer."""
    seqs = [np.ones((2, 3)), np.arange(9.0).reshape(3, 3), np.zeros((0, 3))]
    out = pad_sequences(seqs, dtype="float64", padding="post")
    assert out.shape == (3, 3, 3)
    np.testing.assert_array_equal(out[0], [[1, 1, 1], [1, 1, 1], [0, 0, 0]])
    np.testing.assert_array_equal(out[1], seqs[1])
    assert not out[2].any()


@pytest.mark.parametrize("padding", ["pre", "post"])
def test_an_empty_sequence_among_steps_of_features_is_all_padding(padding):
    """`[]` has no steps to say its feature shape: its row is (T, F) of `value`, like an empty (0, F) array's."""
    seqs = [[], np.ones((2, 3)), [], np.arange(3.0)[None]]
    out = pad_sequences(seqs, dtype="float32", padding=padding, value=-1.0)
    assert out.shape == (4, 2, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0], np.full((2, 3), -1.0))
    np.testing.assert_array_equal(out[2], np.full((2, 3), -1.0))
    np.testing.assert_array_equal(out[1], np.ones((2, 3)))
    np.testing.assert_array_equal(out[3][1 if padding == "pre" else 0], [0, 1, 2])
    assert pad_sequences([[], []]).shape == (2, 0)                    # nothing but empty sequences: no steps


@pytest.mark.parametrize("options", CASES, ids=[str(c) for c in CASES])
def test_matches_keras(options):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    want = keras.utils.pad_sequences(SEQS, **options)
    got = pad_sequences(SEQS, **options)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("call, error, words", [
    (lambda: pad_sequences([]), ValueError, "sequences is empty"),
    (lambda: pad_sequences("abc"), TypeError, "sequences must be a list of sequences"),
    (lambda: pad_sequences(7), TypeError, "sequences must be a list of sequences"),
    (lambda: pad_sequences([1, 2]), TypeError, "sequences[0] is 1 (int), not a sequence"),
    (lambda: pad_sequences([[1, 2], "ab"]), TypeError, "sequences[1] is 'ab' (str), not a sequence"),
    (lambda: pad_sequences([[1, 2], [1.5]]), TypeError, "sequences[1] holds 1.5, not a whole number"),
    (lambda: pad_sequences([[1, float("nan")]]), TypeError, "not a whole number"),
    (lambda: pad_sequences([[1, [2, 3]]]), ValueError, "sequences[0] is ragged"),
    (lambda: pad_sequences([["a", "b"]]), TypeError, "sequences[0] must hold numbers"),
    (lambda: pad_sequences([np.ones((2, 3)), np.ones((1, 2))], dtype="float32"), ValueError,
     "sequences[1] has steps of shape (2,)"),
    (lambda: pad_sequences([[70000]], dtype="int16"), ValueError, "70000, outside the range of int16"),
    (lambda: pad_sequences([[-1]], dtype="uint8"), ValueError, "outside the range of uint8"),
    (lambda: pad_sequences([[1]], padding="left"), ValueError, "padding must be 'pre' or 'post', got 'left'"),
    (lambda: pad_sequences([[1]], truncating="end"), ValueError, "truncating must be 'pre' or 'post'"),
    (lambda: pad_sequences([[1]], maxlen=0), ValueError, "maxlen must be None"),
    (lambda: pad_sequences([[1]], maxlen=2.5), ValueError, "maxlen must be None"),
    (lambda: pad_sequences([[1]], dtype=object), TypeError, "dtype must be an integer or float NumPy dtype"),
    (lambda: pad_sequences([[1]], dtype="nonsense"), TypeError, "got 'nonsense'"),
    (lambda: pad_sequences([[1]], value="x"), TypeError, "value must be a number"),
    (lambda: pad_sequences([[1]], value=0.5), TypeError, "value holds 0.5, not a whole number"),
])
def test_bad_input(call, error, words):
    with pytest.raises(error, match=re.escape(words)):
        call()
