"""Loss functions with their gradients: mean squared / absolute error, and the cross-entropies, from logits.

Each loss `L` is the mean of a per-position loss `l` over all N positions (every element for MSE, MAE and
binary cross-entropy; every position but the class axis C for the categorical ones). `value_and_grad` returns
`L` and `dy_pred = dL/dy_pred = (dl/dy_pred) / N`, shaped and typed like `y_pred`.

Targets are never broadcast against the output: `y_true` must have the output's shape (or, for integer labels,
the output's shape without the class axis). The one explicit reshape is a missing trailing size-1 axis: `(B,)`
targets for a `(B, 1)` output, and `(B, 1)` labels for `(B, C)` logits.
"""

import numpy as np

from .ops import log_softmax, sigmoid, softplus
from .validation import check_array


def match_target(y_pred, y_true, sparse=False):
    """Return `y_true` shaped as the loss needs it, or raise a ValueError: never a NumPy broadcast.

    Dense targets need `y_pred.shape`; sparse (integer label) targets need `y_pred.shape[:-1]`.
    """
    want = y_pred.shape[:-1] if sparse else y_pred.shape
    if y_true.shape == want:
        return y_true
    if (y_true.shape + (1,) == want) or (sparse and y_true.shape == want + (1,)):
        return y_true.reshape(want)
    if sparse:
        fix = (f"pass integer class labels shaped {want}, or use categorical_crossentropy with "
               f"one-hot / probability targets shaped {y_pred.shape}")
    else:
        fix = f"pass targets shaped {want} (reshape them explicitly; they are never broadcast)"
    raise ValueError(f"y_true has shape {y_true.shape}, but the model output has shape {y_pred.shape}; {fix}.")


def check_labels(labels, num_classes):
    """Raise a ValueError naming the first label outside [0, num_classes)."""
    bad = (labels < 0) | (labels >= num_classes)
    if np.any(bad):
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"y_true holds label {int(labels[where])} at index {where}, but the model output has {num_classes} "
            f"classes (valid labels are 0..{num_classes - 1}); check the label encoding or the output size.")


def as_prediction(y_pred):
    """`y_pred` as a float32/float64 array (other numeric dtypes become float64); NaN passes through."""
    y_pred = np.asarray(y_pred)
    if y_pred.dtype.kind not in "fiu" or y_pred.ndim == 0:
        raise TypeError(f"y_pred must be a numeric array with a batch axis, got dtype {y_pred.dtype} and "
                        f"shape {y_pred.shape}.")
    return y_pred if y_pred.dtype in (np.float32, np.float64) else y_pred.astype(np.float64)


class Loss:
    """Base: checks the inputs, then averages a subclass's per-position `_forward` and scales its `_backward`.

    `_forward(y_pred, y_true) -> (l, cache)` gives the per-position losses `l`; `_backward(y_pred, y_true, cache)`
    gives `dl/dy_pred` per position, from what forward cached. `link` is, for a loss from logits, the function it
    applies to y_pred itself to get probabilities ("sigmoid" or "softmax" over the last axis); None for a loss on
    values (MSE, MAE). The model must not apply it too (Sequential.compile checks), and Sequential.predict_proba
    applies it to the logits.
    """

    name = None
    sparse = False
    link = None

    def _inputs(self, y_pred, y_true):
        y_pred = as_prediction(y_pred)
        if self.sparse:
            y_true = check_array(y_true, "y_true", allow_int=True)
        else:
            y_true = check_array(y_true, "y_true", dtype=y_pred.dtype)
        return y_pred, match_target(y_pred, y_true, sparse=self.sparse)

    def __call__(self, y_pred, y_true):
        """The mean loss, a Python float."""
        y_pred, y_true = self._inputs(y_pred, y_true)
        l, _ = self._forward(y_pred, y_true)
        return float(np.mean(l))

    def value_and_grad(self, y_pred, y_true):
        """The mean loss L and dL/dy_pred (same shape and dtype as y_pred)."""
        y_pred, y_true = self._inputs(y_pred, y_true)
        l, cache = self._forward(y_pred, y_true)
        dy_pred = self._backward(y_pred, y_true, cache)
        dy_pred *= 1.0 / l.size                                      # dL/dl = 1/N for every position
        return float(np.mean(l)), dy_pred

    def __repr__(self):
        return f"{type(self).__name__}()"


