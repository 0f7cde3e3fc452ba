"""Long short-term memory (Hochreiter & Schmidhuber 1997) with the forget gate of Gers, Schmidhuber & Cummins
(2000), in PyTorch's parameterisation (gate order i, f, g, o; two bias vectors b_ih and b_hh kept for parity),
and its classic variants: peepholes (Gers, Schraudolph & Schmidhuber 2002), no forget gate (the 1997 constant
error carousel) and the coupled input-forget gate (CIFG, Greff et al. 2017)."""

from typing import NamedTuple

import numpy as np
from numba import njit

from ..ops import sigmoid, sigmoid_scalar, tanh_scalar
from .recurrent import Recurrent

STANDARD, NO_FORGET, COUPLED = 0, 1, 2          # how f_t is made: its own gate, f_t = 1, f_t = 1 - i_t


class LSTMRecord(NamedTuple):
    gates: np.ndarray    # (T, B, G*H) the gates after their non-linearities: i, f, g, o (i, g, o when G = 3)
    c: np.ndarray        # (T, B, H) candidate cell state c_t
    tanh_c: np.ndarray   # (T, B, H) tanh(c_t)
    h: np.ndarray        # (T, B, H) candidate hidden state o_t * tanh(c_t) (before the projection, if any)
    h_proj: np.ndarray   # (T, B, P) with proj_size P: the projected h_t = W_hr (o_t * tanh(c_t)); else (T, B, 0)
    dh_proj: np.ndarray  # (T, B, P) backward's dL/dh_t of the projected state, kept for dW_hr


