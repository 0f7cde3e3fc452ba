"""Real-time recurrent learning (Williams & Zipser 1989): the exact gradient of a recurrent layer, carried forward
in time, so that a network learns online, one step at a time, with no stored history (DESIGN.md section 2).

Dimension letters: B batch, I input features, H hidden units, G gate blocks (1 Elman, 4 LSTM, 3 GRU),
V state vectors (2 for the LSTM's (h, c), else 1), S = V*H the state size, N = |theta| = G*H*(I + H + 2) the
number of the layer's parameters (plus R*H peepholes), laid out as the flattened `weight_ih_l0, weight_hh_l0,
bias_ih_l0, bias_hh_l0` (then `weight_peephole_l0`).

Every cell computes its state from `xp_t = W_ih x_t + b_ih`, `a_t = W_hh h_{t-1} + b_hh` and the previous state,
`s_t = F(xp_t, a_t, s_{t-1})`, with s_t = (h_t, c_t) for the LSTM and h_t otherwise. The sensitivities
`P_t = d s_t / d theta` (B, S, N), P_0 = 0 (the initial state is a constant, not a parameter), follow::

    P_t = J_t P_{t-1} + D_t
    J_t = dF/da W_hh E_h + dF/ds_{t-1}          the state Jacobian: through a_t (E_h picks h out of s) and directly
                                                (the LSTM's c_{t-1}, the GRU's z * h_{t-1})
    D_t = dF/dxp dxp/dtheta + dF/da da/dtheta   the immediate derivatives: dxp_j/dW_ih[j, k] = x_t[k],
                                                dxp_j/db_ih[j] = 1, da_j/dW_hh[j, k] = h_{t-1}[k], da_j/db_hh[j] = 1

and a loss term L_t at step t contributes `dL_t/dtheta = dL_t/dh_t P_t[h rows]`. Summed over t this is exactly
the BPTT gradient of sum_t L_t, as long as the weights stay fixed over the sequence (tests/test_rtrl.py).

Structure used: the cells are point-wise, so dF/dxp and dF/da are diagonal in every (state vector, gate block)
pair and are kept as (B, V, G, H) diagonals; J_t P_{t-1} is then one (S, H) x (H, N) product plus diagonal
scalings, and D_t touches only the entries [v*H + h, (g*H + h)*K + k] of a weight's columns (K its row length),
which are added through a strided view: no dense D_t, no dense J_t, no zeros written. `reference_gradients` is
the slow, obvious version (dense J_t and D_t, probed from the cell's own step_backward) kept beside it.

Cost. Memory: P_t holds B*S*N numbers, O(H * |theta|) = O(H^4) for I << H (LSTM: 2H * 4H(I + H + 2)); a step
works in a second buffer of that size, so the peak is twice `sensitivity_nbytes`. Time per step:
O(S*H*N) = O(H^2 |theta|) for J_t P_{t-1}, against O(G*H*(I + H)) = O(|theta|) for a BPTT step, so RTRL is
about H^2 times slower per step; it is worth it only where BPTT's O(T*S) stored history is not an option
(unbounded streams, online learning). benchmarks/bench_rtrl.py measures both.

Cells: SimpleRNN (tanh, relu), GRU, and the LSTM with its variants (peepholes, whose (R, H) weights act unit by
unit and get the same diagonal fill; no forget gate; coupled input-forget gate). Only single-layer,
unidirectional layers are supported: a stacked layer would need the sensitivities of the upper layer to all
lower layers' parameters, and a backward direction needs the future, which online learning does not have.
Masks are not taken either: to skip a padded step, do not call `step`.
"""

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..layers import GRU, LSTM, SimpleRNN
from ..layers.lstm import COUPLED, STANDARD
from ..layers.recurrent import Recurrent
from ..runtime.validation import check_array
from .trainer import Trainer

NAMES = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
EXTRA = ("weight_peephole_l0",)          # cell parameters of the (R, H) kind that Local.extra covers


# ---- the cells' local derivatives, from the step forward's record -------------------------------------------------
class Local(NamedTuple):
    """The derivatives of one step s_t = F(xp_t, a_t, s_{t-1}), each diagonal within a gate block."""
    dxp: np.ndarray      # (B, V, G, H) d s_t[v] / d xp_t[g]
    da: np.ndarray       # (B, V, G, H) d s_t[v] / d a_t[g]
    direct: tuple        # (v, w, d) triples: d s_t[v] / d s_{t-1}[w] = diag(d), d (B, H), besides the path via a_t
    extra: dict = None   # a cell's own (R, H) parameter p whose p[r, h] acts on unit h alone (the LSTM's
                         # peepholes) -> (B, V, R, H) d s_t[v, h] / d p[r, h], its immediate derivative