class MSE(Loss):
    """Mean squared error, l = (y_pred - y_true)^2."""

    name = "mse"

    def _forward(self, y_pred, y_true):
        diff = y_pred - y_true
        return diff * diff, diff

    def _backward(self, y_pred, y_true, diff):
        return 2.0 * diff                                            # dl/dy_pred = 2 (y_pred - y_true)


class MAE(Loss):
    """Mean absolute error, l = |y_pred - y_true|, with the subgradient sign(y_pred - y_true) (0 at 0)."""

    name = "mae"

    def _forward(self, y_pred, y_true):
        diff = y_pred - y_true
        return np.abs(diff), diff

    def _backward(self, y_pred, y_true, diff):
        return np.sign(diff)


class CategoricalCrossentropy(Loss):
    """Softmax cross-entropy from logits z (..., C) and class-probability (or one-hot) targets y (..., C).

    l = -sum_c y_c log softmax(z)_c   and   dl/dz = softmax(z) * sum_c y_c - y   (= softmax(z) - y when the
    targets sum to 1). The logits are unnormalised scores: do not apply softmax in the model.
    """

    name = "categorical_crossentropy"
    link = "softmax"

    def _forward(self, z, y):
        logp = log_softmax(z)                                        # (..., C)
        return -np.sum(y * logp, axis=-1), logp

    def _backward(self, z, y, logp):
        return np.exp(logp) * np.sum(y, axis=-1, keepdims=True) - y


class SparseCategoricalCrossentropy(Loss):
    """Softmax cross-entropy from logits z (..., C) and integer labels k (...), e.g. (B,) or (B, T).

    l = -log softmax(z)_k   and   dl/dz = softmax(z) - onehot(k). The logits are unnormalised scores.
    """

    name = "sparse_categorical_crossentropy"
    link = "softmax"
    sparse = True

    def _forward(self, z, k):
        check_labels(k, z.shape[-1])
        logp = log_softmax(z)                                        # (..., C)
        return -np.take_along_axis(logp, k[..., None], axis=-1)[..., 0], logp

    def _backward(self, z, k, logp):
        dz = np.exp(logp)
        np.put_along_axis(dz, k[..., None], np.take_along_axis(dz, k[..., None], axis=-1) - 1.0, axis=-1)
        return dz


class BinaryCrossentropy(Loss):
    """Sigmoid cross-entropy from logits z and targets y in [0, 1] of the same shape.

    l = -y log sigma(z) - (1 - y) log(1 - sigma(z)), computed as max(z, 0) - z y + log(1 + exp(-|z|)), which never
    overflows;   dl/dz = sigma(z) - y. The logits are unnormalised scores: do not apply sigmoid in the model.
    """

    name = "binary_crossentropy"
    link = "sigmoid"

    def _forward(self, z, y):
        if np.any((y < 0) | (y > 1)):
            raise ValueError(f"y_true for binary_crossentropy must lie in [0, 1], got values from {y.min()} to "
                             f"{y.max()}; use 0/1 labels (or sparse_categorical_crossentropy for classes).")
        return np.maximum(z, 0) - z * y + softplus(-np.abs(z)), None

    def _backward(self, z, y, cache):
        return sigmoid(z) - y


LOSSES = {cls.name: cls for cls in
          (MSE, MAE, CategoricalCrossentropy, SparseCategoricalCrossentropy, BinaryCrossentropy)}
ALIASES = {"mean_squared_error": "mse", "mean_absolute_error": "mae"}


def get(loss):
    """A loss instance from a registry name (see `LOSSES`, `ALIASES`) or the instance itself."""
    if isinstance(loss, Loss):
        return loss
    if not isinstance(loss, str):
        raise TypeError(f"loss must be a name or a lstmkit.losses.Loss instance, got {type(loss).__name__}.")
    key = ALIASES.get(loss.lower(), loss.lower())
    if key not in LOSSES:
        raise ValueError(f"Unknown loss {loss!r}; valid names are {sorted(LOSSES) + sorted(ALIASES)}.")
    return LOSSES[key]()
