"""Gated recurrent unit (Cho et al. 2014) in PyTorch's form (gate order r, z, n)."""

from typing import NamedTuple

import numpy as np
from ..runtime.blas import recurrent_gradient, recurrent_product
from ..runtime.ops import kernel, sigmoid, sigmoid_scalar, tanh_scalar
from .cuda_kernels import GRU_BACKWARD, GRU_FORWARD, launch
from .recurrent import Recurrent


class GRURecord(NamedTuple):
    gates: np.ndarray    # (T, B, 3H) r, z, n after their non-linearities
    a_n: np.ndarray      # (T, B, H) W_hn h_{t-1} + b_hn, which r multiplies
    h: np.ndarray        # (T, B, H) candidate hidden state h_t


class GRU(Recurrent):
    """GRU layer. With x_term = W_ih x_t + b_ih = [x_r, x_z, x_n] and a = W_hh h_{t-1} + b_hh = [a_r, a_z, a_n]::

        r_t = sigma(x_r + a_r)      z_t = sigma(x_z + a_z)
        n_t = tanh(x_n + r_t * a_n)
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    Note (as torch.nn.GRU, and Keras' reset_after=True): the reset gate multiplies the whole recurrent term
    `W_hn h_{t-1} + b_hn`, not `h_{t-1}` before the product as in Cho et al.; this is why b_hn is kept apart
    from b_in. Parameters: `weight_ih_l{k}` (3H, I_k), `weight_hh_l{k}` (3H, H), `bias_ih_l{k}`, `bias_hh_l{k}` (3H,).

    Options of every recurrent layer (recurrent.py): `zoneout`, `recurrent_dropout` (the mask enters W_hh h_{t-1}
    only, as in Keras: the z * h_{t-1} term sees the unmasked state), `input_dropout`.
    """

    G = 3
    SEPARATE_RECURRENT_GRAD = True
    HAS_FUSED_STEP = True                                       # CUDA kernels (cuda_kernels.py)

    def new_record(self, T, B):
        H = self.hidden_size
        return GRURecord(*(self.xp.empty((T, B, n * H), self.dtype) for n in (3, 1, 1)))

    def input_bias(self, s):
        """b_ih + [b_hr, b_hz, 0]: b_hn stays in the recurrent term, inside the reset gate's product."""
        H = self.hidden_size
        bias = self.params["bias_ih" + s] + self.params["bias_hh" + s]
        bias[2 * H:] = self.params["bias_ih" + s][2 * H:]
        return bias

    def recurrent_term(self, s, rec, t, a):
        """a_n = W_hn h_{t-1} + b_hn (B, H), in place; a_r, a_z stay W_hr h_{t-1}, W_hz h_{t-1}."""
        a_n = a[:, 2 * self.hidden_size:]
        a_n += self.params["bias_hh" + s][2 * self.hidden_size:]           # (a[:, 2H:] += would copy back)

    def candidates(self, rec):
        return (rec.h,)

    def step_forward(self, s, rec, t, x_term, a, prev):
        if self.fused:                                          # on a GPU, one kernel (cuda_kernels.py)
            launch(self.xp, GRU_FORWARD, *self.gate_blocks(x_term), *self.gate_blocks(a), prev[0],
                   *self.gate_blocks(rec.gates[t]), rec.a_n[t], rec.h[t])
            return (rec.h[t],)
        H = self.hidden_size
        h_prev = prev[0]
        gates = rec.gates[t]
        rz = np.add(x_term[:, :2 * H], a[:, :2 * H], out=gates[:, :2 * H])
        sigmoid(rz, out=rz)                                     # r, z
        r, z, n = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
        a_n = rec.a_n[t]
        a_n[...] = a[:, 2 * H:]
        np.multiply(r, a_n, out=n)
        n += x_term[:, 2 * H:]
        np.tanh(n, out=n)                                       # n = tanh(x_n + r * a_n)
        h = np.multiply(z, h_prev - n, out=rec.h[t])
        h += n                                                  # h = (1 - z) * n + z * h_{t-1}
        return (h,)

    def step_backward(self, s, rec, t, dcand, prev, dx_term, da):
        """Mirror of step_forward: write dL/dx_term and dL/da, return the direct part z * dh of dh_{t-1}."""
        H = self.hidden_size
        dh, = dcand
        h_prev = prev[0]
        gates, a_n = rec.gates[t], rec.a_n[t]
        if self.fused:                                          # on a GPU, one kernel (cuda_kernels.py)
            dh_direct = self.xp.empty_like(dh)
            launch(self.xp, GRU_BACKWARD, dh, h_prev, *self.gate_blocks(gates), a_n, *self.gate_blocks(dx_term),
                   *self.gate_blocks(da), dh_direct)
            return (dh_direct,)
        r, z, n = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
        dn_pre = dh * (1.0 - z) * (1.0 - n * n)                 # dn = dh * (1 - z), through tanh
        dz = dh * (h_prev - n)
        np.multiply(dn_pre * a_n, r * (1.0 - r), out=dx_term[:, :H])  # dr = dn_pre * a_n, through sigma
        np.multiply(dz, z * (1.0 - z), out=dx_term[:, H:2 * H])
        dx_term[:, 2 * H:] = dn_pre
        da[:, :2 * H] = dx_term[:, :2 * H]
        np.multiply(dn_pre, r, out=da[:, 2 * H:])               # d a_n = dn_pre * r
        return (dh * z,)                                        # h_{t-1} also enters h_t directly, weighted by z

    def sweep_forward(self, s, live, Xp, W_hh, b_hh, update, keep, states, rec):
        return gru_forward_sweep, (live, Xp, W_hh, self.params["bias_ih" + s], b_hh, *update, *keep, *states, *rec)

    def sweep_backward(self, s, live, dy, dstate_T, update, keep, W_hh, sweep, dXp, dA, dZh):
        return gru_backward_sweep, (live, dy, *dstate_T, *update, *keep, W_hh, sweep.states[0], sweep.record.gates,
                                    sweep.record.a_n, dXp, dA)


