"""Gated recurrent unit (Cho et al. 2014) in PyTorch's form (gate order r, z, n)."""

from typing import NamedTuple

import numpy as np

from ..ops import sigmoid
from .recurrent import Recurrent


class GRURecord(NamedTuple):
    gates: np.ndarray    # (T, B, 3H) r, z, n after their non-linearities
    a_n: np.ndarray      # (T, B, H) W_hn h_{t-1} + b_hn, which r multiplies
    h: np.ndarray        # (T, B, H) candidate hidden state h_t


class GRU(Recurrent):
    """GRU layer. With xp = W_ih x_t + b_ih = [x_r, x_z, x_n] and a = W_hh h_{t-1} + b_hh = [a_r, a_z, a_n]::

        r_t = sigma(x_r + a_r)      z_t = sigma(x_z + a_z)
        n_t = tanh(x_n + r_t * a_n)
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    Note (as torch.nn.GRU, and Keras' reset_after=True): the reset gate multiplies the whole recurrent term
    `W_hn h_{t-1} + b_hn`, not `h_{t-1}` before the product as in Cho et al.; this is why b_hn is kept apart
    from b_in. Parameters: `weight_ih_l{k}` (3H, I_k), `weight_hh_l{k}` (3H, H), `bias_ih_l{k}`, `bias_hh_l{k}` (3H,).
    """

    G = 3
    SEPARATE_RECURRENT_GRAD = True

    def new_record(self, T, B):
        H = self.hidden_size
        return GRURecord(*(np.empty((T, B, n * H), self.dtype) for n in (3, 1, 1)))

    def step_forward(self, rec, t, xp, a, prev):
        H = self.hidden_size
        h_prev = prev[0]
        gates = rec.gates[t]
        rz = np.add(xp[:, :2 * H], a[:, :2 * H], out=gates[:, :2 * H])
        sigmoid(rz, out=rz)                                     # r, z
        r, z, n = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
        a_n = rec.a_n[t]
        a_n[...] = a[:, 2 * H:]
        np.multiply(r, a_n, out=n)
        n += xp[:, 2 * H:]
        np.tanh(n, out=n)                                       # n = tanh(x_n + r * a_n)
        h = np.multiply(z, h_prev - n, out=rec.h[t])
        h += n                                                  # h = (1 - z) * n + z * h_{t-1}
        return (h,)

    def step_backward(self, rec, t, dcand, prev, dxp, da):
        """Mirror of step_forward: write dL/dxp and dL/da, return the direct part z * dh of dh_{t-1}."""
        H = self.hidden_size
        dh, = dcand
        h_prev = prev[0]
        gates, a_n = rec.gates[t], rec.a_n[t]
        r, z, n = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
        dn_pre = dh * (1.0 - z) * (1.0 - n * n)                 # dn = dh * (1 - z), through tanh
        dz = dh * (h_prev - n)
        np.multiply(dn_pre * a_n, r * (1.0 - r), out=dxp[:, :H])      # dr = dn_pre * a_n, through sigma
        np.multiply(dz, z * (1.0 - z), out=dxp[:, H:2 * H])
        dxp[:, 2 * H:] = dn_pre
        da[:, :2 * H] = dxp[:, :2 * H]
        np.multiply(dn_pre, r, out=da[:, 2 * H:])               # d a_n = dn_pre * r
        return (dh * z,)                                        # h_{t-1} also enters h_t directly, weighted by z
