"""Dense (fully connected) layer, torch.nn.Linear's math: y = x W^T + b on the last axis.

Applied to the last axis, it maps a step (B, I) or a whole sequence (B, T, I) alike, so `Dense` after a
`return_sequences=True` recurrent layer is the many-to-many read-out (Keras' TimeDistributed(Dense)).
"""

import numpy as np

from ..validation import (
    check_array,
    check_feature_size,
    check_gradient_shape,
    check_positive_int,
)
from .base import Layer


class Dense(Layer):
    """y = x W^T + b with `weight` (units, in_features) and `bias` (units,), initialised as torch.nn.Linear:
    uniform(-1/sqrt(in_features), 1/sqrt(in_features))."""

    input_axes = (1, 2)

    def __init__(self, units, use_bias=True, dtype="float32"):
        super().__init__(dtype)
        self.units = check_positive_int(units, "units")
        self.use_bias = bool(use_bias)
        self._x = None

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
        self._x = x                                       # (B, [T,] I), kept for dW
        y = x @ self.params["weight"].T                   # (B, [T,] units)
        if self.use_bias:
            y += self.params["bias"]
        return y

    def backward(self, dy):
        if self._x is None:
            raise RuntimeError("Dense.backward called before forward.")
        x2 = self._x.reshape(-1, self._x.shape[-1])      # (N, I), N = B [* T]
        dy = check_gradient_shape(dy, self._x.shape[:-1] + (self.units,), self.dtype, "dy", self.device)
        dy2 = dy.reshape(-1, self.units)                  # (N, units)
        self.xp.matmul(dy2.T, x2, out=self.grads["weight"])    # dW = sum_n dy_n^T x_n
        if self.use_bias:
            self.xp.sum(dy2, axis=0, out=self.grads["bias"])   # db = sum_n dy_n
        return dy @ self.params["weight"]                 # dx = dy W
