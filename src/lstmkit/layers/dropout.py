"""Inverted dropout (Srivastava et al. 2014): in training y = x * m / (1 - rate), m ~ Bernoulli(1 - rate);
identity at inference, so nothing needs rescaling after training."""


from ..validation import check_array
from .base import Layer


class Dropout(Layer):
    """Drops each element with probability `rate`; the mask comes from the layer's `rng` (seeded by the model)."""

    def __init__(self, rate, dtype="float32"):
        super().__init__(dtype)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"rate must be in [0, 1), got {rate!r}.")
        self.rate = float(rate)
        self._keep = None

    def forward(self, x, training=False):
        x = check_array(x, "x", dtype=self.dtype)
        if not self.built:
            self.build(x.shape[1:])
        if not training or self.rate == 0.0:
            self._keep = None
            return x
        self._keep = (self.rng.random(x.shape) >= self.rate).astype(self.dtype) / (1.0 - self.rate)
        return x * self._keep

    def backward(self, dy):
        return dy if self._keep is None else dy * self._keep
