"""Elman (simple) recurrent network (Elman 1990), torch.nn.RNN's math."""

from typing import NamedTuple

import numpy as np
from ..runtime.blas import recurrent_gradient, recurrent_product
from ..runtime.ops import kernel, tanh_scalar
from .recurrent import Recurrent


class RNNRecord(NamedTuple):
    h: np.ndarray        # (T, B, H) candidate hidden state h_t


class SimpleRNN(Recurrent):
    """Elman RNN layer::

        h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)

    (`nonlinearity="relu"` replaces tanh by max(0, .), as torch.nn.RNN allows). Parameters as torch.nn.RNN:
    `weight_ih_l{k}` (H, I_k), `weight_hh_l{k}` (H, H), `bias_ih_l{k}`, `bias_hh_l{k}` (H,).
    Options of every recurrent layer (recurrent.py): `zoneout`, `recurrent_dropout`, `input_dropout`.
    """

    G = 1

    def __init__(self, hidden_size, *args, nonlinearity="tanh", **kwargs):
        super().__init__(hidden_size, *args, **kwargs)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}.")
        self.nonlinearity = nonlinearity

    def new_record(self, T, B):
        return RNNRecord(self.xp.empty((T, B, self.hidden_size), self.dtype))

    def candidates(self, rec):
        return (rec.h,)

    def step_forward(self, s, rec, t, x_term, a, prev):
        h = np.add(x_term, a, out=rec.h[t])
        if self.nonlinearity == "tanh":
            np.tanh(h, out=h)                                   # h_t = tanh(.)
        else:
            np.maximum(h, 0.0, out=h)                           # h_t = relu(.)
        return (h,)

    def step_backward(self, s, rec, t, dcand, prev, dx_term, da):
        dh, = dcand
        h = rec.h[t]
        if self.nonlinearity == "tanh":
            np.multiply(dh, 1.0 - h * h, out=dx_term)           # tanh' = 1 - h^2
        else:
            np.multiply(dh, h > 0.0, out=dx_term)               # relu' = [h > 0]
        return (None,)

    def sweep_forward(self, s, live, Xp, W_hh, b_hh, update, keep, states, rec):
        bias = self.params["bias_ih" + s] + b_hh
        return rnn_forward_sweep, (live, Xp, W_hh, bias, self.nonlinearity == "relu", *update, *keep, *states, *rec)

    def sweep_backward(self, s, live, dy, dstate_T, update, keep, W_hh, sweep, dXp, dA, dZh):
        return rnn_backward_sweep, (live, dy, *dstate_T, self.nonlinearity == "relu", *update, *keep, W_hh,
                                    sweep.record.h, dXp)


# ---- compiled sweeps: the same equations as step_forward / step_backward, fused over one whole sequence --------
@kernel
def rnn_forward_sweep(lo, hi, gemm, ints, live, Xp, W_hh, bias, relu, u_h, has_update, keep_h, has_keep, states_h, h):
    """Rows lo .. hi-1 of the batch (threads.py); live (T,): rows b < live[t] step at t, the others (the batch
    sorted by length) carry their state; Xp (T, B, H) = W_ih x_t for all t (the kernel adds W_hh h_{t-1} to it in
    place); bias (H,) = b_ih + b_hh; u_h (T, B, H) the driver's
    update gate, keep_h (B, H) the recurrent-dropout mask (both empty when absent); fills h (the candidates) and
    the carried states."""
    T, H = Xp.shape[0], Xp.shape[2]
    h_in = np.empty((hi - lo, H), Xp.dtype)
    W_hhT = np.ascontiguousarray(W_hh.T)                       # (H, H), rows contiguous as matmul needs
    for t in range(T):
        n_t = max(lo, min(hi, live[t]))                        # rows lo .. n_t - 1 run at step t
        recurrent_product(gemm, ints, states_h[t, lo:n_t], keep_h[lo:n_t], has_keep, W_hhT, h_in,
                          Xp[t, lo:n_t], True)                 # Xp_t += W_hh h_{t-1}
        for b in range(n_t, hi):                               # not running: h_t = h_{t-1}
            states_h[t + 1, b] = states_h[t, b]
        for b in range(lo, n_t):
            for j in range(H):
                pre = Xp[t, b, j] + bias[j]
                h_t = max(pre, 0.0) if relu else tanh_scalar(pre)
                h[t, b, j] = h_t
                h_prev = states_h[t, b, j]
                states_h[t + 1, b, j] = h_prev + u_h[t, b, j] * (h_t - h_prev) if has_update else h_t


@kernel
def rnn_backward_sweep(lo, hi, gemm, ints, live, dy, dh_T, relu, u_h, has_update, keep_h, has_keep, W_hh, h, dXp):
    """Mirror of rnn_forward_sweep (rows lo .. hi-1): dy (T, B, H) on the outputs (already times the mask);
    writes dXp (= dA) and returns dh_0 (valid in rows lo .. hi-1); rows b >= live[t] get zero gradients and pass
    dh through unchanged."""
    T, B, H = dXp.shape
    dh = dh_T.copy()
    dh_rec = np.empty((hi - lo, H), dXp.dtype)                 # dXp_t W_hh before the dropout mask
    for t in range(T - 1, -1, -1):
        n_t = max(lo, min(hi, live[t]))                        # rows lo .. n_t - 1 ran at step t
        for b in range(n_t, hi):                               # not running at t: no gradient of step t
            dXp[t, b] = 0.0
        if n_t == lo:
            continue
        for b in range(lo, n_t):
            for j in range(H):
                total = dh[b, j] + dy[t, b, j]                 # dL/dh_t
                dh_t = u_h[t, b, j] * total if has_update else total
                h_t = h[t, b, j]
                dXp[t, b, j] = dh_t * (1.0 if h_t > 0.0 else 0.0) if relu else dh_t * (1.0 - h_t * h_t)
                dh[b, j] = total - dh_t                        # h_{t-1} enters h_t with weight 1 - u
        recurrent_gradient(gemm, ints, dXp[t, lo:n_t], W_hh, keep_h[lo:n_t], has_keep, dh_rec, dh[lo:n_t])
    return (dh,)
