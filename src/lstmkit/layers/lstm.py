"""Long short-term memory (Hochreiter & Schmidhuber 1997) with the forget gate of Gers, Schmidhuber & Cummins
(2000), in PyTorch's parameterisation (gate order i, f, g, o; two bias vectors b_ih and b_hh kept for parity),
and its variants: peepholes (Gers, Schraudolph & Schmidhuber 2002), no forget gate (the 1997 constant error
carousel), the coupled input-forget gate (CIFG, Greff et al. 2017), the projection of Sak et al. 2014 and layer
normalisation (Ba, Kiros & Hinton 2016, in the form of the haste library's LayerNormLSTM). The compiled sweeps
are in lstm_kernels.py."""

from typing import NamedTuple

import numpy as np

from ..runtime import backend
from ..runtime.ops import normalise, normalise_backward, sigmoid
from .cuda_kernels import LSTM_BACKWARD, LSTM_FORWARD, launch
from .lstm_kernels import (
    COUPLED,
    NO_FORGET,
    STANDARD,
    lstm_backward_sweep,
    lstm_forward_sweep,
)
from .recurrent import Recurrent


class LayerNormRecord(NamedTuple):
    """What layer normalisation keeps for backward; every array is (T, B, 0) without layer_norm."""
    x_hat: np.ndarray    # (T, B, G*H) W_ih x_t normalised
    x_rstd: np.ndarray   # (T, B, 1) its 1 / sqrt(var + eps)
    a_hat: np.ndarray    # (T, B, G*H) W_hh h_{t-1} normalised
    a_rstd: np.ndarray   # (T, B, 1)
    c_hat: np.ndarray    # (T, B, H) c_t normalised
    c_rstd: np.ndarray   # (T, B, 1)
    dq: np.ndarray       # (T, B, H) backward's dL/dq_t, q_t = LN_c(c_t), kept for the gain and shift of LN_c