# ---- compiled sweeps: the same equations as step_forward / step_backward, fused over one whole sequence --------
@kernel
def gru_forward_sweep(lo, hi, gemm, ints, live, Xp, W_hh, b_ih, b_hh, u_h, has_update, keep_h, has_keep, states_h,
                      gates, a_n, h):
    """Rows lo .. hi-1 of the batch (threads.py); live (T,): rows b < live[t] step at t, the others (the batch
    sorted by length) carry their state; Xp (T, B, 3H) = W_ih x_t for all t (the kernel adds b_ih); u_h (T, B, H)
    the driver's update gate, keep_h (B, H) the recurrent-dropout mask (both empty when absent); states_h
    (T+1, B, H) with [0] the initial state; fills the record (gates r, z, n and a_n = W_hn h_{t-1} + b_hn) and
    the carried states."""
    T, GH = Xp.shape[0], Xp.shape[2]
    H = GH // 3
    a = np.empty((hi - lo, GH), Xp.dtype)
    h_in = np.empty((hi - lo, H), Xp.dtype)
    one = np.ones(1, Xp.dtype)[0]                              # 1 in the arrays' dtype: float32 math stays float32
    W_hhT = np.ascontiguousarray(W_hh.T)                       # (H, 3H), rows contiguous as matmul needs
    for t in range(T):
        n_t = max(lo, min(hi, live[t]))                        # rows lo .. n_t - 1 run at step t
        recurrent_product(gemm, ints, states_h[t, lo:n_t], keep_h[lo:n_t], has_keep, W_hhT, h_in,
                          a[:n_t - lo], False)
        for b in range(n_t, hi):                               # not running: h_t = h_{t-1}
            states_h[t + 1, b] = states_h[t, b]
        for b in range(lo, n_t):                               # short loops over one row: each is vectorised
            x_row, a_row, g_row, an_row = Xp[t, b], a[b - lo], gates[t, b], a_n[t, b]
            h_row, h_prev = h[t, b], states_h[t, b]
            for j in range(2 * H):                             # r, z = sigma(x_rz + a_rz)
                g_row[j] = sigmoid_scalar(x_row[j] + b_ih[j] + a_row[j] + b_hh[j])
            for j in range(H):
                an_row[j] = a_row[2 * H + j] + b_hh[2 * H + j]
            for j in range(H):                                 # n = tanh(x_n + r * a_n)
                g_row[2 * H + j] = tanh_scalar(x_row[2 * H + j] + b_ih[2 * H + j] + g_row[j] * an_row[j])
            for j in range(H):                                 # h = (1 - z) * n + z * h_{t-1}
                h_row[j] = (one - g_row[H + j]) * g_row[2 * H + j] + g_row[H + j] * h_prev[j]
            if has_update:
                for j in range(H):
                    states_h[t + 1, b, j] = h_prev[j] + u_h[t, b, j] * (h_row[j] - h_prev[j])
            else:
                for j in range(H):
                    states_h[t + 1, b, j] = h_row[j]


@kernel
def gru_backward_sweep(lo, hi, gemm, ints, live, dy, dh_T, u_h, has_update, keep_h, has_keep, W_hh, states_h, gates,
                       a_n, dXp, dA):
    """Mirror of gru_forward_sweep (rows lo .. hi-1): dy (T, B, H) on the outputs (already times the mask); writes
    dXp = dL/d(W_ih x + b_ih) and dA = dL/d(W_hh h + b_hh), (T, B, 3H) (zero on rows b >= live[t], through
    which dh passes unchanged), and returns dh_0 (valid in rows lo .. hi-1)."""
    T, B, GH = dXp.shape
    H = GH // 3
    dh = dh_T.copy()
    dh_rec = np.empty((hi - lo, H), dXp.dtype)                 # dA_t W_hh before the dropout mask
    one = np.ones(1, dXp.dtype)[0]                             # 1 in the arrays' dtype: float32 math stays float32
    for t in range(T - 1, -1, -1):
        n_t = max(lo, min(hi, live[t]))                        # rows lo .. n_t - 1 ran at step t
        for b in range(n_t, hi):                               # not running at t: no gradient of step t
            dXp[t, b], dA[t, b] = 0.0, 0.0
        if n_t == lo:
            continue
        for b in range(lo, n_t):
            for j in range(H):
                total = dh[b, j] + dy[t, b, j]                 # dL/dh_t
                dh_t = u_h[t, b, j] * total if has_update else total   # dL/d(candidate h_t)
                r, z, n = gates[t, b, j], gates[t, b, H + j], gates[t, b, 2 * H + j]
                dn_pre = dh_t * (one - z) * (one - n * n)
                dr_pre = dn_pre * a_n[t, b, j] * r * (one - r)
                dz_pre = dh_t * (states_h[t, b, j] - n) * z * (one - z)
                dXp[t, b, j], dXp[t, b, H + j], dXp[t, b, 2 * H + j] = dr_pre, dz_pre, dn_pre
                dA[t, b, j], dA[t, b, H + j], dA[t, b, 2 * H + j] = dr_pre, dz_pre, dn_pre * r
                dh[b, j] = dh_t * z + (total - dh_t)           # the direct path z * dh, plus weight 1 - u
        recurrent_gradient(gemm, ints, dA[t, lo:n_t], W_hh, keep_h[lo:n_t], has_keep, dh_rec, dh[lo:n_t])
    return (dh,)
