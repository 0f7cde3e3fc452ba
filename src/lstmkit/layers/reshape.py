"""Sequence-shape layers: `RepeatVector` turns one vector into a sequence (one-to-many models), and
`TimeDistributed` applies a layer to every step of a sequence (Keras' layers of the same names).

The four shapes of sequence models, batch first:
- many-to-one:   LSTM(H) -> Dense(C)                                     (B, T, I) -> (B, C)
- many-to-many:  LSTM(H, return_sequences=True) -> Dense(C)              (B, T, I) -> (B, T, C)   (same length)
- one-to-many:   Dense(H) -> RepeatVector(T) -> LSTM(H, return_sequences=True) -> Dense(C)   (B, I) -> (B, T, C)
- n-to-m:        the encoder-decoder `lstmkit.Seq2Seq`.
"""

import numpy as np

from ..runtime import backend
from ..runtime.validation import check_array, check_gradient_shape
from .base import Layer, get_class


class RepeatVector(Layer):
    """y[:, t] = x for t = 1 .. n: (B, F) -> (B, n, F). Every copy feeds the loss, so the backward pass sums
    over time, dx = sum_t dy[:, t]. The sequence it starts has no padding: its output mask is None."""

    input_axes = (1,)

    def __init__(self, n, dtype="float32"):
        super().__init__(dtype)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n (the number of repeats) must be a positive integer, got {n!r}.")
        self.n = int(n)
        self._batch = None

    def output_mask(self, x, mask):
        return None

    def output_shape(self, input_shape):
        return (self.n,) + tuple(input_shape)

    def forward(self, x, training=False):
        x = check_array(x, "x", ndim=2, dtype=self.dtype, device=self.device)   # (B, F)
        if not self.built:
            self.build(x.shape[1:])
        self._batch = x.shape
        return self.xp.repeat(x[:, None, :], self.n, axis=1)          # (B, n, F)

    def backward(self, dy):
        if self._batch is None:
            raise RuntimeError("RepeatVector.backward called before forward.")
        B, F = self._batch
        dy = check_gradient_shape(dy, (B, self.n, F), self.dtype, "dy", self.device)
        return dy.sum(axis=1)                                          # dx = sum_t dy_t, (B, F)


class TimeDistributed(Layer):
    """Apply `layer` to every step: x (B, T, ...) is folded to (B*T, ...), passed through `layer` (one set of
    weights shared by all steps) and unfolded to (B, T, ...); the backward pass folds and unfolds the same way.

    `TimeDistributed(Dense(C))` equals `Dense(C)`: Dense already maps the last axis of (B, T, F). The wrapper
    matters for layers that read their input's leading axes: `TimeDistributed(LSTM(H))` encodes each of T inner
    sequences (B, T, T2, I) -> (B, T, H) (e.g. the characters of each word), `TimeDistributed(Embedding(V, E))`
    embeds (B, T, T2) token ids, `TimeDistributed(RepeatVector(n))` repeats each step's vector.

    A (B, T) mask of real steps passes through unchanged (steps stay steps); padded steps are computed like
    any other and ignored by the loss.

    The parameters are the inner layer's own (`params` and `grads` are its dicts, same names), so the
    optimizer, interop and model files see the weights of e.g. a plain Dense. The constructor takes the layer or
    its saved form `{"class": ..., "config": ...}`, which is what `get_config` returns: a nested layer cannot
    come from the constructor's signature alone (STYLE 9), so it is written as the model file writes layers.
    """

    def __init__(self, layer):
        if isinstance(layer, dict):
            layer = _layer_from_config(layer)
        if not isinstance(layer, Layer):
            raise TypeError(f"TimeDistributed wraps an lstmkit layer (or its {{'class', 'config'}} form), got "
                            f"{type(layer).__name__}.")
        if getattr(layer, "return_state", False):
            raise ValueError(f"TimeDistributed needs a layer that returns one array; {type(layer).__name__}"
                             f"(return_state=True) returns a tuple. Use return_state=False.")
        self.layer = layer            # owns dtype, device, params, grads and rng (no Layer.__init__: it resets them)
        self.input_shape = None
        self._out_shape = None

    # the inner layer's state, seen through the wrapper
    dtype = property(lambda self: self.layer.dtype)
    device = property(lambda self: self.layer.device)
    params = property(lambda self: self.layer.params)
    grads = property(lambda self: self.layer.grads)
    buffers = property(lambda self: self.layer.buffers)

    @property
    def rng(self):
        return self.layer.rng

    @rng.setter
    def rng(self, generator):                  # a resumed checkpoint gives the wrapper its generator back
        self.layer.rng = generator

    takes_indices = property(lambda self: self.layer.takes_indices)

    def build(self, input_shape, rng=None):
        """Build the inner layer for one step, inputs (batch, *input_shape[1:])."""
        input_shape = tuple(int(d) if d is not None else None for d in input_shape)
        if len(input_shape) < 2:
            raise ValueError(f"TimeDistributed needs inputs shaped (B, T, ...) with at least one axis after T; "
                             f"got per-sample shape {input_shape}.")
        if not self.layer.built:
            self.layer.build(input_shape[1:], rng)
        self.input_shape = input_shape
        return self

    def zero_grad(self):
        self.layer.zero_grad()

    def to(self, target):
        self.layer.to(target)
        return self

    def output_shape(self, input_shape):
        return (input_shape[0],) + tuple(self.layer.output_shape(tuple(input_shape[1:])))

    def forward(self, x, training=False):
        x = backend.as_array(x)
        if x.ndim < 3:
            raise ValueError(f"TimeDistributed expects x shaped (B, T, ...) with at least 3 axes, got shape "
                             f"{x.shape}; for (B, F) inputs use the inner layer directly.")
        if not self.built:
            self.build(x.shape[1:], np.random.default_rng())
        B, T = x.shape[:2]
        y = self.layer.forward(x.reshape((B * T,) + x.shape[2:]), training=training)   # (B*T, ...)
        self._out_shape = (B, T) + y.shape[1:]
        return y.reshape(self._out_shape)                                               # (B, T, ...)

    def backward(self, dy):
        if self._out_shape is None:
            raise RuntimeError("TimeDistributed.backward called before forward.")
        B, T = self._out_shape[:2]
        dy = check_gradient_shape(dy, self._out_shape, self.dtype, "dy", self.device)
        dx = self.layer.backward(dy.reshape((B * T,) + dy.shape[2:]))                  # (B*T, ...)
        return None if dx is None else dx.reshape((B, T) + dx.shape[1:])               # (B, T, ...)

    def get_config(self):
        return {"layer": {"class": type(self.layer).__name__, "config": self.layer.get_config()}}

    def __repr__(self):
        return f"TimeDistributed({self.layer!r})"


def _layer_from_config(spec):
    try:
        return get_class(spec["class"])(**spec["config"])
    except (KeyError, TypeError) as err:
        raise ValueError(f"cannot rebuild the wrapped layer from {spec!r} ({type(err).__name__}: {err}).") from None