class LSTM(Recurrent):
    """LSTM layer. With `H_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh` split into gate blocks::

        i_t = sigma(H_t[i] + p_i * c_{t-1})     f_t = sigma(H_t[f] + p_f * c_{t-1})
        g_t = tanh(H_t[g])                      c_t = f_t * c_{t-1} + i_t * g_t      (the additive cell path)
        o_t = sigma(H_t[o] + p_o * c_t)         h_t = o_t * tanh(c_t)

    With `proj_size` P > 0 (as torch.nn.LSTM, Sak et al. 2014) the hidden state is projected,
    `h_t = W_hr (o_t * tanh(c_t))`, so h has P units and `W_hh` is (G*H, P); c keeps H.
    The peephole terms `p * c` exist only with `peephole=True`; note that p_o sees the new cell state c_t, as in
    Gers et al. 2002, while p_i and p_f see c_{t-1}.
    `forget_gate=False`: the original 1997 LSTM, f_t = 1 (no forget-gate block). `coupled=True`: CIFG,
    f_t = 1 - i_t (no forget-gate block). Both use three gate blocks in the order i, g, o.

    Parameters per layer k (suffix `_reverse` for the backward direction), as torch.nn.LSTM for the standard cell:
    `weight_ih_l{k}` (G*H, I_k), `weight_hh_l{k}` (G*H, H), `bias_ih_l{k}`, `bias_hh_l{k}` (G*H,), G = 4
    (i, f, g, o) or 3 (i, g, o); with peepholes `weight_peephole_l{k}` (3, H) rows p_i, p_f, p_o, or (2, H)
    rows p_i, p_o when there is no forget-gate block; with proj_size `weight_hr_l{k}` (P, H).
    `forget_bias`: when given, the forget-gate slice of `bias_ih` is set to it and that of `bias_hh` to 0, so
    the forget gate starts open (Jozefowicz et al. 2015; Keras' unit_forget_bias uses 1.0). None keeps PyTorch's
    uniform initialisation.
    """

    STATES = ("h", "c")

    def __init__(self, hidden_size, *args, forget_bias=None, peephole=False, forget_gate=True, coupled=False,
                 proj_size=0, **kwargs):
        super().__init__(hidden_size, *args, **kwargs)
        if isinstance(proj_size, bool) or not isinstance(proj_size, (int, np.integer)) \
                or not 0 <= proj_size < self.hidden_size:
            raise ValueError(f"proj_size must be an integer in [0, hidden_size) = [0, {self.hidden_size}), "
                             f"got {proj_size!r}.")
        self.proj_size = int(proj_size)
        if coupled and not forget_gate:
            raise ValueError("coupled=True derives the forget gate from the input gate (f = 1 - i); it cannot be "
                             "combined with forget_gate=False.")
        if forget_bias is not None and (coupled or not forget_gate):
            raise ValueError("forget_bias sets the bias of a forget-gate block, which this LSTM has not "
                             "(forget_gate=False or coupled=True); leave forget_bias=None.")
        self.forget_bias = None if forget_bias is None else float(forget_bias)
        self.peephole = bool(peephole)
        self.forget_gate = bool(forget_gate)
        self.coupled = bool(coupled)

    @property
    def mode(self):
        return COUPLED if self.coupled else (STANDARD if self.forget_gate else NO_FORGET)

    @property
    def state_sizes(self):
        return (self.proj_size or self.hidden_size, self.hidden_size)

    @property
    def G(self):
        return 4 if self.mode == STANDARD else 3

    def _create_params(self, input_shape, rng):
        super()._create_params(input_shape, rng)
        H = self.hidden_size
        for k in range(self.num_layers):
            for d in range(self.num_directions):
                s = self.suffix(k, d)
                if self.forget_bias is not None:
                    self.params["bias_ih" + s][H:2 * H] = self.forget_bias
                    self.params["bias_hh" + s][H:2 * H] = 0.0
                if self.proj_size:
                    bound = 1 / np.sqrt(H)
                    self.params["weight_hr" + s] = rng.uniform(-bound, bound, (self.proj_size, H))
                if self.peephole:
                    rows = 3 if self.mode == STANDARD else 2
                    self.params["weight_peephole" + s] = rng.uniform(-1 / np.sqrt(H), 1 / np.sqrt(H), (rows, H))

    def _peepholes(self, s):
        """(p_i, p_f, p_o) as a (3, H) array; zeros stand in for absent peepholes and a missing forget gate."""
        P = np.zeros((3, self.hidden_size), self.dtype)
        if self.peephole:
            stored = self.params["weight_peephole" + s]
            P[[0, 1, 2] if self.mode == STANDARD else [0, 2]] = stored
        return P

    def _projection(self, s):
        """W_hr (P, H), or an empty (0, H) array without projection."""
        if self.proj_size:
            return self.params["weight_hr" + s]
        return np.empty((0, self.hidden_size), self.dtype)

    def cell_grads(self, s, sweep, dXp):
        """dW_hr = sum_t dh_t^T (o_t * tanh(c_t)); peepholes: dp_i = sum dH[i] c_{t-1}, dp_f = sum dH[f] c_{t-1},
        dp_o = sum dH[o] c_t."""
        if self.proj_size:
            P, H = self.proj_size, self.hidden_size
            np.matmul(sweep.record.dh_proj.reshape(-1, P).T, sweep.record.h.reshape(-1, H),
                      out=self.grads["weight_hr" + s])
        if not self.peephole:
            return
        H, (i, f, g, o) = self.hidden_size, self._offsets()
        c_prev = sweep.states[1][:-1]                           # (T, B, H) carried c_{t-1}
        rows = [np.einsum("tbh,tbh->h", dXp[..., i:i + H], c_prev)]
        if self.mode == STANDARD:
            rows.append(np.einsum("tbh,tbh->h", dXp[..., f:f + H], c_prev))
        rows.append(np.einsum("tbh,tbh->h", dXp[..., o:o + H], sweep.record.c))
        self.grads["weight_peephole" + s][...] = rows

    def _offsets(self):
        """Column offsets of the i, f, g, o blocks in H_t (f's offset is unused without a forget-gate block)."""
        H = self.hidden_size
        return (0, H, 2 * H, 3 * H) if self.mode == STANDARD else (0, 0, H, 2 * H)

    def new_record(self, T, B):
        H = self.hidden_size
        sizes = (self.G * H, H, H, H, self.proj_size, self.proj_size)
        return LSTMRecord(*(np.empty((T, B, n), self.dtype) for n in sizes))

    # ---- one step, NumPy (the reference) ----------------------------------------------------------------------
    def step_forward(self, s, rec, t, xp, a, prev):
        """One step: the gates from H_t = xp + a, then c_t and h_t (equations in the class docstring)."""
        H, (oi, of, og, oo) = self.hidden_size, self._offsets()
        h_prev, c_prev = prev
        p_i, p_f, p_o = self._peepholes(s)
        gates = np.add(xp, a, out=rec.gates[t])                 # H_t, (B, G*H)
        i = sigmoid(gates[:, oi:oi + H] + p_i * c_prev, out=gates[:, oi:oi + H])
        g = np.tanh(gates[:, og:og + H], out=gates[:, og:og + H])
        if self.mode == STANDARD:
            f = sigmoid(gates[:, of:of + H] + p_f * c_prev, out=gates[:, of:of + H])
        else:
            f = 1.0 - i if self.mode == COUPLED else 1.0        # CIFG: f = 1 - i; 1997 LSTM: f = 1
        c = np.add(f * c_prev, i * g, out=rec.c[t])             # c_t = f * c_{t-1} + i * g
        o = sigmoid(gates[:, oo:oo + H] + p_o * c, out=gates[:, oo:oo + H])
        tanh_c = np.tanh(c, out=rec.tanh_c[t])
        h = np.multiply(o, tanh_c, out=rec.h[t])                # h_t = o * tanh(c_t)
        if self.proj_size:
            h = np.matmul(h, self.params["weight_hr" + s].T, out=rec.h_proj[t])   # h_t = W_hr (o * tanh(c_t))
        return h, c

    def step_backward(self, s, rec, t, dcand, prev, dxp, da):
        """Mirror of step_forward: from (dh_t, dc_t) write dH_t into dxp (= da for the LSTM) and return
        (None, dc_{t-1}); the driver adds dh_{t-1} = dH_t W_hh."""
        H, (oi, of, og, oo) = self.hidden_size, self._offsets()
        dh, dc_next = dcand
        if self.proj_size:
            rec.dh_proj[t] = dh
            dh = dh @ self.params["weight_hr" + s]               # back through h_t = W_hr (o * tanh(c_t))
        c_prev = prev[1]
        p_i, p_f, p_o = self._peepholes(s)
        gates, tanh_c = rec.gates[t], rec.tanh_c[t]
        i, g, o = gates[:, oi:oi + H], gates[:, og:og + H], gates[:, oo:oo + H]
        dH_o = np.multiply(dh * tanh_c, o * (1.0 - o), out=dxp[:, oo:oo + H])   # do * o(1-o), do = dh tanh(c)
        dc = dc_next + dh * o * (1.0 - tanh_c * tanh_c) + dH_o * p_o   # through tanh(c_t) and the o peephole
        np.multiply(dc * i, 1.0 - g * g, out=dxp[:, og:og + H])  # dg * (1-g^2), dg = dc * i
        if self.mode == STANDARD:
            f = gates[:, of:of + H]
            dH_f = np.multiply(dc * c_prev, f * (1.0 - f), out=dxp[:, of:of + H])   # df * f(1-f)
            di = dc * g
            dc_prev = dc * f + dH_f * p_f
        elif self.mode == COUPLED:
            di = dc * (g - c_prev)                              # f = 1 - i: df = dc c_{t-1} flows into i, negated
            dc_prev = dc * (1.0 - i)
        else:
            di = dc * g
            dc_prev = dc                                        # f = 1: the constant error carousel
        dH_i = np.multiply(di, i * (1.0 - i), out=dxp[:, oi:oi + H])
        return None, dc_prev + dH_i * p_i

    # ---- the whole sequence, compiled (the fast path) ---------------------------------------------------------
    def sweep_forward(self, s, Xp, W_hh, b_hh, mask, states, rec, y):
        lstm_forward_sweep(Xp, W_hh, b_hh, self._peepholes(s), self._projection(s), self.mode, *mask, *states,
                           *rec[:5], y)

    def sweep_backward(self, s, dy, dstate_T, mask, W_hh, sweep, dXp, dA):
        return lstm_backward_sweep(dy, *dstate_T, self._peepholes(s), self._projection(s), self.mode, *mask, W_hh,
                                   sweep.states[1], sweep.record.gates, sweep.record.tanh_c, sweep.record.dh_proj,
                                   dXp)


