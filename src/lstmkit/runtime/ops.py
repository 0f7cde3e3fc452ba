"""Numerically stable element-wise functions shared by layers and losses, and layer normalisation.

sigma(x) = 1 / (1 + exp(-x)) is computed as 0.5 * (1 + tanh(x / 2)): the same function, but it never overflows
for large |x| and needs one ufunc instead of a branch on the sign. Compiled kernels use `sigmoid_scalar`.

Layer normalisation (Ba, Kiros & Hinton 2016) of a vector z of N numbers, without its gain and shift:
`z_hat = (z - mean(z)) * rstd`, `rstd = 1 / sqrt(var(z) + eps)`; backward, with g = dL/dz_hat,
`dz = rstd * (g - mean(g) - z_hat * mean(g * z_hat))`. `normalise` works on the last axis of NumPy arrays,
`normalise_row` / `normalise_row_backward` on one row inside compiled kernels.
"""

import numpy as np
from numba import njit, types
from numba.extending import overload

from .kernel_cache import enable_caching

# Every compiled kernel: cached on disk (users pay the compile once), under a stamp of all the package's kernel-bearing
# files, since a kernel's machine code holds what it inlines from other modules (kernel_cache.py); error_model="numpy"
# drops the division-by-zero check that blocks SIMD; fastmath "contract" lets LLVM fuse a * b + c into one FMA (one
# rounding instead of two) and nothing else: no assumption that values are finite, so NaN and inf still propagate
# to the loss, where fit stops on them. nogil: threads.py runs a sweep's rows on several threads.
_compile = njit(error_model="numpy", fastmath={"contract"}, nogil=True)


def kernel(func):
    """Compile func as an lstmkit kernel (the options above), cached on disk."""
    return enable_caching(_compile(func))


def sigmoid(x, out=None):
    """Logistic sigmoid, stable for any finite x (and +-inf)."""
    out = np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


LN_EPS = 1e-5            # added to the variance in layer normalisation (as torch.nn.LayerNorm and haste)


def normalise(z, z_hat, rstd):
    """Layer-normalise z (..., N) over its last axis: fills z_hat (..., N) and rstd (..., 1); returns z_hat."""
    mu = np.mean(z, axis=-1, keepdims=True)
    np.subtract(z, mu, out=z_hat)
    var = np.mean(z_hat * z_hat, axis=-1, keepdims=True)
    np.divide(1.0, np.sqrt(var + LN_EPS), out=rstd)
    z_hat *= rstd
    return z_hat


def normalise_backward(g, z_hat, rstd):
    """dL/dz from g = dL/dz_hat (..., N): rstd * (g - mean(g) - z_hat * mean(g * z_hat))."""
    mean_g = np.mean(g, axis=-1, keepdims=True)
    mean_gz = np.mean(g * z_hat, axis=-1, keepdims=True)
    return rstd * (g - mean_g - z_hat * mean_gz)


def log_softmax(z, axis=-1):
    """log(softmax(z)) = z - max(z) - log(sum(exp(z - max(z)))): the shift keeps exp from overflowing."""
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax(z, axis=-1):
    """softmax(z) = exp(log_softmax(z))."""
    return np.exp(log_softmax(z, axis=axis))


def softplus(x):
    """log(1 + exp(x)) without overflow (log-sum-exp of 0 and x)."""
    return np.logaddexp(0.0, x)


# ---- scalar activations for compiled kernels ------------------------------------------------------------------
# float64 uses the exact functions (the parity tests against PyTorch need 1e-10). float32 uses a rational minimax
# approximation of tanh (the one Eigen and PyTorch's CPU kernels use; coefficients below), accurate to about
# 2e-7 absolute, which LLVM can vectorise where libm's tanh is a scalar call.
_F = np.float32
_TANH_CLAMP = _F(7.90531110763549805)
# tanh(x) ~ x P(x^2) / Q(x^2): odd coefficients P1..P13 of P, even Q0..Q6 of Q
P1, P3, P5, P7 = _F(4.89352455891786e-03), _F(6.37261928875436e-04), _F(1.48572235717979e-05), _F(5.12229709037114e-08)
P9, P11, P13 = _F(-8.60467152213735e-11), _F(2.00018790482477e-13), _F(-2.76076847742355e-16)
Q0, Q2, Q4, Q6 = _F(4.89352518554385e-03), _F(2.26843463243900e-03), _F(1.18534705686654e-04), _F(1.19825839466702e-06)
_HALF = _F(0.5)


@njit(inline="always", error_model="numpy", fastmath={"contract"})
def _tanh_float32(x):
    """tanh(x) ~ x p(x^2) / q(x^2) on [-7.9, 7.9] (clamped outside, where tanh is +-1 in float32)."""
    x = min(max(x, -_TANH_CLAMP), _TANH_CLAMP)
    x2 = x * x
    p = x * (P1 + x2 * (P3 + x2 * (P5 + x2 * (P7 + x2 * (P9 + x2 * (P11 + x2 * P13))))))
    return p / (Q0 + x2 * (Q2 + x2 * (Q4 + x2 * Q6)))


def tanh_scalar(x):
    """tanh of one number inside compiled kernels (exact for float64, the approximation for float32)."""
    return np.tanh(x)


def sigmoid_scalar(x):
    """sigma(x) of one number inside compiled kernels; never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@overload(tanh_scalar, inline="always")
def _tanh_scalar(x):
    if x == types.float32:
        return lambda x: _tanh_float32(x)
    return lambda x: np.tanh(x)


@overload(sigmoid_scalar, inline="always")
def _sigmoid_scalar(x):
    if x == types.float32:
        return lambda x: _HALF + _HALF * _tanh_float32(_HALF * x)      # sigma(x) = (1 + tanh(x/2)) / 2

    def exact(x):                                                       # the branch keeps exp from overflowing
        if x >= 0:
            return 1.0 / (1.0 + np.exp(-x))
        e = np.exp(x)
        return e / (1.0 + e)
    return exact


@kernel
def normalise_row(z, z_hat):
    """Compiled `normalise` of one row z (N,): fills z_hat (N,) and returns rstd."""
    n = z.shape[0]
    mu = 0.0
    for j in range(n):
        mu += z[j]
    mu /= n
    var = 0.0
    for j in range(n):
        var += (z[j] - mu) * (z[j] - mu)
    rstd = 1.0 / np.sqrt(var / n + LN_EPS)
    for j in range(n):
        z_hat[j] = (z[j] - mu) * rstd
    return rstd


@kernel
def normalise_row_backward(g, z_hat, rstd, dz):
    """Compiled `normalise_backward` of one row: g = dL/dz_hat (N,) -> dz (N,) (g and dz may be one array)."""
    n = g.shape[0]
    mean_g, mean_gz = 0.0, 0.0
    for j in range(n):
        mean_g += g[j]
        mean_gz += g[j] * z_hat[j]
    mean_g /= n
    mean_gz /= n
    for j in range(n):
        dz[j] = rstd * (g[j] - mean_g - z_hat[j] * mean_gz)
