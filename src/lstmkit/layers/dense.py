"""Dense (fully connected) layer, torch.nn.Linear's math: z = x W^T + b on the last axis, then an optional
element-wise (or, for softmax, per-row) activation y = act(z).

Applied to the last axis, it maps a step (B, I) or a whole sequence (B, T, I) alike, so `Dense` after a
`return_sequences=True` recurrent layer is the many-to-many read-out (Keras' TimeDistributed(Dense)).

The default, activation=None, outputs logits: what the cross-entropy losses take (they apply sigmoid / softmax
themselves, stably). `activation="sigmoid"` / `"softmax"` outputs probabilities, for a loss on probabilities (mse)
or for inference; Sequential.compile refuses them under a loss from logits, which would apply the link twice.
"""

import numpy as np

from ..runtime.ops import sigmoid, softmax
from ..runtime.validation import check_array, check_feature_size, check_gradient_shape, check_positive_int
from .base import Layer

ACTIVATIONS = (None, "sigmoid", "softmax", "tanh", "relu")


def activation_forward(z, activation):
    """y = act(z) over the last axis of z (..., U); None is the identity. May overwrite z."""
    if activation is None:
        return z
    if activation == "sigmoid":
        return sigmoid(z, out=z)                          # sigma(z) = 1 / (1 + exp(-z)), stable
    if activation == "softmax":
        return softmax(z, axis=-1)                        # exp(z_u) / sum_v exp(z_v), shifted by max(z)
    if activation == "tanh":
        return np.tanh(z, out=z)
    return np.maximum(z, 0, out=z)                        # relu


def activation_backward(dy, y, activation):
    """dz = dL/dz from dy = dL/dy and the forward's output y (..., U): local derivatives from y, not z."""
    if activation is None:
        return dy
    if activation == "sigmoid":
        return dy * y * (1 - y)                           # dy/dz = sigma (1 - sigma)
    if activation == "softmax":                           # Jacobian-vector product, J = diag(y) - y y^T:
        return y * (dy - (dy * y).sum(axis=-1, keepdims=True))   # dz_u = y_u (dy_u - sum_v dy_v y_v)
    if activation == "tanh":
        return dy * (1 - y * y)                           # dy/dz = 1 - tanh^2
    return dy * (y > 0)                                   # relu: 1 where z > 0, else 0 (0 at z = 0, as torch)


class Dense(Layer):
    """y = act(x W^T + b) with `weight` (units, in_features) and `bias` (units,), initialised as torch.nn.Linear:
    uniform(-1/sqrt(in_features), 1/sqrt(in_features)). `activation`: None (linear: logits, the default),
    "sigmoid", "softmax" (over the last axis, the units), "tanh" or "relu"."""

    input_axes = (1, 2)

    def __init__(self, units, use_bias=True, activation=None, dtype="float32"):
        super().__init__(dtype)
        self.units = check_positive_int(units, "units")
        self.use_bias = bool(use_bias)
        if activation not in ACTIVATIONS:
            raise ValueError(f"Dense activation must be one of {ACTIVATIONS}, got {activation!r}; use None for "
                             f"logits (the input of the cross-entropy losses).")
        self.activation = activation
        self._x = None                                    # (B, [T,] I), kept for dW
        self._y = None                                    # (B, [T,] units), the activation's output, for dz

    def _create_params(self, input_shape, rng):
        in_features = input_shape[-1]
        if not in_features:
            raise ValueError(f"Dense needs inputs with at least one feature; got 0 features (input shape "
                             f"{input_shape}).")
        bound = 1.0 / np.sqrt(in_features)
        self.params["weight"] = rng.uniform(-bound, bound, (self.units, in_features))
        if self.use_bias:
            self.params["bias"] = rng.uniform(-bound, bound, (self.units,))

    def output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def forward(self, x, training=False):
        x = check_array(x, "x", ndim=(2, 3), dtype=self.dtype, device=self.device)
        if not self.built:
            self.build(x.shape[1:])
        check_feature_size(x, self.input_shape[-1])
        self._x = x
        z = x @ self.params["weight"].T                   # (B, [T,] units)
        if self.use_bias:
            z += self.params["bias"]
        self._y = activation_forward(z, self.activation)
        return self._y

    def backward(self, dy):
        if self._x is None:
            raise RuntimeError("Dense.backward called before forward.")
        x2 = self._x.reshape(-1, self._x.shape[-1])      # (N, I), N = B [* T]
        dy = check_gradient_shape(dy, self._x.shape[:-1] + (self.units,), self.dtype, "dy", self.device)
        dz = activation_backward(dy, self._y, self.activation)
        dz2 = dz.reshape(-1, self.units)                  # (N, units)
        self.xp.matmul(dz2.T, x2, out=self.grads["weight"])    # dW = sum_n dz_n^T x_n
        if self.use_bias:
            self.xp.sum(dz2, axis=0, out=self.grads["bias"])   # db = sum_n dz_n
        return dz @ self.params["weight"]                 # dx = dz W