def _rnn_local(layer, rec, prev):
    """h_t = tanh(xp + a) (or relu): dh/dxp = dh/da = 1 - h^2 (or [h > 0]); h_{t-1} enters only through a."""
    h = rec.h[0]
    d = 1.0 - h * h if layer.nonlinearity == "tanh" else (h > 0.0).astype(h.dtype)
    d = d[:, None, None, :]                                    # (B, 1, 1, H)
    return Local(d, d, ())


def _lstm_local(layer, rec, prev):
    """c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t), the gates from H_t = xp + a (so dF/dxp = dF/da), with the
    LSTM class's variants: peepholes p_i, p_f on c_{t-1} and p_o on c_t; f = 1 (no forget gate) or f = 1 - i
    (coupled). Gate blocks i, f, g, o, or i, g, o without a forget-gate block."""
    H, (oi, of, og, oo) = layer.hidden_size, layer.gate_offsets()
    p_i, p_f, p_o = layer.peephole_weights("_l0")                    # zeros where a peephole is absent
    c_prev = prev[1]
    gates, c, tanh_c = rec.gates[0], rec.c[0], rec.tanh_c[0]
    i, g, o = gates[:, oi:oi + H], gates[:, og:og + H], gates[:, oo:oo + H]
    standard = layer.mode == STANDARD
    f = gates[:, of:of + H] if standard else (1.0 - i if layer.mode == COUPLED else np.ones_like(i))
    dc_i = i * (1.0 - i) * (g - c_prev if layer.mode == COUPLED else g)   # dc/dH[i]: dc/di = g (- c_{t-1}, CIFG)
    dc_f = c_prev * f * (1.0 - f) if standard else np.zeros_like(i)       # dc/dH[f] = c_{t-1} * f(1-f)
    dc_g = i * (1.0 - g * g)                                   # dc/dH[g] = i * (1-g^2)
    dh_o = tanh_c * o * (1.0 - o)                              # dh/dH[o] = tanh(c) * o(1-o)
    dh_dc = o * (1.0 - tanh_c * tanh_c) + dh_o * p_o           # dh/dc: through tanh(c), and o's peephole
    dc_dcprev = f + dc_i * p_i + dc_f * p_f                    # dc/dc_{t-1}: through f, and i's, f's peepholes
    dc = [dc_i, dc_f, dc_g] if standard else [dc_i, dc_g]
    dc = np.stack(dc + [np.zeros_like(i)], axis=1)             # (B, G, H), dc/dH[o] = 0
    dh = dh_dc[:, None, :] * dc                                # dh/dH[i, f, g] = dh/dc * dc/dH
    dh[:, -1] = dh_o
    d = np.stack([dh, dc], axis=1)                             # (B, 2, G, H)
    extra = {}
    if layer.peephole:                                         # dF/dp[r, h] = dF/dH[gate r, h] * (the c it sees)
        G = d.shape[2]
        blocks, seen = ([0, 1, G - 1], [c_prev, c_prev, c]) if standard else ([0, G - 1], [c_prev, c])
        extra["weight_peephole_l0"] = d[:, :, blocks] * np.stack(seen, axis=1)[:, None]
    return Local(d, d, ((0, 1, dh_dc * dc_dcprev),             # dh_t/dc_{t-1}
                        (1, 1, dc_dcprev)), extra)             # dc_t/dc_{t-1}


def _gru_local(layer, rec, prev):
    """n = tanh(x_n + r * a_n), h_t = (1 - z) * n + z * h_{t-1}: r multiplies a_n, so dF/da[n] = r * dF/dxp[n]."""
    H = layer.hidden_size
    h_prev = prev[0]
    gates, a_n = rec.gates[0], rec.a_n[0]
    r, z, n = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
    dn = (1.0 - z) * (1.0 - n * n)                             # dh/d(x_n + r a_n)
    dr = dn * a_n * r * (1.0 - r)                              # dh/dx_r = dh/da_r
    dz = (h_prev - n) * z * (1.0 - z)                          # dh/dx_z = dh/da_z
    dxp = np.stack([dr, dz, dn], axis=1)[:, None]              # (B, 1, 3, H)
    da = np.stack([dr, dz, dn * r], axis=1)[:, None]           # dh/da_n = dn * r
    return Local(dxp, da, ((0, 0, z),))                        # dh_t/dh_{t-1} directly: z


