"""Jordan recurrent network (Jordan 1986): the context fed back into the hidden layer is the network's previous
output, not its previous hidden state.

M. I. Jordan, "Serial order: a parallel distributed processing approach", ICS Report 8604, UC San Diego, 1986.
"""

from typing import NamedTuple

import numpy as np

from ..runtime.blas import gemm_args, matmul, matmul_add
from ..runtime.ops import kernel, sigmoid, sigmoid_scalar, tanh_scalar
from ..runtime.validation import check_array, check_feature_size, check_gradient_shape, check_mask, check_positive_int
from .base import Layer

ACTIVATIONS = {None: 0, "tanh": 1, "sigmoid": 2}     # phi, as the compiled sweeps take it


class JordanRecord(NamedTuple):
    """What forward keeps for backward (time-major)."""
    x: np.ndarray          # (T, B, I) the input
    context: np.ndarray    # (T+1, B, O) the carried outputs y_0 .. y_T (after masking); step t reads context[t]
    h: np.ndarray          # (T, B, H) hidden states h_t
    y: np.ndarray          # (T, B, O) outputs y_t = phi(z_t) of every step (before masking)
    mask: np.ndarray       # (T, B, 1) float 0/1, or None
    initial_state_given: bool


class JordanRNN(Layer):
    """Jordan RNN layer. With phi the output activation (identity, tanh or sigmoid)::

        a_t = W_ih x_t + b + W_ho y_{t-1}       (the context is the previous output y_{t-1}; y_0 = initial_state)
        h_t = tanh(a_t)
        z_t = W_hy h_t + b_hy
        y_t = phi(z_t)

    Dimension letters: B batch, T time, I input features, H hidden units, O outputs.
    Parameters: `weight_ih_l0` (H, I), `weight_ho_l0` (H, O) the context weights W_ho, `bias_ih_l0` (H,) the one
    hidden bias b, `weight_hy_l0` (O, H) and `bias_hy_l0` (O,) the read-out W_hy = DESIGN's W_y, b_hy = b_y. All
    are initialised U(-1/sqrt(H), 1/sqrt(H)), as torch.nn.RNN(I, H) and torch.nn.Linear(H, O) would be.

    Against Elman's RNN (`SimpleRNN`, h_t = tanh(W_ih x_t + W_hh h_{t-1} + b)): the recurrence goes through the
    output, so the only memory is what the layer outputs (O numbers, not H) and it passes through the read-out and
    phi on every step; in exchange the context is interpretable, and the output y_t is part of the layer (no Dense
    after it is needed). Departures from Jordan (1986): his state units also kept a decaying copy of themselves,
    s_t = mu s_{t-1} + y_{t-1}; here mu = 0 (DESIGN.md section 2). Training is full BPTT, through the fed-back
    output as well.

    Masking (`mask[b, t]` False on padded steps), as the other recurrent layers: a padded step outputs zeros and
    leaves the context unchanged, `context_t = m * y_t + (1 - m) * context_{t-1}`, so the final output is y at
    each sequence's last real step. The output without return_sequences, and the state with return_state, is
    that final context y_T, the state shaped (1, B, O) as PyTorch shapes h_n.

    `implementation="compiled"` runs the time loop as a Numba kernel (`jordan_forward_sweep` /
    `jordan_backward_sweep`), `"reference"` as the per-step NumPy pair `step_forward` / `step_backward`; in float64
    they agree to rounding (float32 kernels use the rational tanh of `ops`).
    """

    def __init__(self, hidden_size, output_size, output_activation=None, return_sequences=False,
                 return_state=False, implementation="compiled", dtype="float32"):
        super().__init__(dtype)
        if output_activation not in ACTIVATIONS:
            raise ValueError(f"output_activation must be None (linear), 'tanh' or 'sigmoid', got "
                             f"{output_activation!r}.")
        if implementation not in ("compiled", "reference"):
            raise ValueError(f"implementation must be 'compiled' or 'reference', got {implementation!r}.")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.output_size = check_positive_int(output_size, "output_size")
        self.output_activation = output_activation
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.implementation = implementation
        self.dinitial_state = None
        self._cache = None

    def _create_params(self, input_shape, rng):
        H, O, I = self.hidden_size, self.output_size, input_shape[-1]
        bound = 1.0 / np.sqrt(H)                   # torch.nn.RNN(I, H), and torch.nn.Linear(H, O) (fan-in H)
        self.params["weight_ih_l0"] = rng.uniform(-bound, bound, (H, I))
        self.params["weight_ho_l0"] = rng.uniform(-bound, bound, (H, O))
        self.params["bias_ih_l0"] = rng.uniform(-bound, bound, (H,))
        self.params["weight_hy_l0"] = rng.uniform(-bound, bound, (O, H))
        self.params["bias_hy_l0"] = rng.uniform(-bound, bound, (O,))

    def output_shape(self, input_shape):
        return (input_shape[0], self.output_size) if self.return_sequences else (self.output_size,)

    # ---- one step: the NumPy reference, forward and backward side by side ------------------------------------
    def step_forward(self, t, x_term, y_prev, rec):
        """x_term = W_ih x_t + b (B, H), y_prev = y_{t-1} (B, O); writes h_t and y_t into the record, returns y_t."""
        W_ho, W_hy, b_hy = (self.params[n] for n in ("weight_ho_l0", "weight_hy_l0", "bias_hy_l0"))
        h = np.add(x_term, y_prev @ W_ho.T, out=rec.h[t])      # a_t = W_ih x_t + b + W_ho y_{t-1}
        np.tanh(h, out=h)                                       # h_t = tanh(a_t)
        z = np.add(h @ W_hy.T, b_hy, out=rec.y[t])              # z_t = W_hy h_t + b_hy
        if self.output_activation == "tanh":
            np.tanh(z, out=z)                                   # y_t = tanh(z_t)
        elif self.output_activation == "sigmoid":
            sigmoid(z, out=z)                                   # y_t = sigma(z_t)
        return z                                                # y_t = z_t without an activation

    def step_backward(self, t, dy, rec, dz, da):
        """dy = dL/dy_t (B, O); writes dz = dL/dz_t (B, O) and da = dL/da_t (B, H), returns dL/dy_{t-1}."""
        W_ho, W_hy = self.params["weight_ho_l0"], self.params["weight_hy_l0"]
        y, h = rec.y[t], rec.h[t]
        if self.output_activation == "tanh":
            np.multiply(dy, 1.0 - y * y, out=dz)                # tanh' = 1 - y^2
        elif self.output_activation == "sigmoid":
            np.multiply(dy, y * (1.0 - y), out=dz)              # sigma' = y (1 - y)
        else:
            dz[...] = dy                                        # identity
        dh = dz @ W_hy                                          # dh_t = dz_t W_hy
        np.multiply(dh, 1.0 - h * h, out=da)                    # da_t = dh_t (1 - h_t^2)
        return da @ W_ho                                        # dy_{t-1} = da_t W_ho

    # ---- the sequence ---------------------------------------------------------------------------------------
    @property
    def compiled_sweeps(self):
        """Whether the compiled (Numba) sweeps run: implementation "compiled" on the CPU (on "cuda" the per-step
        loop runs, on CuPy arrays)."""
        return self.implementation == "compiled" and self.device == "cpu"

    def forward(self, x, initial_state=None, mask=None, training=False):
        """x (B, T, I) -> output (B, T, O) with return_sequences, else (B, O) (y at the last real step); with
        return_state, (output, y_n) with y_n (1, B, O). `initial_state` is y_0, shaped (1, B, O)."""
        x = check_array(x, "x", ndim=3, dtype=self.dtype, device=self.device)
        if not self.built:
            self.build(x.shape[1:])
        check_feature_size(x, self.input_shape[-1])
        B, T, I = x.shape
        H, O = self.hidden_size, self.output_size
        y0 = self._check_initial_state(initial_state, B)                # (B, O)
        m = check_mask(mask, B, T, self.dtype, self.device)             # (T, B, 1) or None
        W_ih, b = self.params["weight_ih_l0"], self.params["bias_ih_l0"]
        xp = self.xp
        xt = xp.ascontiguousarray(x.transpose(1, 0, 2))                 # (T, B, I)
        Xp = (xt.reshape(T * B, I) @ W_ih.T + b).reshape(T, B, H)       # W_ih x_t + b for all t, one GEMM
        context = xp.empty((T + 1, B, O), self.dtype)                   # y_0 .. y_T after masking
        context[0] = y0
        rec = JordanRecord(xt, context, xp.empty((T, B, H), self.dtype), xp.empty((T, B, O), self.dtype), m,
                           initial_state is not None)
        if self.compiled_sweeps:
            jordan_forward_sweep(*gemm_args(self.dtype), Xp, self.params["weight_ho_l0"], self.params["weight_hy_l0"],
                                 self.params["bias_hy_l0"], ACTIVATIONS[self.output_activation],
                                 *self._kernel_mask(m), context, rec.h, rec.y)
        else:
            for t in range(T):
                y = self.step_forward(t, Xp[t], context[t], rec)
                context[t + 1] = y if m is None else context[t] + m[t] * (y - context[t])
        self._cache = rec
        if not self.return_sequences:
            out = context[T].copy()                                     # (B, O)
        elif m is None:
            out = xp.ascontiguousarray(rec.y.transpose(1, 0, 2))        # (B, T, O)
        else:
            out = xp.ascontiguousarray((rec.y * m).transpose(1, 0, 2))  # padded steps output zeros
        if not self.return_state:
            return out
        return out, context[T][None].copy()                             # y_n (1, B, O)

    def backward(self, dout):
        """Backpropagation through time. `dout` is the output gradient or, with return_state, either that alone
        or a tuple (d_output, d_y_n) (None counts as zeros). Fills `grads`, sets `dinitial_state` ((1, B, O)
        when forward was given an initial_state, else None) and returns dx (B, T, I)."""
        if self._cache is None:
            raise RuntimeError("JordanRNN.backward called before forward.")
        rec = self._cache
        T, B, I = rec.x.shape
        H, O = self.hidden_size, self.output_size
        dy_out, dcontext = self._split_dout(dout, B)                    # dcontext: dL/d context_T (B, O)
        out_shape = (B, T, O) if self.return_sequences else (B, O)
        if dy_out is not None:
            dy_out = check_gradient_shape(dy_out, out_shape, self.dtype, device=self.device)
        xp = self.xp
        dY = xp.zeros((T, B, O), self.dtype)                            # dL/d(output at step t), time-major
        if dy_out is not None and self.return_sequences:
            dY[...] = dy_out.transpose(1, 0, 2)
        elif dy_out is not None:
            dcontext += dy_out                                          # the output is context_T
        dz = xp.empty((T, B, O), self.dtype)                            # dL/dz_t
        da = xp.empty((T, B, H), self.dtype)                            # dL/da_t = dL/d(W_ih x_t + b)
        W_ho, W_hy = self.params["weight_ho_l0"], self.params["weight_hy_l0"]
        m = rec.mask
        if self.compiled_sweeps:
            dcontext = jordan_backward_sweep(*gemm_args(self.dtype), dY, dcontext, ACTIVATIONS[self.output_activation],
                                             *self._kernel_mask(m), W_ho, W_hy, rec.h, rec.y, dz, da)
        else:
            for t in reversed(range(T)):
                dy = dY[t] + dcontext                                   # dL/dy_t: its output and the next step
                if m is not None:
                    dy *= m[t]
                dy_prev = self.step_backward(t, dy, rec, dz[t], da[t])
                dcontext = dy_prev if m is None else dy_prev + (1.0 - m[t]) * dcontext   # padded: pass through
        # the weight gradients, summed over time in one GEMM each
        da2, dz2 = da.reshape(T * B, H), dz.reshape(T * B, O)
        xp.matmul(da2.T, rec.x.reshape(T * B, I), out=self.grads["weight_ih_l0"])           # sum_t da_t^T x_t
        xp.matmul(da2.T, rec.context[:-1].reshape(T * B, O), out=self.grads["weight_ho_l0"])  # da_t^T y_{t-1}
        xp.sum(da2, axis=0, out=self.grads["bias_ih_l0"])
        xp.matmul(dz2.T, rec.h.reshape(T * B, H), out=self.grads["weight_hy_l0"])           # sum_t dz_t^T h_t
        xp.sum(dz2, axis=0, out=self.grads["bias_hy_l0"])
        self.dinitial_state = dcontext[None].copy() if rec.initial_state_given else None
        dx = (da2 @ self.params["weight_ih_l0"]).reshape(T, B, I)      # dx_t = da_t W_ih
        return xp.ascontiguousarray(dx.transpose(1, 0, 2))             # (B, T, I)

    # ---- argument checks ------------------------------------------------------------------------------------
    def _check_initial_state(self, initial_state, B):
        shape = (1, B, self.output_size)
        if initial_state is None:
            return self.xp.zeros(shape[1:], self.dtype)
        arr = check_array(initial_state, "initial_state y_0", ndim=3, dtype=self.dtype, device=self.device)
        if arr.shape != shape:
            raise ValueError(f"initial_state y_0 of JordanRNN is the previous output, shaped (1, B, output_size) = "
                             f"{shape}, got {arr.shape}.")
        return arr[0]

    def _kernel_mask(self, m):
        """(mask (T, B), has_mask) as the compiled sweeps take it; an empty array when there is no mask."""
        if m is None:
            return np.empty((0, 0), self.dtype), False
        return np.ascontiguousarray(m[:, :, 0]), True

    def _split_dout(self, dout, B):
        """The output gradient (or None) and a fresh dL/dy_n (B, O) from what backward was given."""
        dcontext = self.xp.zeros((B, self.output_size), self.dtype)
        if not (self.return_state and isinstance(dout, (tuple, list))):
            return dout, dcontext
        if len(dout) != 2:
            raise ValueError("dout must be (d_output, d_y_n), shaped like forward's return value.")
        dy, dstate = dout
        if dstate is not None:
            dcontext += check_gradient_shape(dstate, (1, B, self.output_size), self.dtype, "the gradient of y_n",
                                             self.device)[0]
        return dy, dcontext


