"""Long short-term memory (Hochreiter & Schmidhuber 1997) with the forget gate of Gers, Schmidhuber & Cummins
(2000), in PyTorch's parameterisation (gate order i, f, g, o; two bias vectors b_ih and b_hh kept for parity)."""

from typing import NamedTuple

import numpy as np

from ..ops import sigmoid
from .recurrent import Recurrent


class LSTMRecord(NamedTuple):
    gates: np.ndarray    # (T, B, 4H) i, f, g, o after their non-linearities
    c: np.ndarray        # (T, B, H) candidate cell state c_t
    tanh_c: np.ndarray   # (T, B, H) tanh(c_t)
    h: np.ndarray        # (T, B, H) candidate hidden state h_t


class LSTM(Recurrent):
    """LSTM layer. With `H_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh` split four ways::

        i_t = sigma(H_t[i])   f_t = sigma(H_t[f])   g_t = tanh(H_t[g])   o_t = sigma(H_t[o])
        c_t = f_t * c_{t-1} + i_t * g_t          (the cell state: an additive path through time)
        h_t = o_t * tanh(c_t)

    Parameters per layer k (suffix `_reverse` for the backward direction), as torch.nn.LSTM:
    `weight_ih_l{k}` (4H, I_k), `weight_hh_l{k}` (4H, H), `bias_ih_l{k}` (4H,), `bias_hh_l{k}` (4H,).
    `forget_bias`: when given, the forget-gate slice of `bias_ih` is set to it and that of `bias_hh` to 0, so
    the forget gate starts open (Jozefowicz et al. 2015; Keras' unit_forget_bias uses 1.0). None keeps PyTorch's
    uniform initialisation.
    """

    G = 4
    STATES = ("h", "c")

    def __init__(self, hidden_size, num_layers=1, bidirectional=False, dropout=0.0, return_sequences=False,
                 return_state=False, forget_bias=None, dtype="float32"):
        super().__init__(hidden_size, num_layers, bidirectional, dropout, return_sequences, return_state, dtype)
        self.forget_bias = None if forget_bias is None else float(forget_bias)

    def _create_params(self, input_shape, rng):
        super()._create_params(input_shape, rng)
        if self.forget_bias is not None:
            H = self.hidden_size
            for name, value in self.params.items():
                if name.startswith("bias_ih"):
                    value[H:2 * H] = self.forget_bias
                elif name.startswith("bias_hh"):
                    value[H:2 * H] = 0.0

    def new_record(self, T, B):
        H = self.hidden_size
        return LSTMRecord(*(np.empty((T, B, n * H), self.dtype) for n in (4, 1, 1, 1)))

    def step_forward(self, rec, t, xp, a, prev):
        """One step: the four gates from H_t = xp + a, then c_t and h_t (equations in the class docstring)."""
        H = self.hidden_size
        c_prev = prev[1]
        gates = np.add(xp, a, out=rec.gates[t])                 # H_t, (B, 4H)
        sigmoid(gates[:, :2 * H], out=gates[:, :2 * H])          # i, f
        np.tanh(gates[:, 2 * H:3 * H], out=gates[:, 2 * H:3 * H])   # g
        sigmoid(gates[:, 3 * H:], out=gates[:, 3 * H:])          # o
        i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
        c = np.multiply(f, c_prev, out=rec.c[t])
        c += i * g                                              # c_t = f * c_{t-1} + i * g
        tanh_c = np.tanh(c, out=rec.tanh_c[t])
        h = np.multiply(o, tanh_c, out=rec.h[t])                # h_t = o * tanh(c_t)
        return h, c

    def step_backward(self, rec, t, dcand, prev, dxp, da):
        """Mirror of step_forward: from (dh_t, dc_t) write dH_t into dxp (= da for the LSTM) and return
        (None, dc_{t-1}); the driver adds dh_{t-1} = dH_t W_hh."""
        H = self.hidden_size
        dh, dc_next = dcand
        c_prev = prev[1]
        gates, tanh_c = rec.gates[t], rec.tanh_c[t]
        i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
        do = dh * tanh_c                                        # h = o * tanh(c)
        dc = dc_next + dh * o * (1.0 - tanh_c * tanh_c)         # through tanh(c_t), plus the carry from t+1
        np.multiply(dc * g, i * (1.0 - i), out=dxp[:, :H])      # di * i(1-i),   di = dc * g
        np.multiply(dc * c_prev, f * (1.0 - f), out=dxp[:, H:2 * H])   # df * f(1-f),  df = dc * c_{t-1}
        np.multiply(dc * i, 1.0 - g * g, out=dxp[:, 2 * H:3 * H])      # dg * (1-g^2), dg = dc * i
        np.multiply(do, o * (1.0 - o), out=dxp[:, 3 * H:])      # do * o(1-o)
        return None, dc * f                                     # dc_{t-1} = dc * f
