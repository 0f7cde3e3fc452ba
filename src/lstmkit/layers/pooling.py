"""Global pooling over time: one vector per sequence, (B, T, C) -> (B, C), the read-out of the convolution branch
of LSTM-FCN (Karim et al. 2018; global average pooling, Lin, Chen & Yan 2014). With a (B, T) mask the pool runs
over the real steps only; the output is one vector per sequence, so the mask ends here (output_mask is None).

With m[b, t] = 1 on real steps (all steps without a mask) and n_b = sum_t m[b, t]:
```
average:  y[b] = (1 / n_b) sum_t m[b, t] x[b, t]           dx[b, t] = m[b, t] dy[b] / n_b
max:      y[b] = max_{t real} x[b, t]                       dx[b, t*] = dy[b] at the first maximum t*, else 0
```
(torch.nn.AdaptiveAvgPool1d(1) / AdaptiveMaxPool1d(1) on (B, C, T), whose max also routes to the first maximum.)
A sequence without any real step pools to zeros.
"""

import numpy as np

from ..runtime.validation import check_array, check_gradient_shape, check_mask
from .base import Layer


class _GlobalPooling1D(Layer):
    """Shared checks of the two pools: inputs (B, T, C), an optional mask, outputs (B, C)."""

    input_axes = (2,)

    def __init__(self, dtype="float32"):
        super().__init__(dtype)
        self._shape = None           # the last forward's input shape (B, T, C)
        self._weight = None          # average: (B or 1, T, 1), m / n_b
        self._winner = None          # max: (B, T, C) bool, True at each first maximum

    def output_shape(self, input_shape):
        return (input_shape[-1],)

    def output_mask(self, x, mask):
        return None

    def _inputs(self, x, mask):
        """x (B, T, C) as the layer's arrays, and the mask as (B, T, 1) floats or None."""
        if np.ndim(x) != 3:
            raise ValueError(f"{type(self).__name__} expects x shaped (B, T, C) (batch, time, channels), got "
                             f"shape {np.shape(x)}.")
        x = check_array(x, "x", ndim=3, dtype=self.dtype, device=self.device)
        if not self.built:
            self.build(x.shape[1:])
        m = check_mask(mask, *x.shape[:2], self.dtype, self.device)     # (T, B, 1) or None
        self._shape = x.shape
        return x, None if m is None else m.transpose(1, 0, 2)

    def _check_dy(self, dy, name):
        if self._shape is None:
            raise RuntimeError(f"{name}.backward called before forward.")
        B, _, C = self._shape
        return check_gradient_shape(dy, (B, C), self.dtype, "dy", self.device)


class GlobalAveragePooling1D(_GlobalPooling1D):
    """y = the mean over (real) time steps: (B, T, C) -> (B, C)."""

    def forward(self, x, mask=None, training=False):
        x, m = self._inputs(x, mask)
        if m is None:
            self._weight = self.xp.full((1, x.shape[1], 1), 1.0 / x.shape[1], dtype=self.dtype)   # 1 / T
        else:
            self._weight = m / self.xp.maximum(m.sum(axis=1, keepdims=True), 1.0)   # (B, T, 1): m / n_b
        return (x * self._weight).sum(axis=1)                                   # (B, C)

    def backward(self, dy):
        dy = self._check_dy(dy, "GlobalAveragePooling1D")
        return dy[:, None, :] * self._weight                                   # dx[b, t] = m[b, t] dy[b] / n_b


class GlobalMaxPooling1D(_GlobalPooling1D):
    """y = the maximum over (real) time steps: (B, T, C) -> (B, C)."""

    def forward(self, x, mask=None, training=False):
        x, m = self._inputs(x, mask)
        if m is not None:
            x = x.copy()
            x[m[..., 0] == 0] = -np.inf                                        # padded steps never win
        y = x.max(axis=1)                                                      # (B, C)
        top = x == y[:, None, :]                                               # (B, T, C): every maximum
        self._winner = top * (top.cumsum(axis=1) == 1)                         # the first one
        if m is not None:
            empty = m.sum(axis=1)[:, 0] == 0                                   # (B,): no real step
            y[empty] = 0.0
            self._winner[empty] = False
        return y

    def backward(self, dy):
        dy = self._check_dy(dy, "GlobalMaxPooling1D")
        return self._winner * dy[:, None, :]                                   # dx[b, t*] = dy[b], else 0
