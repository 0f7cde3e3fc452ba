"""Conv1D: a 1-D convolution over time, torch.nn.Conv1d's math (stride 1) on channels-last sequences, the
convolution blocks of the fully convolutional network (Wang, Yan & Oates 2017) inside LSTM-FCN (Karim et al. 2018).

Dimensions: B batch, T time, C input channels, F filters, K kernel size, d dilation; the kernel spans
P + 1 steps, P = d (K - 1). The input is zero-padded on the time axis to xp (B, T + P_l + P_r, C): "valid" pads
nothing (T' = T - P outputs), "same" pads P_l = P // 2 steps before and P_r = P - P_l after (T' = T; for an even
kernel the extra step goes after, as in PyTorch's and Keras' padding="same"). Like torch, the "convolution" is a
cross-correlation:
```
y[b, t, f] = bias[f] + sum_k sum_c weight[f, c, k] * xp[b, t + k d, c]                       (B, T', F)
```
Backward, with dy = dL/dy:
```
dweight[f, c, k] = sum_{b,t} dy[b, t, f] * xp[b, t + k d, c]
dbias[f]         = sum_{b,t} dy[b, t, f]
dxp[b, t + k d, c] += sum_f dy[b, t, f] * weight[f, c, k]            (dx: dxp without the padding)
```
Both run one GEMM per kernel tap over all B * T rows (no loop over B or T); `conv1d_reference` is the slow,
obvious loop that the tests compare them with.

Masking: with a (B, T) mask of real steps, padded input steps read as zeros, so a right-padded series gives on
its real steps what the series alone gives (its own end is zero-padded too). An output step is real when all the
input steps in its window are ("same": the input's mask); padded output steps are zero.
"""

from typing import NamedTuple

import numpy as np

from ..runtime import backend
from ..runtime.validation import check_array, check_feature_size, check_gradient_shape, check_mask, check_positive_int
from .base import Layer

PADDINGS = ("same", "valid")


def conv1d_forward(xp, weight, bias, dilation):
    """y (B, T', F) from the zero-padded input xp (B, T' + P, C), weight (F, C, K), bias (F,) or None."""
    B, Tp, C = xp.shape
    F, _, K = weight.shape
    Tout = Tp - dilation * (K - 1)
    x2 = xp.reshape(B * Tp, C)                                       # (B*Tp, C), a view
    y = np.zeros_like(xp, shape=(B, Tout, F))
    for k in range(K):
        s = k * dilation
        z = (x2 @ weight[:, :, k].T).reshape(B, Tp, F)               # tap k at every padded step
        y += z[:, s:s + Tout]                                        # y[t] += W_k xp[t + k d]
    if bias is not None:
        y += bias
    return y


def conv1d_backward(dy, xp, weight, dilation):
    """(dxp, dweight, dbias) from dy (B, T', F) and the forward's padded input xp (B, T' + P, C)."""
    B, Tout, F = dy.shape
    C, K = weight.shape[1:]
    dy2 = dy.reshape(B * Tout, F)                                    # (B*T', F)
    dxp = np.zeros_like(xp)
    dweight = np.empty_like(weight)
    for k in range(K):
        s = k * dilation
        x_k = xp[:, s:s + Tout].reshape(B * Tout, C)                 # (B*T', C): the steps tap k read (a copy)
        dweight[:, :, k] = dy2.T @ x_k                               # dW_k = sum_{b,t} dy^T xp[t + k d]
        dxp[:, s:s + Tout] += (dy2 @ weight[:, :, k]).reshape(B, Tout, C)   # dxp[t + k d] += dy W_k
    return dxp, dweight, dy2.sum(axis=0)                             # db = sum_{b,t} dy


def conv1d_reference(x, weight, bias, padding, dilation):
    """The slow definition, a loop over output steps and taps, for tests: y (B, T', F) from x (B, T, C)."""
    K = weight.shape[2]
    left, right = pads(padding, K, dilation)
    xp = np.pad(x, ((0, 0), (left, right), (0, 0)))
    T_out = xp.shape[1] - dilation * (K - 1)
    y = np.zeros((x.shape[0], T_out, weight.shape[0]), dtype=x.dtype)
    for t in range(T_out):
        for k in range(K):
            y[:, t] += xp[:, t + k * dilation] @ weight[:, :, k].T
    return y if bias is None else y + bias


