"""Loss functions with their gradients: mean squared / absolute error, the cross-entropies (from logits), and the
pinball loss of quantile regression (Koenker & Bassett 1978, "Regression quantiles").

Each loss `L` is the mean of a per-position loss `l` over all N positions (every element for MSE, MAE and
binary cross-entropy; every position but the class axis C for the categorical ones). `value_and_grad` returns
`L` and `dy_pred = dL/dy_pred = (dl/dy_pred) / N`, shaped and typed like `y_pred`.

Targets are never broadcast against the output: `y_true` must have the output's shape (or, for integer labels,
the output's shape without the class axis; for the pinball loss, the output's shape with H in place of H * Q). The
one explicit reshape is a missing trailing size-1 axis: `(B,)` targets for a `(B, 1)` output, and `(B, 1)` labels
for `(B, C)` logits. `Loss.target` applies the rule of each loss.
"""

import numbers

import numpy as np

from ..runtime.ops import log_softmax, sigmoid, softplus
from ..runtime.validation import check_array


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

    def target(self, y_pred, y_true):
        """`y_true` shaped as this loss needs it for the output `y_pred` (only its shape is read), or a ValueError:
        never a NumPy broadcast. The model checks `fit` / `evaluate` targets with it before any work."""
        return match_target(y_pred, y_true, sparse=self.sparse)

    def _inputs(self, y_pred, y_true):
        y_pred = as_prediction(y_pred)
        if self.sparse:
            y_true = check_array(y_true, "y_true", allow_int=True)
        else:
            y_true = check_array(y_true, "y_true", dtype=y_pred.dtype)
        return y_pred, self.target(y_pred, y_true)

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


