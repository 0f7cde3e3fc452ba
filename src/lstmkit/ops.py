"""Numerically stable element-wise functions shared by layers and losses.

sigma(x) = 1 / (1 + exp(-x)) is computed as 0.5 * (1 + tanh(x / 2)): the same function, but it never overflows
for large |x| and needs one ufunc instead of a branch on the sign.
"""

import numpy as np


def sigmoid(x, out=None):
    """Logistic sigmoid, stable for any finite x (and +-inf)."""
    out = np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


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
