"""Batch normalisation (Ioffe & Szegedy 2015) of the last axis (channels), torch.nn.BatchNorm1d's math and state,
as in the convolution blocks of LSTM-FCN (Karim et al. 2018).

Dimensions: the input (B, C) or (B, T, C) is read as N = B [* T] rows of C channels; n <= N rows are real (all, or
the real steps of a (B, T) mask). Per channel, with gamma = `weight`, beta = `bias`:
```
training:  mu = (1/n) sum x        var = (1/n) sum (x - mu)^2   (biased)        over the real rows
           running_mean <- (1 - momentum) running_mean + momentum mu
           running_var  <- (1 - momentum) running_var  + momentum var n / (n - 1)   (unbiased: PyTorch's rule)
inference: mu = running_mean       var = running_var
x_hat = (x - mu) * rstd,  rstd = 1 / sqrt(var + epsilon);   y = gamma x_hat + beta    (padded rows: y = 0)
```
Backward, with dy = dL/dy (zero on padded rows) and g = dL/dx_hat = dy gamma:
```
dgamma = sum dy x_hat     dbeta = sum dy
training:  dx = rstd (g - mean(g) - x_hat mean(g x_hat))     (mu and var depend on x; means over real rows)
inference: dx = rstd g                                       (the running statistics are constants)
```
The training rule is ops.normalise_backward's (layer normalisation's) over the rows instead of the channels.
The running statistics are `buffers` (not trained by gradients; saved with the model), as is
`num_batches_tracked`, PyTorch's count of training batches (kept for state_dict parity; momentum=None, its use
in PyTorch, is not offered).
"""

from typing import NamedTuple

import numpy as np

from ..runtime import backend
from ..runtime.validation import check_array, check_feature_size, check_gradient_shape, check_mask
from .base import Layer


class NormRecord(NamedTuple):
    """What forward keeps for backward."""
    x_hat: object        # (N, C), zero on padded rows
    rstd: object         # (C,)
    mask: object         # (N, 1) floats, or None
    n: int               # real rows
    training: bool
    shape: tuple         # the input's shape


class BatchNorm(Layer):
    """y = gamma (x - mu) / sqrt(var + epsilon) + beta over the last axis; `weight` (gamma, ones) and `bias` (beta,
    zeros) of shape (C,); buffers `running_mean` (zeros), `running_var` (ones), `num_batches_tracked` (0).
    `forward(x, mask=None, training=False)`: batch statistics (and an update of the running ones) in training,
    the running statistics at inference."""

    input_axes = (1, 2)

    def __init__(self, momentum=0.1, epsilon=1e-5, dtype="float32"):
        super().__init__(dtype)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float, np.number)) \
                or not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm momentum must be a number in [0, 1] (the weight of each new batch in the "
                             f"running statistics; PyTorch's default is 0.1), got {momentum!r}.")
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float, np.number)) \
                or not 0.0 < epsilon < np.inf:
            raise ValueError(f"BatchNorm epsilon must be a positive number (e.g. 1e-5), got {epsilon!r}.")
        self.momentum = momentum
        self.epsilon = epsilon
        self._rec = None

    def _create_params(self, input_shape, rng):
        C = input_shape[-1]
        if not C:
            raise ValueError(f"BatchNorm needs inputs with at least one channel; got input shape {input_shape}.")
        self.params["weight"] = np.ones(C)
        self.params["bias"] = np.zeros(C)
        self.buffers["running_mean"] = np.zeros(C)
        self.buffers["running_var"] = np.ones(C)
        self.buffers["num_batches_tracked"] = np.zeros((), np.int64)

    def forward(self, x, mask=None, training=False):
        if np.ndim(x) not in (2, 3):
            raise ValueError(f"BatchNorm normalises the last axis of (B, C) or (B, T, C) inputs, got shape "
                             f"{np.shape(x)}.")
        x = check_array(x, "x", ndim=(2, 3), dtype=self.dtype, device=self.device)
        if not self.built:
            self.build(x.shape[1:])
        check_feature_size(x, self.input_shape[-1])
        C = x.shape[-1]
        m = None
        if mask is not None:
            if x.ndim != 3:
                raise ValueError(f"a mask marks the real steps of (B, T, C) sequences, but BatchNorm got x of shape "
                                 f"{x.shape}; pass mask=None for (B, C) inputs.")
            m = check_mask(mask, *x.shape[:2], self.dtype, self.device).transpose(1, 0, 2).reshape(-1, 1)  # (N, 1)
        x2 = x.reshape(-1, C)                                              # (N, C)
        n = len(x2) if m is None else int(backend.to_host(m.sum()))
        gamma, beta = self.params["weight"], self.params["bias"]
        if training:
            if n < 2:
                raise ValueError(f"BatchNorm in training needs more than one value per channel to estimate a "
                                 f"variance, got {n} (input shape {x.shape}); train with batches of 2 or more.")
            xm = x2 if m is None else x2 * m
            mu = xm.sum(axis=0) / n                                        # (C,)
            xc = x2 - mu if m is None else (x2 - mu) * m                   # (N, C), zero on padded rows
            var = (xc * xc).sum(axis=0) / n                                # biased
            rstd = 1.0 / self.xp.sqrt(var + self.epsilon)
            x_hat = xc * rstd
            r = self.buffers
            r["running_mean"] *= 1.0 - self.momentum
            r["running_mean"] += self.momentum * mu
            r["running_var"] *= 1.0 - self.momentum
            r["running_var"] += (self.momentum * n / (n - 1)) * var        # unbiased variance
            r["num_batches_tracked"] += 1
        else:
            rstd = 1.0 / self.xp.sqrt(self.buffers["running_var"] + self.epsilon)
            x_hat = (x2 - self.buffers["running_mean"]) * rstd
            if m is not None:
                x_hat *= m
        y = x_hat * gamma + beta                                           # (N, C)
        if m is not None:
            y *= m                                                         # padded steps output zero
        self._rec = NormRecord(x_hat, rstd, m, n, bool(training), x.shape)
        return y.reshape(x.shape)

    def backward(self, dy):
        if self._rec is None:
            raise RuntimeError("BatchNorm.backward called before forward.")
        x_hat, rstd, m, n, training, shape = self._rec
        dy = check_gradient_shape(dy, shape, self.dtype, "dy", self.device).reshape(-1, shape[-1])   # (N, C)
        if m is not None:
            dy = dy * m                                                    # padded outputs are constant zeros
        self.grads["weight"][...] = (dy * x_hat).sum(axis=0)               # dgamma = sum dy x_hat
        self.grads["bias"][...] = dy.sum(axis=0)                           # dbeta = sum dy
        g = dy * self.params["weight"]                                     # g = dL/dx_hat
        if training:
            mean_g = g.sum(axis=0) / n                                     # means over the real rows
            mean_gx = (g * x_hat).sum(axis=0) / n
            dx = rstd * (g - mean_g - x_hat * mean_gx)
        else:
            dx = rstd * g
        if m is not None:
            dx *= m
        return dx.reshape(shape)
