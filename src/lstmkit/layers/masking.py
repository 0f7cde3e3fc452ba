"""Masking (as Keras' Masking layer): steps whose features all equal `mask_value` are padding. The layer
outputs x with those steps zeroed, and the (B, T) mask it derives travels with the data through a Sequential
model: recurrent layers skip the padded steps (state unchanged, output zero) and the loss ignores them.

Masking works on feature vectors. Token ids are masked by `Embedding(..., mask_zero=True)` instead: after an
Embedding a padded step is the row weight[0], not mask_value, so a Masking layer there would mask nothing
(`check_input_layer` says so)."""

import numpy as np

from ..runtime import backend
from ..runtime.validation import check_array, check_gradient_shape
from .base import Layer
from .embedding import Embedding


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

    def check_input_layer(self, previous):
        """Raise ValueError when `previous`, the layer feeding this one, makes padding this layer cannot see: an
        Embedding without mask_zero, whose padded steps are rows of its table rather than all mask_value (unless
        padding_idx keeps that row at zero and mask_value is 0)."""
        if not isinstance(previous, Embedding) or previous.mask_zero:
            return
        if previous.padding_idx is not None and self.mask_value == 0.0:
            return
        what = "learned vectors (it has no padding_idx)" if previous.padding_idx is None else \
            f"learned vectors, and zeros for padding_idx={previous.padding_idx}"
        raise ValueError(f"Masking(mask_value={self.mask_value!r}) after an Embedding cannot see padding: the "
                         f"Embedding outputs {what}, never a step of all {self.mask_value!r}, so nothing is masked "
                         f"and padding changes the outputs. Use Embedding({previous.num_embeddings}, "
                         f"{previous.embedding_dim}, mask_zero=True) (token id 0 is padding) and drop the Masking "
                         f"layer.")

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