LOCAL = {SimpleRNN: _rnn_local, LSTM: _lstm_local, GRU: _gru_local}


def _diagonal(block, V, G, H, K):
    """Writable view (B, V, G, H, K) of the entries [b, v*H + h, (g*H + h)*K + k] of a (B, S, G*H*K) block of P:
    the only entries that the immediate derivative of a (G*H, K) weight (K = 1: a bias) touches."""
    sB, sS, sN = block.strides
    return as_strided(block, shape=(block.shape[0], V, G, H, K),
                      strides=(sB, H * sS, H * K * sN, sS + K * sN, sN))


def _check_layer(layer):
    if not isinstance(layer, Recurrent) or type(layer) not in LOCAL:
        raise TypeError(f"RTRL works on lk.layers.SimpleRNN, LSTM or GRU layers, got {type(layer).__name__}.")
    if layer.num_layers != 1 or layer.bidirectional:
        raise ValueError(f"RTRL supports a single-layer, unidirectional {type(layer).__name__}, got "
                         f"num_layers={layer.num_layers}, bidirectional={layer.bidirectional}; stacked layers "
                         f"(the sensitivities of layer 2 span layer 1's parameters) and the backward direction "
                         f"(it needs the future) are not supported. Use num_layers=1, bidirectional=False.")
    stochastic = {name: getattr(layer, name) for name in ("zoneout", "recurrent_dropout", "input_dropout")
                  if getattr(layer, name) not in (0, 0.0, (0.0, 0.0))}
    if stochastic:
        raise ValueError(f"RTRL does not implement {', '.join(f'{k}={v!r}' for k, v in stochastic.items())}; "
                         f"use fit(algorithm='bptt') for a layer with them.")
    if not layer.built:
        raise ValueError("RTRL needs a built layer; build it first: layer.build((None, input_size)), or run "
                         "forward once.")
    names = NAMES + tuple(name for name in layer.params if name not in NAMES)
    unknown = [name for name in names[len(NAMES):] if name not in EXTRA]
    if unknown:
        raise TypeError(f"RTRL does not know the parameters {unknown} of {type(layer).__name__}.")
    return names


def sensitivity_nbytes(layer, batch_size=1):
    """Bytes of the sensitivities P_t: batch_size * S * N * itemsize, S = state size (2H for the LSTM, else H),
    N = |theta| = G*H*(I + H + 2) (+ R*H peepholes). A step needs a second buffer of the same size."""
    S = len(layer.STATES) * layer.hidden_size
    N = sum(layer.params[name].size for name in _check_layer(layer))
    return batch_size * S * N * np.dtype(layer.dtype).itemsize