def pads(padding, kernel_size, dilation):
    """(P_l, P_r): the zero steps added before and after the series."""
    span = dilation * (kernel_size - 1)
    return (0, 0) if padding == "valid" else (span // 2, span - span // 2)


class ConvRecord(NamedTuple):
    """What forward keeps for backward."""
    xp: object            # (B, T + P_l + P_r, C) the padded (and masked) input
    in_mask: object       # (B, T, 1) floats, or None
    out_mask: object      # (B, T', 1) floats, or None


class Conv1D(Layer):
    """y = conv(x) + bias with `weight` (filters, C, kernel_size) and `bias` (filters,), PyTorch's names and shapes,
    initialised as torch.nn.Conv1d: uniform(-1/sqrt(C K), 1/sqrt(C K)). Inputs (B, T, C), outputs (B, T', filters);
    stride 1, `padding` "same" or "valid", `dilation` d >= 1 (the taps sit d steps apart)."""

    input_axes = (2,)

    def __init__(self, filters, kernel_size, padding="same", dilation=1, use_bias=True, dtype="float32"):
        super().__init__(dtype)
        self.filters = check_positive_int(filters, "filters")
        self.kernel_size = check_positive_int(kernel_size, "kernel_size")
        if padding not in PADDINGS:
            raise ValueError(f"Conv1D padding must be 'same' (output as long as the input) or 'valid' (no "
                             f"padding, {self.kernel_size} - 1 steps shorter), got {padding!r}.")
        self.padding = padding
        self.dilation = check_positive_int(dilation, "dilation")
        self.use_bias = bool(use_bias)
        self._rec = None

    @property
    def span(self):
        """P + 1: the number of input steps one output step reads."""
        return self.dilation * (self.kernel_size - 1) + 1

    def _check_length(self, T):
        if self.padding == "valid" and T is not None and T < self.span:
            raise ValueError(f"Conv1D(kernel_size={self.kernel_size}, dilation={self.dilation}, padding='valid') "
                             f"reads {self.span} steps per output, but the series has {T}; use padding='same', a "
                             f"smaller kernel, or longer series.")

    def _create_params(self, input_shape, rng):
        T, C = input_shape
        if not C:
            raise ValueError(f"Conv1D needs inputs with at least one channel; got input shape {input_shape}.")
        self._check_length(T)
        bound = 1.0 / np.sqrt(C * self.kernel_size)
        self.params["weight"] = rng.uniform(-bound, bound, (self.filters, C, self.kernel_size))
        if self.use_bias:
            self.params["bias"] = rng.uniform(-bound, bound, (self.filters,))

    def output_shape(self, input_shape):
        T = input_shape[0]
        if self.padding == "valid" and T is not None:
            self._check_length(T)
            T = T - self.span + 1
        return (T, self.filters)

    def output_mask(self, x, mask):
        """"same": the input's mask; "valid": an output step is real when every step of its window is."""
        if mask is None or self.padding == "same":
            return mask
        mask = np.asarray(backend.to_host(mask), dtype=bool)
        real = np.concatenate([np.zeros((len(mask), 1), int), np.cumsum(mask, axis=1)], axis=1)   # (B, T + 1)
        return real[:, self.span:] - real[:, :-self.span] == self.span                            # (B, T')

    def forward(self, x, mask=None, training=False):
        if np.ndim(x) != 3:
            raise ValueError(f"Conv1D expects x shaped (B, T, C) (batch, time, channels), got shape "
                             f"{np.shape(x)}; a univariate series needs a channel axis: x[..., None].")
        x = check_array(x, "x", ndim=3, dtype=self.dtype, device=self.device)
        if not self.built:
            self.build(x.shape[1:])
        check_feature_size(x, self.input_shape[-1])
        B, T, _ = x.shape
        self._check_length(T)
        m = check_mask(mask, B, T, self.dtype, self.device)          # (T, B, 1) or None
        in_mask = out_mask = None
        if m is not None:
            in_mask = m.transpose(1, 0, 2)                           # (B, T, 1)
            x = x * in_mask                                          # padded steps read as zeros
            real_out = self.output_mask(x, backend.to_host(backend.as_array(mask)))               # (B, T') bool
            out_mask = backend.to_device(real_out[..., None].astype(self.dtype), self.device)     # (B, T', 1)
        left, right = pads(self.padding, self.kernel_size, self.dilation)
        xp = self.xp.zeros((B, left + T + right, x.shape[2]), self.dtype)   # (B, T + P, C): zero edges
        xp[:, left:left + T] = x
        y = conv1d_forward(xp, self.params["weight"], self.params.get("bias"), self.dilation)   # (B, T', F)
        if out_mask is not None:
            y *= out_mask
        self._rec = ConvRecord(xp, in_mask, out_mask)
        return y

    def backward(self, dy):
        if self._rec is None:
            raise RuntimeError("Conv1D.backward called before forward.")
        xp, in_mask, out_mask = self._rec
        B, Tp, _ = xp.shape
        dy = check_gradient_shape(dy, (B, Tp - self.span + 1, self.filters), self.dtype, "dy", self.device)
        if out_mask is not None:
            dy = dy * out_mask                                       # padded outputs are constant zeros
        dxp, dweight, dbias = conv1d_backward(dy, xp, self.params["weight"], self.dilation)
        self.grads["weight"][...] = dweight
        if self.use_bias:
            self.grads["bias"][...] = dbias
        left, right = pads(self.padding, self.kernel_size, self.dilation)
        dx = dxp[:, left:Tp - right]                                 # (B, T, C): the padding dropped
        return dx if in_mask is None else dx * in_mask