class LSTMRecord(NamedTuple):
    gates: np.ndarray    # (T, B, G*H) the gates after their non-linearities: i, f, g, o (i, g, o when G = 3)
    c: np.ndarray        # (T, B, H) candidate cell state c_t
    tanh_c: np.ndarray   # (T, B, H) tanh(c_t), or tanh(q_t) = tanh(LN_c(c_t)) with layer_norm
    h: np.ndarray        # (T, B, H) candidate hidden state o_t * tanh(c_t) (before the projection, if any)
    h_proj: np.ndarray   # (T, B, P) with proj_size P: the projected h_t = W_hr (o_t * tanh(c_t)); else (T, B, 0)
    dh_proj: np.ndarray  # (T, B, P) backward's dL/dh_t of the projected state, kept for dW_hr
    ln: LayerNormRecord


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

    `layer_norm=True` (Ba et al. 2016; haste's LayerNormLSTM) normalises each term over its G*H gate entries and
    the cell state over its H units before tanh::

        H_t = LN_ih(W_ih x_t) + b_ih + LN_hh(W_hh h_{t-1}) + b_hh,    LN_ih(z) = gamma_ih * z_hat
        h_t = o_t * tanh(q_t),    q_t = LN_c(c_t) = gamma_c * c_hat_t + beta_c

    with z_hat = (z - mean(z)) / sqrt(var(z) + 1e-5) over the vector's entries (per step and sequence). Extra
    parameters: `weight_ln_ih_l{k}` gamma_ih (G*H,), `weight_ln_hh_l{k}` gamma_hh (G*H,), `weight_ln_c_l{k}`
    gamma_c (H,) and `bias_ln_c_l{k}` beta_c (H,); gains start at 1, beta_c at 0. Note: LN_ih and LN_hh have no
    shift of their own: b_ih and b_hh, which follow them, are their shifts (a second one would only duplicate
    them). The peepholes and the recurrence of c see the unnormalised c_t. With a single input feature,
    LN_ih(W_ih x_t) is (up to eps) sign(x_t) * gamma_ih * w_hat: only the sign of x_t gets through.

    Options of every recurrent layer (recurrent.py): `zoneout` (one rate, or (p_h, p_c) for h and c),
    `recurrent_dropout`, `input_dropout`.
    """

    STATES = ("h", "c")

    def __init__(self, hidden_size, *args, forget_bias=None, peephole=False, forget_gate=True, coupled=False,
                 proj_size=0, layer_norm=False, **kwargs):
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
        self.layer_norm = bool(layer_norm)

    @property
    def NORMALISED(self):                                       # the driver's flag: LN transforms Zx, Zh
        return self.layer_norm

    @property
    def HAS_FUSED_STEP(self):                                   # CUDA kernels for the standard cell (cuda_kernels.py)
        return self.mode == STANDARD and not self.layer_norm

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
                if self.layer_norm:
                    self.params["weight_ln_ih" + s] = np.ones(self.G * H)
                    self.params["weight_ln_hh" + s] = np.ones(self.G * H)
                    self.params["weight_ln_c" + s] = np.ones(H)
                    self.params["bias_ln_c" + s] = np.zeros(H)

    def peephole_weights(self, s):
        """(p_i, p_f, p_o) of the layer and direction with parameter suffix `s` (e.g. "_l0") as one (3, H) array;
        zeros stand in for absent peepholes and a missing forget gate. It is the stored weight itself when all
        three exist, else a fresh or shared zero-filled array: read it, do not write into it."""
        if not self.peephole:                                  # one zero array, made once per dtype and device
            P = getattr(self, "_no_peepholes", None)
            if P is None or P.dtype != self.dtype or backend.device_of(P) != self.device:
                P = self._no_peepholes = self.xp.zeros((3, self.hidden_size), self.dtype)
            return P
        if self.mode == STANDARD:
            return self.params["weight_peephole" + s]
        P = self.xp.zeros((3, self.hidden_size), self.dtype)
        P[[0, 2]] = self.params["weight_peephole" + s]
        return P

    def _projection(self, s):
        """W_hr (P, H), or an empty (0, H) array without projection."""
        if self.proj_size:
            return self.params["weight_hr" + s]
        return np.empty((0, self.hidden_size), self.dtype)

    def _layer_norm_weights(self, s):
        """(layer_norm, gamma_hh, gamma_c, beta_c) as the compiled sweeps take them (empty arrays when off)."""
        if not self.layer_norm:
            empty = np.empty(0, self.dtype)
            return False, empty, empty, empty
        return True, self.params["weight_ln_hh" + s], self.params["weight_ln_c" + s], self.params["bias_ln_c" + s]

    def cell_grads(self, s, sweep, dXp):
        """dW_hr = sum_t dh_t^T (o_t * tanh(c_t)); peepholes: dp_i = sum dH[i] c_{t-1}, dp_f = sum dH[f] c_{t-1},
        dp_o = sum dH[o] c_t; layer norm: dgamma_ih = sum dH x_hat, dgamma_hh = sum dH a_hat (both terms enter
        H_t unscaled, so dL/dx_term = dL/da = dH), dgamma_c = sum dq c_hat, dbeta_c = sum dq."""
        if self.layer_norm:
            ln = sweep.record.ln
            self.grads["weight_ln_ih" + s][...] = np.einsum("tbj,tbj->j", dXp, ln.x_hat)
            self.grads["weight_ln_hh" + s][...] = np.einsum("tbj,tbj->j", dXp, ln.a_hat)
            self.grads["weight_ln_c" + s][...] = np.einsum("tbj,tbj->j", ln.dq, ln.c_hat)
            np.sum(ln.dq, axis=(0, 1), out=self.grads["bias_ln_c" + s])
        if self.proj_size:
            P, H = self.proj_size, self.hidden_size
            self.xp.matmul(sweep.record.dh_proj.reshape(-1, P).T, sweep.record.h.reshape(-1, H),
                           out=self.grads["weight_hr" + s])
        if not self.peephole:
            return
        H, (i, f, _, o) = self.hidden_size, self.gate_offsets()
        c_prev = sweep.states[1][:-1]                           # (T, B, H) carried c_{t-1}
        rows = [np.einsum("tbh,tbh->h", dXp[..., i:i + H], c_prev)]
        if self.mode == STANDARD:
            rows.append(np.einsum("tbh,tbh->h", dXp[..., f:f + H], c_prev))
        rows.append(np.einsum("tbh,tbh->h", dXp[..., o:o + H], sweep.record.c))
        self.grads["weight_peephole" + s][...] = self.xp.stack(rows)

    def gate_offsets(self):
        """Column offsets (oi, of, og, oo) of the i, f, g, o blocks in H_t (G*H columns, H each; of is unused
        without a forget-gate block, whose layout is i, g, o)."""
        H = self.hidden_size
        return (0, H, 2 * H, 3 * H) if self.mode == STANDARD else (0, 0, H, 2 * H)

    def last_gates(self, depth=0, direction=0):
        """The gates of the last forward after their non-linearities, (i, f, g, o), each (T, B, H), for stacked
        layer `depth` and `direction`, in the time-major processing order of `last_sweep` (direction 1 runs over
        reversed time). i, g, o (and f with a forget-gate block) are views of the forward record: read them, do
        not write. Without a forget-gate block f is computed: 1 - i (coupled) or ones (forget_gate=False)."""
        gates = self.last_sweep(depth, direction).record.gates   # (T, B, G*H)
        H, (oi, of, og, oo) = self.hidden_size, self.gate_offsets()
        i, g, o = gates[..., oi:oi + H], gates[..., og:og + H], gates[..., oo:oo + H]
        if self.mode == STANDARD:
            f = gates[..., of:of + H]
        else:
            f = 1.0 - i if self.mode == COUPLED else self.xp.ones_like(i)   # CIFG: f = 1 - i; 1997 LSTM: f = 1
        return i, f, g, o

    def new_record(self, T, B):
        H, GH = self.hidden_size, self.G * self.hidden_size
        sizes = (GH, H, H, H, self.proj_size, self.proj_size)
        ln_sizes = (GH, 1, GH, 1, H, 1, H) if self.layer_norm else (0,) * 7
        xp = self.xp
        ln = LayerNormRecord(*(xp.empty((T, B, n), self.dtype) for n in ln_sizes))
        return LSTMRecord(*(xp.empty((T, B, n), self.dtype) for n in sizes), ln)

    # ---- layer normalisation of the two terms (the driver's hooks) --------------------------------------------
    def input_term(self, s, Zx, rec):
        """LN_ih(W_ih x_t) for all steps, in place of Zx (T, B, G*H) (the driver adds b_ih); without layer_norm Zx."""
        if self.layer_norm:
            x_hat = normalise(Zx, rec.ln.x_hat, rec.ln.x_rstd)
            np.multiply(x_hat, self.params["weight_ln_ih" + s], out=Zx)
        return Zx

    def input_term_backward(self, s, rec, dXp):
        """dL/d(W_ih x_t) = LN backward of dXp * gamma_ih (T, B, G*H)."""
        if not self.layer_norm:
            return dXp
        return normalise_backward(dXp * self.params["weight_ln_ih" + s], rec.ln.x_hat, rec.ln.x_rstd)

    def recurrent_term(self, s, rec, t, a):
        """a_t = LN_hh(W_hh h_{t-1}), in place of a = W_hh h_{t-1} (B, G*H), with layer_norm (b_hh follows it in
        H_t, added to the input term by the driver)."""
        if self.layer_norm:
            a_hat = normalise(a, rec.ln.a_hat[t], rec.ln.a_rstd[t])
            np.multiply(a_hat, self.params["weight_ln_hh" + s], out=a)

    def candidates(self, rec):
        return (rec.h_proj if self.proj_size else rec.h), rec.c

    def recurrent_term_backward(self, s, rec, t, dA_t, dZh_t):
        """dL/d(W_hh h_{t-1}) = LN backward of dA_t * gamma_hh, written into dZh_t."""
        if not self.layer_norm:
            return dA_t
        dZh_t[...] = normalise_backward(dA_t * self.params["weight_ln_hh" + s], rec.ln.a_hat[t], rec.ln.a_rstd[t])
        return dZh_t

    # ---- one step, NumPy (the reference) ----------------------------------------------------------------------
    def step_forward(self, s, rec, t, x_term, a, prev):
        """One step: the gates from H_t = x_term + a, then c_t and h_t (equations in the class docstring)."""
        if self.fused:                                          # on a GPU, one kernel (cuda_kernels.py)
            launch(self.xp, LSTM_FORWARD, *self.gate_blocks(x_term), *self.gate_blocks(a), prev[1],
                   *self.peephole_weights(s), *self.gate_blocks(rec.gates[t]), rec.c[t], rec.tanh_c[t], rec.h[t])
            return self._project(s, rec, t), rec.c[t]
        H, (oi, of, og, oo) = self.hidden_size, self.gate_offsets()
        c_prev = prev[1]
        p_i, p_f, p_o = self.peephole_weights(s)
        gates = np.add(x_term, a, out=rec.gates[t])             # H_t, (B, G*H)
        i = sigmoid(gates[:, oi:oi + H] + p_i * c_prev, out=gates[:, oi:oi + H])
        g = np.tanh(gates[:, og:og + H], out=gates[:, og:og + H])
        if self.mode == STANDARD:
            f = sigmoid(gates[:, of:of + H] + p_f * c_prev, out=gates[:, of:of + H])
        else:
            f = 1.0 - i if self.mode == COUPLED else 1.0        # CIFG: f = 1 - i; 1997 LSTM: f = 1
        c = np.add(f * c_prev, i * g, out=rec.c[t])             # c_t = f * c_{t-1} + i * g
        o = sigmoid(gates[:, oo:oo + H] + p_o * c, out=gates[:, oo:oo + H])
        q = c                                                   # q_t = c_t, or LN_c(c_t) with layer_norm
        if self.layer_norm:
            c_hat = normalise(c, rec.ln.c_hat[t], rec.ln.c_rstd[t])
            q = c_hat * self.params["weight_ln_c" + s] + self.params["bias_ln_c" + s]
        tanh_c = np.tanh(q, out=rec.tanh_c[t])
        np.multiply(o, tanh_c, out=rec.h[t])                    # h_t = o * tanh(q_t)
        return self._project(s, rec, t), c

    def _project(self, s, rec, t):
        """h_t: o_t * tanh(c_t) as the record holds it, or with proj_size W_hr (o_t * tanh(c_t))."""
        if not self.proj_size:
            return rec.h[t]
        return np.matmul(rec.h[t], self.params["weight_hr" + s].T, out=rec.h_proj[t])

    def _project_backward(self, s, rec, t, dh):
        """dL/d(o_t * tanh(c_t)) from dL/dh_t (kept for dW_hr with proj_size)."""
        if not self.proj_size:
            return dh
        rec.dh_proj[t] = dh
        return dh @ self.params["weight_hr" + s]

    def step_backward(self, s, rec, t, dcand, prev, dx_term, da):
        """Mirror of step_forward: from (dh_t, dc_t) write dH_t into dx_term (= da for the LSTM) and return
        (None, dc_{t-1}); the driver adds dh_{t-1} = dZh_t W_hh (dZh_t = dH_t without layer_norm)."""
        H, (oi, of, og, oo) = self.hidden_size, self.gate_offsets()
        dh_t, dc_next = dcand
        dh = self._project_backward(s, rec, t, dh_t)
        if self.fused:                                          # on a GPU, one kernel (cuda_kernels.py)
            dc_prev = self.xp.empty_like(dh)
            launch(self.xp, LSTM_BACKWARD, dh, dc_next, prev[1], *self.gate_blocks(rec.gates[t]), rec.tanh_c[t],
                   *self.peephole_weights(s), *self.gate_blocks(dx_term), dc_prev)
            return None, dc_prev
        c_prev = prev[1]
        p_i, p_f, p_o = self.peephole_weights(s)
        gates, tanh_c = rec.gates[t], rec.tanh_c[t]
        i, g, o = gates[:, oi:oi + H], gates[:, og:og + H], gates[:, oo:oo + H]
        dH_o = np.multiply(dh * tanh_c, o * (1.0 - o), out=dx_term[:, oo:oo + H])  # do * o(1-o), do = dh tanh(q)
        dq = dh * o * (1.0 - tanh_c * tanh_c)                  # through tanh(q_t)
        if self.layer_norm:                                     # q_t = gamma_c * c_hat_t + beta_c
            rec.ln.dq[t] = dq
            dq = normalise_backward(dq * self.params["weight_ln_c" + s], rec.ln.c_hat[t], rec.ln.c_rstd[t])
        dc = dc_next + dq + dH_o * p_o                          # (+ the o peephole)
        np.multiply(dc * i, 1.0 - g * g, out=dx_term[:, og:og + H])  # dg * (1-g^2), dg = dc * i
        if self.mode == STANDARD:
            f = gates[:, of:of + H]
            dH_f = np.multiply(dc * c_prev, f * (1.0 - f), out=dx_term[:, of:of + H])  # df * f(1-f)
            di = dc * g
            dc_prev = dc * f + dH_f * p_f
        elif self.mode == COUPLED:
            di = dc * (g - c_prev)                              # f = 1 - i: df = dc c_{t-1} flows into i, negated
            dc_prev = dc * (1.0 - i)
        else:
            di = dc * g
            dc_prev = dc                                        # f = 1: the constant error carousel
        dH_i = np.multiply(di, i * (1.0 - i), out=dx_term[:, oi:oi + H])
        return None, dc_prev + dH_i * p_i

    # ---- the whole sequence, compiled (the fast path) ---------------------------------------------------------
    def sweep_forward(self, s, live, Xp, W_hh, b_hh, update, keep, states, rec):
        bias = self.params["bias_ih" + s] + b_hh
        return lstm_forward_sweep, (live, Xp, W_hh, bias, self.peephole_weights(s), self.peephole,
                                    self._projection(s), self.mode, *update, *keep, *self._layer_norm_weights(s),
                                    *states, *rec[:5], *rec.ln[2:6])

    def sweep_backward(self, s, live, dy, dstate_T, update, keep, W_hh, sweep, dXp, dA, dZh):
        rec, ln = sweep.record, sweep.record.ln
        return lstm_backward_sweep, (live, dy, *dstate_T, self.peephole_weights(s), self._projection(s), self.mode,
                                     *update, *keep, W_hh, *self._layer_norm_weights(s)[:3], sweep.states[1],
                                     rec.gates, rec.tanh_c, *ln[2:7], rec.dh_proj, dXp, dZh)
