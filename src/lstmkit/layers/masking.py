"""Masking (as Keras' Masking layer): steps whose features all equal `mask_value` are padding. The layer
outputs x with those steps zeroed, and the (B, T) mask it derives travels with the data through a Sequential
model: recurrent layers skip the padded steps (state unchanged, output zero) and the loss ignores them."""

import numpy as np

from .. import backend
from ..validation import check_array, check_gradient_shape
from .base import Layer


class Masking(Layer):
    """mask[b, t] = any(x[b, t, :] != mask_value); y = x * mask[..., None]."""

    input_axes = (2,)

    def __init__(self, mask_value=0.0, dtype="float32"):
        super().__init__(dtype)
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float, np.number)) \
                or not np.isfinite(mask_value):
            raise ValueError(f"mask_value must be a finite number, got {mask_value!r}.")
        self.mask_value = float(mask_value)
        self._keep = None

    def compute_mask(self, x):
        """(B, T) bool: True on real steps."""
        return np.any(x != self.mask_value, axis=-1)

    def output_mask(self, x, mask):
        new = backend.to_host(self.compute_mask(backend.as_array(x)))     # masks travel on the host
        return new if mask is None else new & mask

    def forward(self, x, training=False):
        x = check_array(x, "x", ndim=3, dtype=self.dtype, device=self.device)
        if not self.built:
            self.build(x.shape[1:])
        self._keep = self.compute_mask(x)[..., None].astype(self.dtype)    # (B, T, 1)
        return x * self._keep

    def backward(self, dy):
        if self._keep is None:
            raise RuntimeError("Masking.backward called before forward.")
        return check_gradient_shape(dy, self._keep.shape[:2] + (np.shape(dy)[-1],), self.dtype, "dy",
                                    self.device) * self._keep
