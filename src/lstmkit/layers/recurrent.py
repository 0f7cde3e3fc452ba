"""The recurrent driver: the one time loop shared by every cell (Elman RNN, LSTM, GRU).

It owns stacking (`num_layers`), directions (`bidirectional`), dropout between layers, `return_sequences`,
`return_state`, initial states, masking, zoneout, recurrent and input dropout, and the two GEMMs over all steps of
DESIGN.md section 2: the input product `Zx = x W_ih^T` before the loop and the weight gradients
`dW_ih = sum_t dZx_t^T x_t`, `dW_hh = sum_t dZh_t^T h_{t-1}` after it. A cell subclass supplies the number of gate
blocks `G`, the names of its state vectors `STATES`, a record for what its step keeps, and a mirrored pair
`step_forward` / `step_backward` that do only the point-wise work of one step, given the input term
`x_term = W_ih x_t + b_ih + b_hh` and the recurrent term `a = W_hh h_{t-1}` (both biases enter the same sum H_t,
so they are added once, to the input term of every step; a cell whose b_hh enters elsewhere, the GRU's b_hn,
moves that part with `input_bias` and `recurrent_term`; a cell may also transform `Zx = W_ih x_t` and
`Zh = W_hh h_{t-1}` before the biases are added, as the layer-normalised LSTM does: `input_term`,
`recurrent_term` and their backward hooks), the record arrays its steps leave their candidate states in
(`candidates`), and `sweep_forward` / `sweep_backward`, the compiled loop.

Dimension letters: B batch, T time, I input features, H hidden units, G gate blocks, L layers, D directions.
Inside the driver arrays are time-major, (T, B, ...), so that a step is a contiguous slice; the backward
direction runs the same loop over the time-reversed sequence.

The update gate. Each state vector s (h; h and c for the LSTM) is carried as
`s_t = s_{t-1} + u_t * (cand_t - s_{t-1})` with `u_t` (B, size) in [0, 1], and the output is `y_t = m_t * h_t`:
- masking (`mask[b, t]` False on padded steps, m_t in {0, 1}): u_t = m_t, so a masked step leaves the state
  unchanged and outputs zeros, which is what PyTorch's packed sequences give for right-padded batches; the backward
  direction then starts at each sequence's last real step;
- zoneout (Krueger et al. 2017) with rate p: in training u_t = m_t * z_t, z_t ~ Bernoulli(1 - p) drawn afresh for
  every step, unit and sequence (each unit keeps its previous value with probability p); at inference
  u_t = m_t * (1 - p), Krueger's deterministic expectation `s_t = p s_{t-1} + (1 - p) cand_t` (no randomness;
  not `s_t = cand_t`, which would feed the trained weights states of another scale). The output y_t is the zoned
  state. `zoneout=(p_h, p_c)` gives the LSTM's h and c their own rates.
Without mask and zoneout there is no u and `s_t = cand_t`.

Right-padded masks, the fast path (compiled sweeps). When every row of the mask is True...True False...False
(lengths l_b), forward sorts the batch by length, longest first (stable), once, and works in that order inside,
permuting back at the boundary (outputs, final states, dx, initial-state gradients). Step t then runs only
`live[t] = #{b : l_b > t}` sequences, the first rows: the recurrent GEMM and the point-wise pass cover rows
b < live[t] (the others carry their state and output zeros), and the GEMMs over all steps (Zx, dW_ih, dW_hh, dx)
take only the sum(l_b) live rows, as PyTorch's packed sequences do. The backward direction reverses each row
within its own length, `x'_t = x_{l_b - 1 - t}` (t < l_b), so that it is right-padded too and runs on the same
`live`. Random draws (zoneout, dropout masks) are made with the general path's shapes and order and then moved
to the sorted (and reversed) positions, so both paths give the same numbers. Other masks take the general path
(u_t = m_t on every row).

Variational dropout (Gal & Ghahramani 2016), in training only, inverted (masks scaled by 1 / (1 - p)), one mask
per sequence, layer and direction, the same at every step: `recurrent_dropout` multiplies h_{t-1} by a (B, H)
mask before W_hh (only in W_hh h_{t-1}: the LSTM's c_{t-1} and the GRU's z * h_{t-1} see the unmasked state), so
`dW_hh` uses the masked h; `input_dropout` multiplies the layer's input x_t by a (B, I_k) mask before W_ih. (Keras
calls the latter `dropout`; here `dropout` keeps PyTorch's meaning, between stacked layers.)
All masks are drawn from `self.rng` before the time loop, so a rewound generator replays them (lk.gradcheck).
"""

from typing import NamedTuple

import numpy as np