# ---- RTRL on one layer ------------------------------------------------------------------------------------------
class RTRL:
    """Real-time recurrent learning for one built SimpleRNN, LSTM or GRU layer (see the module docstring).

    `reset(batch_size, initial_state=None)` starts sequences (P_0 = 0); `step(x_t, dh=None)` advances the state
    and the sensitivities by one step and returns h_t (B, H); `accumulate(dh)` adds `dh P_t[h rows]` (the
    gradient of a loss term whose gradient w.r.t. h_t is `dh`, (B, H)) into `layer.grads` (`+=`, same keys:
    call `layer.zero_grad()` to start afresh). `step(x_t, dh)` is `step(x_t)` then `accumulate(dh)`. The weights
    are read from `layer.params` at every step, so an optimizer may change them in place between steps.
    """

    def __init__(self, layer):
        self.names = _check_layer(layer)                           # the column blocks of P, in order
        self.layer = layer
        self._local = LOCAL[type(layer)]
        self.shapes = [layer.params[name].shape for name in self.names]
        self.offsets = np.cumsum([0] + [int(np.prod(s)) for s in self.shapes])   # column ranges in P
        self.state = None            # per state vector, (B, H)
        self.P = None                # (B, S, N) the sensitivities d s_t / d theta
        self._work = None            # (B, S, N) where the next P is computed

    @property
    def num_params(self):
        return int(self.offsets[-1])

    @property
    def state_size(self):
        return len(self.layer.STATES) * self.layer.hidden_size

    def reset(self, batch_size, initial_state=None):
        """Start `batch_size` sequences from `initial_state` (PyTorch-shaped as for forward: h_0 (1, B, H), or
        (h_0, c_0) for the LSTM; zeros when None) with zero sensitivities."""
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
        B = int(batch_size)
        state0 = self.layer.check_initial_state(initial_state, B)
        self.state = tuple(np.array(s[0]) for s in state0)                  # (B, H) each
        shape = (B, self.state_size, self.num_params)
        if self.P is None or self.P.shape != shape or self.P.dtype != self.layer.dtype:
            self.P = np.zeros(shape, self.layer.dtype)
            self._work = np.empty_like(self.P)
        else:
            self.P[...] = 0.0
        return self

    def step(self, x_t, dh=None):
        """Advance by one step: x_t (B, I) -> h_t (B, H), updating the state and P_t = J_t P_{t-1} + D_t; with
        `dh` (B, H), the gradient of the loss w.r.t. h_t, also accumulate its gradient (see `accumulate`)."""
        layer = self.layer
        H, G, V = layer.hidden_size, layer.G, len(layer.STATES)
        x_t = check_array(x_t, "x_t", ndim=2, dtype=layer.dtype)
        if self.state is None:
            self.reset(len(x_t))
        B = len(self.state[0])
        if x_t.shape != (B, layer.input_shape[-1]):
            raise ValueError(f"x_t must have shape (batch_size, input_size) = {(B, layer.input_shape[-1])}, got "
                             f"{x_t.shape}; call reset(batch_size) for another batch size.")
        W_ih, W_hh, b_ih, b_hh = (layer.params[name] for name in NAMES)
        prev = self.state
        h_prev = prev[0]
        xp = x_t @ W_ih.T + b_ih                                   # (B, G*H)
        a = h_prev @ W_hh.T + b_hh                                 # (B, G*H)
        rec = layer.new_record(1, B)
        self.state = tuple(layer.step_forward("_l0", rec, 0, xp, a, prev))   # the layer's own step: s_t
        local = self._local(layer, rec, prev)

        P, Pn = self.P, self._work
        A = np.einsum("bvgh,ghk->bvhk", local.da, W_hh.reshape(G, H, H)).reshape(B, V * H, H)   # dF/da W_hh
        np.matmul(A, P[:, :H], out=Pn)                             # J_t P_{t-1}, the path through a_t
        for v, w, d in local.direct:                               # + dF/ds_{t-1} P_{t-1}, diagonal
            Pn[:, v * H:(v + 1) * H] += d[:, :, None] * P[:, w * H:(w + 1) * H]
        o = self.offsets                                           # + D_t, on its nonzero entries only
        _diagonal(Pn[:, :, o[0]:o[1]], V, G, H, W_ih.shape[1])[...] += local.dxp[..., None] * x_t[:, None, None, None]
        _diagonal(Pn[:, :, o[1]:o[2]], V, G, H, H)[...] += local.da[..., None] * h_prev[:, None, None, None]
        _diagonal(Pn[:, :, o[2]:o[3]], V, G, H, 1)[...] += local.dxp[..., None]
        _diagonal(Pn[:, :, o[3]:o[4]], V, G, H, 1)[...] += local.da[..., None]
        for k, name in enumerate(self.names[4:], start=4):       # peepholes: p[r, h] acts on unit h alone
            value = local.extra[name]                              # (B, V, R, H)
            _diagonal(Pn[:, :, o[k]:o[k + 1]], V, value.shape[2], H, 1)[...] += value[..., None]
        self.P, self._work = Pn, P
        if dh is not None:
            self.accumulate(dh)
        return self.state[0]

    def accumulate(self, dh):
        """layer.grads += dh P_t[h rows], summed over the batch: the exact gradient of a loss term at the current
        step whose gradient w.r.t. h_t is dh (B, H)."""
        if self.P is None:
            raise RuntimeError("RTRL.accumulate called before step.")
        B, H = len(self.P), self.layer.hidden_size
        dh = check_array(dh, "dh", ndim=2, dtype=self.layer.dtype)
        if dh.shape != (B, H):
            raise ValueError(f"dh (the loss gradient w.r.t. h_t) must have shape (B, H) = {(B, H)}, got "
                             f"{dh.shape}.")
        g = np.matmul(dh[:, None, :], self.P[:, :H]).sum(axis=0)[0]       # (N,) dL/dtheta
        for name, shape, start, stop in zip(self.names, self.shapes, self.offsets[:-1], self.offsets[1:]):
            self.layer.grads[name] += g[start:stop].reshape(shape)

    @property
    def nbytes(self):
        """Bytes held by the sensitivities P_t (the working buffer doubles it)."""
        return 0 if self.P is None else self.P.nbytes


