"""Elman (simple) recurrent network (Elman 1990), torch.nn.RNN's math."""

from typing import NamedTuple

import numpy as np

from .recurrent import Recurrent


class RNNRecord(NamedTuple):
    h: np.ndarray        # (T, B, H) candidate hidden state h_t


class SimpleRNN(Recurrent):
    """Elman RNN layer::

        h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)

    (`nonlinearity="relu"` replaces tanh by max(0, .), as torch.nn.RNN allows). Parameters as torch.nn.RNN:
    `weight_ih_l{k}` (H, I_k), `weight_hh_l{k}` (H, H), `bias_ih_l{k}`, `bias_hh_l{k}` (H,).
    """

    G = 1

    def __init__(self, hidden_size, num_layers=1, bidirectional=False, dropout=0.0, return_sequences=False,
                 return_state=False, nonlinearity="tanh", dtype="float32"):
        super().__init__(hidden_size, num_layers, bidirectional, dropout, return_sequences, return_state, dtype)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}.")
        self.nonlinearity = nonlinearity

    def new_record(self, T, B):
        return RNNRecord(np.empty((T, B, self.hidden_size), self.dtype))

    def step_forward(self, rec, t, xp, a, prev):
        h = np.add(xp, a, out=rec.h[t])
        if self.nonlinearity == "tanh":
            np.tanh(h, out=h)                                   # h_t = tanh(.)
        else:
            np.maximum(h, 0.0, out=h)                           # h_t = relu(.)
        return (h,)

    def step_backward(self, rec, t, dcand, prev, dxp, da):
        dh, = dcand
        h = rec.h[t]
        if self.nonlinearity == "tanh":
            np.multiply(dh, 1.0 - h * h, out=dxp)               # tanh' = 1 - h^2
        else:
            np.multiply(dh, h > 0.0, out=dxp)                   # relu' = [h > 0]
        return (None,)