from ..runtime import backend
from ..runtime.blas import gemm_args
from ..runtime.threads import run_rows
from ..runtime.validation import (
    check_array,
    check_feature_size,
    check_gradient_shape,
    check_mask,
    check_positive_int,
    check_rate,
)
from .base import Layer


class Packing(NamedTuple):
    """A right-padded batch, sorted by length (module docstring); each field in the sorted order."""
    order: np.ndarray      # (B,) sorted row j is the caller's row order[j]
    lengths: np.ndarray    # (B,) l_j, non-increasing
    live: np.ndarray       # (T,) int64: rows 0 .. live[t] - 1 run at step t
    rows: np.ndarray       # (sum l,) flat indices t * B + j of the live steps, time-major
    rev: np.ndarray        # (T, B) time index of step t of row j reversed within its length (an involution)


class Sweep(NamedTuple):
    """What the forward pass of one layer in one direction keeps for backward (time-major, processing order)."""
    x: np.ndarray          # (T, B, I_k) the layer's input (times the input-dropout mask, if any)
    states: tuple          # per state vector, (T+1, B, size): the carried states s_0 .. s_T
    record: tuple          # the cell's own record of step internals
    mask: np.ndarray       # (T, B, 1) float 0/1, or None
    update: tuple          # per state vector, (T, B, size) the update gate u_t, or None (then s_t = cand_t)
    keep_h: np.ndarray     # (B, H) recurrent-dropout mask on h_{t-1}, or None
    keep_x: np.ndarray     # (B, I_k) input-dropout mask on x_t, or None
    packing: Packing       # the fast path's sorted layout, or None


class ForwardCache(NamedTuple):
    sweeps: list           # L * D Sweeps, index k * D + d
    dropout_keep: list     # L - 1 inverted-dropout masks (T, B, D*H), or [] outside training
    batch_time: tuple      # (B, T)
    initial_state_given: bool
    packing: Packing       # the fast path's sorted layout of a right-padded mask, or None