def reference_gradients(layer, x, dh, initial_state=None):
    """Slow, obvious RTRL: dense J_t (B, S, S) and D_t (B, S, N), each row j probed from the cell's own
    step_backward with d s_t = e_j, then P_t = J_t P_{t-1} + D_t. x (B, T, I), dh (B, T, H) the loss gradient
    w.r.t. each h_t. Returns {name: gradient} (the layer's grads are left alone)."""
    names = _check_layer(layer)
    x = check_array(x, "x", ndim=3, dtype=layer.dtype)
    B, T, _ = x.shape
    H, G, V = layer.hidden_size, layer.G, len(layer.STATES)
    S = V * H
    W_ih, W_hh, b_ih, b_hh = (layer.params[name] for name in NAMES)
    sizes = np.cumsum([0] + [layer.params[name].size for name in names])
    state = tuple(s[0] for s in layer.check_initial_state(initial_state, B))
    P = np.zeros((B, S, sizes[-1]), layer.dtype)
    g = np.zeros(sizes[-1], layer.dtype)
    probe = np.tile(np.eye(S, dtype=layer.dtype), (B, 1))                  # (B*S, S): row b*S + j is e_j

    def rep(u):
        return np.repeat(u, S, axis=0)                                     # (B, ...) -> (B*S, ...), row b*S + j

    for t in range(T):
        prev = tuple(rep(s) for s in state)
        xp, a = rep(x[:, t] @ W_ih.T + b_ih), rep(state[0] @ W_hh.T + b_hh)
        rec = layer.new_record(1, B * S)
        new = [s[::S] for s in layer.step_forward("_l0", rec, 0, xp, a, prev)]   # s_t, (B, H) each
        dxp = np.empty((B * S, G * H), layer.dtype)
        da = np.empty_like(dxp) if layer.SEPARATE_RECURRENT_GRAD else dxp
        dprev = list(layer.step_backward("_l0", rec, 0, tuple(probe[:, v * H:(v + 1) * H] for v in range(V)),
                                         prev, dxp, da))
        dprev[0] = da @ W_hh + (0.0 if dprev[0] is None else dprev[0])     # as the BPTT driver does
        J = np.concatenate([np.zeros((B * S, H), layer.dtype) if d is None else d for d in dprev], axis=1)
        dxp, da = dxp.reshape(B, S, G * H), da.reshape(B, S, G * H)
        D = [(dxp[..., None] * x[:, t, None, None, :]).reshape(B, S, -1),          # W_ih
             (da[..., None] * state[0][:, None, None, :]).reshape(B, S, -1),       # W_hh
             dxp, da]                                                              # b_ih, b_hh
        if "weight_peephole_l0" in names:                  # p_i, (p_f,) p_o: dH[gate] times the c it sees
            oi, of, og, oo = layer.gate_offsets()
            seen = [(oi, state[1])] + ([(of, state[1])] if layer.mode == STANDARD else []) + [(oo, new[1])]
            D.append(np.concatenate([dxp[..., k:k + H] * c[:, None, :] for k, c in seen], axis=-1))
        P = J.reshape(B, S, S) @ P + np.concatenate(D, axis=-1)
        state = tuple(new)
        g += np.einsum("bh,bhn->n", dh[:, t], P[:, :H])
    return {name: g[sizes[k]:sizes[k + 1]].reshape(layer.params[name].shape) for k, name in enumerate(names)}


