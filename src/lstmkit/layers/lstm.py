"""Long short-term memory (Hochreiter & Schmidhuber 1997) with the forget gate of Gers, Schmidhuber & Cummins
(2000), in PyTorch's parameterisation (gate order i, f, g, o; two bias vectors b_ih and b_hh kept for parity)."""

from typing import NamedTuple

import numpy as np
from numba import njit

from ..ops import sigmoid, sigmoid_scalar, tanh_scalar
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
                 return_state=False, forget_bias=None, implementation="compiled",
                 dtype="float32"):
        super().__init__(hidden_size, num_layers, bidirectional, dropout, return_sequences, return_state,
                         implementation, dtype)
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

    def sweep_forward(self, Xp, W_hh, b_hh, mask, states, rec, y):
        lstm_forward_sweep(Xp, W_hh, b_hh, *mask, *states, *rec, y)

    def sweep_backward(self, dy, dstate_T, mask, W_hh, sweep, dXp, dA):
        return lstm_backward_sweep(dy, *dstate_T, *mask, W_hh, sweep.states[1], sweep.record.gates,
                                   sweep.record.tanh_c, dXp)


# ---- compiled sweeps: the same equations as step_forward / step_backward, fused over one whole sequence --------
@njit(cache=True)
def lstm_forward_sweep(Xp, W_hh, b_hh, mask, has_mask, states_h, states_c, gates, c, tanh_c, h, y):
    """Xp (T, B, 4H) = W_ih x_t + b_ih for all t; states_h/states_c (T+1, B, H) with [0] the initial state;
    fills the record arrays, the carried states and (when masked) the outputs y. mask (T, B): 1.0 on real steps."""
    T, B, GH = Xp.shape
    H = GH // 4
    a = np.empty((B, GH), Xp.dtype)
    W_hhT = W_hh.T
    for t in range(T):
        np.dot(states_h[t], W_hhT, a)                          # W_hh h_{t-1}, (B, 4H)
        for b in range(B):
            m = mask[t, b] if has_mask else 1.0
            for j in range(H):
                i = sigmoid_scalar(Xp[t, b, j] + a[b, j] + b_hh[j])
                f = sigmoid_scalar(Xp[t, b, H + j] + a[b, H + j] + b_hh[H + j])
                g = tanh_scalar(Xp[t, b, 2 * H + j] + a[b, 2 * H + j] + b_hh[2 * H + j])
                o = sigmoid_scalar(Xp[t, b, 3 * H + j] + a[b, 3 * H + j] + b_hh[3 * H + j])
                gates[t, b, j], gates[t, b, H + j], gates[t, b, 2 * H + j], gates[t, b, 3 * H + j] = i, f, g, o
                c_prev = states_c[t, b, j]
                c_t = f * c_prev + i * g                       # c_t = f * c_{t-1} + i * g
                tc = tanh_scalar(c_t)
                h_t = o * tc                                   # h_t = o * tanh(c_t)
                c[t, b, j], tanh_c[t, b, j], h[t, b, j] = c_t, tc, h_t
                if has_mask:
                    y[t, b, j] = m * h_t
                    states_c[t + 1, b, j] = c_prev + m * (c_t - c_prev)
                    states_h[t + 1, b, j] = states_h[t, b, j] + m * (h_t - states_h[t, b, j])
                else:
                    states_c[t + 1, b, j] = c_t
                    states_h[t + 1, b, j] = h_t


@njit(cache=True)
def lstm_backward_sweep(dy, dh_T, dc_T, mask, has_mask, W_hh, states_c, gates, tanh_c, dXp):
    """Mirror of lstm_forward_sweep: dy (T, B, H) on the outputs, dh_T/dc_T (B, H) on the final states; writes
    dXp (T, B, 4H) = dH_t and returns the gradients of the initial states (dh_0, dc_0)."""
    T, B, GH = dXp.shape
    H = GH // 4
    dh = dh_T.copy()                                           # dL/dh carried into step t from t+1
    dc = dc_T.copy()
    dh_rec = np.empty((B, H), dXp.dtype)
    for t in range(T - 1, -1, -1):
        for b in range(B):
            m = mask[t, b] if has_mask else 1.0
            for j in range(H):
                dh_t = (dh[b, j] + dy[t, b, j]) * m
                i, f, g, o = gates[t, b, j], gates[t, b, H + j], gates[t, b, 2 * H + j], gates[t, b, 3 * H + j]
                tc = tanh_c[t, b, j]
                do = dh_t * tc
                dc_t = dc[b, j] * m + dh_t * o * (1.0 - tc * tc)
                dXp[t, b, j] = dc_t * g * i * (1.0 - i)                    # di * i(1-i)
                dXp[t, b, H + j] = dc_t * states_c[t, b, j] * f * (1.0 - f)  # df * f(1-f)
                dXp[t, b, 2 * H + j] = dc_t * i * (1.0 - g * g)            # dg * (1-g^2)
                dXp[t, b, 3 * H + j] = do * o * (1.0 - o)                  # do * o(1-o)
                dc[b, j] = dc_t * f + (1.0 - m) * dc[b, j]                 # dc_{t-1} (+ pass-through if masked)
                dh[b, j] = (1.0 - m) * dh[b, j]
        np.dot(dXp[t], W_hh, dh_rec)                           # dh_{t-1} = dH_t W_hh
        dh += dh_rec
    return dh, dc
