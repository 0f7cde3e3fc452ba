"""Metrics on small cases computed by hand."""

import numpy as np
import pytest

from lstmkit.training import metrics


def test_regression_metrics():
    y_pred = np.array([[1.0], [2.0], [4.0], [0.0]])
    y_true = np.array([1.0, 0.0, 1.0, 1.0])                          # (B,) for a (B, 1) output: reshaped
    # errors 0, 2, 3, -1: squares 0, 4, 9, 1 -> mean 3.5; absolutes 0, 2, 3, 1 -> mean 1.5
    assert metrics.mse(y_pred, y_true) == 3.5
    assert metrics.mae(y_pred, y_true) == 1.5
    assert metrics.rmse(y_pred, y_true) == pytest.approx(np.sqrt(3.5), rel=1e-15)


def test_multiclass_accuracy_with_labels_and_one_hot():
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 5.0], [4.0, 0.0, 0.0]])   # argmax 0, 1, 2, 0
    labels = np.array([0, 1, 1, 2])
    assert metrics.accuracy(logits, labels) == 0.5
    assert metrics.accuracy(logits, np.eye(3)[labels]) == 0.5
    assert metrics.accuracy(logits, labels[:, None]) == 0.5


def test_sequence_accuracy_counts_every_position():
    logits = np.zeros((2, 3, 4))                                     # (B, T, C)
    logits[0, :, 1] = 1.0                                            # batch 0 predicts class 1 at every step
    logits[1, :, 3] = 1.0                                            # batch 1 predicts class 3
    labels = np.array([[1, 1, 0], [3, 2, 3]])                        # 4 of 6 right
    assert metrics.accuracy(logits, labels) == pytest.approx(4 / 6)


def test_binary_accuracy_thresholds_logits_at_zero():
    logits = np.array([[2.0], [-1.0], [0.5], [-3.0], [0.0]])         # predicted 1, 0, 1, 0, 0
    targets = np.array([1, 0, 0, 1, 0])
    assert metrics.accuracy(logits, targets) == 0.6
    assert metrics.accuracy(logits[:, 0], targets) == 0.6


def test_accuracy_errors():
    with pytest.raises(ValueError, match="binary accuracy must hold only 0 and 1"):
        metrics.accuracy(np.zeros((3, 1)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"label 3 at index \(1,\)"):
        metrics.accuracy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"y_true has shape \(4,\), but the model output has shape \(2, 3\)"):
        metrics.accuracy(np.zeros((2, 3)), np.zeros(4))


def test_shape_mismatch_is_never_broadcast():
    with pytest.raises(ValueError, match=r"y_true has shape \(3, 2\), but the model output has shape \(3, 1\)"):
        metrics.mse(np.zeros((3, 1)), np.zeros((3, 2)))


def test_get():
    assert metrics.get("rmse") is metrics.rmse
    assert metrics.get("mean_absolute_error") is metrics.mae
    assert metrics.get(metrics.accuracy) is metrics.accuracy
    with pytest.raises(ValueError, match="Unknown metric 'f1'; valid names are"):
        metrics.get("f1")
