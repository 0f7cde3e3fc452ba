"""The compiled (Numba) sweeps of the LSTM: the same equations as `LSTM.step_forward` / `step_backward` (see
lstm.py), with the driver's update gate u and recurrent-dropout mask (recurrent.py), for one whole sequence,
fused: one GEMM and one pass over (B, H) per step, no allocation inside the time loop.

Dimension letters: T time, B batch, H cell units, Hs = P (proj_size) or H the width of h, G*H the gate vector.
Absent options arrive as empty arrays with a flag (`has_update`, `has_keep`, `ln`), so that one compiled
specialisation per dtype serves every variant.

The gate non-linearities are one formula, `act(z) = s tanh(s z) + 1 - s` per gate entry: s = 1/2 gives
sigma(z) = (1 + tanh(z / 2)) / 2 (i, f, o) and s = 1 gives tanh(z) (g), so that one loop over the G*H entries of
a row adds the three terms of H_t and makes every gate (instead of one loop per gate block).
"""

import numpy as np
from ..runtime.blas import matmul, recurrent_gradient, recurrent_product
from ..runtime.ops import kernel, normalise_row, normalise_row_backward, sigmoid_scalar, tanh_scalar

STANDARD, NO_FORGET, COUPLED = 0, 1, 2          # how f_t is made: its own gate, f_t = 1, f_t = 1 - i_t