# The compiled sweeps compute the same equations as step_forward / step_backward for one whole sequence, fused:
# one GEMM and one pass over (B, H) per step, no allocation inside the time loop.
@njit(cache=True)
def lstm_forward_sweep(Xp, W_hh, b_hh, P, W_hr, mode, mask, has_mask, states_h, states_c, gates, c, tanh_c, h,
                       h_proj, y):
    """Xp (T, B, G*H) = W_ih x_t + b_ih for all t; P (3, H) the peepholes p_i, p_f, p_o (zeros if none); W_hr
    (P, H) the projection ((0, H) if none); states_h/states_c (T+1, B, .) with [0] the initial state; fills the
    record arrays, the carried states and (when masked) the outputs y. mask (T, B): 1.0 on real steps."""
    T, B, GH = Xp.shape
    H = P.shape[1]
    proj = W_hr.shape[0] > 0
    oi, of, og, oo = (0, H, 2 * H, 3 * H) if mode == STANDARD else (0, 0, H, 2 * H)
    a = np.empty((B, GH), Xp.dtype)
    W_hhT, W_hrT = W_hh.T, W_hr.T
    for t in range(T):
        np.dot(states_h[t], W_hhT, a)                          # W_hh h_{t-1}, (B, G*H)
        for b in range(B):
            m = mask[t, b] if has_mask else 1.0
            for j in range(H):
                c_prev = states_c[t, b, j]
                i = sigmoid_scalar(Xp[t, b, oi + j] + a[b, oi + j] + b_hh[oi + j] + P[0, j] * c_prev)
                g = tanh_scalar(Xp[t, b, og + j] + a[b, og + j] + b_hh[og + j])
                if mode == STANDARD:
                    f = sigmoid_scalar(Xp[t, b, of + j] + a[b, of + j] + b_hh[of + j] + P[1, j] * c_prev)
                    gates[t, b, of + j] = f
                else:
                    f = 1.0 - i if mode == COUPLED else 1.0
                c_t = f * c_prev + i * g                       # c_t = f * c_{t-1} + i * g
                o = sigmoid_scalar(Xp[t, b, oo + j] + a[b, oo + j] + b_hh[oo + j] + P[2, j] * c_t)
                gates[t, b, oi + j], gates[t, b, og + j], gates[t, b, oo + j] = i, g, o
                tc = tanh_scalar(c_t)
                h_t = o * tc                                   # h_t = o * tanh(c_t)
                c[t, b, j], tanh_c[t, b, j], h[t, b, j] = c_t, tc, h_t
                states_c[t + 1, b, j] = c_prev + m * (c_t - c_prev) if has_mask else c_t
                if not proj:
                    if has_mask:
                        y[t, b, j] = m * h_t
                    states_h[t + 1, b, j] = states_h[t, b, j] + m * (h_t - states_h[t, b, j]) if has_mask else h_t
        if proj:
            np.dot(h[t], W_hrT, h_proj[t])                     # h_t = W_hr (o * tanh(c_t)), (B, P)
            for b in range(B):
                m = mask[t, b] if has_mask else 1.0
                for j in range(W_hr.shape[0]):
                    h_t = h_proj[t, b, j]
                    if has_mask:
                        y[t, b, j] = m * h_t
                    states_h[t + 1, b, j] = states_h[t, b, j] + m * (h_t - states_h[t, b, j]) if has_mask else h_t


