"""Inverted dropout (Srivastava et al. 2014): in training y = x * m / (1 - rate), m ~ Bernoulli(1 - rate);
identity at inference, so nothing needs rescaling after training."""


from ..runtime import backend
from ..runtime.validation import check_array, check_gradient_shape, check_rate
from .base import Layer


class Dropout(Layer):
    """Drops each element with probability `rate`; the mask comes from the layer's `rng` (seeded by the model)."""

    def __init__(self, rate, dtype="float32"):
        super().__init__(dtype)
        self.rate = check_rate(rate, "rate")
        self._keep = None            # the scaled mask of the last training forward (None: identity)
        self._shape = None           # shape of the last forward's input; None until forward runs

    def forward(self, x, training=False):
        x = check_array(x, "x", dtype=self.dtype, device=self.device)
        if not self.built:
            self.build(x.shape[1:])
        self._shape = x.shape
        if not training or self.rate == 0.0:
            self._keep = None
            return x
        keep = (self.rng.random(x.shape) >= self.rate).astype(self.dtype) / (1.0 - self.rate)   # drawn on the host
        self._keep = backend.to_device(keep, self.device)
        return x * self._keep

    def backward(self, dy):
        if self._shape is None:
            raise RuntimeError("Dropout.backward called before forward.")
        dy = check_gradient_shape(dy, self._shape, self.dtype, "dy", self.device)
        return dy if self._keep is None else dy * self._keep