class Recurrent(Layer):
    """Base of the recurrent layers; see the module docstring. Subclasses set `G`, `STATES` and implement
    `new_record`, `step_forward` / `step_backward` (the NumPy reference of one step) and `sweep_forward` /
    `sweep_backward` (the compiled loop over a whole sequence), each given the parameter suffix `s` of the layer
    and direction; they may extend `_create_params` and `cell_grads` for parameters of their own, and override
    `input_term` / `recurrent_term` (with their backward hooks) to transform W_ih x_t and W_hh h_{t-1}.

    step_forward(s, record, t, x_term, a, prev) -> the candidate states; step_backward(s, record, t, dcand, prev,
    dx_term, da) writes dL/dx_term and dL/da of step t and returns each state's direct gradient of s_{t-1} (None: none),
    to which the driver adds dZh_t W_hh and the update gate's share. sweep_forward(s, live, Xp, W_hh, b_hh, update,
    keep, states, record) (Xp: the input term without b_ih, which the sweep adds itself; it may overwrite Xp) and
    sweep_backward(s, live, dy, dstate_T, update, keep, W_hh, sweep, dXp, dA, dZh) return (kernel, args), the
    compiled sweep and its arguments after four leading ones, lo, hi and the BLAS function and its integer type
    (blas.py): kernel(lo, hi, gemm, ints, *args) touches only rows lo .. hi-1 of the batch (threads.py runs row
    ranges on several threads). The forward kernel fills states[k][1:] and the record, the backward one fills
    dXp, dA, dZh (time-major) and returns the initial states' gradients. `live` (T,) int64 says
    how many rows (the first ones) run at step t: the others carry their state, get a zero record and zero gradients
    (all B without a right-padded mask). `update` is (u per state..., has_update) and `keep` (keep_h, has_keep),
    empty arrays when absent; dy arrives times the mask; dA is dXp unless SEPARATE_RECURRENT_GRAD, dZh is dA unless
    NORMALISED."""

    G = None
    STATES = ("h",)
    input_axes = (2,)                 # (T, I)
    SEPARATE_RECURRENT_GRAD = False   # True when dL/da differs from dL/dx_term (GRU's r * (W_hn h + b_hn))
    NORMALISED = False                # True when a cell transforms Zx, Zh before the biases (dZx != dXp, dZh != dA)
    HAS_FUSED_STEP = False            # True when the cell has CUDA kernels for a step's point-wise work

    def __init__(self, hidden_size, num_layers=1, bidirectional=False, dropout=0.0, return_sequences=False,
                 return_state=False, stateful=False, implementation="compiled", dtype="float32", *,
                 recurrent_dropout=0.0, input_dropout=0.0, zoneout=0.0):
        super().__init__(dtype)
        if implementation not in ("compiled", "reference"):
            raise ValueError(f"implementation must be 'compiled' or 'reference', got {implementation!r}.")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        self.bidirectional = bool(bidirectional)
        self.dropout = check_rate(dropout, "dropout")
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.stateful = bool(stateful)
        self.implementation = implementation
        self.recurrent_dropout = check_rate(recurrent_dropout, "recurrent_dropout")
        self.input_dropout = check_rate(input_dropout, "input_dropout")
        self.zoneout = self._check_zoneout(zoneout)
        self.carry_states = self.stateful      # carry final states into the next forward (stateful, or TBPTT)
        self.states = None                     # the carried final states, per state vector (L*D, B, H)
        self.dinitial_state = None
        self._cache = None

    # ---- parameters -------------------------------------------------------------------------------------------
    @property
    def num_directions(self):
        return 2 if self.bidirectional else 1

    @property
    def state_sizes(self):
        """Width of each state vector; the first, h, is also the width of the output of one direction."""
        return (self.hidden_size,) * len(self.STATES)

    @property
    def zoneout_rates(self):
        """The zoneout rate of each state vector, in the order of STATES."""
        z = self.zoneout
        return tuple(z) if isinstance(z, tuple) else (z,) * len(self.STATES)

    @staticmethod
    def suffix(k, d):
        """PyTorch's parameter-name suffix for layer k, direction d: `_l0`, `_l0_reverse`, ..."""
        return f"_l{k}" + ("_reverse" if d else "")

    def _create_params(self, input_shape, rng):
        H, G, D, Hs = self.hidden_size, self.G, self.num_directions, self.state_sizes[0]
        bound = 1.0 / np.sqrt(H)                           # PyTorch: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H))
        for k in range(self.num_layers):
            in_size = input_shape[-1] if k == 0 else D * Hs
            for d in range(D):
                s = self.suffix(k, d)
                self.params["weight_ih" + s] = rng.uniform(-bound, bound, (G * H, in_size))
                self.params["weight_hh" + s] = rng.uniform(-bound, bound, (G * H, Hs))
                self.params["bias_ih" + s] = rng.uniform(-bound, bound, (G * H,))
                self.params["bias_hh" + s] = rng.uniform(-bound, bound, (G * H,))

    def output_shape(self, input_shape):
        T = input_shape[0]
        width = self.num_directions * self.state_sizes[0]
        return (T, width) if self.return_sequences else (width,)

    # ---- forward ----------------------------------------------------------------------------------------------
    def forward(self, x, initial_state=None, mask=None, training=False):
        """x (B, T, I) -> output (B, T, D*H) with return_sequences, else (B, D*H) (the final hidden states of
        the top layer, both directions concatenated); with return_state also the PyTorch-shaped final states.
        `training=True` draws the dropout and zoneout masks."""
        x = check_array(x, "x", ndim=3, dtype=self.dtype, device=self.device)
        if not self.built:
            self.build(x.shape[1:])
        check_feature_size(x, self.input_shape[-1])
        B, T, _ = x.shape
        if T == 0:
            raise ValueError(f"x has no time steps (shape {x.shape}); a sequence needs at least one step.")
        L, D = self.num_layers, self.num_directions
        carried = self.carry_states and initial_state is None and self.states is not None
        if carried and self.states[0].shape[1] != B:
            raise ValueError(f"this {type(self).__name__} carries states for a batch of {self.states[0].shape[1]}, "
                             f"but x has a batch of {B}; call reset_states() first (stateful layers need the "
                             f"same batch size from one call to the next).")
        state0 = self.states if carried else self.check_initial_state(initial_state, B)    # each (L*D, B, H)
        m = check_mask(mask, B, T, self.dtype, self.device)        # (T, B, 1) or None
        pack = self._packing(m[:, :, 0].T > 0) if m is not None and self.compiled_sweeps else None
        if pack is not None:                                       # inside: sorted by length (module docstring)
            x, m = x[pack.order], m[:, pack.order]
            state0 = tuple(s0[:, pack.order] for s0 in state0)
        xp = self.xp
        finals = tuple(xp.empty((L * D, B, size), self.dtype) for size in self.state_sizes)
        sweeps, keep_masks = [], []
        inp = x.transpose(1, 0, 2)                                 # (T, B, I)
        for k in range(L):
            outs = []
            for d in range(D):
                s = k * D + d
                m_d = None if m is None else (m[::-1] if d and pack is None else m)
                sweep, y = self._sweep_forward(k, d, self._reverse(inp, pack) if d else inp,
                                               tuple(s0[s] for s0 in state0), m_d, training, pack)
                sweeps.append(sweep)
                for final, states in zip(finals, sweep.states):
                    final[s] = states[-1]
                outs.append(self._reverse(y, pack) if d else y)
            inp = xp.concatenate(outs, axis=-1) if D > 1 else outs[0]   # (T, B, D*H)
            keep = self._dropout_mask(inp.shape, self.dropout, training) if k < L - 1 else None
            if keep is not None:                                   # between layers: per element and step
                keep = keep if pack is None else keep[:, pack.order]
                keep_masks.append(keep)
                inp = inp * keep
        self._cache = ForwardCache(sweeps, keep_masks, (B, T), initial_state is not None, pack)
        if pack is not None:                                       # back to the caller's order
            inverse = np.argsort(pack.order)
            finals = tuple(final[:, inverse] for final in finals)
            inp = inp[:, inverse]
        if self.carry_states:                                      # the next call starts here; no gradient flows back
            self.states = tuple(final.copy() for final in finals)
        if self.return_sequences:
            out = xp.ascontiguousarray(inp.transpose(1, 0, 2))     # (B, T, D*H)
        else:
            out = xp.concatenate([finals[0][(L - 1) * D + d] for d in range(D)], axis=-1)   # (B, D*H)
        if not self.return_state:
            return out
        return out, (finals[0] if len(finals) == 1 else finals)

    @staticmethod
    def _packing(mask):
        """The Packing of a right-padded bool mask (B, T) (module docstring), or None for any other mask."""
        B, T = mask.shape
        lengths = mask.sum(axis=1)
        if not np.array_equal(mask, np.arange(T)[None, :] < lengths[:, None]):
            return None
        order = np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
        live = (lengths[None, :] > np.arange(T)[:, None]).sum(axis=1).astype(np.int64)   # (T,)
        rows = np.concatenate([t * B + np.arange(n) for t, n in enumerate(live)]).astype(np.intp)
        t = np.arange(T)[:, None]
        rev = np.where(t < lengths[None, :], lengths[None, :] - 1 - t, t)   # (T, B)
        return Packing(order, lengths, live, rows, rev)

    @staticmethod
    def _reverse(a, pack):
        """a (T, B, F) in reversed time: the whole axis, or with a Packing each row within its own length."""
        if pack is None:
            return a[::-1]
        return a[pack.rev, np.arange(a.shape[1])[None, :]]

    def _dropout_mask(self, shape, rate, training):
        """Inverted dropout mask, Bernoulli(1 - rate) / (1 - rate) from the layer's generator; None (no dropout)
        outside training or at rate 0."""
        if not training or rate == 0.0:
            return None
        keep = (self.rng.random(shape) >= rate).astype(self.dtype) / (1.0 - rate)
        return backend.to_device(keep, self.device)

    def _update_gates(self, T, B, m, training, pack=None, reverse=False):
        """Per state vector the update gate u (T, B, size) = mask x zoneout (module docstring), or None. With a
        Packing the mask is left to the sweeps (u is the zoneout gate alone), and the random draw, made in the
        general path's layout, moves to the sorted rows (and, reversed, to each row's own reversed steps)."""
        rates = self.zoneout_rates
        if pack is not None:
            m = None
        if m is None and not any(rates):
            return None
        update = []
        for size, p in zip(self.state_sizes, rates):
            if p > 0.0 and training:
                u = (self.rng.random((T, B, size)) >= p).astype(self.dtype)   # 1: update, 0: keep (zone out)
                if pack is not None:                               # the general path's step of sorted row j
                    t = np.arange(T)[:, None]
                    src = np.where(t < pack.lengths, T - pack.lengths + t, t) if reverse else np.broadcast_to(
                        t, (T, B))
                    u = u[src, pack.order[None, :]]
                u = backend.to_device(u, self.device)
            else:
                u = self.xp.full((T, B, size), 1.0 - p, self.dtype)         # inference: the expectation 1 - p
            if m is not None:
                u *= m
            update.append(u)
        return tuple(update)

    def _sweep_forward(self, k, d, x, state0, m, training, pack=None):
        """Run one layer in one direction over x (T, B, I_k) in processing order; return its Sweep and outputs.
        With a Packing (the fast path) x, state0 and m are in the sorted order and right-padded."""
        s = self.suffix(k, d)
        W_ih, W_hh = self.params["weight_ih" + s], self.params["weight_hh" + s]
        T, B, I_k = x.shape
        Hs, GH = self.state_sizes[0], self.G * self.hidden_size
        keep_x = self._dropout_mask((B, I_k), self.input_dropout, training)        # one mask per sequence
        keep_h = self._dropout_mask((B, Hs), self.recurrent_dropout, training)
        if pack is not None:
            keep_x = None if keep_x is None else keep_x[pack.order]
            keep_h = None if keep_h is None else keep_h[pack.order]
        update = self._update_gates(T, B, m, training, pack, d == 1)
        if keep_x is not None:
            x = x * keep_x                                         # the same mask at every step
        record = self.new_record(T, B)
        if pack is None:
            Zx = (x.reshape(T * B, I_k) @ W_ih.T).reshape(T, B, GH)   # (T, B, G*H) W_ih x_t, one GEMM for all steps
            live = np.full(T, B, np.int64)                         # every row runs at every step
        else:                                                      # the live steps only, zeros elsewhere
            Zx = np.zeros((T, B, GH), self.dtype)
            Zx.reshape(T * B, GH)[pack.rows] = x.reshape(T * B, I_k)[pack.rows] @ W_ih.T
            live = pack.live
        Xp = self.input_term(s, Zx, record)                        # W_ih x_t (transformed by the cell)
        states = tuple(self.xp.empty((T + 1, B, size), self.dtype) for size in self.state_sizes)
        for states_k, s0 in zip(states, state0):
            states_k[0] = s0
        if self.compiled_sweeps:                                   # rows on threads (threads.py)
            self._run_sweep(*self.sweep_forward(s, live, Xp, W_hh, self.params["bias_hh" + s],
                                                self._kernel_update(update), self._kernel_keep(keep_h), states,
                                                record), B, T)
        else:
            Xp += self.input_bias(s)                               # x_term (the compiled sweeps add biases themselves)
            a = self.xp.empty((B, GH), self.dtype)                 # the recurrent term, reused every step
            prev = tuple(states_k[0] for states_k in states)
            for t in range(T):
                self.xp.matmul(prev[0] if keep_h is None else prev[0] * keep_h, W_hh.T, out=a)   # Zh = W_hh h_{t-1}
                self.recurrent_term(s, record, t, a)               # a (transformed by the cell), in place
                cand = self.step_forward(s, record, t, Xp[t], a, prev)
                if update is not None:                             # s_t = s_{t-1} + u_t * (cand_t - s_{t-1})
                    for states_k, c, p, u in zip(states, cand, prev, update):
                        states_k[t + 1] = p + u[t] * (c - p)
                    cand = tuple(states_k[t + 1] for states_k in states)
                prev = cand                                        # else s_t = cand_t, kept in the record
            if update is None:                                     # the states, all steps at once
                for states_k, cand_k in zip(states, self.candidates(record)):
                    states_k[1:] = cand_k
        y = states[0][1:] if m is None else states[0][1:] * m      # (T, B, H) y_t = m_t * h_t
        return Sweep(x, states, record, m, update, keep_h, keep_x, pack), y

    def last_sweep(self, depth=0, direction=0):
        """The Sweep record that the last forward kept for stacked layer `depth` and `direction` (1: backward),
        read-only by contract (backward reads it). Its arrays are time-major and in processing order: `x`
        (T, B, I_k) the layer's input, `states` one (T+1, B, size) array per state vector holding s_0 .. s_T,
        `record` the cell's record of step internals (e.g. LSTMRecord.gates (T, B, G*H)), `mask` (T, B, 1) or
        None, `update` one (T, B, size) update gate u_t per state vector or None, `keep_h` (B, H) and `keep_x`
        (B, I_k) the variational dropout masks or None. The backward direction's arrays run over
        reversed time; when a right-padded mask took the fast path (`packing` not None) the batch rows are sorted
        by length (row j is the caller's row packing.order[j]) and direction 1 is reversed within each length."""
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__} has no forward record yet; call forward first.")
        L, D = self.num_layers, self.num_directions
        if not (0 <= depth < L and 0 <= direction < D):
            raise ValueError(f"depth must be in [0, {L}) and direction in [0, {D}) for this layer, got depth={depth}, "
                             f"direction={direction}.")
        return self._cache.sweeps[depth * D + direction]

    # ---- backward ---------------------------------------------------------------------------------------------
    def backward(self, dout):
        """Backpropagation through time. `dout` is the gradient of the output (an array) or, with return_state,
        either that array alone or a tuple shaped like forward's return value (None entries count as zeros).
        Fills `grads`, sets `dinitial_state` (shaped like the initial_state given, or None) and returns dx."""
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward.")
        cache = self._cache
        B, T = cache.batch_time
        L, D, H = self.num_layers, self.num_directions, self.state_sizes[0]
        dy, dfinal = self._split_dout(dout, B)
        out_shape = (B, T, D * H) if self.return_sequences else (B, D * H)
        xp = self.xp
        dy = xp.zeros(out_shape, self.dtype) if dy is None else check_gradient_shape(dy, out_shape, self.dtype,
                                                                                      device=self.device)
        pack = cache.packing
        if pack is not None:                                       # into the sorted order of forward
            dy = dy[pack.order]
            dfinal = tuple(df[:, pack.order] for df in dfinal)
        if self.return_sequences:
            dinp = xp.ascontiguousarray(dy.transpose(1, 0, 2))        # (T, B, D*H)
        else:
            dinp = xp.zeros((T, B, D * H), self.dtype)
            for d in range(D):
                dfinal[0][(L - 1) * D + d] += dy[:, d * H:(d + 1) * H]
        dstate0 = tuple(xp.empty((L * D, B, size), self.dtype) for size in self.state_sizes)
        for k in reversed(range(L)):
            if k < L - 1 and cache.dropout_keep:
                dinp = dinp * cache.dropout_keep[k]
            dx = None
            for d in range(D):
                s = k * D + d
                dy_d = dinp[..., d * H:(d + 1) * H]
                dx_d, d0 = self._sweep_backward(k, d, cache.sweeps[s], self._reverse(dy_d, pack) if d else dy_d,
                                                tuple(df[s] for df in dfinal))
                dx_d = self._reverse(dx_d, pack) if d else dx_d
                dx = dx_d if dx is None else dx + dx_d
                for ds0, g in zip(dstate0, d0):
                    ds0[s] = g
            dinp = dx
        if pack is not None:                                       # back to the caller's order
            inverse = np.argsort(pack.order)
            dstate0 = tuple(ds0[:, inverse] for ds0 in dstate0)
            dinp = dinp[:, inverse]
        if cache.initial_state_given:
            self.dinitial_state = dstate0[0] if len(dstate0) == 1 else dstate0
        else:
            self.dinitial_state = None
        return xp.ascontiguousarray(dinp.transpose(1, 0, 2))          # (B, T, I)

    def _sweep_backward(self, k, d, sweep, dy, dstate_T):
        """BPTT through one layer and direction: dy (T, B, H) on its outputs, dstate_T on its final states.
        Returns dx (T, B, I_k) and the gradients of the initial states; writes this sweep's weight gradients."""
        s = self.suffix(k, d)
        W_ih, W_hh = self.params["weight_ih" + s], self.params["weight_hh" + s]
        T, B, I_k = sweep.x.shape
        Hs, GH = self.state_sizes[0], self.G * self.hidden_size
        xp = self.xp
        dy = xp.ascontiguousarray(dy if sweep.mask is None else dy * sweep.mask, dtype=self.dtype)  # d(m_t h_t)
        dXp = xp.empty((T, B, GH), self.dtype)                     # dL / d x_term_t
        dA = xp.empty((T, B, GH), self.dtype) if self.SEPARATE_RECURRENT_GRAD else dXp   # dL / d a_t
        dZh = xp.empty((T, B, GH), self.dtype) if self.NORMALISED else dA    # dL / d(W_hh h_{t-1})
        pack = sweep.packing
        if self.compiled_sweeps:
            live = np.full(T, B, np.int64) if pack is None else pack.live
            parts = self._run_sweep(*self.sweep_backward(s, live, dy, dstate_T, self._kernel_update(sweep.update),
                                                         self._kernel_keep(sweep.keep_h), W_hh, sweep, dXp, dA,
                                                         dZh), B, T)
            dstate = tuple(np.concatenate([part[k][lo:hi] for lo, hi, part in parts]) for k in range(len(self.STATES)))
        else:
            dstate = self._reference_backward(s, sweep, dy, dstate_T, W_hh, dXp, dA, dZh)
        dZx = self.input_term_backward(s, sweep.record, dXp)       # dL / d(W_ih x_t)
        h_prev = sweep.states[0][:-1]                              # (T, B, H) h_0 .. h_{T-1}
        if sweep.keep_h is not None:
            h_prev = h_prev * sweep.keep_h                         # W_hh saw the masked h_{t-1}
        # the GEMMs over all steps, (T * B, .) rows, or with a Packing the live rows only (the rest are zeros)
        rows = slice(None) if pack is None else pack.rows
        x2, h2 = sweep.x.reshape(T * B, I_k)[rows], h_prev.reshape(T * B, Hs)[rows]
        dZx2 = dZx.reshape(T * B, GH)[rows]
        dXp2 = dZx2 if dXp is dZx else dXp.reshape(T * B, GH)[rows]
        dA2 = dXp2 if dA is dXp else dA.reshape(T * B, GH)[rows]
        dZh2 = dA2 if dZh is dA else dZh.reshape(T * B, GH)[rows]
        xp.matmul(dZx2.T, x2, out=self.grads["weight_ih" + s])     # dW_ih = sum_t dZx_t^T x_t
        xp.matmul(dZh2.T, h2, out=self.grads["weight_hh" + s])     # dW_hh = sum_t dZh_t^T h_{t-1}
        xp.sum(dXp2, axis=0, out=self.grads["bias_ih" + s])
        if dA2 is dXp2:                                            # b_ih and b_hh enter through the same sum
            self.grads["bias_hh" + s][...] = self.grads["bias_ih" + s]
        else:
            xp.sum(dA2, axis=0, out=self.grads["bias_hh" + s])
        self.cell_grads(s, sweep, dXp)
        if pack is None:
            dx = (dZx2 @ W_ih).reshape(T, B, I_k)                  # dx_t = dZx_t W_ih
        else:
            dx = np.zeros((T, B, I_k), self.dtype)
            dx.reshape(T * B, I_k)[pack.rows] = dZx2 @ W_ih
        if sweep.keep_x is not None:
            dx *= sweep.keep_x
        return dx, dstate

    def _reference_backward(self, s, sweep, dy, dstate_T, W_hh, dXp, dA, dZh):
        """The per-step NumPy loop of BPTT (the slow, obvious reference of the compiled sweep_backward)."""
        u, keep_h = sweep.update, sweep.keep_h
        dstate = tuple(self.xp.array(g, dtype=self.dtype) for g in dstate_T)   # dL / d(carried state at t)
        for t in reversed(range(len(dy))):
            prev = tuple(states_k[t] for states_k in sweep.states)
            total = (dstate[0] + dy[t],) + dstate[1:]              # dL / d s_t, the output's share included
            dcand = total if u is None else tuple(g * u_k[t] for g, u_k in zip(total, u))
            dprev = list(self.step_backward(s, sweep.record, t, dcand, prev, dXp[t], dA[t]))
            dZh_t = self.recurrent_term_backward(s, sweep.record, t, dA[t], dZh[t])
            dh_prev = dZh_t @ W_hh                                 # dh_{t-1} = dZh_t W_hh
            if keep_h is not None:
                dh_prev *= keep_h
            dprev[0] = dh_prev if dprev[0] is None else dh_prev + dprev[0]
            if u is not None:                                      # s_{t-1} also enters s_t with weight 1 - u_t
                dprev = [dp + g * (1.0 - u_k[t]) for dp, g, u_k in zip(dprev, total, u)]
            dstate = tuple(dprev)
        return dstate

    @property
    def compiled_sweeps(self):
        """Whether the compiled (Numba) sweeps run: implementation "compiled" on the CPU (on "cuda" the per-step
        loop runs, on CuPy arrays)."""
        return self.implementation == "compiled" and self.device == "cpu"

    @property
    def fused(self):
        """Whether a step's point-wise work runs as one CUDA kernel each way (cuda_kernels.py): implementation
        "compiled" on a GPU, for a cell that has the kernels; "reference" keeps the per-step NumPy calls there."""
        return self.implementation == "compiled" and self.device == "cuda" and self.HAS_FUSED_STEP

    def gate_blocks(self, z):
        """The G column blocks (B, H) of z (B, G*H), as views."""
        H = self.hidden_size
        return tuple(z[:, k * H:(k + 1) * H] for k in range(self.G))

    def _run_sweep(self, kernel, args, B, T):
        """kernel(lo, hi, gemm, ints, *args) over the batch's row ranges (threads.py), with the BLAS of blas.py;
        returns [(lo, hi, result)]."""
        gemm = gemm_args(self.dtype)
        step_work = B * self.G * self.hidden_size * self.state_sizes[0]     # multiply-adds of a step's GEMM
        return run_rows(lambda lo, hi: kernel(lo, hi, *gemm, *args), B, T, step_work)

    def _kernel_update(self, update):
        """(u per state vector..., has_update) as the compiled sweeps take it; empty arrays when there is none."""
        if update is None:
            return (np.empty((0, 0, 0), self.dtype),) * len(self.STATES) + (False,)
        return tuple(update) + (True,)

    def _kernel_keep(self, keep_h):
        """(keep_h (B, H), has_keep) as the compiled sweeps take it."""
        if keep_h is None:
            return np.empty((0, 0), self.dtype), False
        return keep_h, True

    # ---- hooks a cell may override ----------------------------------------------------------------------------
    def input_term(self, s, Zx, record):
        """A cell's transform of Zx = W_ih x_t for all steps ((T, B, G*H), in place), before the driver adds b_ih
        (x_term = Zx + b_ih): none here."""
        return Zx

    def input_term_backward(self, s, record, dXp):
        """dL/dZx from dL/dx_term, (T, B, G*H): the same array here."""
        return dXp

    def input_bias(self, s):
        """The biases added once to every step's input term, x_term = Zx + b_ih + b_hh, on the per-step loop's path
        (the compiled sweeps add them themselves): all of b_hh here, as both enter the same sum H_t."""
        return self.params["bias_ih" + s] + self.params["bias_hh" + s]

    def recurrent_term(self, s, record, t, a):
        """A cell's transform of a = Zh = W_hh h_{t-1} at step t ((B, G*H), in place): none here."""

    def candidates(self, record):
        """The record arrays (T, B, size), one per state vector, whose step-t rows step_forward returns as its
        candidate states."""
        raise NotImplementedError

    def recurrent_term_backward(self, s, record, t, dA_t, dZh_t):
        """dL/dZh at step t from dL/da (writing dZh_t when it is a separate array); the same array here."""
        return dA_t

    def reset_states(self):
        """Forget the carried states: the next forward starts from zeros (or its initial_state)."""
        self.states = None

    def to(self, target):
        """Layer.to, and the carried states (stateful layers) go along; a backward needs a forward after it."""
        super().to(target)
        if self.states is not None:
            self.states = tuple(self.xp.asarray(backend.to_device(s, self.device), dtype=self.dtype)
                                for s in self.states)
        return self

    def sequence_twin(self):
        """The same layer, sharing these weights (nothing copied), that returns every step's output and its final
        states and is never stateful: for reading a trained layer step by step or piece by piece."""
        config = dict(self.get_config(), return_sequences=True, return_state=True, stateful=False)
        twin = type(self)(**config)
        twin.device = self.device
        twin.build(self.input_shape)
        twin.params = self.params
        return twin

    def cell_grads(self, s, sweep, dXp):
        """Gradients of a cell's own extra parameters (e.g. peepholes) for suffix s; none by default."""

    # ---- argument checks --------------------------------------------------------------------------------------
    def _check_zoneout(self, zoneout):
        """One rate for every state vector, or (for the LSTM) a pair (p_h, p_c); stored as a float or a tuple."""
        if isinstance(zoneout, (tuple, list)):
            if len(zoneout) != len(self.STATES) or len(self.STATES) == 1:
                raise ValueError(f"zoneout of {type(self).__name__} must be one rate in [0, 1)"
                                 + (" or a pair (p_h, p_c)" if len(self.STATES) == 2 else "")
                                 + f", got {zoneout!r}.")
            return tuple(check_rate(p, f"zoneout rate of {name}") for p, name in zip(zoneout, self.STATES))
        return check_rate(zoneout, "zoneout")

    def _state_form(self):
        return "h_0" if len(self.STATES) == 1 else "(h_0, c_0)"

    def check_initial_state(self, initial_state, B):
        """`initial_state` as forward takes it (None, h_0, or (h_0, c_0) for the LSTM) for a batch of B -> a tuple
        with one array per state vector (STATES), each (L*D, B, size) in this layer's dtype and device: zeros when
        None; a ValueError naming the expected form and shape otherwise."""
        shapes = [(self.num_layers * self.num_directions, B, size) for size in self.state_sizes]
        if initial_state is None:
            return tuple(self.xp.zeros(shape, self.dtype) for shape in shapes)
        parts = (initial_state,) if len(self.STATES) == 1 else initial_state
        if not isinstance(parts, (tuple, list)) or len(parts) != len(self.STATES):
            raise ValueError(f"initial_state of {type(self).__name__} must be {self._state_form()}, "
                             f"got {type(initial_state).__name__}.")
        checked = []
        for name, part, shape in zip(self.STATES, parts, shapes):
            arr = check_array(part, f"initial_state {name}_0", ndim=3, dtype=self.dtype, device=self.device)
            if arr.shape != shape:
                raise ValueError(f"initial_state {name}_0 must have shape (num_layers * num_directions, B, "
                                 f"hidden_size) = {shape}, got {arr.shape}.")
            checked.append(arr)
        return tuple(checked)

    def _split_dout(self, dout, B):
        """Return the output gradient and per-state final-state gradients (fresh arrays, (L*D, B, H) each)."""
        shapes = [(self.num_layers * self.num_directions, B, size) for size in self.state_sizes]
        dfinal = tuple(self.xp.zeros(shape, self.dtype) for shape in shapes)
        if not (self.return_state and isinstance(dout, (tuple, list))):
            return dout, dfinal
        if len(dout) != 2:
            raise ValueError("dout must be (d_output, d_state), shaped like forward's return value.")
        dy, dstate = dout
        parts = (dstate,) if len(self.STATES) == 1 else (dstate if dstate is not None else (None,) * 2)
        for name, target, part in zip(self.STATES, dfinal, parts):
            if part is not None:
                target += check_gradient_shape(part, target.shape, self.dtype, f"the gradient of {name}_n",
                                               self.device)
        return dy, dfinal