# ---- online learning of a model -----------------------------------------------------------------------------------
class OnlineLearner:
    """Train a compiled `Sequential([recurrent, per-step layers...])` (e.g. `[LSTM(32, return_sequences=True),
    Dense(1)]`) with RTRL, one step at a time. The first layer is a single-layer, unidirectional SimpleRNN, LSTM
    or GRU; the layers after it act on each step's h_t (Dense, Dropout).

    update="step" (true online learning): at every step that has a target, the loss of that step L_t (the
    model's loss on the step's outputs) is differentiated and the optimizer updates all weights at once. The
    sensitivities P_t were computed with the weights of earlier steps, so this is the usual RTRL approximation
    of Williams & Zipser: exact only when the weights are held fixed over the sequence.
    update="sequence": the gradient is accumulated over the sequence with fixed weights and applied once, for
    the model's loss over the whole output (the mean of the L_t): the exact BPTT gradient of
    `model.train_on_batch`, computed forward in time.

    With `return_sequences=True` every step has a target (y shaped like the model output, (B, T, ...)); with
    `return_sequences=False` only the last step has one (y (B, ...)). `step(x_t, y_t=None)` is the streaming
    API (one call per step; call `reset(batch_size)` to start new sequences), `train_on_batch(x, y)` runs whole
    sequences from zero states, as `Sequential.train_on_batch` does.
    """

    UPDATES = ("step", "sequence")

    def __init__(self, model, update="step"):
        # a Sequential, known by its list of layers rather than its class: model.py imports this module
        if not isinstance(getattr(model, "layers", None), list):
            raise TypeError(f"OnlineLearner takes a lk.Sequential, got {type(model).__name__}.")
        if update not in self.UPDATES:
            raise ValueError(f"update must be 'step' or 'sequence', got {update!r}.")
        if model.loss is None or model.optimizer is None:
            raise ValueError("compile the model first: model.compile(loss=..., optimizer=...).")
        if not model.layers or not isinstance(model.layers[0], Recurrent):
            first = type(model.layers[0]).__name__ if model.layers else "nothing"
            raise TypeError(f"OnlineLearner needs a model whose first layer is SimpleRNN, LSTM or GRU, got {first}.")
        for layer in model.layers[1:]:
            if isinstance(layer, Recurrent) or layer.takes_indices:
                raise TypeError(f"the layers after the recurrent one must act on each step alone (Dense, "
                                f"Dropout), got {type(layer).__name__}.")
        if model.device != "cpu":
            raise ValueError("RTRL runs on the CPU only (its sensitivities are NumPy arrays); move the model with "
                             "model.to('cpu') or train it with BPTT.")
        self.model = model
        self.update = update
        self.layer = model.layers[0]
        self.tail = model.layers[1:]
        self.rtrl = None
        self._tail_sum = None        # update="sequence": the tail's gradients summed over the steps

    def _ready(self, input_size=None):
        """Build the model (for any sequence length) if needed and create the RTRL state."""
        if not self.model.built:
            if input_size is None:
                raise ValueError("the model is not built yet: call model.build((T, input_size)), or start with "
                                 "step(x_t) or train_on_batch(x).")
            self.model.build((None, input_size))
        if self.rtrl is None:
            self.rtrl = RTRL(self.layer)

    def reset(self, batch_size, initial_state=None):
        """Start new sequences (zero sensitivities, and zero accumulated gradients for update="sequence")."""
        self._ready()
        self.rtrl.reset(batch_size, initial_state)
        self.layer.zero_grad()
        self._tail_sum = {(k, name): np.zeros_like(p) for k, layer in enumerate(self.tail)
                          for name, p in layer.params.items()}

    def step(self, x_t, y_t=None):
        """One step: x_t (B, I) -> the model's output at this step. With a target y_t, also the loss of this step
        and its gradient: update="step" updates the weights now, update="sequence" adds the gradient to the sum
        that `apply_update` applies. Returns (output_t, loss_t or None)."""
        return self._step(x_t, y_t, online=self.update == "step")

    def _step(self, x_t, y_t, online):
        x_t = check_array(x_t, "x_t", ndim=2, dtype=self.layer.dtype)
        self._ready(x_t.shape[-1])
        if self.rtrl.state is None:
            self.reset(len(x_t))
        out = self.rtrl.step(x_t)
        for layer in self.tail:
            out = layer.forward(out, training=y_t is not None)
        if y_t is None:
            return out, None
        loss, dout = self.model.loss.value_and_grad(out, y_t)
        if not np.isfinite(loss):
            raise FloatingPointError(f"the loss is {loss}")
        for layer in reversed(self.tail):
            dout = layer.backward(dout)                            # tail grads, and finally dL_t/dh_t
        if online:
            self.layer.zero_grad()
            self.rtrl.accumulate(dout)                             # layer.grads = dL_t/dh_t P_t
            self.model.optimizer.step(self.model.parameters(), self.model.gradients())
        else:
            self.rtrl.accumulate(dout)                             # layer.grads += dL_t/dh_t P_t
            for k, layer in enumerate(self.tail):
                for name, g in layer.grads.items():
                    self._tail_sum[k, name] += g
        return out, loss

    def _collect(self, scale):
        """Write `scale` times the gradient summed since `reset` into every layer's grads; restart the sums."""
        for name, g in self.layer.grads.items():
            g *= scale
        for (k, name), g in self._tail_sum.items():
            self.tail[k].grads[name] = g * scale
            g[...] = 0.0

    def apply_update(self, scale=1.0):
        """update="sequence": update the weights with `scale` times the gradient summed since `reset` (or the last
        apply_update), and start summing afresh."""
        if self.update != "sequence":
            raise ValueError('apply_update is for update="sequence"; with update="step" every step updates.')
        self._collect(scale)
        self.model.optimizer.step(self.model.parameters(), self.model.gradients())
        self.layer.zero_grad()

    def _run(self, x, y, online):
        """Run the sequences x (B, T, I) from zero states against targets y; return the mean step loss."""
        x = check_array(x, "x", ndim=3, dtype=self.layer.dtype)
        y = np.asarray(y)
        B, T, _ = x.shape
        if self.layer.return_sequences and (y.ndim < 2 or y.shape[:2] != (B, T)):
            raise ValueError(f"y must hold a target for every step, shaped (B, T, ...) with (B, T) = {(B, T)}, "
                             f"got {y.shape}; or give the recurrent layer return_sequences=False for one target "
                             f"per sequence.")
        if len(y) != B:
            raise ValueError(f"x and y must hold the same number of sequences, got {B} and {len(y)}.")
        self._ready(x.shape[-1])
        self.reset(B)
        losses = []
        for t in range(T):
            if self.layer.return_sequences:
                losses.append(self._step(x[:, t], y[:, t], online)[1])
            elif t < T - 1:
                self.rtrl.step(x[:, t])                            # no target here: the state and P only
            else:
                losses.append(self._step(x[:, t], y, online)[1])
        return float(np.mean(losses)), len(losses)

    def gradients(self, x, y):
        """The exact gradient of the model's loss on the batch (the mean of the step losses), computed forward
        in time with the weights held fixed, written into every layer's grads as the model's backward would;
        the weights are not changed. Returns the loss. (`Sequential`'s forward + backward, by RTRL.)"""
        loss, n = self._run(x, y, online=False)
        self._collect(1.0 / n)                                     # the model's loss is the mean of the L_t
        for key, g in self.model.gradients().items():
            if not np.all(np.isfinite(g)):
                raise FloatingPointError(f"the gradient of {key} holds NaN or inf")
        return loss

    def train_on_batch(self, x, y):
        """Run the sequences x (B, T, I) from zero states against targets y, learning as `update` says: an update
        after every step that has a target, or one update with `gradients(x, y)`. Returns the mean of the step
        losses (each taken before its own update), comparable to the model's loss."""
        if self.update == "step":
            return self._run(x, y, online=True)[0]
        loss = self.gradients(x, y)
        self.model.optimizer.step(self.model.parameters(), self.model.gradients())
        return loss


def fit_online(model, x, y, epochs=1, batch_size=1, update="step", shuffle=True, verbose=0):
    """Train a compiled model with RTRL (see OnlineLearner): `epochs` passes over the sequences x (N, T, I),
    `batch_size` sequences side by side, in an order drawn from the model's seeded generator when `shuffle`
    (the training loop of training/trainer.py). Returns a History with the training loss per epoch."""
    learner = OnlineLearner(model, update)
    x = check_array(x, "x", ndim=3, dtype=learner.layer.dtype)
    if not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}.")
    if not isinstance(batch_size, (int, np.integer)) or not 1 <= batch_size <= len(x):
        raise ValueError(f"batch_size must be an integer in [1, {len(x)}] (the number of sequences), got "
                         f"{batch_size!r}.")
    if not model.built:
        model.build(x.shape[1:])
    y = np.asarray(y)

    def step(idx):
        return learner.train_on_batch(x[idx], y[idx])
    return Trainer(model, step, len(x), batch_size, shuffle, verbose=verbose).run(epochs)