@njit(cache=True)
def lstm_backward_sweep(dy, dh_T, dc_T, P, W_hr, mode, mask, has_mask, W_hh, states_c, gates, tanh_c, dh_proj, dXp):
    """Mirror of lstm_forward_sweep: dy (T, B, .) on the outputs, dh_T/dc_T on the final states; writes
    dXp (T, B, G*H) = dH_t (and dh_proj with a projection) and returns the gradients (dh_0, dc_0)."""
    T, B, GH = dXp.shape
    H = P.shape[1]
    proj = W_hr.shape[0] > 0
    oi, of, og, oo = (0, H, 2 * H, 3 * H) if mode == STANDARD else (0, 0, H, 2 * H)
    dh = dh_T.copy()                                           # dL/dh carried into step t from t+1
    dc = dc_T.copy()
    dh_rec = np.empty(dh.shape, dXp.dtype)
    dr = np.empty((B, H), dXp.dtype)                           # dL/d(o * tanh(c)) at step t
    for t in range(T - 1, -1, -1):
        for b in range(B):
            m = mask[t, b] if has_mask else 1.0
            for j in range(dh.shape[1]):
                dr_t = (dh[b, j] + dy[t, b, j]) * m
                dh[b, j] = (1.0 - m) * dh[b, j]                # pass-through of masked steps
                if proj:
                    dh_proj[t, b, j] = dr_t
                else:
                    dr[b, j] = dr_t
        if proj:
            np.dot(dh_proj[t], W_hr, dr)                       # back through h_t = W_hr (o * tanh(c_t))
        for b in range(B):
            m = mask[t, b] if has_mask else 1.0
            for j in range(H):
                dh_t = dr[b, j]
                i, g, o = gates[t, b, oi + j], gates[t, b, og + j], gates[t, b, oo + j]
                c_prev = states_c[t, b, j]
                tc = tanh_c[t, b, j]
                dH_o = dh_t * tc * o * (1.0 - o)                           # do * o(1-o)
                dc_t = dc[b, j] * m + dh_t * o * (1.0 - tc * tc) + dH_o * P[2, j]
                dXp[t, b, oo + j] = dH_o
                dXp[t, b, og + j] = dc_t * i * (1.0 - g * g)               # dg * (1-g^2)
                if mode == STANDARD:
                    f = gates[t, b, of + j]
                    dH_f = dc_t * c_prev * f * (1.0 - f)                   # df * f(1-f)
                    dXp[t, b, of + j] = dH_f
                    di = dc_t * g
                    dc_prev = dc_t * f + dH_f * P[1, j]
                elif mode == COUPLED:
                    di = dc_t * (g - c_prev)                               # f = 1 - i
                    dc_prev = dc_t * (1.0 - i)
                else:
                    di = dc_t * g
                    dc_prev = dc_t                                         # f = 1: the constant error carousel
                dH_i = di * i * (1.0 - i)
                dXp[t, b, oi + j] = dH_i
                dc[b, j] = dc_prev + dH_i * P[0, j] + (1.0 - m) * dc[b, j]  # (+ pass-through if masked)
        np.dot(dXp[t], W_hh, dh_rec)                           # dh_{t-1} = dH_t W_hh
        dh += dh_rec
    return dh, dc