@kernel
def lstm_forward_sweep(lo, hi, gemm, ints, live, Xp, W_hh, bias, P, peephole, W_hr, mode, u_h, u_c, has_update, keep_h,
                       has_keep, ln, gamma_hh, gamma_c, beta_c, states_h, states_c, gates, c, tanh_c, h, h_proj, a_hat,
                       a_rstd, c_hat, c_rstd):
    """Rows lo .. hi-1 of the batch (threads.py); live (T,) the number of running sequences at step t: rows
    b < live[t] step, the others (finished or not started, the batch sorted by length) carry their state and
    record zeros; Xp (T, B, G*H) the input term for all t without its bias (the kernel adds W_hh h_{t-1} to it
    in place); bias (G*H,) = b_ih + b_hh; P (3, H) the peepholes p_i, p_f, p_o (zeros if none, and then
    `peephole` False); W_hr (P, H) the projection ((0, H) if none); u_h/u_c (T, B, .) the update gates; keep_h
    (B, Hs) the recurrent-dropout mask; with `ln` the gains gamma_hh (G*H,), gamma_c (H,) and shift beta_c (H,)
    of LN_hh and LN_c. states_h/states_c (T+1, B, .) with [0] the initial state. Fills the record arrays and the
    carried states."""
    T, GH = Xp.shape[0], Xp.shape[2]
    H, Hs = P.shape[1], states_h.shape[2]
    proj = W_hr.shape[0] > 0
    oi, of, og, oo = (0, H, 2 * H, 3 * H) if mode == STANDARD else (0, 0, H, 2 * H)
    a = np.empty((hi - lo, GH), Xp.dtype)                     # W_hh h_{t-1} with `ln` (else added to Xp_t)
    h_in = np.empty((hi - lo, Hs), Xp.dtype)
    one = np.ones(1, Xp.dtype)[0]                              # 1 in the arrays' dtype: float32 math stays float32
    scale = np.full(GH, 0.5, Xp.dtype)                         # act(z) = s tanh(s z) + 1 - s (module docstring)
    scale[og:og + H] = 1.0
    shift = one - scale
    early = oo if peephole else GH                             # gates made before c_t (o waits for p_o c_t)
    W_hhT, W_hrT = np.ascontiguousarray(W_hh.T), np.ascontiguousarray(W_hr.T)   # rows contiguous, as matmul needs
    for t in range(T):
        n_t = max(lo, min(hi, live[t]))                        # rows lo .. n_t - 1 run at step t
        if ln:                                                 # H_t = input term + recurrent term + biases,
            recurrent_product(gemm, ints, states_h[t, lo:n_t], keep_h[lo:n_t], has_keep, W_hhT, h_in,
                              a[:n_t - lo], False)
        else:                                                  # gathered in Xp_t: += W_hh h_{t-1} by BLAS here
            recurrent_product(gemm, ints, states_h[t, lo:n_t], keep_h[lo:n_t], has_keep, W_hhT, h_in,
                              Xp[t, lo:n_t], True)
        for b in range(lo, n_t):                               # short loops over one row: each is vectorised
            x_row, g_row, c_prev = Xp[t, b], gates[t, b], states_c[t, b]
            c_row, tc_row, h_row = c[t, b], tanh_c[t, b], h[t, b]
            if ln:                                             # + LN_hh(Zh) = gamma_hh * Zh_hat
                a_rstd[t, b, 0] = normalise_row(a[b - lo], a_hat[t, b])
                for j in range(GH):
                    x_row[j] += gamma_hh[j] * a_hat[t, b, j]
            if peephole:                                       # + p_i c_{t-1}, p_f c_{t-1} (f: STANDARD only)
                for j in range(H):
                    x_row[oi + j] += P[0, j] * c_prev[j]
                    x_row[of + j] += P[1, j] * c_prev[j]
            for j in range(early):                             # i, f, g, o = act(H_t)
                g_row[j] = scale[j] * tanh_scalar(scale[j] * (x_row[j] + bias[j])) + shift[j]
            if mode == STANDARD:                               # c_t = f c_{t-1} + i g
                for j in range(H):
                    c_row[j] = g_row[of + j] * c_prev[j] + g_row[oi + j] * g_row[og + j]
            elif mode == COUPLED:                              # f = 1 - i
                for j in range(H):
                    c_row[j] = (one - g_row[oi + j]) * c_prev[j] + g_row[oi + j] * g_row[og + j]
            else:                                              # f = 1
                for j in range(H):
                    c_row[j] = c_prev[j] + g_row[oi + j] * g_row[og + j]
            if peephole:                                       # o = sigma(H_t[o] + p_o c_t)
                for j in range(H):
                    g_row[oo + j] = sigmoid_scalar(x_row[oo + j] + bias[oo + j] + P[2, j] * c_row[j])
            if has_update:
                for j in range(H):
                    states_c[t + 1, b, j] = c_prev[j] + u_c[t, b, j] * (c_row[j] - c_prev[j])
            else:
                for j in range(H):
                    states_c[t + 1, b, j] = c_row[j]
            if ln:                                             # q_t = LN_c(c_t), else q_t = c_t
                c_rstd[t, b, 0] = normalise_row(c_row, c_hat[t, b])
                for j in range(H):
                    tc_row[j] = gamma_c[j] * c_hat[t, b, j] + beta_c[j]
            else:
                for j in range(H):
                    tc_row[j] = c_row[j]
            for j in range(H):                                 # h_t = o * tanh(q_t)
                tc = tanh_scalar(tc_row[j])
                tc_row[j] = tc
                h_row[j] = g_row[oo + j] * tc
            if not proj:
                if has_update:
                    for j in range(H):
                        states_h[t + 1, b, j] = states_h[t, b, j] + u_h[t, b, j] * (h_row[j] - states_h[t, b, j])
                else:
                    for j in range(H):
                        states_h[t + 1, b, j] = h_row[j]
        if proj and n_t > lo:
            matmul(gemm, ints, h[t, lo:n_t], W_hrT, h_proj[t, lo:n_t])     # h_t = W_hr (o * tanh(q_t))
            for b in range(lo, n_t):
                for j in range(Hs):
                    h_t, h_prev = h_proj[t, b, j], states_h[t, b, j]
                    states_h[t + 1, b, j] = h_prev + u_h[t, b, j] * (h_t - h_prev) if has_update else h_t
        for b in range(n_t, hi):                               # not running: s_t = s_{t-1}, a zero record
            states_h[t + 1, b] = states_h[t, b]
            states_c[t + 1, b] = states_c[t, b]
            gates[t, b] = 0.0
            c[t, b], tanh_c[t, b], h[t, b], h_proj[t, b] = 0.0, 0.0, 0.0, 0.0
            if ln:
                a_hat[t, b], a_rstd[t, b], c_hat[t, b], c_rstd[t, b] = 0.0, 0.0, 0.0, 0.0