# ---- compiled sweeps: the same equations as step_forward / step_backward, fused over one whole sequence --------
@kernel
def jordan_forward_sweep(gemm, ints, Xp, W_ho, W_hy, b_hy, phi, mask, has_mask, context, h, y):
    """Xp (T, B, H) = W_ih x_t + b for all t (the kernel adds W_ho y_{t-1} to it in place); context (T+1, B, O)
    with [0] = y_0. Fills h, y and the context. gemm, ints: the BLAS of blas.py."""
    T, B, H = Xp.shape
    O = W_hy.shape[0]
    z = np.empty((B, O), Xp.dtype)                             # W_hy h_t
    W_hoT, W_hyT = np.ascontiguousarray(W_ho.T), np.ascontiguousarray(W_hy.T)   # rows contiguous, as matmul needs
    for t in range(T):
        matmul_add(gemm, ints, context[t], W_hoT, Xp[t])          # Xp_t += W_ho y_{t-1}
        for b in range(B):
            for j in range(H):
                h[t, b, j] = tanh_scalar(Xp[t, b, j])           # h_t = tanh(W_ih x_t + b + W_ho y_{t-1})
        matmul(gemm, ints, h[t], W_hyT, z)
        for b in range(B):
            m = mask[t, b] if has_mask else 1.0
            for k in range(O):
                z_t = z[b, k] + b_hy[k]                             # z_t = W_hy h_t + b_hy
                if phi == 1:
                    y_t = tanh_scalar(z_t)
                elif phi == 2:
                    y_t = sigmoid_scalar(z_t)
                else:
                    y_t = z_t
                y[t, b, k] = y_t
                if has_mask:
                    context[t + 1, b, k] = context[t, b, k] + m * (y_t - context[t, b, k])
                else:
                    context[t + 1, b, k] = y_t