class Pinball(Loss):
    """Pinball (quantile) loss: Q quantile forecasts for each of H targets, e.g. H future steps.

    Layout: `y_pred` is (..., H * Q), quantile index fastest, so `y_pred.reshape(..., H, Q)[..., h, j]` is the
    `quantiles[j]` quantile of target h (a Dense(H * Q) output); `y_true` is (..., H). `split` undoes the layout.
    With f = that forecast, y = the target, q = its quantile and u = y - f (N positions, all averaged over N H Q):

        l = rho_q(u) = max(q u, (q - 1) u)          (q u when y lies above f, (1 - q) |u| when below)
        dl/df = -q if u > 0,   1 - q if u < 0,   1/2 - q if u == 0

    The mean of rho_q(y - f) over samples of y is smallest at their q-quantile, so the 0.1 and 0.9 outputs bound a
    central 80% interval. At the kink u == 0 the subgradient is the mean of the two one-sided slopes, which is what
    torch autograd gives for `torch.maximum(q * u, (q - 1) * u)` (it splits a tie's gradient evenly); for q = 1/2
    it is 0, MAE's sign(0). The Q outputs are learned separately and may cross; the loss does not sort them.
    """

    name = "pinball"

    def __init__(self, quantiles=(0.5, 0.1, 0.9, 0.025, 0.975)):
        if isinstance(quantiles, str) or not np.iterable(quantiles) or not all(
                isinstance(q, numbers.Real) and not isinstance(q, bool) for q in quantiles):
            raise TypeError(f"quantiles must be a sequence of numbers in (0, 1), got {quantiles!r}; for a single "
                            f"quantile pass a one-element tuple such as (0.5,).")
        quantiles = tuple(float(q) for q in quantiles)
        if not quantiles:
            raise ValueError("quantiles is empty; pass at least one, e.g. (0.5, 0.1, 0.9).")
        bad = [q for q in quantiles if not 0.0 < q < 1.0]
        if bad:
            raise ValueError(f"quantiles must lie strictly between 0 and 1, got {bad} in {quantiles}; a 95% interval "
                             f"is (0.025, 0.975).")
        if len(set(quantiles)) < len(quantiles):
            twice = next(q for q in quantiles if quantiles.count(q) > 1)
            raise ValueError(f"quantiles must be distinct, got {twice} more than once in {quantiles}.")
        self.quantiles = quantiles                                   # Python floats: the keys of `split`

    def horizon(self, y_pred_shape):
        """H, the number of targets per sample, from the output shape (..., H * Q); ValueError if Q does not
        divide the last axis."""
        Q = len(self.quantiles)
        if len(y_pred_shape) == 0 or y_pred_shape[-1] % Q or y_pred_shape[-1] == 0:
            raise ValueError(f"the model output has shape {tuple(y_pred_shape)}, but the pinball loss with {Q} "
                             f"quantiles {self.quantiles} needs a last axis of H * {Q} (H targets, quantile index "
                             f"fastest); end the model with Dense(H * {Q}).")
        return y_pred_shape[-1] // Q

    def target(self, y_pred, y_true):
        """`y_true` (..., H) for the output `y_pred` (..., H * Q); (...,) is accepted for H = 1."""
        want = tuple(y_pred.shape[:-1]) + (self.horizon(y_pred.shape),)
        if y_true.shape == want:
            return y_true
        if y_true.shape + (1,) == want:
            return y_true.reshape(want)
        raise ValueError(f"y_true has shape {y_true.shape}, but the model output has shape {y_pred.shape}; the "
                         f"pinball loss with {len(self.quantiles)} quantiles reads that as {want[-1]} targets per "
                         f"sample, so pass targets shaped {want} (they are never broadcast).")

    def _forward(self, f, y):
        q = np.asarray(self.quantiles, dtype=f.dtype)                # (Q,)
        u = y[..., None] - f.reshape(y.shape + q.shape)              # (..., H, Q)
        return np.maximum(q * u, (q - 1) * u), u

    def _backward(self, f, y, u):
        q = np.asarray(self.quantiles, dtype=f.dtype)
        df = 0.5 * (1 - np.sign(u)) - q                              # -q, 1 - q, 1/2 - q for u >, <, == 0
        return df.reshape(f.shape)                                   # (..., H * Q)

    def split(self, y_pred):
        """{q: the q-quantile forecasts (..., H)} from an output (..., H * Q), in the order of `quantiles`
        (views into `y_pred`). E.g. `split(out)[0.5]` is the median, `split(out)[0.1]`, `[0.9]` an 80% band."""
        y_pred = as_prediction(y_pred)
        f = y_pred.reshape(y_pred.shape[:-1] + (self.horizon(y_pred.shape), len(self.quantiles)))  # (..., H, Q)
        return {q: f[..., j] for j, q in enumerate(self.quantiles)}

    def interval(self, y_pred, level):
        """(lower, upper), each (..., H): the central `level` interval of an output (..., H * Q), i.e. its
        (1 - level) / 2 and (1 + level) / 2 quantiles (0.8 -> 0.1, 0.9), matched to `quantiles` to 1e-9 so that
        float rounding in 1 - level does not miss them. ValueError if the loss has not got both."""
        if not (isinstance(level, numbers.Real) and 0.0 < level < 1.0):
            raise ValueError(f"level must be a number strictly between 0 and 1, e.g. 0.8, got {level!r}.")
        parts = self.split(y_pred)
        bounds = []
        for want in ((1.0 - level) / 2, (1.0 + level) / 2):
            found = [q for q in self.quantiles if abs(q - want) <= 1e-9]
            if not found:
                raise ValueError(f"a {level:.0%} interval needs the {want:g} quantile, but the loss has "
                                 f"{self.quantiles}; add it with Pinball(quantiles=...).")
            bounds.append(parts[found[0]])
        return tuple(bounds)

    def __repr__(self):
        return f"Pinball(quantiles={self.quantiles})"


LOSSES = {cls.name: cls for cls in
          (MSE, MAE, CategoricalCrossentropy, SparseCategoricalCrossentropy, BinaryCrossentropy, Pinball)}
ALIASES = {"mean_squared_error": "mse", "mean_absolute_error": "mae"}


def get(loss):
    """A loss instance from a registry name (see `LOSSES`, `ALIASES`; each with its defaults, so "pinball" has
    the quantiles 0.5, 0.1, 0.9, 0.025, 0.975) or the instance itself."""
    if isinstance(loss, Loss):
        return loss
    if not isinstance(loss, str):
        raise TypeError(f"loss must be a name or a lk.losses.Loss instance, got {type(loss).__name__}.")
    key = ALIASES.get(loss.lower(), loss.lower())
    if key not in LOSSES:
        raise ValueError(f"Unknown loss {loss!r}; valid names are {sorted(LOSSES) + sorted(ALIASES)}.")
    return LOSSES[key]()