@kernel
def lstm_backward_sweep(lo, hi, gemm, ints, live, dy, dh_T, dc_T, P, W_hr, mode, u_h, u_c, has_update, keep_h,
                        has_keep, W_hh, ln, gamma_hh, gamma_c, states_c, gates, tanh_c, a_hat, a_rstd, c_hat, c_rstd,
                        dq, dh_proj, dXp, dZh):
    """Mirror of lstm_forward_sweep (rows lo .. hi-1): dy (T, B, Hs) on the outputs (already times the mask),
    dh_T/dc_T on the final states; writes dXp (T, B, G*H) = dH_t, dZh = dL/d(W_hh h_{t-1}) (the same array as
    dXp without `ln`), dh_proj with a projection and dq = dL/dq_t with `ln`; rows b >= live[t] get zero gradients
    and pass dh, dc through unchanged; returns the gradients (dh_0, dc_0), valid in rows lo .. hi-1."""
    T, B, GH = dXp.shape
    H, Hs = P.shape[1], dh_T.shape[1]
    proj = W_hr.shape[0] > 0
    oi, of, og, oo = (0, H, 2 * H, 3 * H) if mode == STANDARD else (0, 0, H, 2 * H)
    dh = dh_T.copy()                                           # dL/dh_{t} carried into step t from t+1
    dc = dc_T.copy()
    dh_rec = np.empty((hi - lo, Hs), dXp.dtype)                # dZh_t W_hh before the dropout mask
    dr = np.empty((B, H), dXp.dtype)                           # dL/d(o * tanh(q_t)) of the candidate
    scaled = np.empty(GH, dXp.dtype)                           # a gradient times an LN gain, row by row
    one = np.ones(1, dXp.dtype)[0]                             # 1 in the arrays' dtype: float32 math stays float32
    for t in range(T - 1, -1, -1):
        n_t = max(lo, min(hi, live[t]))                        # rows lo .. n_t - 1 ran at step t
        for b in range(n_t, hi):                               # not running at t: no gradient of step t
            dXp[t, b], dZh[t, b], dh_proj[t, b] = 0.0, 0.0, 0.0
            if ln:
                dq[t, b] = 0.0
        if n_t == lo:
            continue
        for b in range(lo, n_t):
            for j in range(Hs):
                total = dh[b, j] + dy[t, b, j]                 # dL/dh_t
                dcand = u_h[t, b, j] * total if has_update else total
                dh[b, j] = total - dcand                       # h_{t-1} enters h_t with weight 1 - u
                if proj:
                    dh_proj[t, b, j] = dcand
                else:
                    dr[b, j] = dcand
        if proj:
            matmul(gemm, ints, dh_proj[t, lo:n_t], W_hr, dr[lo:n_t])   # back through h_t = W_hr (o * tanh(q_t))
        for b in range(lo, n_t):
            for j in range(H):                                 # dL/dq_t = dh * o * (1 - tanh(q_t)^2)
                tc = tanh_c[t, b, j]
                dq_t = dr[b, j] * gates[t, b, oo + j] * (one - tc * tc)
                if ln:
                    dq[t, b, j] = dq_t
                    scaled[j] = dq_t * gamma_c[j]
                else:
                    scaled[j] = dq_t
            if ln:                                             # dL/dc_t through q_t = gamma_c * c_hat + beta_c
                normalise_row_backward(scaled[:H], c_hat[t, b], c_rstd[t, b, 0], scaled[:H])
            for j in range(H):
                i, g, o = gates[t, b, oi + j], gates[t, b, og + j], gates[t, b, oo + j]
                c_prev = states_c[t, b, j]
                dH_o = dr[b, j] * tanh_c[t, b, j] * o * (one - o)          # do * o(1-o)
                total = dc[b, j]                                           # dL/dc_t of the carried state
                dcand = u_c[t, b, j] * total if has_update else total
                dc_t = dcand + scaled[j] + dH_o * P[2, j]
                dXp[t, b, oo + j] = dH_o
                dXp[t, b, og + j] = dc_t * i * (one - g * g)               # dg * (1-g^2)
                if mode == STANDARD:
                    f = gates[t, b, of + j]
                    dH_f = dc_t * c_prev * f * (one - f)                   # df * f(1-f)
                    dXp[t, b, of + j] = dH_f
                    di = dc_t * g
                    dc_prev = dc_t * f + dH_f * P[1, j]
                elif mode == COUPLED:
                    di = dc_t * (g - c_prev)                               # f = 1 - i
                    dc_prev = dc_t * (one - i)
                else:
                    di = dc_t * g
                    dc_prev = dc_t                                         # f = 1: the constant error carousel
                dH_i = di * i * (one - i)
                dXp[t, b, oi + j] = dH_i
                dc[b, j] = dc_prev + dH_i * P[0, j] + (total - dcand)     # + c_{t-1}'s weight 1 - u in c_t
            if ln:                                             # dZh through LN_hh(Zh) = gamma_hh * Zh_hat
                for j in range(GH):
                    scaled[j] = dXp[t, b, j] * gamma_hh[j]
                normalise_row_backward(scaled, a_hat[t, b], a_rstd[t, b, 0], dZh[t, b])
        recurrent_gradient(gemm, ints, dZh[t, lo:n_t], W_hh, keep_h[lo:n_t], has_keep, dh_rec, dh[lo:n_t])
    return dh, dc
