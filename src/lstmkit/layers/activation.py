"""Activation: an element-wise (softmax: per-row) function as a layer of its own, y = act(x), as Keras' Activation
(the ReLU after each BatchNorm in LSTM-FCN, Karim et al. 2018). It reuses Dense's `activation_forward` /
`activation_backward`, the package's one definition of each function and its derivative."""

from ..runtime.validation import check_array, check_gradient_shape
from .base import Layer
from .dense import activation_backward, activation_forward

NAMES = ("relu", "tanh", "sigmoid", "softmax", "linear")


class Activation(Layer):
    """y = act(x) for `activation` "relu", "tanh", "sigmoid", "softmax" (over the last axis) or "linear" (the
    identity); any input shape (B, ...)."""

    def __init__(self, activation, dtype="float32"):
        super().__init__(dtype)
        if activation not in NAMES:
            raise ValueError(f"Activation takes one of {', '.join(map(repr, NAMES))}, got {activation!r}.")
        self.activation = activation
        self._y = None                                   # the output, for the local derivative

    def forward(self, x, training=False):
        x = check_array(x, "x", dtype=self.dtype, device=self.device)
        if x.ndim < 2:
            raise ValueError(f"Activation expects x with a batch axis and a feature axis, (B, ..., F), got shape "
                             f"{x.shape}.")
        if not self.built:
            self.build(x.shape[1:])
        if self.activation == "linear":
            self._y = x
        else:                                            # a copy: activation_forward writes into its argument
            self._y = activation_forward(x.copy(), self.activation)
        return self._y

    def backward(self, dy):
        if self._y is None:
            raise RuntimeError("Activation.backward called before forward.")
        dy = check_gradient_shape(dy, self._y.shape, self.dtype, "dy", self.device)
        return activation_backward(dy, self._y, None if self.activation == "linear" else self.activation)