@kernel
def jordan_backward_sweep(gemm, ints, dY, dcontext_T, phi, mask, has_mask, W_ho, W_hy, h, y, dz, da):
    """Mirror of jordan_forward_sweep: dY (T, B, O) the output gradients, dcontext_T (B, O) that of y_T; writes
    dz (T, B, O) and da (T, B, H) and returns dL/dy_0."""
    T, B, H = h.shape
    O = y.shape[2]
    dcontext = dcontext_T.copy()
    dh = np.empty((B, H), h.dtype)
    for t in range(T - 1, -1, -1):
        for b in range(B):
            m = mask[t, b] if has_mask else 1.0
            for k in range(O):
                dy = (dY[t, b, k] + dcontext[b, k]) * m
                y_t = y[t, b, k]
                if phi == 1:
                    dz[t, b, k] = dy * (1.0 - y_t * y_t)
                elif phi == 2:
                    dz[t, b, k] = dy * (y_t * (1.0 - y_t))
                else:
                    dz[t, b, k] = dy
                dcontext[b, k] = (1.0 - m) * dcontext[b, k]        # padded steps pass the gradient through
        matmul(gemm, ints, dz[t], W_hy, dh)                         # dh_t = dz_t W_hy
        for b in range(B):
            for j in range(H):
                h_t = h[t, b, j]
                da[t, b, j] = dh[b, j] * (1.0 - h_t * h_t)
        matmul_add(gemm, ints, da[t], W_ho, dcontext)               # dy_{t-1} += da_t W_ho
    return dcontext
